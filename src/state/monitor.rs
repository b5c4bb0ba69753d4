//! MONITOR: every command any client runs, streamed to the connections that asked, in Redis's
//! format (`+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`).
//!
//! Lines travel through the same bounded mailbox as pub/sub messages, so a monitor that stops
//! reading is disconnected at the `pubsub` output limit instead of growing server memory. With no
//! monitor connected, feeding costs one atomic load per command.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::clients::ClientHandle;
use super::pubsub::Subscriber;
use crate::config::BufferLimit;

/// The connections in MONITOR mode.
#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    list: Mutex<Vec<(u64, Arc<Subscriber>)>>,
}

impl Monitors {
    /// Starts streaming to the connection `id` through its `mailbox`.
    pub fn add(&self, id: u64, mailbox: Arc<Subscriber>) {
        let mut list = self.list.lock();
        if !list.iter().any(|(i, _)| *i == id) {
            list.push((id, mailbox));
            self.count.store(list.len(), Ordering::Release);
        }
    }

    /// Stops streaming to the connection `id` (RESET, disconnect).
    pub fn remove(&self, id: u64) {
        let mut list = self.list.lock();
        list.retain(|(i, _)| *i != id);
        self.count.store(list.len(), Ordering::Release);
    }

    /// True when some connection is monitoring (callers skip formatting otherwise).
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Streams one command of `client`, run in `db`; `secret(i)` hides argument `i`.
    pub fn feed(
        &self,
        client: &ClientHandle,
        db: usize,
        args: &[bytes::Bytes],
        secret: impl Fn(usize) -> bool,
        limit: &BufferLimit,
    ) {
        self.feed_from(&client.addr.to_string(), db, args, secret, limit);
    }

    /// Streams one command issued by `source` (a client's address, or `lua` for a command a
    /// script called, as Redis shows it).
    pub fn feed_from(
        &self,
        source: &str,
        db: usize,
        args: &[bytes::Bytes],
        secret: impl Fn(usize) -> bool,
        limit: &BufferLimit,
    ) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = format!(
            "+{}.{:06} [{} {}]",
            now.as_secs(),
            now.subsec_micros(),
            db,
            source
        )
        .into_bytes();
        for (i, arg) in args.iter().enumerate() {
            line.push(b' ');
            if secret(i) {
                line.extend_from_slice(b"\"(redacted)\"");
            } else {
                quote(arg, &mut line);
            }
        }
        line.extend_from_slice(b"\r\n");
        for (_, mailbox) in self.list.lock().iter() {
            mailbox.deliver_line(&line, limit);
        }
    }
}

/// Redis's `sdscatrepr`: a double-quoted string with C escapes and `\xHH` for other bytes.
fn quote(arg: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in arg {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            b if b.is_ascii_graphic() || b == b' ' => out.push(b),
            b => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_like_redis() {
        let mut out = Vec::new();
        quote(b"a \"b\"\\\n\x01\xff", &mut out);
        assert_eq!(out, b"\"a \\\"b\\\"\\\\\\n\\x01\\xff\"");
    }
}
