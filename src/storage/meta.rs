//! The metadata row: one per user key, holding its type, expiry and (for strings) the value.
//!
//! Layout: `flags u8 · expire-at ms u64 · body`. The low nibble of `flags` is the [`KeyType`];
//! the high nibble is the [`StrEncoding`] hint, so `OBJECT ENCODING` answers like Redis for values
//! written by APPEND/SETRANGE (`raw`) or INCRBYFLOAT (`embstr`). A string's body is its value, so GET is one point lookup. A collection's body is
//! `version u64 · size u64 · type-specific bytes`; a new version on overwrite or delete makes all
//! older sub-keys unreachable at once (O(1) DEL), and `size` makes HLEN/SCARD/ZCARD/LLEN one read.

use bytes::Bytes;

/// The Redis type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyType {
    String = 0,
    Hash = 1,
    Set = 2,
    List = 3,
    ZSet = 4,
    Stream = 5,
}

impl KeyType {
    fn from_u8(v: u8) -> Option<KeyType> {
        Some(match v {
            0 => KeyType::String,
            1 => KeyType::Hash,
            2 => KeyType::Set,
            3 => KeyType::List,
            4 => KeyType::ZSet,
            5 => KeyType::Stream,
            _ => return None,
        })
    }

    /// The name TYPE replies with.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Hash => "hash",
            KeyType::Set => "set",
            KeyType::List => "list",
            KeyType::ZSet => "zset",
            KeyType::Stream => "stream",
        }
    }

    /// Parses the `TYPE` filter of SCAN.
    pub fn from_name(name: &[u8]) -> Option<KeyType> {
        [
            KeyType::String,
            KeyType::Hash,
            KeyType::Set,
            KeyType::List,
            KeyType::ZSet,
            KeyType::Stream,
        ]
        .into_iter()
        .find(|t| t.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// How a string was produced, which decides what `OBJECT ENCODING` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrEncoding {
    /// Chosen from the value the way Redis's `tryObjectEncoding` does (int, embstr or raw).
    Auto = 0,
    /// Modified in place by APPEND/SETRANGE: always `raw`.
    Raw = 1,
    /// Created from a float by INCRBYFLOAT: `embstr` (or `raw` when long).
    Embstr = 2,
}

impl StrEncoding {
    fn from_bits(bits: u8) -> StrEncoding {
        match bits {
            1 => StrEncoding::Raw,
            2 => StrEncoding::Embstr,
            _ => StrEncoding::Auto,
        }
    }
}
const HEADER_LEN: usize = 9;

/// A decoded metadata row.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub kind: KeyType,
    /// Absolute expiry in Unix milliseconds; 0 means no expiry.
    pub expire_at: u64,
    /// Strings only: how the value was produced.
    pub encoding: StrEncoding,
    /// The string value, or the collection header (version, size, type-specific fields).
    pub body: Bytes,
}

impl Meta {
    /// A string key.
    pub fn string(value: Bytes, expire_at: u64) -> Meta {
        Meta {
            kind: KeyType::String,
            expire_at,
            encoding: StrEncoding::Auto,
            body: value,
        }
    }

    /// True when the key's expiry has passed at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }

    /// Serializes the row.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        let flags = self.kind as u8 | (self.encoding as u8) << 4;
        out.push(flags);
        out.extend_from_slice(&self.expire_at.to_be_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// Parses a row; `None` for bytes Kiwi did not write (reported as corruption by callers).
    pub fn decode(raw: &[u8]) -> Option<Meta> {
        if raw.len() < HEADER_LEN {
            return None;
        }
        let kind = KeyType::from_u8(raw[0] & 0x0f)?;
        let expire_at = u64::from_be_bytes(raw[1..HEADER_LEN].try_into().ok()?);
        Some(Meta {
            kind,
            expire_at,
            encoding: StrEncoding::from_bits(raw[0] >> 4),
            body: Bytes::copy_from_slice(&raw[HEADER_LEN..]),
        })
    }

    /// Reads only the expiry of an encoded row, without copying the body.
    pub fn peek_expire_at(raw: &[u8]) -> Option<u64> {
        raw.get(1..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    }

    /// The collection version (first 8 body bytes); 0 for strings.
    pub fn version(&self) -> u64 {
        if self.kind == KeyType::String {
            return 0;
        }
        self.body
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_be_bytes)
    }

    /// `OBJECT ENCODING` for a string value, following Redis's `tryObjectEncoding`.
    pub fn string_encoding(&self) -> &'static str {
        let value = &self.body;
        match self.encoding {
            StrEncoding::Raw => "raw",
            StrEncoding::Auto
                if value.len() <= 20 && crate::util::number::parse_i64(value).is_some() =>
            {
                "int"
            }
            _ if value.len() <= 44 => "embstr",
            _ => "raw",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let m = Meta {
            kind: KeyType::String,
            expire_at: 12345,
            encoding: StrEncoding::Raw,
            body: Bytes::from_static(b"hello"),
        };
        let enc = m.encode();
        assert_eq!(Meta::decode(&enc), Some(m));
        assert_eq!(Meta::peek_expire_at(&enc), Some(12345));
        assert_eq!(Meta::decode(b"\x07\0\0\0\0\0\0\0\0"), None);
    }

    #[test]
    fn string_encodings_match_redis() {
        assert_eq!(
            Meta::string(Bytes::from_static(b"123"), 0).string_encoding(),
            "int"
        );
        assert_eq!(
            Meta::string(Bytes::from_static(b"0123"), 0).string_encoding(),
            "embstr"
        );
        assert_eq!(
            Meta::string(Bytes::from(vec![b'a'; 45]), 0).string_encoding(),
            "raw"
        );
    }
}
