//! What Raft needs from the engine beyond commands: the applied-position row, consistent
//! checkpoints to ship as snapshots, and replacing the whole data set with a received one.

use std::path::Path;

use rocksdb::checkpoint::Checkpoint;
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, DB};

use super::job::{Op, OpKind, JOB};
use super::keys::ALL_CFS;
use super::{add_counts, Storage, StorageResult};

/// Rows copied per WriteBatch while importing a snapshot: bounded memory whatever its size.
const IMPORT_BATCH_BYTES: usize = 4 << 20;

impl Storage {
    /// Reads one bookkeeping row of the default column family (the Raft applied position).
    pub fn read_bookkeeping(&self, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf("default"), key)?)
    }

    /// The committed bookkeeping rows whose key starts with `prefix`, in key order.
    pub fn bookkeeping_rows(&self, prefix: &[u8]) -> StorageResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mode = IteratorMode::From(prefix, rocksdb::Direction::Forward);
        let mut rows = Vec::new();
        for row in self.db.iterator_cf(self.cf("default"), mode) {
            let (key, value) = row?;
            if !key.starts_with(prefix) {
                break;
            }
            rows.push((key.to_vec(), value.to_vec()));
        }
        Ok(rows)
    }

    /// Adds a bookkeeping row to the running job: it commits with the job's data (and, in an
    /// apply job, its applied position), so a crash keeps all of them or none.
    pub fn job_put_bookkeeping(&self, key: Vec<u8>, value: Vec<u8>) {
        self.job_bookkeeping(OpKind::Put, key, value);
    }

    /// Deletes the bookkeeping rows in `[from, to)` with the running job.
    pub fn job_delete_bookkeeping(&self, from: Vec<u8>, to: Vec<u8>) {
        self.job_bookkeeping(OpKind::DeleteRange, from, to);
    }

    fn job_bookkeeping(&self, kind: OpKind, key: Vec<u8>, value: Vec<u8>) {
        JOB.with(|j| {
            if let Some(state) = j.borrow_mut().as_mut() {
                state.record(Op {
                    cf: "default",
                    kind,
                    key,
                    value,
                });
            }
        });
    }

    /// Writes one bookkeeping row durably.
    pub fn write_bookkeeping(&self, key: &[u8], value: &[u8]) -> StorageResult<()> {
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        Ok(self.db.put_cf_opt(self.cf("default"), key, value, &wo)?)
    }

    /// Writes a consistent point-in-time copy of the database into `dir` (which must not exist):
    /// SST files are hard links, so this is cheap whatever the data size.
    pub fn checkpoint_to(&self, dir: &Path) -> StorageResult<()> {
        Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }

    /// Replaces every row with the contents of the checkpoint in `dir` (a snapshot from the
    /// leader), then reloads the counts and database map kept in memory. The caller makes sure no
    /// command runs meanwhile.
    pub fn import_checkpoint(&self, dir: &Path) -> StorageResult<()> {
        let mut source_opts = Options::default();
        source_opts.create_if_missing(false);
        let descriptors = ALL_CFS.iter().map(|name| {
            let mut cf = Options::default();
            if *name == "default" {
                cf.set_merge_operator_associative("kiwi-add-i64", add_counts);
            }
            ColumnFamilyDescriptor::new(*name, cf)
        });
        let source = DB::open_cf_descriptors_read_only(&source_opts, dir, descriptors, false)?;
        for name in ALL_CFS {
            let target = self.cf(name);
            let mut batch = WriteBatch::default();
            // Every key we write is shorter than this bound and starts below 0xff.
            batch.delete_range_cf(target, [].as_slice(), [0xffu8; 64].as_slice());
            self.db.write(batch)?;
            let Some(from) = source.cf_handle(name) else {
                continue;
            };
            let mut batch = WriteBatch::default();
            for row in source.iterator_cf(from, IteratorMode::Start) {
                let (key, value) = row?;
                batch.put_cf(target, &key, &value);
                if batch.size_in_bytes() >= IMPORT_BATCH_BYTES {
                    self.db.write(std::mem::take(&mut batch))?;
                }
            }
            self.db.write(batch)?;
        }
        self.db.flush_wal(true)?;
        self.load_bookkeeping(self.databases())
    }
}
