//! A minimal async RESP client: enough for `kiwictl`, `kiwi-bench` and the tests to talk to any
//! Redis-compatible server without pulling in a client library.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Frame;

/// Errors talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("connection lost: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("malformed reply from the server: {0}")]
    Malformed(String),
}

/// One connection.
pub struct Client {
    stream: TcpStream,
    buf: BytesMut,
    out: BytesMut,
}

impl Client {
    /// Connects to `addr` (`host:port`).
    pub async fn connect(addr: &str) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        Ok(Client {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
            out: BytesMut::with_capacity(16 * 1024),
        })
    }

    /// Queues a command without sending it (for pipelines).
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        encode_command(args, &mut self.out);
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        self.stream.write_all(&self.out).await?;
        self.out.clear();
        Ok(())
    }

    /// Reads the next reply.
    pub async fn read_reply(&mut self) -> Result<Frame, ClientError> {
        Ok(self.read_reply_with_bytes().await?.0)
    }

    /// Reads the next reply together with its exact wire bytes (for byte-exact comparisons:
    /// `$-1` and `_` parse to the same [`Frame::Null`]).
    pub async fn read_reply_with_bytes(&mut self) -> Result<(Frame, bytes::Bytes), ClientError> {
        loop {
            let mut pos = 0;
            if let Some(frame) = parse_at(&self.buf, &mut pos, 0)? {
                let wire = self.buf.split_to(pos).freeze();
                return Ok((frame, wire));
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }

    /// Sends one command and waits for its reply.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Frame, ClientError> {
        self.queue(args);
        self.flush().await?;
        self.read_reply().await
    }
}

/// Appends a command as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    let mut num = itoa::Buffer::new();
    out.extend_from_slice(b"*");
    out.extend_from_slice(num.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(b"$");
        out.extend_from_slice(num.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses one complete reply from `buf`, consuming it; `None` if more bytes are needed.
pub fn parse_reply(buf: &mut BytesMut) -> Result<Option<Frame>, ClientError> {
    let mut pos = 0;
    match parse_at(buf, &mut pos, 0)? {
        Some(frame) => {
            buf.advance(pos);
            Ok(Some(frame))
        }
        None => Ok(None),
    }
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let end = start + memchr::memchr(b'\n', &buf[start..])?;
    *pos = end + 1;
    Some(&buf[start..end.saturating_sub(1).max(start)])
}

fn number(text: &[u8]) -> Result<i64, ClientError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ClientError::Malformed(String::from_utf8_lossy(text).into_owned()))
}

/// Deepest nesting of aggregates accepted in a reply. Redis's deepest replies (COMMAND DOCS)
/// nest a handful of levels; the limit keeps a hostile or broken server from overflowing the
/// stack with `*1\r\n*1\r\n...`.
const MAX_DEPTH: usize = 256;

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Frame>, ClientError> {
    if *pos >= buf.len() {
        return Ok(None);
    }
    if depth > MAX_DEPTH {
        return Err(ClientError::Malformed(format!(
            "reply nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let kind = buf[*pos];
    *pos += 1;
    let Some(text) = line(buf, pos) else {
        return Ok(None);
    };
    let text_owned = || String::from_utf8_lossy(text).into_owned();
    let frame = match kind {
        b'+' => Frame::Simple(bytes::Bytes::copy_from_slice(text)),
        b'-' => Frame::Error(text_owned()),
        b':' => Frame::Integer(number(text)?),
        b'_' => Frame::Null,
        b'#' => Frame::Boolean(text == b"t"),
        b',' => Frame::Double(text_owned().parse().unwrap_or(f64::NAN)),
        b'(' => Frame::BigNumber(bytes::Bytes::copy_from_slice(text)),
        b'$' | b'=' | b'!' => {
            let len = number(text)?;
            if len < 0 {
                return Ok(Some(Frame::Null));
            }
            let len = len as usize;
            if buf.len() < *pos + len + 2 {
                return Ok(None);
            }
            let mut data = &buf[*pos..*pos + len];
            *pos += len + 2;
            match kind {
                b'!' => Frame::Error(String::from_utf8_lossy(data).into_owned()),
                b'=' => {
                    if data.len() >= 4 {
                        data = &data[4..];
                    }
                    Frame::Verbatim(bytes::Bytes::copy_from_slice(data))
                }
                _ => Frame::Bulk(bytes::Bytes::copy_from_slice(data)),
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = number(text)?;
            if n < 0 {
                return Ok(Some(Frame::NullArray));
            }
            let count = if matches!(kind, b'%' | b'|') {
                // A map of n pairs holds 2n values; a claimed n past i64::MAX / 2 cannot be.
                n.checked_mul(2)
                    .ok_or_else(|| ClientError::Malformed(text_owned()))?
            } else {
                n
            } as usize;
            let mut items = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                match parse_at(buf, pos, depth + 1)? {
                    Some(item) => items.push(item),
                    None => return Ok(None),
                }
            }
            match kind {
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                b'%' | b'|' => {
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                }
                _ => Frame::Array(items),
            }
        }
        other => {
            return Err(ClientError::Malformed(format!(
                "unexpected type byte {other:#x}"
            )))
        }
    };
    Ok(Some(frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Protocol;

    /// Found by the `resp_reply` fuzz target: a map (`%`) or attribute (`|`) count past
    /// i64::MAX / 2 overflowed when doubled (a panic in debug builds, a wrapped count in release).
    /// Deep nesting is bounded too, so a hostile server cannot overflow the client's stack.
    #[test]
    fn lying_counts_and_deep_nesting_are_errors() {
        for input in [
            &b"%4611686018427387904\r\n"[..],
            b"|9223372036854775807\r\n",
        ] {
            let mut buf = BytesMut::from(input);
            assert!(matches!(
                parse_reply(&mut buf),
                Err(ClientError::Malformed(_))
            ));
        }
        let mut deep = BytesMut::from(&b"*1\r\n".repeat(100_000)[..]);
        assert!(matches!(
            parse_reply(&mut deep),
            Err(ClientError::Malformed(_))
        ));
        let mut limit = b"*1\r\n".repeat(MAX_DEPTH);
        limit.extend_from_slice(b":1\r\n");
        assert!(parse_reply(&mut BytesMut::from(&limit[..]))
            .unwrap()
            .is_some());
    }

    #[test]
    fn parses_what_the_server_encodes() {
        let frames = vec![
            Frame::Map(vec![(
                Frame::text("a"),
                Frame::Array(vec![Frame::Integer(1), Frame::Null]),
            )]),
            Frame::Set(vec![Frame::simple("x")]),
            Frame::Double(2.5),
            Frame::Boolean(true),
            Frame::Verbatim(bytes::Bytes::from_static(b"info")),
            Frame::Error("ERR x".into()),
        ];
        for f in frames {
            let mut out = BytesMut::new();
            f.encode(Protocol::Resp3, &mut out);
            let whole = out.clone();
            // Every strict prefix is incomplete, the whole frame parses back to the same value.
            for cut in 0..whole.len() {
                let mut part = BytesMut::from(&whole[..cut]);
                assert!(
                    parse_reply(&mut part).unwrap().is_none(),
                    "{f:?} cut at {cut}"
                );
            }
            assert_eq!(parse_reply(&mut out).unwrap(), Some(f));
            assert!(out.is_empty());
        }
    }
}
