//! The storage engine: RocksDB, the key encoding, and the operations commands are built from.
//!
//! Commands never touch RocksDB directly; they read metadata rows, build a [`Batch`] and commit
//! it. The engine keeps what must stay consistent with the data — per-database key counts (updated
//! in the same WriteBatch as the rows), the expire index, the logical → physical database map —
//! so a crash at any point leaves counts and data in agreement.

pub mod access;
pub mod breaker;
pub mod collection;
pub mod digest;
pub mod disk;
mod job;
pub mod keys;
pub mod locks;
mod maintenance;
pub mod meta;
pub mod notify;
pub mod replica;
pub mod stream;
mod usage;
pub mod waiters;
pub mod watch;

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Direction,
    IteratorMode, MergeOperands, Options, ReadOptions, WriteBatch, WriteBufferManager,
    WriteOptions, DB,
};

use crate::config::{Compression, Config, FsyncPolicy, KeyspaceEvents};
use crate::error::ReplyError;
use breaker::Breaker;
use job::{JobState, Op, OpKind, Overlay, JOB};
use keys::*;
use locks::{KeyGuard, KeyLocks};
use meta::Meta;

/// Databases up to this many keys get a uniformly random RANDOMKEY (one short scan); larger ones
/// a random seek into their key range.
const UNIFORM_RANDOM_KEY_LIMIT: u64 = 128;

/// A large database's RANDOMKEY takes one of this many keys after its random seek point.
const RANDOM_KEY_SPREAD: usize = 64;

/// A storage failure, kept apart from client errors so callers can tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("corrupt metadata row")]
    Corrupt,
    #[error("data directory {0} is already in use by another kiwi process (RocksDB LOCK is held)")]
    Locked(String),
    #[error("{0}")]
    BreakerOpen(String),
}

impl From<StorageError> for ReplyError {
    fn from(err: StorageError) -> ReplyError {
        match err {
            StorageError::BreakerOpen(reason) => ReplyError::StorageUnavailable(reason),
            other => ReplyError::Storage(other.to_string()),
        }
    }
}

/// A deleted collection's rows in one column family: (column family, start, end).
type DeletedRange = (&'static str, Vec<u8>, Vec<u8>);

/// One page of a database walk: live rows, and where to resume (`None` at the end).
pub type ScanPage = (Vec<(Bytes, Meta)>, Option<Bytes>);

/// Result type of engine operations.
pub type StorageResult<T> = Result<T, StorageError>;

/// The engine.
pub struct Storage {
    db: DB,
    cache: Cache,
    write_buffers: WriteBufferManager,
    fsync: AtomicU8,
    /// Logical database index → physical id used in keys.
    db_map: Box<[AtomicU16]>,
    /// Physical database id → number of metadata rows (including expired, not yet swept).
    key_counts: Box<[AtomicI64]>,
    last_version: AtomicU64,
    /// Keys removed by the active expiry sweep since start (INFO `expired_keys`).
    pub expired_keys: AtomicU64,
    locks: KeyLocks,
    breaker: Arc<Breaker>,
    /// Ranges of deleted big collections waiting for a background compaction.
    reclaim: parking_lot::Mutex<Vec<DeletedRange>>,
    /// Keys watched by transactions; every write reports to it.
    pub watches: watch::Watches,
    /// Clients blocked on keys; every write that stores a key wakes them.
    pub waiters: waiters::Waiters,
    /// Which limit the data size reached, if any: 0 none, else a [`disk::Quota`] code (see
    /// `storage/disk.rs`).
    over_quota: std::sync::atomic::AtomicU8,
    /// `notify-keyspace-events` flags (see `storage/notify.rs`).
    notify: AtomicU32,
    /// Where committed keyspace events go (the pub/sub broker, set up by the shared state).
    event_sink: std::sync::OnceLock<notify::EventSink>,
    /// The active expiry sweep runs (DEBUG SET-ACTIVE-EXPIRE turns it off, as in Redis).
    active_expire: std::sync::atomic::AtomicBool,
    /// When each recently used key was last used, and how often (OBJECT IDLETIME and FREQ).
    access: access::AccessClock,
}

fn access_settings(config: &Config) -> access::AccessSettings {
    use crate::config::MaxmemoryPolicy::{AllkeysLfu, VolatileLfu};
    access::AccessSettings {
        tracked_keys: usize::try_from(config.access_tracked_keys).unwrap_or(usize::MAX),
        lfu_policy: matches!(config.maxmemory_policy, AllkeysLfu | VolatileLfu),
        lfu_log_factor: config.lfu_log_factor,
        lfu_decay_minutes: config.lfu_decay_time,
    }
}

fn fsync_code(p: FsyncPolicy) -> u8 {
    match p {
        FsyncPolicy::Always => 0,
        FsyncPolicy::Everysec => 1,
        FsyncPolicy::No => 2,
    }
}

fn add_counts(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let read = |b: &[u8]| b.try_into().map(i64::from_le_bytes).unwrap_or(0);
    let mut total = existing.map_or(0, read);
    for op in operands {
        total = total.wrapping_add(read(op));
    }
    Some(total.to_le_bytes().to_vec())
}

impl Storage {
    /// Opens (or creates) the database in `config.dir`, sized by `memory` and the `rocksdb-*` keys.
    pub fn open(config: &Config, breaker: Arc<Breaker>) -> StorageResult<Storage> {
        let dir = Path::new(&config.dir);
        let budget = config.memory.0 as usize;
        // Memtables are charged to the block cache, so cache + memtables stay within `memory`;
        // past half the budget the write-buffer manager flushes memtables (it does not stall
        // writers: a stall can outlast any flush when the budget is small).
        let cache = Cache::new_lru_cache(budget);
        let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
            budget / 2,
            false,
            cache.clone(),
        );

        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(config.rocksdb_max_background_jobs);
        opts.set_max_open_files(config.rocksdb_max_open_files);
        opts.set_write_buffer_manager(&write_buffers);
        opts.set_bytes_per_sync(1 << 20);
        opts.set_wal_bytes_per_sync(1 << 20);
        opts.set_keep_log_file_num(4);
        // Old WAL files live until every column family has flushed what they hold; capping their
        // total at the memory budget keeps a rarely written column family from pinning them.
        opts.set_max_total_wal_size(config.memory.0);
        // Lets the WAL append of one write group overlap the memtable inserts of the previous one.
        opts.set_enable_pipelined_write(true);

        let open = || {
            let cf_descriptors = ALL_CFS.iter().map(|name| {
                let mut cf = cf_options(config, &cache);
                if *name == "default" {
                    cf.set_merge_operator_associative("kiwi-add-i64", add_counts);
                }
                ColumnFamilyDescriptor::new(*name, cf)
            });
            DB::open_cf_descriptors(&opts, dir, cf_descriptors)
        };
        let opened = match open() {
            // Recovery needs room to flush the log: the disk reserve makes it.
            Err(e) if disk::is_no_space(&e) && disk::release_reserve(dir) => open(),
            other => other,
        };
        let db = opened.map_err(|e| {
            let text = e.to_string();
            if text.contains("LOCK") && (text.contains("lock") || text.contains("Resource")) {
                StorageError::Locked(dir.display().to_string())
            } else {
                StorageError::Rocks(e)
            }
        })?;
        disk::fill_reserve(dir, config.disk_reserve.0);

        let databases = config.databases;
        let storage = Storage {
            db,
            cache,
            write_buffers,
            fsync: AtomicU8::new(fsync_code(config.appendfsync)),
            db_map: (0..databases).map(|i| AtomicU16::new(i as u16)).collect(),
            key_counts: (0..databases).map(|_| AtomicI64::new(0)).collect(),
            last_version: AtomicU64::new(0),
            expired_keys: AtomicU64::new(0),
            locks: KeyLocks::default(),
            breaker,
            reclaim: Default::default(),
            watches: Default::default(),
            waiters: Default::default(),
            over_quota: Default::default(),
            notify: AtomicU32::new(config.keyspace_events().0),
            event_sink: std::sync::OnceLock::new(),
            active_expire: std::sync::atomic::AtomicBool::new(true),
            access: access::AccessClock::new(&access_settings(config), crate::util::now_ms()),
        };
        storage.load_bookkeeping(databases)?;
        Ok(storage)
    }

    fn load_bookkeeping(&self, databases: usize) -> StorageResult<()> {
        let default = self.cf("default");
        for (id, slot) in self.db_map.iter().enumerate() {
            slot.store(id as u16, Ordering::Relaxed);
        }
        if let Some(raw) = self.db.get_cf(default, DB_MAP_KEY)? {
            let stored: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            // Keep the stored permutation for databases that still exist; new ones map to themselves.
            let mut map: Vec<u16> = stored
                .into_iter()
                .filter(|p| (*p as usize) < databases)
                .collect();
            for id in 0..databases as u16 {
                if !map.contains(&id) {
                    map.push(id);
                }
            }
            for (slot, phys) in self.db_map.iter().zip(map) {
                slot.store(phys, Ordering::Relaxed);
            }
        }
        for (phys, count) in self.key_counts.iter().enumerate() {
            let raw = self.db.get_cf(default, key_count_key(phys as u16))?;
            let value = raw
                .and_then(|raw| raw.as_slice().try_into().ok().map(i64::from_le_bytes))
                .unwrap_or(0);
            count.store(value, Ordering::Relaxed);
        }
        Ok(())
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        // Every name in ALL_CFS is created at open; a missing handle is a programming error.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} was not opened"))
    }

    /// The breaker guarding writes.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Number of logical databases.
    pub fn databases(&self) -> usize {
        self.db_map.len()
    }

    fn phys(&self, db: usize) -> u16 {
        self.db_map[db].load(Ordering::Acquire)
    }

    /// Records a use of `key` of logical database `db` (see `storage/access.rs`).
    pub fn record_access(&self, db: usize, key: &[u8]) {
        self.access.touch(self.phys(db), key, crate::util::now_ms());
    }

    /// Seconds since `key` was last used (OBJECT IDLETIME).
    pub fn idle_seconds(&self, db: usize, key: &[u8]) -> u64 {
        self.access
            .idle_ms(self.phys(db), key, crate::util::now_ms())
            / 1000
    }

    /// The access frequency counter of `key` (OBJECT FREQ).
    pub fn access_frequency(&self, db: usize, key: &[u8]) -> u8 {
        self.access
            .frequency(self.phys(db), key, crate::util::now_ms())
    }

    /// Whether an LFU `maxmemory-policy` is selected (OBJECT FREQ answers, IDLETIME refuses).
    pub fn lfu_policy(&self) -> bool {
        self.access.lfu_policy()
    }

    /// RESTORE's IDLETIME and FREQ for a key just restored.
    pub fn restore_access(
        &self,
        db: usize,
        key: &[u8],
        idle_seconds: Option<u64>,
        frequency: Option<u8>,
    ) {
        self.access.restore(
            self.phys(db),
            key,
            idle_seconds,
            frequency,
            crate::util::now_ms(),
        );
    }

    fn logical(&self, phys: u16) -> Option<usize> {
        self.db_map
            .iter()
            .position(|p| p.load(Ordering::Acquire) == phys)
    }

    /// A new collection version, unique and increasing across restarts (microsecond clock based).
    pub fn next_version(&self) -> u64 {
        let now = crate::util::now_us();
        let mut last = self.last_version.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.last_version.compare_exchange_weak(
                last,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }

    /// Locks one key for a read-modify-write. Inside a job the stripe stays held by the job until
    /// its batch commits, and the returned guard is empty.
    pub fn lock(&self, db: usize, key: &[u8]) -> KeyGuard<'_> {
        self.lock_stripes(vec![self.locks.stripe(db, key)])
    }

    /// Locks several keys without risk of deadlock.
    pub fn lock_many<'k>(&self, keys: impl IntoIterator<Item = (usize, &'k [u8])>) -> KeyGuard<'_> {
        self.lock_stripes(self.locks.stripes_of(keys))
    }

    fn lock_stripes(&self, stripes: Vec<usize>) -> KeyGuard<'_> {
        if !job::active() {
            return self.locks.lock_stripes(stripes);
        }
        let missing: Vec<usize> = JOB.with(|j| {
            let j = j.borrow();
            let held = j.as_ref().map_or(&[][..], |s| &s.held[..]);
            stripes
                .iter()
                .copied()
                .filter(|s| held.binary_search(s).is_err())
                .collect()
        });
        let mut taken = Vec::with_capacity(missing.len());
        for &stripe in &missing {
            if !self.locks.try_lock_raw(stripe) {
                break;
            }
            taken.push(stripe);
        }
        if taken.len() < missing.len() {
            // Contended: never wait while holding stripes. Release what was just taken, commit the
            // pending batch (which releases the job's stripes), then wait holding nothing.
            for &stripe in &taken {
                // SAFETY: taken by try_lock_raw just above, on this thread.
                unsafe { self.locks.unlock_raw(stripe) };
            }
            self.flush_job(false);
            for &stripe in &stripes {
                self.locks.lock_raw(stripe);
            }
            taken = stripes;
        }
        JOB.with(|j| {
            if let Some(state) = j.borrow_mut().as_mut() {
                // Kept sorted by insertion: a long job (a Raft apply) holds many stripes, and
                // re-sorting them all for every command would make it quadratic.
                for stripe in taken {
                    if let Err(at) = state.held.binary_search(&stripe) {
                        state.held.insert(at, stripe);
                    }
                }
            }
        });
        self.locks.none()
    }

    /// Takes `key`'s stripe for the running job if it holds it already or can take it without
    /// waiting (kept until the job's batch commits). False outside a job or when it is busy.
    fn try_lock_in_job(&self, db: usize, key: &[u8]) -> bool {
        let stripe = self.locks.stripe(db, key);
        JOB.with(|j| {
            let mut j = j.borrow_mut();
            let Some(state) = j.as_mut() else {
                return false;
            };
            match state.held.binary_search(&stripe) {
                Ok(_) => true,
                Err(at) if self.locks.try_lock_raw(stripe) => {
                    state.held.insert(at, stripe);
                    true
                }
                Err(_) => false,
            }
        })
    }

    /// Starts a job on this thread: until [`Self::end_job`], commits are gathered into one batch.
    pub fn begin_job(&self) {
        JOB.with(|j| *j.borrow_mut() = Some(JobState::default()));
    }

    /// Starts a transaction (EXEC): a job that first takes the locks of every key its commands
    /// name, so no other client's command on those keys interleaves, and that never commits early
    /// for size, so its writes land in one WriteBatch (a command iterating over data the
    /// transaction already wrote still commits it first, under the same locks).
    pub fn begin_atomic_job<'k>(&self, keys: impl IntoIterator<Item = (usize, &'k [u8])>) {
        JOB.with(|j| {
            *j.borrow_mut() = Some(JobState {
                atomic: true,
                ..JobState::default()
            })
        });
        let _held_by_the_job = self.lock_many(keys);
    }

    /// Starts a job applying Raft entries: like a transaction it never commits early for size,
    /// and every commit it makes carries the row `mark` computes, recording exactly how many of its
    /// commands the data includes.
    pub fn begin_apply_job(&self, mark: job::ApplyMark) {
        JOB.with(|j| {
            *j.borrow_mut() = Some(JobState {
                atomic: true,
                mark: Some(mark),
                ..JobState::default()
            })
        });
    }

    /// Tells the job which of its commands runs now, to attribute a failed commit.
    pub fn job_command(&self, index: usize) {
        JOB.with(|j| {
            if let Some(state) = j.borrow_mut().as_mut() {
                state.current = index;
            }
        });
    }

    /// Commits the job's pending writes and ends it. Returns the commands whose writes were lost
    /// because a commit failed, with the error text: their replies must become that error.
    pub fn end_job(&self) -> Vec<(usize, String)> {
        JOB.with(|j| {
            if let Some(state) = j.borrow_mut().as_mut() {
                state.ending = true;
            }
        });
        self.flush_job(true);
        JOB.with(|j| j.borrow_mut().take().map(|s| s.failed).unwrap_or_default())
    }

    /// Commits the pending batch of the running job (if any) and releases its stripes.
    /// `through_current`: the running command has already used the pending writes (it wrote, or
    /// the job is ending), so a failed commit fails it too.
    fn flush_job(&self, through_current: bool) {
        self.commit_pending(through_current, true);
    }

    /// Commits the running job's pending batch so that an iterator sees it, keeping the job's
    /// stripes: the running command may hold one of them, and a transaction keeps its keys locked
    /// to the end. (Lock-free readers of strings may then see a transaction's writes before its
    /// end; readers of collections, and other transactions, take the locks and cannot.)
    fn settle(&self) {
        if job::active() {
            self.commit_pending(true, false);
        }
    }

    fn commit_pending(&self, through_current: bool, release: bool) {
        let taken = JOB.with(|j| {
            j.borrow_mut().as_mut().map(|s| {
                let through = if through_current {
                    s.current + 1
                } else {
                    s.current
                };
                // A commit in the middle of a command (iteration settling the batch) does not
                // complete it: a replay after a crash runs that command again.
                let completed = if release { through } else { s.current };
                let mark = s.mark.as_mut().map(|mark| mark(completed));
                for overlay in &mut s.overlay {
                    overlay.clear();
                }
                s.barrier = 0;
                s.pending_bytes = 0;
                (
                    std::mem::take(&mut s.ops),
                    std::mem::take(&mut s.deltas),
                    if release {
                        std::mem::take(&mut s.held)
                    } else {
                        Vec::new()
                    },
                    s.window_start.take().map(|start| start..through.max(start)),
                    mark,
                    notify::take_announced(s),
                    std::mem::take(&mut s.touched),
                )
            })
        });
        let Some((mut ops, deltas, held, commands, mark, events, touched)) = taken else {
            return;
        };
        if let Some((key, value)) = mark {
            ops.push(Op {
                cf: "default",
                kind: OpKind::Put,
                key,
                value,
            });
        }
        let result = if ops.is_empty() {
            Ok(())
        } else {
            self.write_ops(&ops, &deltas)
        };
        // Watchers are flagged once the writes are visible (a WATCH that registered and read
        // in between would miss a flag set earlier) and before the stripes go (an EXEC that
        // waits for them must see the flag).
        self.touch_watched(&touched);
        // Announced before the stripes go: the next writer of these keys announces after us.
        let lost = result.is_err().then(|| commands.clone()).flatten();
        self.announce(events, lost);
        for stripe in held {
            // SAFETY: the job took every stripe in `held` on this thread; each is released once.
            unsafe { self.locks.unlock_raw(stripe) };
        }
        if let Err(err) = result {
            let text = ReplyError::from(err).to_string();
            JOB.with(|j| {
                if let Some(state) = j.borrow_mut().as_mut() {
                    let failed = commands.into_iter().flatten();
                    state.failed.extend(failed.map(|c| (c, text.clone())));
                }
            });
        }
    }

    /// Reads a key's metadata row, expired or not.
    pub fn get_raw(&self, db: usize, key: &[u8]) -> StorageResult<Option<Meta>> {
        let row_key = meta_key(self.phys(db), key);
        if let Some(pending) = pending_meta(&row_key) {
            return pending;
        }
        let raw = self.db.get_pinned_cf(self.cf(CF_METADATA), row_key)?;
        raw.as_deref().map(decode_row).transpose()
    }

    /// A command's lookup: the key's metadata row if the key exists and has not expired at
    /// `now_ms` (an expired key found may be deleted on the way, see [`Self::lookup_raw`]).
    pub fn get(&self, db: usize, key: &[u8], now_ms: u64) -> StorageResult<Option<Meta>> {
        Ok(self
            .lookup_raw(db, key, now_ms)?
            .filter(|m| !m.is_expired(now_ms)))
    }

    /// Reads several keys at once (MGET, EXISTS), skipping expired ones.
    pub fn multi_get(
        &self,
        db: usize,
        keys: &[Bytes],
        now_ms: u64,
    ) -> StorageResult<Vec<Option<Meta>>> {
        let phys = self.phys(db);
        let cf = self.cf(CF_METADATA);
        let encoded: Vec<Vec<u8>> = keys.iter().map(|k| meta_key(phys, k)).collect();
        // One consistent read of all keys (MGET next to a concurrent MSET sees all or nothing),
        // then the running job's own pending rows on top.
        let results = self.db.batched_multi_get_cf(cf, encoded.iter(), false);
        let in_job = job::active();
        let lazy = in_job && self.expires_lazily();
        results
            .into_iter()
            .zip(&encoded)
            .zip(keys)
            .map(|((stored, row_key), key)| {
                let meta = match in_job.then(|| pending_meta(row_key)).flatten() {
                    Some(pending) => pending?,
                    None => stored?.as_deref().map(decode_row).transpose()?,
                };
                let meta = match meta {
                    Some(m) if lazy && m.is_expired(now_ms) => {
                        self.expire_lazily(db, key, now_ms, m)?
                    }
                    other => other,
                };
                Ok(meta.filter(|m| !m.is_expired(now_ms)))
            })
            .collect()
    }

    /// Starts a write batch.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            storage: self,
            ops: Vec::new(),
            deltas: Vec::new(),
            touched: Vec::new(),
            direct: false,
        }
    }

    fn write_options(&self) -> WriteOptions {
        let mut wo = WriteOptions::default();
        wo.set_sync(self.fsync.load(Ordering::Relaxed) == 0);
        wo
    }

    /// Commits a batch atomically, with the WAL sync the `appendfsync` policy asks for. Inside a
    /// job the batch joins the job's pending batch and is committed with it, before any reply of
    /// the job is sent.
    pub fn commit(&self, batch: Batch<'_>) -> StorageResult<()> {
        if self.breaker.is_open() {
            return Err(StorageError::BreakerOpen(self.breaker.reason()));
        }
        let Batch {
            ops,
            deltas,
            touched,
            direct,
            ..
        } = batch;
        if ops.is_empty() && deltas.is_empty() {
            return Ok(());
        }
        if direct || !job::active() {
            self.flush_job(false);
            let mut ops = ops;
            // A direct write (SWAPDB, FLUSHALL) is its command's last: it completes the command.
            ops.extend(job::mark_after_current().map(|(key, value)| Op {
                cf: "default",
                kind: OpKind::Put,
                key,
                value,
            }));
            let result = self.write_ops(&ops, &deltas);
            self.touch_watched(&touched);
            return result;
        }
        let full = JOB.with(|j| {
            let mut j = j.borrow_mut();
            let Some(state) = j.as_mut() else {
                return false;
            };
            for op in ops {
                state.record(op);
            }
            state.touched.extend(touched);
            for (phys, delta) in deltas {
                add_delta(&mut state.deltas, phys, delta);
            }
            state.window_start.get_or_insert(state.current);
            !state.atomic
                && (state.ops.len() >= job::MAX_PENDING_OPS
                    || state.pending_bytes >= job::MAX_PENDING_BYTES)
        });
        if full {
            self.flush_job(true);
        }
        Ok(())
    }

    /// Flags the transactions watching `keys`, which a write has just changed.
    fn touch_watched(&self, keys: &[(usize, Vec<u8>)]) {
        for (db, key) in keys {
            self.watches.touch(*db, key);
        }
    }

    /// Writes recorded operations as one WriteBatch and applies the key-count deltas.
    fn write_ops(&self, ops: &[Op], deltas: &[(u16, i64)]) -> StorageResult<()> {
        let mut wb = WriteBatch::default();
        for op in ops {
            let cf = self.cf(op.cf);
            match op.kind {
                OpKind::Put => wb.put_cf(cf, &op.key, &op.value),
                OpKind::Delete => wb.delete_cf(cf, &op.key),
                OpKind::DeleteRange => wb.delete_range_cf(cf, &op.key, &op.value),
            }
        }
        let default = self.cf("default");
        for (phys, delta) in deltas {
            wb.merge_cf(default, key_count_key(*phys), delta.to_le_bytes());
        }
        if let Err(err) = self.db.write_opt(wb, &self.write_options()) {
            self.note_error(&err);
            if self.breaker.is_open() {
                return Err(StorageError::BreakerOpen(self.breaker.reason()));
            }
            return Err(err.into());
        }
        for (phys, delta) in deltas {
            self.key_counts[*phys as usize].fetch_add(*delta, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Opens the breaker for errors that mean the disk or data is in trouble.
    fn note_error(&self, err: &rocksdb::Error) {
        use rocksdb::ErrorKind::*;
        match err.kind() {
            InvalidArgument | Busy | TryAgain | NotFound | Incomplete | TimedOut => {}
            _ => self.breaker.trip(err.as_ref()),
        }
    }

    /// Live keys in a database, in key order, starting after `after`, at most `limit` rows
    /// examined. Returns the live rows and the last examined key (the resume point), or `None`
    /// when the database is exhausted.
    pub fn scan(
        &self,
        db: usize,
        after: Option<&[u8]>,
        limit: usize,
        now_ms: u64,
    ) -> StorageResult<ScanPage> {
        self.scan_with_expired(db, after, limit, now_ms, &mut Vec::new())
    }

    /// [`Self::scan`] that also lists the expired keys it stepped over while keyspace
    /// notifications are on (SCAN expires them, as Redis's does).
    pub fn scan_with_expired(
        &self,
        db: usize,
        after: Option<&[u8]>,
        limit: usize,
        now_ms: u64,
        expired: &mut Vec<Bytes>,
    ) -> StorageResult<ScanPage> {
        let note_expired = self.keyspace_events().any();
        self.settle();
        let phys = self.phys(db);
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(db_end(phys));
        let start = match after {
            Some(k) => {
                let mut s = meta_key(phys, k);
                s.push(0); // the smallest key strictly after `k`
                s
            }
            None => db_start(phys),
        };
        let iter = self.db.iterator_cf_opt(
            self.cf(CF_METADATA),
            ro,
            IteratorMode::From(&start, Direction::Forward),
        );
        let mut rows = Vec::new();
        let mut last = None;
        for (examined, item) in iter.enumerate() {
            if examined >= limit {
                return Ok((rows, last));
            }
            let (raw_key, raw_value) = item?;
            let key = Bytes::copy_from_slice(&raw_key[2..]);
            last = Some(key.clone());
            let meta = decode_row(&raw_value)?;
            if !meta.is_expired(now_ms) {
                rows.push((key, meta));
            } else if note_expired {
                expired.push(key);
            }
        }
        Ok((rows, None))
    }

    /// A random live key, or `None` for an empty database. A small database is sampled
    /// uniformly (a random index into its keys). A large one seeks to a random point between its
    /// first and last key — drawn over the bytes after their common prefix, so keys that share a
    /// prefix such as `user:` are all reachable — and takes one of the next live keys.
    pub fn random_key(&self, db: usize, now_ms: u64) -> StorageResult<Option<Bytes>> {
        let mut rng = crate::util::rng();
        let count = self.key_count(db, now_ms)?;
        if count == 0 {
            return Ok(None);
        }
        if count <= UNIFORM_RANDOM_KEY_LIMIT {
            let wanted = rand::Rng::gen_range(&mut rng, 0..count) as usize;
            let (rows, _) = self.scan(db, None, UNIFORM_RANDOM_KEY_LIMIT as usize * 2, now_ms)?;
            if let Some((key, _)) = rows.get(wanted).or(rows.first()) {
                return Ok(Some(key.clone()));
            }
        }
        if let Some(probe) = self.random_probe(db, &mut rng)? {
            // Keys are rarely spread evenly over the bytes (digits use 10 of 256 values), so the
            // key after a wide gap would be drawn far more often than the rest: spreading each
            // draw over the next keys evens that out.
            let skip = rand::Rng::gen_range(&mut rng, 0..RANDOM_KEY_SPREAD);
            let (rows, _) = self.scan(db, Some(&probe), RANDOM_KEY_SPREAD * 2, now_ms)?;
            if let Some((key, _)) = rows.get(skip).or(rows.last()) {
                return Ok(Some(key.clone()));
            }
        }
        let mut after: Option<Bytes> = None;
        loop {
            let (rows, next) = self.scan(db, after.as_deref(), 1024, now_ms)?;
            if let Some((k, _)) = rows.into_iter().next() {
                return Ok(Some(k));
            }
            match next {
                Some(n) => after = Some(n),
                None => return Ok(None),
            }
        }
    }

    /// A user key between the database's first and last stored keys, uniform over the eight
    /// bytes after their common prefix; `None` for an empty database.
    fn random_probe(&self, db: usize, rng: &mut impl rand::Rng) -> StorageResult<Option<Vec<u8>>> {
        let phys = self.phys(db);
        let edge = |mode: IteratorMode<'_>| -> StorageResult<Option<Vec<u8>>> {
            let mut ro = ReadOptions::default();
            ro.set_iterate_lower_bound(db_start(phys));
            ro.set_iterate_upper_bound(db_end(phys));
            match self
                .db
                .iterator_cf_opt(self.cf(CF_METADATA), ro, mode)
                .next()
            {
                Some(item) => Ok(Some(item?.0[2..].to_vec())),
                None => Ok(None),
            }
        };
        let (Some(first), Some(last)) = (edge(IteratorMode::Start)?, edge(IteratorMode::End)?)
        else {
            return Ok(None);
        };
        let shared = first.iter().zip(&last).take_while(|(a, b)| a == b).count();
        let window = |key: &[u8]| {
            let mut bytes = [0u8; 8];
            let tail = &key[shared.min(key.len())..];
            let n = tail.len().min(8);
            bytes[..n].copy_from_slice(&tail[..n]);
            u64::from_be_bytes(bytes)
        };
        let (low, high) = (window(&first), window(&last));
        let point = if low < high {
            rng.gen_range(low..=high)
        } else {
            low
        };
        let mut probe = first[..shared].to_vec();
        probe.extend_from_slice(&point.to_be_bytes());
        Ok(Some(probe))
    }

    /// Exact number of live keys in a database: stored rows minus those already expired but not
    /// yet removed by the sweep (which keeps that remainder small).
    pub fn key_count(&self, db: usize, now_ms: u64) -> StorageResult<u64> {
        self.settle();
        let phys = self.phys(db);
        let stored = self.key_counts[phys as usize]
            .load(Ordering::Relaxed)
            .max(0) as u64;
        let mut pending = 0u64;
        self.for_each_due(now_ms, usize::MAX, |entry_db, key, at| {
            if entry_db == phys {
                let raw = self
                    .db
                    .get_pinned_cf(self.cf(CF_METADATA), meta_key(phys, key))?;
                if raw.and_then(|r| Meta::peek_expire_at(&r)) == Some(at) {
                    pending += 1;
                }
            }
            Ok(())
        })?;
        Ok(stored.saturating_sub(pending))
    }

    /// Calls `f(physical db, key, expire_at)` for expire-index entries due at `now_ms`.
    fn for_each_due(
        &self,
        now_ms: u64,
        limit: usize,
        mut f: impl FnMut(u16, &[u8], u64) -> StorageResult<()>,
    ) -> StorageResult<usize> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound((now_ms + 1).to_be_bytes().to_vec());
        let iter = self
            .db
            .iterator_cf_opt(self.cf(CF_EXPIRE_INDEX), ro, IteratorMode::Start);
        let mut seen = 0;
        for item in iter.take(limit) {
            let (raw_key, _) = item?;
            if let Some((at, phys, key)) = split_expire_index_key(&raw_key) {
                f(phys, key, at)?;
            }
            seen += 1;
        }
        Ok(seen)
    }

    /// Whether the background thread runs the active expiry sweep.
    pub fn active_expire(&self) -> bool {
        self.active_expire.load(Ordering::Relaxed)
    }

    /// Turns the active expiry sweep on or off (DEBUG SET-ACTIVE-EXPIRE): with it off, expired
    /// keys are still invisible, and removed when a command looks them up while keyspace
    /// notifications are on.
    pub fn set_active_expire(&self, on: bool) {
        self.active_expire.store(on, Ordering::Relaxed);
    }

    /// One pass of the active expiry sweep: removes up to `budget` due keys (and stale index
    /// entries), announcing each as `expired`. Returns how many index entries it handled, so the
    /// caller can go on while busy.
    pub fn sweep_expired(&self, now_ms: u64, budget: usize) -> StorageResult<usize> {
        let announce = self.keyspace_events().wants(KeyspaceEvents::EXPIRED);
        let mut due: Vec<(u16, Vec<u8>, u64)> = Vec::new();
        self.for_each_due(now_ms, budget, |phys, key, at| {
            due.push((phys, key.to_vec(), at));
            Ok(())
        })?;
        for (phys, key, at) in &due {
            let index = expire_index_key(*at, *phys, key);
            let Some(db) = self.logical(*phys) else {
                // A database that no longer exists (`databases` was lowered): drop the entry so it
                // cannot hold up the sweep forever.
                let mut batch = self.batch();
                batch.raw(CF_EXPIRE_INDEX, OpKind::Delete, index, Vec::new());
                self.commit(batch)?;
                continue;
            };
            // Never wait behind a busy key: the sweep shares its thread with the WAL sync.
            let Some(_guard) = self
                .locks
                .try_lock_stripes(vec![self.locks.stripe(db, key)])
            else {
                continue;
            };
            if self.phys(db) != *phys {
                continue; // SWAPDB moved it; the next pass sees the new mapping
            }
            let mut batch = self.batch();
            batch.raw(CF_EXPIRE_INDEX, OpKind::Delete, index, Vec::new());
            let mut removed = false;
            if let Some(meta) = self.get_raw(db, key)? {
                if meta.expire_at == *at && meta.is_expired(now_ms) {
                    batch.delete_expired(db, key, &meta);
                    removed = true;
                }
            }
            self.commit(batch)?;
            if removed {
                self.expired_keys.fetch_add(1, Ordering::Relaxed);
                if announce {
                    // Still under the key's lock, like a job's events.
                    self.publish(vec![notify::Event {
                        class: KeyspaceEvents::EXPIRED,
                        name: "expired",
                        db,
                        key: Bytes::copy_from_slice(key),
                    }]);
                }
            }
        }
        Ok(due.len())
    }

    /// Removes every key of one database (FLUSHDB): a range delete, O(1) whatever its size.
    pub fn flush_db(&self, db: usize) -> StorageResult<()> {
        self.flush_job(false);
        let _all = self.locks.lock_all();
        self.touch_watched_db(db, db);
        let mut batch = self.batch();
        batch.clear_physical(self.phys(db));
        self.commit_reset(batch, &[self.phys(db)])?;
        self.access.forget_all(crate::util::now_ms());
        // Blocked XREADGROUP clients learn that their stream is gone.
        self.waiters.wake_db(db);
        Ok(())
    }

    /// Removes every key of every database (FLUSHALL).
    pub fn flush_all(&self) -> StorageResult<()> {
        self.flush_job(false);
        let _all = self.locks.lock_all();
        for db in 0..self.databases() {
            self.touch_watched_db(db, db);
        }
        let mut batch = self.batch();
        let ids: Vec<u16> = (0..self.databases()).map(|db| self.phys(db)).collect();
        for id in &ids {
            batch.clear_physical(*id);
        }
        self.commit_reset(batch, &ids)?;
        self.access.forget_all(crate::util::now_ms());
        for db in 0..self.databases() {
            self.waiters.wake_db(db);
        }
        Ok(())
    }

    /// Flags transactions watching keys of `db` that exist in `db` or `other` (FLUSHDB, FLUSHALL,
    /// SWAPDB change them all at once, without per-key writes).
    fn touch_watched_db(&self, db: usize, other: usize) {
        let now = crate::util::now_ms();
        let exists =
            |d: usize, k: &[u8]| matches!(self.get_raw(d, k), Ok(Some(m)) if !m.is_expired(now));
        self.watches
            .touch_db(db, |key| exists(db, key) || exists(other, key));
    }

    fn commit_reset(&self, mut batch: Batch<'_>, ids: &[u16]) -> StorageResult<()> {
        for id in ids {
            let zero = 0i64.to_le_bytes().to_vec();
            batch.raw("default", OpKind::Put, key_count_key(*id), zero);
        }
        self.commit(batch)?;
        for id in ids {
            self.key_counts[*id as usize].store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Swaps two databases (SWAPDB) by swapping their physical ids: O(1), atomic, durable.
    pub fn swap_db(&self, a: usize, b: usize) -> StorageResult<()> {
        self.flush_job(false);
        let _all = self.locks.lock_all();
        self.touch_watched_db(a, b);
        self.touch_watched_db(b, a);
        self.waiters.wake_db(a);
        self.waiters.wake_db(b);
        let mut map: Vec<u16> = self
            .db_map
            .iter()
            .map(|p| p.load(Ordering::Acquire))
            .collect();
        map.swap(a, b);
        let encoded: Vec<u8> = map.iter().flat_map(|p| p.to_le_bytes()).collect();
        let mut batch = self.batch();
        batch.direct = true;
        batch.raw("default", OpKind::Put, DB_MAP_KEY.to_vec(), encoded);
        self.commit(batch)?;
        for (slot, phys) in self.db_map.iter().zip(map) {
            slot.store(phys, Ordering::Release);
        }
        Ok(())
    }

    /// Changes the WAL sync policy (CONFIG SET appendfsync).
    pub fn set_fsync(&self, policy: FsyncPolicy) {
        self.fsync.store(fsync_code(policy), Ordering::Relaxed);
    }

    /// Syncs the WAL if the policy is `everysec`; called once a second by the background task.
    pub fn periodic_sync(&self) -> StorageResult<()> {
        if self.fsync.load(Ordering::Relaxed) == 1 {
            if let Err(err) = self.db.flush_wal(true) {
                self.note_error(&err);
                return Err(err.into());
            }
        }
        Ok(())
    }

    /// Syncs the WAL, so every write committed so far is durable, and writes the memtables out
    /// to table files so a restart replays nothing: SAVE and shutdown wait for the table files,
    /// BGSAVE (`wait` false) leaves them to RocksDB's background threads.
    pub fn flush_to_disk(&self, wait: bool) -> StorageResult<()> {
        self.db.flush_wal(true)?;
        let mut options = rocksdb::FlushOptions::default();
        options.set_wait(wait);
        for name in ALL_CFS {
            self.db.flush_cf_opt(self.cf(name), &options)?;
        }
        Ok(())
    }

    /// Tries a synced write; closes the breaker if it succeeds. Called by the background probe.
    /// True when the disk filled and the write-ahead log refuses every write until the database
    /// is reopened: only a restart recovers ([`disk::DiskFullRestart`]).
    pub fn probe(&self) -> bool {
        if !self.breaker.is_open() {
            if let Ok(Some(n)) = self.db.property_int_value("rocksdb.background-errors") {
                if n > 0
                    && self
                        .db
                        .property_value("rocksdb.is-write-stopped")
                        .ok()
                        .flatten()
                        .as_deref()
                        == Some("1")
                {
                    self.breaker
                        .trip("RocksDB background error; writes stopped");
                }
            }
            return false;
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        let mut wb = WriteBatch::default();
        wb.put_cf(
            self.cf("default"),
            b"probe",
            crate::util::now_ms().to_le_bytes(),
        );
        match self.db.write_opt(wb, &wo) {
            Ok(()) => {
                self.breaker.close();
                false
            }
            Err(err) => {
                err.as_ref().contains("Writer has previous error")
                    && self.breaker.reason().contains("No space left on device")
            }
        }
    }

    /// Applies runtime-changeable RocksDB options (CONFIG SET rocksdb-*, memory).
    pub fn apply_config(&self, config: &Config) -> StorageResult<()> {
        self.fsync
            .store(fsync_code(config.appendfsync), Ordering::Relaxed);
        self.set_keyspace_events(config.keyspace_events());
        self.access.configure(&access_settings(config));
        let mut cache = self.cache.clone();
        cache.set_capacity(config.memory.0 as usize);
        let values = [
            ("write_buffer_size", write_buffer_size(config).to_string()),
            (
                "max_write_buffer_number",
                config.rocksdb_max_write_buffer_number.to_string(),
            ),
            (
                "level0_file_num_compaction_trigger",
                config
                    .rocksdb_level0_file_num_compaction_trigger
                    .to_string(),
            ),
            (
                "target_file_size_base",
                config.rocksdb_target_file_size_base.0.to_string(),
            ),
        ];
        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for name in ALL_CFS {
            self.db.set_options_cf(self.cf(name), &pairs)?;
        }
        Ok(())
    }

    /// A RocksDB integer property summed over all column families (INFO, metrics).
    pub fn property_sum(&self, name: &str) -> u64 {
        ALL_CFS
            .iter()
            .filter_map(|cf| {
                self.db
                    .property_int_value_cf(self.cf(cf), name)
                    .ok()
                    .flatten()
            })
            .sum()
    }

    /// Bytes used by the block cache (which includes charged memtables).
    pub fn cache_usage(&self) -> usize {
        self.cache.get_usage()
    }

    /// Bytes used by memtables.
    pub fn memtable_usage(&self) -> usize {
        self.write_buffers.get_usage()
    }

    /// Latest RocksDB sequence number: a cheap "something was written" marker for INFO.
    pub fn sequence(&self) -> u64 {
        self.db.latest_sequence_number()
    }
}

/// The memtable size actually used: `rocksdb-write-buffer-size`, but never so large that the
/// memtables of all column families could not fit in the memory budget together.
fn write_buffer_size(config: &Config) -> usize {
    let share = config.memory.0 as usize / (2 * ALL_CFS.len());
    (config.rocksdb_write_buffer_size.0 as usize).min(share.max(1 << 20))
}

fn cf_options(config: &Config, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_block_size(config.rocksdb_block_size.0 as usize);
    if config.rocksdb_bloom_bits_per_key > 0 {
        table.set_bloom_filter(config.rocksdb_bloom_bits_per_key as f64, false);
    }
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_format_version(5);
    let mut cf = Options::default();
    cf.set_block_based_table_factory(&table);
    cf.set_write_buffer_size(write_buffer_size(config));
    cf.set_max_write_buffer_number(config.rocksdb_max_write_buffer_number);
    cf.set_level_zero_file_num_compaction_trigger(
        config.rocksdb_level0_file_num_compaction_trigger,
    );
    cf.set_target_file_size_base(config.rocksdb_target_file_size_base.0);
    cf.set_level_compaction_dynamic_level_bytes(true);
    // Most point reads are "is this key already there?" before a write; a memtable bloom filter
    // answers the common "no" without walking the skiplist.
    cf.set_memtable_prefix_bloom_ratio(0.02);
    cf.set_memtable_whole_key_filtering(true);
    cf.set_compression_type(match config.rocksdb_compression {
        Compression::None => DBCompressionType::None,
        Compression::Snappy => DBCompressionType::Snappy,
        Compression::Lz4 => DBCompressionType::Lz4,
        Compression::Zstd => DBCompressionType::Zstd,
    });
    cf
}

fn add_delta(deltas: &mut Vec<(u16, i64)>, phys: u16, delta: i64) {
    match deltas.iter_mut().find(|(p, _)| *p == phys) {
        Some((_, d)) => *d += delta,
        None => deltas.push((phys, delta)),
    }
}

/// Decodes a stored metadata row; bytes Kiwi did not write are corruption.
fn decode_row(raw: &[u8]) -> StorageResult<Meta> {
    Meta::decode(raw).ok_or(StorageError::Corrupt)
}

/// The running job's pending version of a metadata row, decoded: `Some(Ok(None))` = deleted by
/// the job, `None` = not touched by it (or no job on this thread).
fn pending_meta(row_key: &[u8]) -> Option<StorageResult<Option<Meta>>> {
    pending_row(Overlay::Metadata, row_key, decode_row)
}

/// The running job's pending version of a point-read row, mapped by `f`.
fn pending_row<T>(
    slot: Overlay,
    row_key: &[u8],
    f: impl FnOnce(&[u8]) -> StorageResult<T>,
) -> Option<StorageResult<Option<T>>> {
    JOB.with(|j| {
        let j = j.borrow();
        let (row, _) = j.as_ref()?.overlay[slot as usize].get(row_key)?;
        Some(row.as_deref().map(f).transpose())
    })
}

/// An atomic set of changes, tracking how each database's key count moves with it.
pub struct Batch<'a> {
    storage: &'a Storage,
    ops: Vec<Op>,
    deltas: Vec<(u16, i64)>,
    /// Keys this batch changes, whose WATCHers are flagged once the change is visible.
    touched: Vec<(usize, Vec<u8>)>,
    /// Written at once even inside a job (range deletes, database map changes).
    direct: bool,
}

impl Batch<'_> {
    fn raw(&mut self, cf: &'static str, kind: OpKind, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op {
            cf,
            kind,
            key,
            value,
        });
    }

    /// Writes a key's metadata row over `old`, the row that was there (even an expired one), so
    /// the key count stays exact and a replaced collection's members are dropped.
    pub fn put(&mut self, db: usize, key: &[u8], meta: &Meta, old: Option<&Meta>) {
        self.touched.push((db, key.to_vec()));
        self.put_unwatched(db, key, meta, old);
    }

    /// [`Batch::put`] for a change Redis does not count as modifying the key (a stream's
    /// consumer-group bookkeeping, XSETID): transactions WATCHing it are not aborted.
    pub fn put_unwatched(&mut self, db: usize, key: &[u8], meta: &Meta, old: Option<&Meta>) {
        // Redis announces every key added to a database (`dbAdd`): where no live key was.
        if self.storage.keyspace_events().wants(KeyspaceEvents::NEW)
            && old.is_none_or(|o| o.is_expired(crate::util::now_ms()))
        {
            self.storage.notify(KeyspaceEvents::NEW, "new", db, key);
        }
        self.storage.waiters.wake(db, key);
        let phys = self.storage.phys(db);
        self.raw(CF_METADATA, OpKind::Put, meta_key(phys, key), meta.encode());
        if meta.expire_at != 0 {
            let index = expire_index_key(meta.expire_at, phys, key);
            self.raw(CF_EXPIRE_INDEX, OpKind::Put, index, Vec::new());
        }
        match old {
            None => add_delta(&mut self.deltas, phys, 1),
            Some(old) if old.kind != meta.kind || old.version() != meta.version() => {
                self.drop_members(phys, key, old)
            }
            Some(_) => {}
        }
    }

    /// Deletes a key whose current row is `old`. A collection's members go with it in O(1): one
    /// range tombstone over its version's sub-keys.
    pub fn delete(&mut self, db: usize, key: &[u8], old: &Meta) {
        self.remove_row(db, key, old, true);
    }

    /// Removes a key that has already expired (the active expiry sweep). Its watchers are not
    /// flagged: as in Redis, a key already expired when WATCHed is unchanged by its removal, and
    /// one that expired after WATCH fails EXEC's own check.
    pub fn delete_expired(&mut self, db: usize, key: &[u8], old: &Meta) {
        self.drop_row(db, key, old, true);
    }

    /// Deletes a key's row; `drop_members` is false when the command already deleted them.
    fn remove_row(&mut self, db: usize, key: &[u8], old: &Meta, drop_members: bool) {
        self.touched.push((db, key.to_vec()));
        self.drop_row(db, key, old, drop_members);
    }

    /// Deletes a key's row without flagging its watchers.
    fn drop_row(&mut self, db: usize, key: &[u8], old: &Meta, drop_members: bool) {
        // A blocked XREADGROUP must learn that its stream is gone.
        self.storage.waiters.wake(db, key);
        let phys = self.storage.phys(db);
        self.raw(CF_METADATA, OpKind::Delete, meta_key(phys, key), Vec::new());
        if old.expire_at != 0 {
            let index = expire_index_key(old.expire_at, phys, key);
            self.raw(CF_EXPIRE_INDEX, OpKind::Delete, index, Vec::new());
        }
        add_delta(&mut self.deltas, phys, -1);
        if drop_members {
            self.drop_members(phys, key, old);
        }
    }

    /// Range-deletes the sub-keys of a collection that is deleted or replaced. Big ones are also
    /// queued for a background compaction of their range, so their disk space comes back soon
    /// instead of whenever compaction happens to reach it.
    fn drop_members(&mut self, phys: u16, key: &[u8], old: &Meta) {
        let Some(header) = collection::Header::of(old) else {
            return;
        };
        // An empty stream may still have consumer groups.
        if header.size == 0 && old.kind != meta::KeyType::Stream {
            return;
        }
        let start = subkey_prefix(phys, key, header.version);
        let end = subkey_prefix(phys, key, header.version + 1);
        let spaces: &[&'static str] = if old.kind == meta::KeyType::ZSet {
            &[CF_SUBKEYS, CF_ZSET_SCORE]
        } else {
            &[CF_SUBKEYS]
        };
        for cf in spaces {
            self.raw(cf, OpKind::DeleteRange, start.clone(), end.clone());
            if header.size >= collection::EAGER_RECLAIM_MEMBERS {
                self.storage
                    .reclaim
                    .lock()
                    .push((cf, start.clone(), end.clone()));
            }
        }
    }

    fn clear_physical(&mut self, phys: u16) {
        for cf in [CF_METADATA, CF_SUBKEYS, CF_ZSET_SCORE] {
            self.raw(cf, OpKind::DeleteRange, db_start(phys), db_end(phys));
        }
        self.deltas.retain(|(p, _)| *p != phys);
        self.direct = true;
    }
}
