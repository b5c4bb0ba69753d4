//! Reply values and their wire encoding.
//!
//! Commands build a `Frame` once; the connection encodes it for the protocol the client negotiated
//! with `HELLO`. RESP3-only types fold into their RESP2 shapes exactly as Redis 7 folds them
//! (maps become flat arrays, doubles become bulk strings, booleans become integers).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::ReplyError;

/// Protocol version negotiated by `HELLO`; RESP2 until a client asks otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// A reply value. Serializable because a follower relays the leader's replies to its clients.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Frame {
    Simple(Bytes),
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    /// The null bulk string (`$-1` in RESP2).
    Null,
    /// The null array (`*-1` in RESP2), e.g. a failed `EXEC` or timed-out blocking pop.
    NullArray,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Double(f64),
    /// A double whose text the command chose (GEOPOS's human-readable long doubles): `,text` in
    /// RESP3, a bulk string in RESP2.
    DoubleText(Bytes),
    Boolean(bool),
    /// Verbatim text (`=` in RESP3); plain bulk string in RESP2. Used by INFO and CLIENT LIST.
    Verbatim(Bytes),
    BigNumber(Bytes),
    Push(Vec<Frame>),
}

impl Frame {
    /// `+OK`.
    pub fn ok() -> Frame {
        Frame::Simple(Bytes::from_static(b"OK"))
    }

    /// A simple status reply from a static string.
    pub fn simple(text: &'static str) -> Frame {
        Frame::Simple(Bytes::from_static(text.as_bytes()))
    }

    /// A bulk reply copied from a byte slice.
    pub fn bulk(data: impl Into<Bytes>) -> Frame {
        Frame::Bulk(data.into())
    }

    /// A bulk reply holding text.
    pub fn text(text: impl Into<String>) -> Frame {
        Frame::Bulk(Bytes::from(text.into()))
    }

    /// Bulk reply of an optional value, null when absent.
    pub fn opt_bulk(value: Option<Bytes>) -> Frame {
        value.map_or(Frame::Null, Frame::Bulk)
    }

    /// True for error replies; used by stats and MULTI bookkeeping.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// Encodes this frame for the given protocol, appending to `out`.
    pub fn encode(&self, proto: Protocol, out: &mut BytesMut) {
        match self {
            Frame::Simple(s) => line(out, b'+', s),
            Frame::Error(e) => {
                // An error line cannot carry CR or LF; Redis turns them into spaces too.
                if e.contains(['\r', '\n']) {
                    line(out, b'-', e.replace(['\r', '\n'], " ").as_bytes())
                } else {
                    line(out, b'-', e.as_bytes())
                }
            }
            Frame::Integer(n) => int_line(out, b':', *n),
            Frame::Bulk(b) => bulk(out, b),
            Frame::Null => match proto {
                Protocol::Resp2 => out.put_slice(b"$-1\r\n"),
                Protocol::Resp3 => out.put_slice(b"_\r\n"),
            },
            Frame::NullArray => match proto {
                Protocol::Resp2 => out.put_slice(b"*-1\r\n"),
                Protocol::Resp3 => out.put_slice(b"_\r\n"),
            },
            Frame::Array(items) => aggregate(out, b'*', items, proto),
            Frame::Set(items) => {
                let kind = if proto == Protocol::Resp3 { b'~' } else { b'*' };
                aggregate(out, kind, items, proto)
            }
            Frame::Push(items) => {
                let kind = if proto == Protocol::Resp3 { b'>' } else { b'*' };
                aggregate(out, kind, items, proto)
            }
            Frame::Map(pairs) => {
                match proto {
                    Protocol::Resp3 => int_line(out, b'%', pairs.len() as i64),
                    Protocol::Resp2 => int_line(out, b'*', 2 * pairs.len() as i64),
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Frame::Double(d) => {
                let text = crate::util::number::format_double(*d);
                match proto {
                    Protocol::Resp3 => line(out, b',', text.as_bytes()),
                    Protocol::Resp2 => bulk(out, text.as_bytes()),
                }
            }
            Frame::DoubleText(text) => match proto {
                Protocol::Resp3 => line(out, b',', text),
                Protocol::Resp2 => bulk(out, text),
            },
            Frame::Boolean(b) => match proto {
                Protocol::Resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
                Protocol::Resp2 => out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
            },
            Frame::Verbatim(text) => match proto {
                Protocol::Resp3 => {
                    int_line(out, b'=', text.len() as i64 + 4);
                    out.put_slice(b"txt:");
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                }
                Protocol::Resp2 => bulk(out, text),
            },
            Frame::BigNumber(n) => match proto {
                Protocol::Resp3 => line(out, b'(', n),
                Protocol::Resp2 => bulk(out, n),
            },
        }
    }
}

impl From<ReplyError> for Frame {
    fn from(err: ReplyError) -> Frame {
        Frame::Error(err.to_string())
    }
}

fn line(out: &mut BytesMut, kind: u8, body: &[u8]) {
    out.reserve(body.len() + 3);
    out.put_u8(kind);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

fn int_line(out: &mut BytesMut, kind: u8, n: i64) {
    let mut buf = itoa::Buffer::new();
    line(out, kind, buf.format(n).as_bytes());
}

fn bulk(out: &mut BytesMut, data: &[u8]) {
    int_line(out, b'$', data.len() as i64);
    out.reserve(data.len() + 2);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

fn aggregate(out: &mut BytesMut, kind: u8, items: &[Frame], proto: Protocol) {
    int_line(out, kind, items.len() as i64);
    for item in items {
        item.encode(proto, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: &Frame, p: Protocol) -> String {
        let mut out = BytesMut::new();
        f.encode(p, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn resp2_folds_resp3_types() {
        let map = Frame::Map(vec![(Frame::text("a"), Frame::Integer(1))]);
        assert_eq!(enc(&map, Protocol::Resp2), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&map, Protocol::Resp3), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Frame::Null, Protocol::Resp2), "$-1\r\n");
        assert_eq!(enc(&Frame::NullArray, Protocol::Resp2), "*-1\r\n");
        assert_eq!(enc(&Frame::NullArray, Protocol::Resp3), "_\r\n");
        assert_eq!(enc(&Frame::Boolean(true), Protocol::Resp2), ":1\r\n");
        assert_eq!(enc(&Frame::Double(1.5), Protocol::Resp3), ",1.5\r\n");
        assert_eq!(enc(&Frame::Double(1.5), Protocol::Resp2), "$3\r\n1.5\r\n");
        assert_eq!(
            enc(&Frame::Verbatim(Bytes::from_static(b"hi")), Protocol::Resp3),
            "=6\r\ntxt:hi\r\n"
        );
    }

    #[test]
    fn errors_render_with_prefix() {
        let f: Frame = ReplyError::WrongType.into();
        assert_eq!(
            enc(&f, Protocol::Resp2),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        );
    }
}
