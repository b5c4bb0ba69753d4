//! Incremental request parser.
//!
//! A request is either a RESP array of bulk strings (what every client library sends) or an inline
//! command line (what telnet users and redis-benchmark's `PING_INLINE` send). The parser keeps the
//! state of a partially received array between reads, so a huge pipeline costs one pass over the
//! bytes, and it allocates only for bytes that actually arrived: a header that *claims* a gigabyte
//! costs nothing until the gigabyte is sent, and claims above the configured limits are refused with
//! the exact error Redis sends before the connection is closed.

use bytes::{Buf, Bytes, BytesMut};

/// Longest inline command or `*`/`$` header line Redis accepts (PROTO_INLINE_MAX_SIZE).
const MAX_INLINE_LEN: usize = 64 * 1024;
/// Redis never pre-allocates more argument slots than this for one array header.
const MAX_PREALLOC_ARGS: usize = 1024;
/// Before AUTH succeeds Redis limits arrays to this many elements...
const UNAUTH_MAX_ARGS: i64 = 10;
/// ...and bulk strings to this many bytes, so an anonymous peer cannot make it buffer much.
const UNAUTH_MAX_BULK: i64 = 16 * 1024;

/// Limits taken from the config at the time of each parse.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: usize,
    /// Whether the client still has to authenticate (tighter limits apply).
    pub unauthenticated: bool,
}

/// A protocol violation. Its text is what Redis replies before closing the connection.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ParseError(pub String);

fn proto_err(text: impl Into<String>) -> ParseError {
    ParseError(text.into())
}

#[derive(Debug)]
struct PartialArray {
    remaining: usize,
    args: Vec<Bytes>,
    /// Length of the bulk string whose header was consumed but whose payload has not arrived.
    bulk_len: Option<usize>,
}

/// Per-connection parser state.
#[derive(Debug, Default)]
pub struct RequestParser {
    partial: Option<PartialArray>,
}

impl RequestParser {
    /// Creates a parser with no partial request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held by the partially parsed request, counted against `client-query-buffer-limit`.
    pub fn pending_bytes(&self) -> usize {
        // Each argument also costs its `Bytes` handle, so millions of empty arguments count too.
        self.partial.as_ref().map_or(0, |p| {
            p.args.iter().map(Bytes::len).sum::<usize>()
                + p.args.capacity() * std::mem::size_of::<Bytes>()
        })
    }

    /// Takes the next complete command from `buf`, or `Ok(None)` when more bytes are needed.
    /// Empty requests (`*0`, blank inline lines) are skipped.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        limits: ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ParseError> {
        loop {
            if self.partial.is_none() {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] != b'*' {
                    match parse_inline(buf)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(args)),
                    }
                }
                let Some(count) = read_header(buf, "mbulk count")? else {
                    return Ok(None);
                };
                if count > i32::MAX as i64 {
                    return Err(proto_err("invalid multibulk length"));
                }
                if limits.unauthenticated && count > UNAUTH_MAX_ARGS {
                    return Err(proto_err("unauthenticated multibulk length"));
                }
                if count <= 0 {
                    continue;
                }
                let count = count as usize;
                self.partial = Some(PartialArray {
                    remaining: count,
                    args: Vec::with_capacity(count.min(MAX_PREALLOC_ARGS)),
                    bulk_len: None,
                });
            }
            let Some(partial) = self.partial.as_mut() else {
                continue;
            };
            while partial.remaining > 0 {
                let len = match partial.bulk_len {
                    Some(len) => len,
                    None => {
                        if buf.is_empty() {
                            return Ok(None);
                        }
                        if buf[0] != b'$' {
                            let got = buf[0] as char;
                            return Err(proto_err(format!("expected '$', got '{got}'")));
                        }
                        let Some(len) = read_header(buf, "bulk count")? else {
                            return Ok(None);
                        };
                        if len < 0 || len as u64 > limits.max_bulk_len as u64 {
                            return Err(proto_err("invalid bulk length"));
                        }
                        if limits.unauthenticated && len > UNAUTH_MAX_BULK {
                            return Err(proto_err("unauthenticated bulk length"));
                        }
                        let len = len as usize;
                        partial.bulk_len = Some(len);
                        len
                    }
                };
                if buf.len() < len + 2 {
                    // Nothing is reserved for the claimed length: the buffer grows only with bytes
                    // that really arrive, so a lying header costs nothing.
                    return Ok(None);
                }
                let arg = buf.split_to(len).freeze();
                // Redis does not verify the CRLF after a bulk payload; it skips two bytes.
                buf.advance(2);
                partial.args.push(arg);
                partial.bulk_len = None;
                partial.remaining -= 1;
            }
            let done = self.partial.take().map(|p| p.args).unwrap_or_default();
            return Ok(Some(done));
        }
    }
}

/// Reads a `*N\r\n` / `$N\r\n` header. `None` when the line is not complete yet.
fn read_header(buf: &mut BytesMut, what: &str) -> Result<Option<i64>, ParseError> {
    let Some(nl) = memchr::memchr(b'\r', buf) else {
        if buf.len() > MAX_INLINE_LEN {
            return Err(proto_err(format!("too big {what} string")));
        }
        return Ok(None);
    };
    if nl > MAX_INLINE_LEN {
        return Err(proto_err(format!("too big {what} string")));
    }
    if buf.len() < nl + 2 {
        return Ok(None);
    }
    let value = crate::util::number::parse_i64(&buf[1..nl]);
    let value = match value {
        Some(v) => v,
        None if what == "mbulk count" => return Err(proto_err("invalid multibulk length")),
        None => return Err(proto_err("invalid bulk length")),
    };
    buf.advance(nl + 2);
    Ok(Some(value))
}

/// Parses one inline command line, splitting arguments like redis-cli (quotes, escapes).
fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
    let Some(nl) = memchr::memchr(b'\n', buf) else {
        if buf.len() > MAX_INLINE_LEN {
            return Err(proto_err("too big inline request"));
        }
        return Ok(None);
    };
    let line = buf.split_to(nl + 1);
    let mut end = nl;
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    match split_args(&line[..end]) {
        Some(args) => Ok(Some(args.into_iter().map(Bytes::from).collect())),
        None => Err(proto_err("unbalanced quotes in request")),
    }
}

/// C's `isspace`: unlike `u8::is_ascii_whitespace` it includes the vertical tab.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Splits a line into arguments with Redis's `sdssplitargs` rules: whitespace separates,
/// "double quotes" understand `\n \r \t \b \a \\ \" \xHH`, 'single quotes' only `\'`.
/// Returns `None` for unbalanced quotes. Shared with the config-file reader.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    // Like the C original, a NUL byte ends the line.
    let n = memchr::memchr(0, line).unwrap_or(line.len());
    loop {
        while i < n && is_c_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                    current.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    current.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if line[i] == b'"' {
                    // A closing quote must be followed by a space or the end.
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    current.push(line[i]);
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    current.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    current.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => current.push(c),
                }
            }
            i += 1;
        }
        args.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ParseLimits = ParseLimits {
        max_bulk_len: 512 * 1024 * 1024,
        unauthenticated: false,
    };

    fn all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ParseError> {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(cmd) = p.next(&mut buf, LIMITS)? {
            out.push(cmd);
        }
        Ok(out)
    }

    #[test]
    fn parses_pipelined_arrays_and_inline() {
        let cmds =
            all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\n*0\r\nset \"a b\" 'c'\r\n").unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(cmds[1], vec![Bytes::from("PING")]);
        assert_eq!(
            cmds[2],
            vec![Bytes::from("set"), Bytes::from("a b"), Bytes::from("c")]
        );
    }

    #[test]
    fn resumes_across_partial_reads() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for byte in input {
            buf.extend_from_slice(&[*byte]);
            if let Some(cmd) = p.next(&mut buf, LIMITS).unwrap() {
                got = Some(cmd);
            }
        }
        assert_eq!(got.unwrap()[2], Bytes::from("value"));
        assert!(buf.is_empty());
    }

    #[test]
    fn rejects_lying_lengths_without_allocating() {
        assert_eq!(
            all(b"*3000000000\r\n").unwrap_err().0,
            "invalid multibulk length"
        );
        assert_eq!(
            all(b"*1\r\n$1073741824\r\n").unwrap_err().0,
            "invalid bulk length"
        );
        assert_eq!(all(b"*1\r\n$-5\r\n").unwrap_err().0, "invalid bulk length");
        assert_eq!(
            all(b"*1\r\n+foo\r\n").unwrap_err().0,
            "expected '$', got '+'"
        );
        assert_eq!(all(b"*x\r\n").unwrap_err().0, "invalid multibulk length");
        assert_eq!(
            all(b"set \"a\r\n").unwrap_err().0,
            "unbalanced quotes in request"
        );
        let big = vec![b'a'; MAX_INLINE_LEN + 1];
        assert_eq!(all(&big).unwrap_err().0, "too big inline request");
        // A huge but legal header with no payload yet allocates nothing beyond the header.
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(&b"*1048576\r\n"[..]);
        assert!(p.next(&mut buf, LIMITS).unwrap().is_none());
        assert!(p.pending_bytes() <= MAX_PREALLOC_ARGS * std::mem::size_of::<Bytes>());
    }

    #[test]
    fn unauthenticated_clients_get_tight_limits() {
        let mut p = RequestParser::new();
        let limits = ParseLimits {
            unauthenticated: true,
            ..LIMITS
        };
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            p.next(&mut buf, limits).unwrap_err().0,
            "unauthenticated multibulk length"
        );
    }

    #[test]
    fn random_input_never_hangs_or_panics() {
        // A cheap deterministic fuzz pass; cargo-fuzz can go further.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            let len = (round % 300) + 1;
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Bias towards protocol characters so the interesting paths are reached.
                let alphabet = b"*$\r\n0123456789-+\"' \\x\0abcPING";
                bytes.push(if seed % 3 == 0 {
                    seed as u8
                } else {
                    alphabet[(seed >> 8) as usize % alphabet.len()]
                });
            }
            let mut parser = RequestParser::new();
            let mut buf = BytesMut::from(&bytes[..]);
            for _ in 0..=len {
                match parser.next(&mut buf, LIMITS) {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn split_args_handles_escapes() {
        let args = split_args(br#"a "b\x41\n" 'c\'d' """#).unwrap();
        assert_eq!(
            args,
            vec![
                b"a".to_vec(),
                b"bA\n".to_vec(),
                b"c'd".to_vec(),
                b"".to_vec()
            ]
        );
        assert!(split_args(b"\"a\"b").is_none());
        assert_eq!(split_args(b"a\0b c").unwrap(), vec![b"a".to_vec()]);
        assert_eq!(split_args(b"\0").unwrap(), Vec::<Vec<u8>>::new());
    }
}
