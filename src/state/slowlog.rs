//! The slow log behind SLOWLOG: the newest `slowlog-max-len` commands that ran for at least
//! `slowlog-log-slower-than` microseconds.
//!
//! Commands finish on both runtimes (storage commands on the storage threads, connection commands
//! on the network workers), so the log is shared state behind one mutex. The limits are atomics
//! read on every call; the mutex is taken only when a command is actually logged, so the common
//! case costs two relaxed loads.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

use super::clients::ClientHandle;

/// Arguments an entry keeps (Redis's limit); the last kept one says how many more there were.
pub const MAX_ARGS: usize = 32;
/// Bytes an argument keeps (Redis's limit); a longer one ends with how many bytes were cut.
pub const MAX_ARG_BYTES: usize = 128;
/// What a secret argument (a password) is shown as, as in Redis.
const REDACTED: &[u8] = b"(redacted)";

/// One logged command, as SLOWLOG GET reports it.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    /// Increases by one for every logged command, across resets.
    pub id: u64,
    /// Unix time in seconds when the command finished.
    pub unix_secs: u64,
    /// Execution time in microseconds.
    pub micros: u64,
    /// The arguments, shortened and redacted.
    pub args: Vec<Bytes>,
    /// The client's `ip:port`.
    pub addr: String,
    /// The client's name at the time (CLIENT SETNAME), possibly empty.
    pub name: String,
}

/// The shared slow log.
#[derive(Debug, Default)]
pub struct SlowLog {
    /// `slowlog-log-slower-than`; negative turns the log off.
    slower_than: AtomicI64,
    /// `slowlog-max-len`.
    max_len: AtomicUsize,
    /// Mirrors the entry count so a lowered `slowlog-max-len` is noticed without locking.
    len: AtomicUsize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Newest first.
    entries: VecDeque<SlowEntry>,
    next_id: u64,
}

impl SlowLog {
    /// Applies `slowlog-log-slower-than` and `slowlog-max-len` (at start and on CONFIG SET).
    pub fn configure(&self, slower_than: i64, max_len: i64) {
        self.slower_than.store(slower_than, Ordering::Relaxed);
        let max_len = usize::try_from(max_len).unwrap_or(0);
        self.max_len.store(max_len, Ordering::Relaxed);
    }

    /// Considers one finished command. `secret(i)` tells whether argument `i` must not be shown.
    ///
    /// Like Redis, the log is also trimmed to `slowlog-max-len` here (not when the option is
    /// lowered), and not at all while the log is off.
    pub fn record(
        &self,
        micros: u64,
        client: &ClientHandle,
        args: &[Bytes],
        secret: impl Fn(usize) -> bool,
    ) {
        let slower_than = self.slower_than.load(Ordering::Relaxed);
        if slower_than < 0 {
            return;
        }
        let max_len = self.max_len.load(Ordering::Relaxed);
        let logged = micros >= slower_than as u64;
        if !logged && self.len.load(Ordering::Relaxed) <= max_len {
            return;
        }
        let entry_args = logged.then(|| kept_args(args, &secret));
        let name = logged.then(|| client.name.lock().clone());
        let mut inner = self.inner.lock();
        if let (Some(args), Some(name)) = (entry_args, name) {
            let id = inner.next_id;
            inner.next_id += 1;
            inner.entries.push_front(SlowEntry {
                id,
                unix_secs: crate::util::now_ms() / 1000,
                micros,
                args,
                addr: client.addr.to_string(),
                name,
            });
        }
        inner.entries.truncate(max_len);
        self.len.store(inner.entries.len(), Ordering::Relaxed);
    }

    /// The newest `count` entries, newest first.
    pub fn newest(&self, count: usize) -> Vec<SlowEntry> {
        self.inner
            .lock()
            .entries
            .iter()
            .take(count)
            .cloned()
            .collect()
    }

    /// Number of entries (SLOWLOG LEN).
    pub fn entry_count(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Drops every entry (SLOWLOG RESET); ids keep increasing.
    pub fn reset(&self) {
        let mut inner = self.inner.lock();
        inner.entries.clear();
        self.len.store(0, Ordering::Relaxed);
    }
}

/// The arguments an entry keeps: at most [`MAX_ARGS`], each at most [`MAX_ARG_BYTES`] long, with
/// Redis's notes on what was left out, and secrets replaced.
fn kept_args(args: &[Bytes], secret: &impl Fn(usize) -> bool) -> Vec<Bytes> {
    let shown = args.len().min(MAX_ARGS);
    (0..shown)
        .map(|i| {
            if shown < args.len() && i == shown - 1 {
                let more = args.len() - shown + 1;
                Bytes::from(format!("... ({more} more arguments)"))
            } else if secret(i) {
                Bytes::from_static(REDACTED)
            } else if args[i].len() > MAX_ARG_BYTES {
                let mut cut = BytesMut::from(&args[i][..MAX_ARG_BYTES]);
                let more = args[i].len() - MAX_ARG_BYTES;
                cut.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
                cut.freeze()
            } else {
                args[i].clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[Bytes]) -> Vec<String> {
        args.iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    #[test]
    fn long_commands_keep_31_arguments_and_a_count() {
        let args: Vec<Bytes> = (0..40).map(|i| Bytes::from(i.to_string())).collect();
        let kept = strings(&kept_args(&args, &|_| false));
        assert_eq!(kept.len(), 32);
        assert_eq!(kept[30], "30");
        assert_eq!(kept[31], "... (9 more arguments)");
    }

    #[test]
    fn long_arguments_keep_128_bytes_and_a_count() {
        let args = vec![Bytes::from("set"), Bytes::from(vec![b'x'; 130])];
        let kept = strings(&kept_args(&args, &|_| false));
        assert_eq!(kept[1], format!("{}... (2 more bytes)", "x".repeat(128)));
        let exact = vec![Bytes::from(vec![b'y'; 128])];
        assert_eq!(kept_args(&exact, &|_| false)[0].len(), 128);
    }

    #[test]
    fn secrets_are_redacted() {
        let args = vec![Bytes::from("auth"), Bytes::from("hunter2")];
        assert_eq!(
            strings(&kept_args(&args, &|i| i == 1)),
            ["auth", "(redacted)"]
        );
    }
}
