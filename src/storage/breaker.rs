//! Circuit breaker in front of RocksDB writes.
//!
//! When RocksDB reports an I/O error, corruption or a background error (disk full, failed flush),
//! retrying every write would only pile up failures and latency. The breaker opens instead: writes
//! fail fast with a `MISCONF` error naming the cause, reads keep being served, health and INFO
//! report it, and a background probe closes it once a test write succeeds again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

/// Shared breaker state.
#[derive(Debug, Default)]
pub struct Breaker {
    open: AtomicBool,
    trips: AtomicU64,
    reason: Mutex<String>,
}

impl Breaker {
    /// True while writes are refused.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Why the breaker opened (empty while closed).
    pub fn reason(&self) -> String {
        if self.is_open() {
            self.reason.lock().clone()
        } else {
            String::new()
        }
    }

    /// How many times the breaker has opened since start.
    pub fn trips(&self) -> u64 {
        self.trips.load(Ordering::Relaxed)
    }

    /// Opens the breaker; logs only on the closed → open transition, and keeps the first cause
    /// as the reason (later failures are mostly echoes such as `Writer has previous error`).
    pub fn trip(&self, reason: &str) {
        let mut kept = self.reason.lock();
        if !self.open.swap(true, Ordering::AcqRel) {
            *kept = reason.to_string();
            self.trips.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%reason, "storage circuit breaker opened: refusing writes");
        }
    }

    /// Closes the breaker after a successful probe.
    pub fn close(&self) {
        if self.open.swap(false, Ordering::AcqRel) {
            tracing::warn!("storage circuit breaker closed: writes accepted again");
        }
    }
}
