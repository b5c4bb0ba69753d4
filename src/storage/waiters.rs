//! Clients blocked on keys (BLPOP, BZPOPMIN, ...), woken by any write that may have given the
//! key something to pop.
//!
//! A blocked client registers before its first attempt, so a push that lands between the attempt
//! and the wait still wakes it (a `Notify` keeps the wake-up until it is awaited). A write wakes
//! only the first popping client in line; whoever leaves the line (served, timed out, gone) wakes
//! the next, so clients are served first come first served and nobody is left waiting while the
//! key has elements. Stream readers (XREAD, XREADGROUP) take nothing away from each other, so a
//! write wakes every one of them, as Redis serves all readers of a stream on XADD. Writes report from `Batch::put`; the common case — nobody blocked — costs one
//! atomic load per write.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// The registry: (logical db, key) → blocked clients in arrival order.
#[derive(Default)]
pub struct Waiters {
    count: AtomicUsize,
    keys: Mutex<crate::util::FastMap<(usize, Bytes), Line>>,
}

/// The clients waiting on one key, first come first, each marked when it reads without taking
/// (a stream reader, woken by every write).
type Line = Vec<(Arc<Notify>, bool)>;

impl Waiters {
    /// Registers `waiter` on `keys` of `db`, behind the clients already waiting there; a
    /// `reader` is woken by every write rather than in turn.
    pub fn register(&self, db: usize, keys: &[Bytes], waiter: &Arc<Notify>, reader: bool) {
        let mut map = self.keys.lock();
        for key in keys {
            let queue = map.entry((db, key.clone())).or_default();
            if !queue.iter().any(|(w, _)| Arc::ptr_eq(w, waiter)) {
                queue.push((waiter.clone(), reader));
                self.count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Removes `waiter` from `keys` of `db` (served, timed out, or disconnected).
    pub fn unregister(&self, db: usize, keys: &[Bytes], waiter: &Arc<Notify>) {
        let mut map = self.keys.lock();
        for key in keys {
            let id = (db, key.clone());
            if let Some(queue) = map.get_mut(&id) {
                let before = queue.len();
                queue.retain(|(w, _)| !Arc::ptr_eq(w, waiter));
                self.count
                    .fetch_sub(before - queue.len(), Ordering::Relaxed);
                if queue.is_empty() {
                    map.remove(&id);
                }
            }
        }
    }

    /// A write to `key` of `db` (or a client leaving its line): wakes the first popping client
    /// in line and every reader.
    pub fn wake(&self, db: usize, key: &[u8]) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(queue) = self.keys.lock().get(&(db, Bytes::copy_from_slice(key))) {
            let mut popper_woken = false;
            for (waiter, reader) in queue {
                if *reader || !popper_woken {
                    waiter.notify_one();
                    popper_woken |= !*reader;
                }
            }
        }
    }

    /// A whole database changed (SWAPDB): wakes everyone blocked in it to look again.
    pub fn wake_db(&self, db: usize) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        for ((d, _), queue) in self.keys.lock().iter() {
            if *d == db {
                queue.iter().for_each(|(w, _)| w.notify_one());
            }
        }
    }
}
