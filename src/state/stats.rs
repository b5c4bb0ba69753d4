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
    }
}

/// Adds to a counter.
pub fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}
