//! Striped per-key locks for read-modify-write commands.
//!
//! A command like INCR reads a value and writes a new one; two clients doing it at once must not
//! both read the old value. Each key hashes to one of a fixed set of mutexes (so memory does not
//! grow with the keyspace); multi-key commands take their stripes in index order so they cannot
//! deadlock, and keyspace-wide commands (FLUSHDB, SWAPDB) take every stripe.

use parking_lot::{Mutex, MutexGuard};
use std::hash::{BuildHasher, Hash, Hasher};

/// Number of stripes; enough that unrelated keys rarely share one.
const STRIPES: usize = 4096;

/// The lock table.
pub struct KeyLocks {
    stripes: Box<[Mutex<()>]>,
    hasher: std::collections::hash_map::RandomState,
}

/// Held stripes; released on drop.
pub struct KeyGuard<'a> {
    _guards: Vec<MutexGuard<'a, ()>>,
}

impl Default for KeyLocks {
    fn default() -> Self {
        KeyLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: Default::default(),
        }
    }
}

impl KeyLocks {
    fn stripe(&self, db: usize, key: &[u8]) -> usize {
        let mut h = self.hasher.build_hasher();
        db.hash(&mut h);
        key.hash(&mut h);
        (h.finish() as usize) % STRIPES
    }

    /// Locks one key.
    pub fn lock(&self, db: usize, key: &[u8]) -> KeyGuard<'_> {
        KeyGuard {
            _guards: vec![self.stripes[self.stripe(db, key)].lock()],
        }
    }

    /// Locks several keys (possibly in different databases) without risk of deadlock.
    pub fn lock_many<'k>(&self, keys: impl IntoIterator<Item = (usize, &'k [u8])>) -> KeyGuard<'_> {
        let mut idx: Vec<usize> = keys.into_iter().map(|(db, k)| self.stripe(db, k)).collect();
        idx.sort_unstable();
        idx.dedup();
        KeyGuard {
            _guards: idx.into_iter().map(|i| self.stripes[i].lock()).collect(),
        }
    }

    /// Locks the whole keyspace.
    pub fn lock_all(&self) -> KeyGuard<'_> {
        KeyGuard {
            _guards: self.stripes.iter().map(|m| m.lock()).collect(),
        }
    }
}
