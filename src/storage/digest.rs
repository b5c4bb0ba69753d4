//! Content digests of what a client can observe: one key's value (WATCH's fingerprints in cluster
//! mode, DEBUG DIGEST-VALUE) and a whole dataset (DEBUG DIGEST).
//!
//! A digest covers a key's type, expiry and value — a string's bytes, a hash's fields and values,
//! a set's members, a list's elements in order, a sorted set's members and scores — and nothing
//! internal: not a collection's version, not the index offset a list's rows happen to start at,
//! not a string's encoding hint. Two nodes (or two servers) holding the same data agree on every
//! digest, however the data got there.

use sha2::{Digest, Sha256};

use super::collection::Space;
use super::meta::KeyType;
use super::Storage;
use crate::error::ReplyError;

/// Length of a DEBUG DIGEST / DIGEST-VALUE digest (Redis prints 20 bytes as 40 hex digits).
pub const DIGEST_LEN: usize = 20;

/// Keys read per step while a dataset digest walks a database.
const WALK_CHUNK: usize = 1024;

/// Feeds `bytes` to `digest` with its length first, so `("ab", "c")` and `("a", "bc")` differ.
fn framed(digest: &mut Sha256, bytes: &[u8]) {
    digest.update((bytes.len() as u64).to_be_bytes());
    digest.update(bytes);
}

impl Storage {
    /// SHA-256 of what a client can observe of a key: type, absolute expiry, and the value or
    /// every member in order. `None` when the key is missing or expired at `now`. Takes the key's
    /// lock, so a collection is read whole between two writes. Costs O(members).
    ///
    /// WATCH guards carry a prefix of it from one node to the others, which recompute it when
    /// they apply the transaction: every node of a cluster must compute it the same way, so a
    /// change to what it covers must not meet older nodes in one cluster.
    pub fn value_digest(
        &self,
        db: usize,
        key: &[u8],
        now: u64,
    ) -> Result<Option<[u8; 32]>, ReplyError> {
        let _guard = self.lock(db, key);
        let Some(meta) = self.get_raw(db, key)?.filter(|m| !m.is_expired(now)) else {
            return Ok(None);
        };
        let mut digest = Sha256::new();
        digest.update([meta.kind as u8]);
        digest.update(meta.expire_at.to_be_bytes());
        if meta.kind == KeyType::String {
            framed(&mut digest, &meta.body);
        } else if let Some(collection) = self.read_collection(db, key, meta.kind, now)? {
            // A list row's field is its index, which depends on the pushes that built it; the
            // elements in row order are the list.
            let with_field = meta.kind != KeyType::List;
            collection.scan(Space::Members, None, false, |field, value| {
                if with_field {
                    framed(&mut digest, field);
                }
                framed(&mut digest, value);
                Ok(true)
            })?;
        }
        Ok(Some(digest.finalize().into()))
    }

    /// DEBUG DIGEST-VALUE of one key: the first [`DIGEST_LEN`] bytes of its
    /// [`Self::value_digest`], all zeros when it is missing.
    pub fn debug_value_digest(
        &self,
        db: usize,
        key: &[u8],
        now: u64,
    ) -> Result<[u8; DIGEST_LEN], ReplyError> {
        let mut out = [0; DIGEST_LEN];
        if let Some(full) = self.value_digest(db, key, now)? {
            out.copy_from_slice(&full[..DIGEST_LEN]);
        }
        Ok(out)
    }

    /// DEBUG DIGEST: one digest of every live key of every database, all zeros when there is
    /// none. Built like Redis's: each key's name and value digest are hashed together and XORed
    /// into its database's sum, so the order keys are visited in does not matter; then each
    /// non-empty database's number and sum are chained in database order, so the same data in
    /// another database digests differently. The walk is not a snapshot: compare digests of
    /// nodes that are not being written. O(all data), on the storage thread that runs it.
    pub fn dataset_digest(&self, now: u64) -> Result<[u8; DIGEST_LEN], ReplyError> {
        let mut total = [0u8; DIGEST_LEN];
        for db in 0..self.databases() {
            let mut sum = [0u8; DIGEST_LEN];
            let mut keys = 0u64;
            let mut after: Option<bytes::Bytes> = None;
            loop {
                let (rows, next) = self.scan(db, after.as_deref(), WALK_CHUNK, now)?;
                for (key, _) in rows {
                    // Deleted since the scan saw it: it is not part of the data any more.
                    let Some(value) = self.value_digest(db, &key, now)? else {
                        continue;
                    };
                    let mut digest = Sha256::new();
                    framed(&mut digest, &key);
                    digest.update(value);
                    for (s, d) in sum.iter_mut().zip(digest.finalize()) {
                        *s ^= d;
                    }
                    keys += 1;
                }
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            if keys > 0 {
                let mut digest = Sha256::new();
                digest.update(total);
                digest.update((db as u32).to_be_bytes());
                digest.update(sum);
                total.copy_from_slice(&digest.finalize()[..DIGEST_LEN]);
            }
        }
        Ok(total)
    }
}
