//! SCAN cursors.
//!
//! Clients treat a SCAN cursor as an opaque integer, but RocksDB resumes iteration from a key. We
//! hand out small integers and remember which key each stands for, in a bounded table: the oldest
//! cursors are forgotten first, and a forgotten cursor ends its iteration instead of restarting it
//! (restarting could loop forever).

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use parking_lot::Mutex;

/// Cursors remembered at once; an iteration that pauses while this many newer cursors are issued
/// loses its place.
const MAX_CURSORS: usize = 65536;
/// Bytes of remembered keys at most (keys can be large; the table must stay small).
const MAX_CURSOR_BYTES: usize = 64 << 20;

#[derive(Default)]
struct Table {
    next: u64,
    by_id: HashMap<u64, (usize, Bytes)>,
    order: VecDeque<u64>,
    bytes: usize,
}

/// The cursor table.
#[derive(Default)]
pub struct ScanCursors {
    table: Mutex<Table>,
}

impl ScanCursors {
    /// Remembers the last key returned in `db` and returns the cursor that resumes after it.
    pub fn save(&self, db: usize, last_key: Bytes) -> u64 {
        let mut t = self.table.lock();
        t.next += 1;
        let id = t.next;
        t.bytes += last_key.len();
        t.by_id.insert(id, (db, last_key));
        t.order.push_back(id);
        while t.order.len() > MAX_CURSORS || t.bytes > MAX_CURSOR_BYTES {
            let Some(old) = t.order.pop_front() else {
                break;
            };
            if let Some((_, key)) = t.by_id.remove(&old) {
                t.bytes -= key.len();
            }
        }
        id
    }

    /// The key to resume after for `cursor`, if it is known and belongs to `db`.
    pub fn resume(&self, cursor: u64, db: usize) -> Option<Bytes> {
        let t = self.table.lock();
        t.by_id
            .get(&cursor)
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
    }
}
