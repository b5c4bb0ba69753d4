//! Small pure helpers shared across modules: Redis's number parsing and formatting rules,
//! geohash arithmetic, glob matching, latency histograms, and clock access.

pub mod geohash;
pub mod glob;
pub mod histogram;
pub mod number;

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch; the unit of every expire-at we store.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
