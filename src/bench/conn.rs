//! A lean pipelined RESP connection for load generation.
//!
//! A whole pipeline goes out in one `write_all`, and replies are scanned in place from one
//! reusable input buffer ([`scan`](super::scan)): no allocation per request or reply, so
//! the client spends its CPU on the socket, not on itself. On a 2-core machine the client and
//! the server compete for the same cores, and every cycle the client wastes is taken from
//! the server it measures.

use std::ops::Range;

use anyhow::{bail, Context as _};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::scan::{self, Reply};

/// How to greet a server after connecting.
#[derive(Debug, Clone, Default)]
pub struct Handshake {
    /// `AUTH [user] password`.
    pub user: Option<String>,
    pub password: Option<String>,
    /// Switch to RESP3 with `HELLO 3`.
    pub resp3: bool,
}

/// One connection to a server.
pub struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    /// Unread input is `input[head..tail]`.
    head: usize,
    tail: usize,
}

const INITIAL_INPUT: usize = 64 * 1024;

impl Conn {
    /// Connects to `addr` and performs the handshake.
    pub async fn connect(addr: &str, handshake: &Handshake) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect to {addr}"))?;
        // Pipelines are written whole; Nagle would only delay the last segment.
        stream.set_nodelay(true).context("set TCP_NODELAY")?;
        let mut conn = Conn {
            stream,
            input: vec![0; INITIAL_INPUT],
            head: 0,
            tail: 0,
        };
        if let Some(password) = &handshake.password {
            let mut args = vec!["AUTH"];
            args.extend(handshake.user.as_deref());
            args.push(password);
            conn.expect_ok(&args)
                .await
                .with_context(|| format!("authenticate to {addr}"))?;
        }
        if handshake.resp3 {
            conn.expect_ok(&["HELLO", "3"])
                .await
                .with_context(|| format!("switch {addr} to RESP3"))?;
        }
        Ok(conn)
    }

    /// Sends one command and fails if the reply is an error (for set-up, not for load).
    pub async fn expect_ok(&mut self, args: &[&str]) -> anyhow::Result<()> {
        let mut out = Vec::new();
        encode(args, &mut out);
        self.send(&out).await?;
        if let Reply::Error(_, text) = self.next_reply().await? {
            bail!(
                "{} answered: {}",
                args[0],
                String::from_utf8_lossy(self.bytes(text))
            );
        }
        Ok(())
    }

    /// Writes a whole pipeline.
    pub async fn send(&mut self, out: &[u8]) -> anyhow::Result<()> {
        self.stream
            .write_all(out)
            .await
            .context("send to the server")
    }

    /// Waits for the next reply. Cancel-safe: input is only consumed once a reply is complete,
    /// so open-loop mode can race it against its send timer.
    pub async fn next_reply(&mut self) -> anyhow::Result<Reply> {
        loop {
            if let Some((reply, len)) = scan::scan(&self.input[self.head..self.tail])? {
                let base = self.head;
                self.head += len;
                return Ok(shift(reply, base));
            }
            self.make_room();
            let read = self
                .stream
                .read(&mut self.input[self.tail..])
                .await
                .context("read from the server")?;
            if read == 0 {
                bail!("the server closed the connection");
            }
            self.tail += read;
        }
    }

    /// Bytes of a range from the last reply (valid until the next [`next_reply`](Self::next_reply)).
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.input[range]
    }

    /// Before a read: moves an unfinished reply to the front when little room is left behind
    /// it (so reads stay large), and grows the buffer only when one reply fills all of it
    /// (LRANGE 600 with big values).
    fn make_room(&mut self) {
        const MIN_READ: usize = 4096;
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
        } else if self.input.len() - self.tail < MIN_READ {
            if self.head > 0 {
                self.input.copy_within(self.head..self.tail, 0);
                self.tail -= self.head;
                self.head = 0;
            }
            if self.input.len() - self.tail < MIN_READ {
                let doubled = self.input.len() * 2;
                self.input.resize(doubled, 0);
            }
        }
    }
}

fn shift(reply: Reply, base: usize) -> Reply {
    let move_range = |r: Range<usize>| r.start + base..r.end + base;
    match reply {
        Reply::Error(kind, r) => Reply::Error(kind, move_range(r)),
        Reply::Bulk(r) => Reply::Bulk(move_range(r)),
        other => other,
    }
}

/// Appends a command of plain arguments (set-up commands, not the hot path).
pub fn encode(args: &[&str], out: &mut Vec<u8>) {
    let mut num = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(num.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(num.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}
