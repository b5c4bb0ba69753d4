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

    /// Compares the data size with `max-db-size` (0 = no limit); called by the background task.
    pub fn check_quota(&self, max_db_size: u64) {
        let over = max_db_size > 0 && self.data_size() >= max_db_size;
        if self.over_quota.swap(over, Ordering::AcqRel) != over {
            if over {
                tracing::warn!(
                    max_db_size,
                    "data size reached max-db-size: commands that grow the data are refused"
                );
            } else {
                tracing::warn!(
                    max_db_size,
                    "data size back under max-db-size: writes accepted again"
                );
            }
        }
    }

    /// True while the data is at or over `max-db-size`: `denyoom` commands are refused.
    pub fn over_quota(&self) -> bool {
        self.over_quota.load(Ordering::Acquire)
    }
}
