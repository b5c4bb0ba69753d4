//! Striped per-key locks for read-modify-write commands.
//!
//! A command like INCR reads a value and writes a new one; two clients doing it at once must not
//! both read the old value. Each key hashes to one of a fixed set of mutexes (so memory does not
//! grow with the keyspace). Multi-key commands take their stripes in index order so they cannot
//! deadlock, and keyspace-wide commands (FLUSHDB, SWAPDB) take every stripe.
//!
//! Stripes are raw mutexes so that a storage job (see `job.rs`) can keep the stripes of all its
//! writes until their shared WriteBatch is committed, rather than per command.

use std::hash::{BuildHasher, Hash, Hasher};

use parking_lot::lock_api::RawMutex as _;
use parking_lot::RawMutex;

/// Number of stripes; enough that unrelated keys rarely share one.
const STRIPES: usize = 4096;

/// The lock table.
pub struct KeyLocks {
    stripes: Box<[RawMutex]>,
    hasher: crate::util::FastHash,
}

/// Stripes held by one command outside a job; released on drop.
pub struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    held: Vec<usize>,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        for &i in &self.held {
            // SAFETY: every index in `held` was locked by this guard and is unlocked once.
            unsafe { self.locks.stripes[i].unlock() };
        }
    }
}

impl Default for KeyLocks {
    fn default() -> Self {
        KeyLocks {
            stripes: (0..STRIPES).map(|_| RawMutex::INIT).collect(),
            hasher: Default::default(),
        }
    }
}

impl KeyLocks {
    /// The stripe a key belongs to.
    pub fn stripe(&self, db: usize, key: &[u8]) -> usize {
        let mut h = self.hasher.build_hasher();
        db.hash(&mut h);
        key.hash(&mut h);
        (h.finish() as usize) % STRIPES
    }

    /// Sorted, deduplicated stripes of several keys: the order every multi-lock uses.
    pub fn stripes_of<'k>(&self, keys: impl IntoIterator<Item = (usize, &'k [u8])>) -> Vec<usize> {
        let mut idx: Vec<usize> = keys.into_iter().map(|(db, k)| self.stripe(db, k)).collect();
        idx.sort_unstable();
        idx.dedup();
        idx
    }

    /// Blocks until all `stripes` (sorted) are held; returns a guard releasing them.
    pub fn lock_stripes(&self, stripes: Vec<usize>) -> KeyGuard<'_> {
        for &i in &stripes {
            self.stripes[i].lock();
        }
        KeyGuard {
            locks: self,
            held: stripes,
        }
    }

    /// Takes all `stripes` (sorted) if every one is free right now, else none.
    pub fn try_lock_stripes(&self, stripes: Vec<usize>) -> Option<KeyGuard<'_>> {
        for (n, &i) in stripes.iter().enumerate() {
            if !self.stripes[i].try_lock() {
                for &held in &stripes[..n] {
                    // SAFETY: locked by this loop just above.
                    unsafe { self.stripes[held].unlock() };
                }
                return None;
            }
        }
        Some(KeyGuard {
            locks: self,
            held: stripes,
        })
    }

    /// Locks the whole keyspace.
    pub fn lock_all(&self) -> KeyGuard<'_> {
        self.lock_stripes((0..STRIPES).collect())
    }

    /// A guard that holds nothing (the stripes are owned by the running job).
    pub fn none(&self) -> KeyGuard<'_> {
        KeyGuard {
            locks: self,
            held: Vec::new(),
        }
    }

    /// Takes a stripe if it is free.
    pub fn try_lock_raw(&self, stripe: usize) -> bool {
        self.stripes[stripe].try_lock()
    }

    /// Takes a stripe, waiting if needed. The caller must later call [`Self::unlock_raw`].
    pub fn lock_raw(&self, stripe: usize) {
        self.stripes[stripe].lock();
    }

    /// Releases a stripe taken with [`Self::try_lock_raw`] or [`Self::lock_raw`].
    ///
    /// # Safety
    /// The calling thread must hold `stripe`.
    pub unsafe fn unlock_raw(&self, stripe: usize) {
        // SAFETY: guaranteed held by the caller (see above).
        unsafe { self.stripes[stripe].unlock() };
    }
}
