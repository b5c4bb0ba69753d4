//! The Raft log, vote and commit index in their own RocksDB instance (`<dir>/raft-log`).
//!
//! Entries are encoded with postcard under their big-endian index. An append is written at once
//! (so readers see it) and acknowledged to Raft only after a WAL fsync; a dedicated thread syncs
//! once for every append that arrived meanwhile, so many concurrent proposals share one fsync
//! (group commit) and the Raft core never waits on the disk.

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{
    AnyError, ErrorSubject, ErrorVerb, OptionalSend, RaftLogReader, StorageError, StorageIOError,
    Vote,
};
use rocksdb::{
    ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::types::{LogId, TypeConfig};

type Entry = openraft::Entry<TypeConfig>;
type Result<T> = std::result::Result<T, StorageError<u64>>;

const CF_LOGS: &str = "logs";
const CF_META: &str = "meta";
const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_PURGED: &[u8] = b"last_purged";

/// The durable Raft log; clones share the database (a clone is the log reader).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    syncer: std::sync::mpsc::Sender<LogFlushed<TypeConfig>>,
}

fn read_err(e: impl std::error::Error + 'static) -> StorageError<u64> {
    StorageIOError::new(ErrorSubject::Logs, ErrorVerb::Read, AnyError::new(&e)).into()
}

fn write_err(e: impl std::error::Error + 'static) -> StorageError<u64> {
    StorageIOError::new(ErrorSubject::Logs, ErrorVerb::Write, AnyError::new(&e)).into()
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(value).map_err(write_err)
}

fn decode<T: DeserializeOwned>(raw: &[u8]) -> Result<T> {
    postcard::from_bytes(raw).map_err(read_err)
}

fn synced() -> WriteOptions {
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    wo
}

impl LogStore {
    /// Opens (or creates) the log in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<LogStore> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(4);
        let cfs = [CF_LOGS, CF_META]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = Arc::new(DB::open_cf_descriptors(&opts, dir, cfs)?);
        let (syncer, pending) = std::sync::mpsc::channel::<LogFlushed<TypeConfig>>();
        let sync_db = db.clone();
        std::thread::Builder::new()
            .name("kiwi-raft-fsync".into())
            .spawn(move || {
                while let Ok(first) = pending.recv() {
                    let mut done = vec![first];
                    done.extend(pending.try_iter());
                    let result = sync_db.flush_wal(true).map_err(std::io::Error::other);
                    for callback in done {
                        callback.log_io_completed(
                            result
                                .as_ref()
                                .map(|_| ())
                                .map_err(|e| std::io::Error::other(e.to_string())),
                        );
                    }
                }
            })?;
        Ok(LogStore { db, syncer })
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        self.db.cf_handle(name).ok_or_else(|| {
            read_err(std::io::Error::other(format!(
                "missing column family {name}"
            )))
        })
    }

    fn get_meta<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        let raw = self.db.get_cf(self.cf(CF_META)?, key).map_err(read_err)?;
        raw.map(|r| decode(&r)).transpose()
    }

    fn put_meta<T: Serialize>(&self, key: &[u8], value: &T) -> Result<()> {
        self.db
            .put_cf_opt(self.cf(CF_META)?, key, encode(value)?, &synced())
            .map_err(write_err)
    }

    fn last_entry_id(&self) -> Result<Option<LogId>> {
        let mut iter = self.db.iterator_cf(self.cf(CF_LOGS)?, IteratorMode::End);
        match iter.next() {
            Some(row) => {
                let (_, value) = row.map_err(read_err)?;
                let entry: Entry = decode(&value)?;
                Ok(Some(entry.log_id))
            }
            None => Ok(None),
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>> {
        use std::ops::Bound;
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i + 1,
            Bound::Unbounded => 0,
        };
        let cf = self.cf(CF_LOGS)?;
        let mut entries = Vec::new();
        let from = start.to_be_bytes();
        for row in self
            .db
            .iterator_cf(cf, IteratorMode::From(&from, Direction::Forward))
        {
            let (key, value) = row.map_err(read_err)?;
            let index = u64::from_be_bytes(
                key.as_ref()
                    .try_into()
                    .map_err(|_| read_err(std::io::Error::other("malformed log key")))?,
            );
            if !range.contains(&index) {
                break;
            }
            entries.push(decode(&value)?);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>> {
        let last_purged_log_id: Option<LogId> = self.get_meta(KEY_PURGED)?;
        let last_log_id = self.last_entry_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<()> {
        self.put_meta(KEY_VOTE, vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>> {
        self.get_meta(KEY_VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<()> {
        // Called on every commit, from the Raft core: a synced write here would put an fsync on
        // every commit's path. Unsynced, it rides the log's WAL and is made durable by the next
        // group fsync (losing it in a crash only means re-applying from the applied position).
        let raw = encode(&committed)?;
        self.db
            .put_cf(self.cf(CF_META)?, KEY_COMMITTED, raw)
            .map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>> {
        Ok(self.get_meta::<Option<LogId>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let cf = self.cf(CF_LOGS)?;
        let mut batch = WriteBatch::default();
        for entry in entries {
            batch.put_cf(cf, entry.log_id.index.to_be_bytes(), encode(&entry)?);
        }
        // Visible to readers now; durable (and acknowledged) once the fsync thread has synced.
        self.db.write(batch).map_err(write_err)?;
        self.syncer
            .send(callback)
            .map_err(|_| write_err(std::io::Error::other("raft log fsync thread stopped")))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.cf(CF_LOGS)?,
            log_id.index.to_be_bytes(),
            u64::MAX.to_be_bytes(),
        );
        batch.delete_cf(self.cf(CF_LOGS)?, u64::MAX.to_be_bytes());
        self.db.write_opt(batch, &synced()).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<()> {
        // Record the purge point first: a crash between the two writes leaves extra entries,
        // never a hole below `last_purged`.
        self.put_meta(KEY_PURGED, &log_id)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.cf(CF_LOGS)?,
            0u64.to_be_bytes(),
            (log_id.index + 1).to_be_bytes(),
        );
        self.db.write_opt(batch, &synced()).map_err(write_err)
    }
}
