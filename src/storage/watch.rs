//! Who watches which key (WATCH), so that every write to a key can flag the transactions that
//! watched it — whatever command, client or background task made the write.
//!
//! Writes report the keys they change from `Batch` (the one place every modification goes
//! through), so no command can forget to. The common case — nobody watches anything — costs one
//! atomic load per write.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::error::ReplyError;

/// A transaction's "a watched key changed" flag (Redis's CLIENT_DIRTY_CAS).
pub type DirtyFlag = Arc<AtomicBool>;

/// The watch registry: (logical db, key) → flags of the connections watching it.
#[derive(Default)]
pub struct Watches {
    /// Number of registrations, so unwatched writes skip the lock.
    count: AtomicUsize,
    keys: Mutex<crate::util::FastMap<(usize, Bytes), Vec<DirtyFlag>>>,
}

impl Watches {
    /// Registers `flag` as watching `key` of `db`.
    pub fn watch(&self, db: usize, key: Bytes, flag: &DirtyFlag) {
        let mut keys = self.keys.lock();
        let watchers = keys.entry((db, key)).or_default();
        if !watchers.iter().any(|f| Arc::ptr_eq(f, flag)) {
            watchers.push(flag.clone());
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes `flag`'s registrations for `keys` (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&self, keys: &[(usize, Bytes)], flag: &DirtyFlag) {
        let mut map = self.keys.lock();
        for key in keys {
            if let Some(watchers) = map.get_mut(key) {
                let before = watchers.len();
                watchers.retain(|f| !Arc::ptr_eq(f, flag));
                self.count
                    .fetch_sub(before - watchers.len(), Ordering::Relaxed);
                if watchers.is_empty() {
                    map.remove(key);
                }
            }
        }
    }

    /// A write to `key` of `db`: flags every transaction watching it.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(watchers) = self.keys.lock().get(&(db, Bytes::copy_from_slice(key))) {
            for flag in watchers {
                flag.store(true, Ordering::Release);
            }
        }
    }

    /// A whole database changes (FLUSHDB, FLUSHALL, SWAPDB): flags the watchers of its keys for
    /// which `existed` says the change is visible, as Redis does (a watched key that did not
    /// exist and still does not is untouched).
    pub fn touch_db(&self, db: usize, mut existed: impl FnMut(&[u8]) -> bool) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let keys: Vec<Bytes> = self
            .keys
            .lock()
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect();
        for key in keys.into_iter().filter(|k| existed(k)) {
            self.touch(db, &key);
        }
    }
}

/// A watched key and the fingerprint of its state when it was watched: in cluster mode the
/// transaction travels with its guards and is applied only where every key still has that
/// fingerprint. The state at one point of the log is the same on every node, so every node
/// takes the same decision, however far behind the client's own node was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WatchGuard {
    pub db: u32,
    pub key: Bytes,
    pub fingerprint: [u8; 16],
}

impl super::Storage {
    /// A fingerprint of what a client can observe of a key (the first 16 bytes of
    /// [`Self::value_digest`]: type, expiry, value or every member), all zeros when it is missing
    /// or expired. Internal details (a collection's version, a list's index offset) stay out,
    /// since they may differ between nodes holding the same data. Costs O(members).
    pub fn fingerprint(&self, db: usize, key: &[u8], now: u64) -> Result<[u8; 16], ReplyError> {
        let mut fingerprint = [0; 16];
        if let Some(digest) = self.value_digest(db, key, now)? {
            fingerprint.copy_from_slice(&digest[..16]);
        }
        Ok(fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_watchers_of_the_written_key_are_flagged() {
        let watches = Watches::default();
        let (a, b) = (DirtyFlag::default(), DirtyFlag::default());
        watches.watch(0, Bytes::from_static(b"k"), &a);
        watches.watch(1, Bytes::from_static(b"k"), &b);
        watches.touch(0, b"other");
        watches.touch(0, b"k");
        assert!(a.load(Ordering::Acquire));
        assert!(!b.load(Ordering::Acquire));
        watches.unwatch(&[(1, Bytes::from_static(b"k"))], &b);
        watches.touch(1, b"k");
        assert!(!b.load(Ordering::Acquire));
        watches.touch_db(0, |_| false);
        watches.unwatch(&[(0, Bytes::from_static(b"k"))], &a);
        assert_eq!(watches.count.load(Ordering::Relaxed), 0);
    }
}
