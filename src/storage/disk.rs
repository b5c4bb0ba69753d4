//! Disk space: a reserve that lets a node restart on a full disk, and the `max-db-size` quota
//! that refuses growing writes before the disk fills.
//!
//! A node whose disk filled while it ran refuses writes (the circuit breaker) and RocksDB
//! resumes by itself once space is freed. A *restart* on a full disk is worse: recovery flushes
//! the write-ahead log into a table file, which needs space, so the open fails and a service
//! manager restarts the process in a loop. So the node keeps a reserve file of `disk-reserve`
//! bytes in its data directory, written while there is room; an open that fails for lack of
//! space deletes it and tries again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::Storage;

/// The reserve file, in the data directory beside RocksDB's own files.
const RESERVE_FILE: &str = "KIWI-DISK-RESERVE";

/// The column families' on-disk share that `max-db-size` bounds: table files (live and not yet
/// deleted) plus what the memtables hold, which the write-ahead log holds on disk too.
const SIZE_PROPERTIES: [&str; 2] = [
    "rocksdb.total-sst-files-size",
    "rocksdb.cur-size-all-mem-tables",
];

/// Path of the reserve file of a data directory.
pub(super) fn reserve_path(dir: &Path) -> PathBuf {
    dir.join(RESERVE_FILE)
}

/// True for RocksDB's "no space left on device".
pub(super) fn is_no_space(err: &rocksdb::Error) -> bool {
    err.as_ref().contains("No space left on device")
}

/// Deletes the reserve file; true if there was one to free.
pub(super) fn release_reserve(dir: &Path) -> bool {
    let path = reserve_path(dir);
    let released = std::fs::remove_file(&path).is_ok();
    if released {
        tracing::warn!(path = %path.display(), "disk full at start-up: released the disk reserve so recovery can proceed; free space and restart to restore it");
    }
    released
}

/// Writes the reserve file when it is missing and the disk has room for it twice over (a
/// reserve must never be what fills the disk). Best effort: a failure only leaves it missing.
pub(super) fn fill_reserve(dir: &Path, size: u64) {
    let path = reserve_path(dir);
    if size == 0 {
        let _ = std::fs::remove_file(&path);
        return;
    }
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        return;
    }
    if fs4::available_space(dir).map_or(true, |free| free < size.saturating_mul(2)) {
        return;
    }
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&path)?;
        // Real blocks, not a sparse file: the space must be taken now to be given back later.
        let chunk = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            file.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        file.sync_all()
    })();
    if let Err(err) = written {
        tracing::warn!(%err, path = %path.display(), "could not write the disk reserve");
        let _ = std::fs::remove_file(&path);
    }
}

impl Storage {
    /// The data set's size on disk as `max-db-size` counts it.
    pub fn data_size(&self) -> u64 {
        super::keys::ALL_CFS
            .iter()
            .flat_map(|cf| SIZE_PROPERTIES.map(|p| (*cf, p)))
            .filter_map(|(cf, p)| self.db.property_int_value_cf(self.cf(cf), p).ok().flatten())
            .sum()
    }

    /// Compares the data size with `max-db-size` and `maxmemory` (0 = no limit); called by the
    /// background task and by CONFIG SET.
    pub fn check_quota(&self, max_db_size: u64, maxmemory: u64) {
        let limited = max_db_size > 0 || maxmemory > 0;
        let size = if limited { self.data_size() } else { 0 };
        let over = if maxmemory > 0 && size >= maxmemory {
            Some(Quota::Maxmemory)
        } else if max_db_size > 0 && size >= max_db_size {
            Some(Quota::MaxDbSize)
        } else {
            None
        };
        let code = over.map_or(0, |q| q as u8);
        let before = self.over_quota.swap(code, Ordering::AcqRel);
        if before != code {
            match over {
                Some(quota) => tracing::warn!(
                    limit = quota.name(),
                    size,
                    "data size reached the limit: commands that grow the data are refused"
                ),
                None => tracing::warn!("data size back under its limits: writes accepted again"),
            }
        }
    }

    /// The limit the data is at or over, while it is: `denyoom` commands are refused.
    pub fn over_quota(&self) -> Option<Quota> {
        match self.over_quota.load(Ordering::Acquire) {
            1 => Some(Quota::MaxDbSize),
            2 => Some(Quota::Maxmemory),
            _ => None,
        }
    }
}

/// A limit on the data size; each refuses `denyoom` commands with its own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// Kiwi's `max-db-size`.
    MaxDbSize = 1,
    /// Redis's `maxmemory`, measured as `max-db-size` is.
    Maxmemory = 2,
}

impl Quota {
    /// The option's name.
    pub fn name(self) -> &'static str {
        match self {
            Quota::MaxDbSize => "max-db-size",
            Quota::Maxmemory => "maxmemory",
        }
    }
}

/// Free space a node waits for before it restarts to recover from a full disk: enough for
/// RocksDB's recovery flush and a few memtables, not just the first free byte.
const ROOM_TO_RESTART: u64 = 64 << 20;

/// Carries, across restarts in place, how many times in a row the node restarted for a full
/// disk: RocksDB gives back its preallocated log space when a write fails, so the disk can look
/// roomy and fill again at once; each such restart waits twice as long as the one before.
const RESTARTS_IN_A_ROW: &str = "KIWI_DISK_FULL_RESTARTS";

/// A node that ran this long before its disk filled starts its backoff afresh.
const BACKOFF_RESET_SECS: u64 = 600;

/// Recovery from a full disk that only a restart clears: RocksDB refuses every write after a
/// failed write-ahead-log append until it is reopened, and a failed Raft log write stops
/// openraft's core for good. The node keeps serving what it can (reads; in a cluster the others
/// go on without it) until its disk has room again — `ROOM_TO_RESTART` or `disk-reserve`,
/// whichever is more — and its backoff has passed, then restarts itself in place: same pid,
/// so a service manager sees nothing, and every acknowledged write comes back from the logs.
pub struct DiskFullRestart {
    dir: String,
    room: u64,
    in_a_row: u32,
    since: std::time::Instant,
}

impl DiskFullRestart {
    /// Starts waiting now; `uptime_secs` tells a fresh failure from one right after a restart.
    pub fn new(dir: &str, disk_reserve: u64, uptime_secs: u64) -> DiskFullRestart {
        let in_a_row = match uptime_secs < BACKOFF_RESET_SECS {
            true => std::env::var(RESTARTS_IN_A_ROW)
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            false => 0,
        };
        let waiter = DiskFullRestart {
            dir: dir.to_string(),
            room: ROOM_TO_RESTART.max(disk_reserve),
            in_a_row,
            since: std::time::Instant::now(),
        };
        tracing::error!(
            "the disk is full: this node restarts itself once {} bytes are free in {}, in {} s at the earliest",
            waiter.room,
            waiter.dir,
            waiter.backoff().as_secs()
        );
        waiter
    }

    fn backoff(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1 << self.in_a_row.min(8))
    }

    /// True once the backoff has passed and the disk has room.
    pub fn due(&self) -> bool {
        self.since.elapsed() >= self.backoff()
            && fs4::available_space(&self.dir).is_ok_and(|free| free >= self.room)
    }

    /// Restarts the process in place; on a platform without that, exits (status 75) for the
    /// service manager to restart it.
    pub fn restart(&self) -> ! {
        tracing::warn!("the disk has room again: restarting this node in place to recover");
        let err =
            crate::sys::restart_in_place(&[(RESTARTS_IN_A_ROW, (self.in_a_row + 1).to_string())]);
        tracing::error!(%err, "could not restart in place; exiting for the service manager to restart the node");
        std::process::exit(75)
    }
}
