//! MEMORY USAGE for a disk store: the bytes a key's rows take in RocksDB before compression —
//! its metadata row, every member row and, for a sorted set, its score-index rows, keys and
//! values alike. Like Redis, a large collection is sampled: the first `samples` members are
//! measured and their average stands for the rest.

use super::collection::Space;
use super::meta::KeyType;
use super::{keys, Storage};
use crate::error::ReplyError;

/// Bytes of a member row's key beyond the user key and the field: database, key length and
/// collection version (see [`keys::subkey_prefix`]).
const SUBKEY_OVERHEAD: u64 = 14;

/// Bytes of a sorted-set score-index row's key beyond the prefix and the member: the score.
const SCORE_LEN: u64 = 8;

impl Storage {
    /// The bytes `key` takes, `None` when it is missing or expired at `now`. `samples` members
    /// are measured (0: all of them).
    pub fn key_usage(
        &self,
        db: usize,
        key: &[u8],
        samples: u64,
        now: u64,
    ) -> Result<Option<u64>, ReplyError> {
        let Some(meta) = self.get(db, key, now)? else {
            return Ok(None);
        };
        let key_len = key.len() as u64;
        let mut total = keys::meta_key(0, key).len() as u64 + meta.encode().len() as u64;
        if meta.expire_at != 0 {
            total += keys::expire_index_key(meta.expire_at, 0, key).len() as u64;
        }
        if meta.kind == KeyType::String {
            return Ok(Some(total));
        }
        let Some(collection) = self.read_collection(db, key, meta.kind, now)? else {
            return Ok(Some(total));
        };
        let count = collection.len();
        let limit = if samples == 0 {
            count
        } else {
            samples.min(count)
        };
        let (mut measured, mut bytes) = (0u64, 0u64);
        let score_rows = meta.kind == KeyType::ZSet;
        collection.scan(Space::Members, None, false, |field, value| {
            let field_len = field.len() as u64;
            bytes += SUBKEY_OVERHEAD + key_len + field_len + value.len() as u64;
            if score_rows {
                bytes += SUBKEY_OVERHEAD + key_len + SCORE_LEN + field_len;
            }
            measured += 1;
            Ok(measured < limit)
        })?;
        if measured > 0 {
            total += extrapolate(bytes, measured, count);
        }
        Ok(Some(total))
    }
}

/// `bytes` measured over `measured` members, scaled to `count` members.
fn extrapolate(bytes: u64, measured: u64, count: u64) -> u64 {
    if measured >= count {
        bytes
    } else {
        (bytes as u128 * count as u128 / measured as u128).min(u64::MAX as u128) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::extrapolate;

    #[test]
    fn samples_stand_for_the_whole_collection() {
        assert_eq!(extrapolate(500, 5, 5), 500);
        assert_eq!(extrapolate(500, 5, 100), 10_000);
        assert_eq!(extrapolate(u64::MAX, 1, 3), u64::MAX);
    }
}
