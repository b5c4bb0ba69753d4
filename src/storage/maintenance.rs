//! Operator actions on the whole engine and the disk facts behind them: online checkpoints
//! (backups), full compaction, write-stall counts and on-disk sizes. The admin API calls these
//! from its own blocking threads, never through the storage queue: they take no key locks and
//! must not wait behind a saturated storage runtime.

use std::path::Path;

use rocksdb::checkpoint::Checkpoint;

use super::keys::ALL_CFS;
use super::{Storage, StorageResult};

impl Storage {
    /// Writes a consistent copy of the database to `dir`, which must not exist yet: SST files are
    /// hard-linked where the file system allows, so a checkpoint is cheap and a `kiwi --dir <dir>`
    /// starts from exactly the data committed when it was taken. Every job commits its writes in
    /// one batch, so the copy never holds half a pipeline or half a MULTI.
    pub fn checkpoint(&self, dir: &Path) -> StorageResult<()> {
        // The WAL is synced first so the copy does not depend on what the OS still buffers.
        self.db.flush_wal(true)?;
        Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }

    /// Compacts every column family over its whole key range: rewrites SST files so deleted and
    /// expired data and stale collection members are dropped now rather than eventually.
    pub fn compact_all(&self) {
        for name in ALL_CFS {
            self.db
                .compact_range_cf(self.cf(name), None::<&[u8]>, None::<&[u8]>);
        }
    }

    /// Times RocksDB delayed or stopped writes since the database was opened, summed over column
    /// families and the database-wide causes (the write buffer manager's limit).
    pub fn write_stalls(&self) -> u64 {
        let per_cf: u64 = ALL_CFS
            .iter()
            .filter_map(|cf| {
                self.db
                    .property_value_cf(self.cf(cf), "rocksdb.cf-write-stall-stats")
                    .ok()
                    .flatten()
            })
            .map(|text| stall_total(&text, &["total-delays", "total-stops"]))
            .sum();
        let db_wide = self
            .db
            .property_value("rocksdb.db-write-stall-stats")
            .ok()
            .flatten()
            .map_or(0, |text| stall_total(&text, &[]));
        per_cf + db_wide
    }

    /// Bytes of write-ahead log files (`*.log`) in the data directory.
    pub fn wal_bytes(&self) -> u64 {
        dir_bytes(self.db.path(), &|name| name.ends_with(".log"))
    }

    /// Bytes of every file under the data directory (SSTs, WAL, manifests, logs).
    pub fn disk_used_bytes(&self) -> u64 {
        dir_bytes(self.db.path(), &|_| true)
    }
}

/// Sums the `name: count` pairs of a RocksDB write-stall stats text (`Write Stall (count):
/// a: 1, b: 2`), only the named ones when `names` is not empty.
fn stall_total(text: &str, names: &[&str]) -> u64 {
    let body = text.split_once(':').map_or("", |(_, rest)| rest);
    body.split(',')
        .filter_map(|pair| pair.split_once(':'))
        .filter(|(name, _)| names.is_empty() || names.contains(&name.trim()))
        .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
        .sum()
}

/// Total size of the files directly in `dir` (RocksDB keeps no subdirectories) that `keep`
/// accepts; files vanishing meanwhile (compaction) are skipped.
fn dir_bytes(dir: &Path, keep: &dyn Fn(&str) -> bool) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::stall_total;

    #[test]
    fn stall_stats_text_is_summed() {
        let cf = "Write Stall (count): cf-l0-file-count-limit-delays: 2, \
                  cf-l0-file-count-limit-stops: 1, total-delays: 5, total-stops: 3\n";
        assert_eq!(stall_total(cf, &["total-delays", "total-stops"]), 8);
        let db = "Write Stall (count): write-buffer-manager-limit-stops: 4\n";
        assert_eq!(stall_total(db, &[]), 4);
        assert_eq!(stall_total("", &[]), 0);
    }
}
