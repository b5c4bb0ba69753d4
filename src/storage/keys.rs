//! Byte layout of every RocksDB key Kiwi writes.
//!
//! All encodings are order-preserving (big-endian integers, length-prefixed user keys), so the data
//! needs no custom comparator and stays readable by standard RocksDB tools.
//!
//! | column family  | key                                              | value                  |
//! |----------------|--------------------------------------------------|------------------------|
//! | `metadata`     | `db u16 · user key`                              | [`super::meta::Meta`]  |
//! | `subkeys`      | `db u16 · key len u32 · key · version u64 · field` | member value         |
//! | `zset_score`   | `db u16 · key len u32 · key · version u64 · score · member` | empty         |
//! | `expire_index` | `expire-at ms u64 · db u16 · user key`           | empty                  |
//! | `default`      | internal bookkeeping (key counts, database map)  |                        |
//!
//! `db` is the *physical* database id; `SWAPDB` swaps the logical → physical mapping.

/// Column family holding one row per user key.
pub const CF_METADATA: &str = "metadata";
/// Column family holding collection members, keyed by key version.
pub const CF_SUBKEYS: &str = "subkeys";
/// Column family holding the score-ordered index of sorted sets.
pub const CF_ZSET_SCORE: &str = "zset_score";
/// Column family ordering keys with a TTL by expiry time, for the active expiry sweep.
pub const CF_EXPIRE_INDEX: &str = "expire_index";
/// Every column family, in open order.
pub const ALL_CFS: [&str; 5] = [
    "default",
    CF_METADATA,
    CF_SUBKEYS,
    CF_ZSET_SCORE,
    CF_EXPIRE_INDEX,
];

/// Key of a user key's metadata row.
pub fn meta_key(db: u16, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + key.len());
    out.extend_from_slice(&db.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// The first metadata key of a database; with [`db_end`] it bounds a database's rows.
pub fn db_start(db: u16) -> Vec<u8> {
    db.to_be_bytes().to_vec()
}

/// The first key after a database's rows (an exclusive upper bound). `databases` is capped at
/// 65535 so that `db + 1` always fits in two bytes.
pub fn db_end(db: u16) -> Vec<u8> {
    db.saturating_add(1).to_be_bytes().to_vec()
}

/// Splits a metadata row key into (physical db, user key).
pub fn split_meta_key(raw: &[u8]) -> Option<(u16, &[u8])> {
    if raw.len() < 2 {
        return None;
    }
    Some((u16::from_be_bytes([raw[0], raw[1]]), &raw[2..]))
}

/// Prefix of every sub-key of one version of a collection.
pub fn subkey_prefix(db: u16, key: &[u8], version: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(14 + key.len());
    out.extend_from_slice(&db.to_be_bytes());
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&version.to_be_bytes());
    out
}

/// Key of an expire-index entry.
pub fn expire_index_key(expire_at: u64, db: u16, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + key.len());
    out.extend_from_slice(&expire_at.to_be_bytes());
    out.extend_from_slice(&db.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// Splits an expire-index key into (expire-at, physical db, user key).
pub fn split_expire_index_key(raw: &[u8]) -> Option<(u64, u16, &[u8])> {
    if raw.len() < 10 {
        return None;
    }
    let at = u64::from_be_bytes(raw[..8].try_into().ok()?);
    let db = u16::from_be_bytes([raw[8], raw[9]]);
    Some((at, db, &raw[10..]))
}

/// Encodes a sorted-set score so that byte order is numeric order: the sign bit of a positive
/// value is set, every bit of a negative one is flipped. `-0` encodes as `+0`, because Redis orders
/// equal scores by member and -0 equals 0.
pub fn encode_score(score: f64) -> [u8; 8] {
    let bits = if score == 0.0 { 0 } else { score.to_bits() };
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    };
    ordered.to_be_bytes()
}

/// Decodes [`encode_score`]; `None` when `raw` is shorter than 8 bytes.
pub fn decode_score(raw: &[u8]) -> Option<f64> {
    let ordered = u64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
    let bits = if ordered >> 63 == 1 {
        ordered & !(1 << 63)
    } else {
        !ordered
    };
    Some(f64::from_bits(bits))
}

/// Bookkeeping key (default CF) holding a physical database's key count.
pub fn key_count_key(db: u16) -> Vec<u8> {
    let mut out = b"keycount:".to_vec();
    out.extend_from_slice(&db.to_be_bytes());
    out
}

/// Bookkeeping key (default CF) holding the logical → physical database map.
pub const DB_MAP_KEY: &[u8] = b"dbmap";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_preserve_order() {
        assert!(meta_key(0, b"zzz") < meta_key(1, b""));
        assert!(db_end(0) <= meta_key(1, b""));
        assert!(meta_key(0, b"\xff\xff") < db_end(0));
        assert!(expire_index_key(5, 9, b"z") < expire_index_key(6, 0, b"a"));
        // A shorter key never interleaves with a longer one's sub-keys.
        assert!(subkey_prefix(0, b"a", u64::MAX) < subkey_prefix(0, b"ab", 0));
        let k = expire_index_key(77, 3, b"key");
        assert_eq!(split_expire_index_key(&k), Some((77, 3, &b"key"[..])));
        assert_eq!(split_meta_key(&meta_key(4, b"x")), Some((4, &b"x"[..])));
    }

    #[test]
    fn scores_encode_in_numeric_order() {
        let scores = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -f64::MIN_POSITIVE,
            -5e-324,
            0.0,
            5e-324,
            f64::MIN_POSITIVE,
            1.0,
            2.5,
            1e300,
            f64::INFINITY,
        ];
        for pair in scores.windows(2) {
            assert!(encode_score(pair[0]) < encode_score(pair[1]), "{pair:?}");
        }
        for s in scores {
            assert_eq!(decode_score(&encode_score(s)), Some(s));
        }
        assert_eq!(encode_score(-0.0), encode_score(0.0));
        assert_eq!(decode_score(&encode_score(-0.0)).map(f64::to_bits), Some(0));
        assert_eq!(decode_score(b"short"), None);
    }
}
