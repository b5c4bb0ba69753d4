//! Counters reported by INFO (and later by the admin port's metrics).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Process-wide counters. Relaxed atomics: they are statistics, not synchronization.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub error_replies: AtomicU64,
    /// Error replies by error code (INFO errorstats).
    pub errors_by_code: parking_lot::Mutex<std::collections::BTreeMap<String, u64>>,
    /// Commands per second over the last second, sampled by the background task.
    pub ops_per_sec: AtomicU64,
    pub network: RuntimeStats,
    pub storage: RuntimeStats,
}

/// Health of one runtime: what is queued, what is running, what finished.
#[derive(Debug, Default)]
pub struct RuntimeStats {
    /// Work waiting for this runtime.
    pub queued: AtomicUsize,
    /// Work being executed right now.
    pub in_flight: AtomicUsize,
    /// Commands completed.
    pub completed: AtomicU64,
    /// Commands that ended in an error reply.
    pub errors: AtomicU64,
    /// Times the queue was full when work arrived (backpressure engaged).
    pub saturated: AtomicU64,
}

impl Stats {
    /// Zeroes the counters CONFIG RESETSTAT resets in Redis.
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.error_replies,
            &self.network.completed,
            &self.network.errors,
            &self.network.saturated,
            &self.storage.completed,
            &self.storage.errors,
            &self.storage.saturated,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        self.errors_by_code.lock().clear();
    }

    /// Counts an error reply sent to a client, under its code (INFO errorstats), as Redis's
    /// `afterErrorReply` does.
    pub fn count_error(&self, text: &str) {
        bump(&self.error_replies, 1);
        let code = error_code(text);
        let mut codes = self.errors_by_code.lock();
        if let Some(count) = codes.get_mut(code) {
            *count += 1;
        } else if codes.len() < ERROR_CODES_TRACKED {
            codes.insert(code.to_string(), 1);
        }
    }

    /// Takes back a count of [`Stats::count_error`]: a script's error that repeats the error of
    /// a command it called, which was counted when that command failed.
    pub fn uncount_error(&self, text: &str) {
        self.error_replies.fetch_sub(1, Ordering::Relaxed);
        if let Some(count) = self.errors_by_code.lock().get_mut(error_code(text)) {
            *count = count.saturating_sub(1);
        }
    }
}

/// Distinct error codes INFO errorstats tracks (Redis's limit).
const ERROR_CODES_TRACKED: usize = 128;

/// An error's code: its first word when one comes within 32 bytes, else `ERR`.
fn error_code(text: &str) -> &str {
    let head = &text.as_bytes()[..text.len().min(32)];
    match head.iter().position(|&b| b == b' ') {
        Some(end) => &text[..end],
        None => "ERR",
    }
}

/// Adds to a counter.
pub fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}
