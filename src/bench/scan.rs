//! Reading replies without building them: a benchmark only needs to know where a reply ends,
//! whether it is an error (and which kind), and for `--verify` where a bulk string's bytes are.
//! Scanning in place, with no `Frame` and no allocation per reply, keeps the client cheaper
//! than the server it measures.

use std::ops::Range;

/// Error replies counted apart, because they mean different things in a report: `MOVED`/`ASK`
/// are cluster redirections, `BUSY` a server stuck in a script, anything else a real failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Moved,
    Ask,
    Busy,
    Other,
}

/// What a benchmark needs to know about one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An error; the range is its text (without the type byte and CRLF).
    Error(ErrorKind, Range<usize>),
    /// A bulk string; the range is its payload.
    Bulk(Range<usize>),
    /// Null (`$-1`, `*-1`, `_`).
    Nil,
    /// Anything else: status, integer, aggregate, double...
    Other,
}

/// The server sent something that is not RESP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed reply from the server near byte {0}")]
pub struct Malformed(pub usize);

/// Scans one reply at the start of `buf`: `Ok(None)` when it is not complete yet, otherwise the
/// reply and its length in bytes. Ranges in the reply are relative to `buf`.
pub fn scan(buf: &[u8]) -> Result<Option<(Reply, usize)>, Malformed> {
    let mut pos = 0;
    let mut first = None;
    // Elements still to scan; aggregates add their children instead of recursing, so a deeply
    // nested or lying reply cannot overflow the stack.
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let Some(&kind) = buf.get(pos) else {
            return Ok(None);
        };
        let Some(eol) = memchr::memchr(b'\n', &buf[pos..]) else {
            return Ok(None);
        };
        let line_end = pos + eol;
        if line_end == pos || buf[line_end - 1] != b'\r' {
            return Err(Malformed(pos));
        }
        let text = pos + 1..line_end - 1;
        let next = line_end + 1;
        let reply = match kind {
            b'+' | b':' | b',' | b'#' | b'(' => {
                pos = next;
                Reply::Other
            }
            b'_' => {
                pos = next;
                Reply::Nil
            }
            b'-' => {
                pos = next;
                Reply::Error(classify(&buf[text.clone()]), text)
            }
            b'$' | b'!' | b'=' => {
                let len = number(&buf[text], pos)?;
                if len < 0 {
                    pos = next;
                    Reply::Nil
                } else {
                    let end = next.checked_add(len as usize).ok_or(Malformed(pos))?;
                    if buf.len() < end + 2 {
                        return Ok(None);
                    }
                    if &buf[end..end + 2] != b"\r\n" {
                        return Err(Malformed(end));
                    }
                    pos = end + 2;
                    if kind == b'!' {
                        Reply::Error(classify(&buf[next..end]), next..end)
                    } else {
                        Reply::Bulk(next..end)
                    }
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = number(&buf[text], pos)?;
                pos = next;
                if n < 0 {
                    Reply::Nil
                } else {
                    let n = n as u64;
                    let children = match kind {
                        b'%' => n.saturating_mul(2),
                        // An attribute map is followed by the reply it annotates.
                        b'|' => n.saturating_mul(2).saturating_add(1),
                        _ => n,
                    };
                    pending = pending.saturating_add(children);
                    Reply::Other
                }
            }
            _ => return Err(Malformed(pos)),
        };
        first.get_or_insert(reply);
    }
    Ok(first.map(|r| (r, pos)))
}

fn classify(text: &[u8]) -> ErrorKind {
    let word = text.split(|&b| b == b' ').next().unwrap_or_default();
    match word {
        b"MOVED" => ErrorKind::Moved,
        b"ASK" => ErrorKind::Ask,
        b"BUSY" => ErrorKind::Busy,
        _ => ErrorKind::Other,
    }
}

/// The `host:port` of a `MOVED <slot> <host:port>` error.
pub fn redirect_address(text: &[u8]) -> Option<&str> {
    let addr = text.split(|&b| b == b' ').nth(2)?;
    std::str::from_utf8(addr).ok()
}

fn number(text: &[u8], at: usize) -> Result<i64, Malformed> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 18 {
        return Err(Malformed(at));
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(Malformed(at));
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Ok(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(bytes: &[u8]) -> Reply {
        for cut in 0..bytes.len() {
            assert_eq!(
                scan(&bytes[..cut]),
                Ok(None),
                "cut at {cut} of {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let (reply, len) = scan(bytes).expect("well formed").expect("complete");
        assert_eq!(len, bytes.len());
        reply
    }

    #[test]
    fn scans_every_type() {
        assert_eq!(whole(b"+OK\r\n"), Reply::Other);
        assert_eq!(whole(b":12\r\n"), Reply::Other);
        assert_eq!(whole(b"$-1\r\n"), Reply::Nil);
        assert_eq!(whole(b"_\r\n"), Reply::Nil);
        assert_eq!(whole(b"$3\r\nabc\r\n"), Reply::Bulk(4..7));
        assert_eq!(whole(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"), Reply::Other);
        assert_eq!(whole(b"%1\r\n+a\r\n*0\r\n"), Reply::Other);
        assert_eq!(whole(b"|1\r\n+k\r\n+v\r\n:5\r\n"), Reply::Other);
        assert_eq!(whole(b"=7\r\ntxt:abc\r\n"), Reply::Bulk(4..11));
        assert_eq!(whole(b"-ERR no\r\n"), Reply::Error(ErrorKind::Other, 1..7));
        assert_eq!(
            whole(b"!9\r\nBUSY hang\r\n"),
            Reply::Error(ErrorKind::Busy, 4..13)
        );
    }

    #[test]
    fn classifies_redirections() {
        let text = b"-MOVED 3999 127.0.0.1:7002\r\n";
        let Reply::Error(kind, range) = whole(text) else {
            panic!("not an error")
        };
        assert_eq!(kind, ErrorKind::Moved);
        assert_eq!(redirect_address(&text[range]), Some("127.0.0.1:7002"));
        assert!(matches!(
            whole(b"-ASK 1 h:1\r\n"),
            Reply::Error(ErrorKind::Ask, _)
        ));
    }

    #[test]
    fn stops_after_one_reply() {
        let (reply, len) = scan(b"$1\r\nx\r\n+OK\r\n").expect("ok").expect("complete");
        assert_eq!((reply, len), (Reply::Bulk(4..5), 7));
    }

    #[test]
    fn rejects_garbage() {
        assert!(scan(b"?\r\n").is_err());
        assert!(scan(b"$x\r\n").is_err());
        assert!(scan(b"$1\r\nabc\r\n").is_err());
        assert!(scan(b"+OK\n").is_err());
        assert!(scan(b"*99999999999999999999\r\n").is_err());
    }
}
