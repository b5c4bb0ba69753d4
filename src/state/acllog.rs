//! The log behind ACL LOG: the newest refusals (commands, keys, channels the user may not use,
//! failed authentications), with repeats of the same refusal counted in one entry, as Redis 7.0
//! keeps them. Refusals happen on the network runtime only, and rarely, so one mutex suffices.

use std::collections::VecDeque;

use bytes::Bytes;
use parking_lot::Mutex;

/// How many of the newest entries a refusal is compared with before it becomes a new entry
/// (Redis's bound, so that logging stays cheap with a long log).
const GROUP_SCAN: usize = 10;

/// One refusal (or several alike), as ACL LOG reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// How many refusals alike this entry stands for.
    pub count: u64,
    /// `command`, `key`, `channel` or `auth`.
    pub reason: &'static str,
    /// `toplevel`, or `multi` inside a transaction.
    pub context: &'static str,
    /// The command, key or channel refused; for `auth`, the command as the client typed it.
    pub object: Bytes,
    /// The user refused (for `auth`, the name tried).
    pub username: String,
    /// Unix time in milliseconds of the latest refusal alike.
    pub updated_ms: u64,
    /// The client's CLIENT LIST line at the latest refusal.
    pub client_info: String,
}

impl LogEntry {
    /// Whether it records the same refusal (Redis's `ACLLogMatchEntry`).
    fn same_as(&self, other: &LogEntry) -> bool {
        self.reason == other.reason
            && self.context == other.context
            && self.object == other.object
            && self.username == other.username
    }
}

/// The entries, newest first.
#[derive(Debug, Default)]
pub struct AclLog {
    entries: Mutex<VecDeque<LogEntry>>,
}

impl AclLog {
    /// Records a refusal: one of the newest entries alike counts it and moves to the front, or
    /// it becomes a new entry and the oldest ones beyond `max_len` go.
    pub fn record(&self, entry: LogEntry, max_len: usize) {
        let mut entries = self.entries.lock();
        let alike = entries
            .iter()
            .take(GROUP_SCAN)
            .position(|e| e.same_as(&entry));
        match alike.and_then(|at| entries.remove(at)) {
            Some(old) => entries.push_front(LogEntry {
                count: old.count + 1,
                ..entry
            }),
            None => {
                entries.push_front(entry);
                entries.truncate(max_len);
            }
        }
    }

    /// Up to `count` entries, newest first.
    pub fn newest(&self, count: usize) -> Vec<LogEntry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    /// ACL LOG RESET.
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, ms: u64) -> LogEntry {
        LogEntry {
            count: 1,
            reason: "key",
            context: "toplevel",
            object: Bytes::from(object.to_string()),
            username: "u".into(),
            updated_ms: ms,
            client_info: String::new(),
        }
    }

    #[test]
    fn alike_refusals_are_counted_newest_first_and_bounded() {
        let log = AclLog::default();
        log.record(entry("a", 1), 2);
        log.record(entry("b", 2), 2);
        log.record(entry("a", 3), 2);
        let got = log.newest(10);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].object.as_ref(), got[0].count), (&b"a"[..], 2));
        assert_eq!(got[0].updated_ms, 3);
        log.record(entry("c", 4), 2);
        let objects: Vec<_> = log.newest(10).into_iter().map(|e| e.object).collect();
        assert_eq!(objects, ["c", "a"]);
        log.reset();
        assert!(log.newest(10).is_empty());
    }
}
