//! A latency histogram cheap enough for every command's path: one relaxed atomic add per sample.
//!
//! Buckets are powers of two of microseconds (bucket `i` holds samples in `(2^(i-1), 2^i]` µs,
//! bucket 0 everything up to 1 µs, the last one everything beyond), so finding a sample's bucket
//! is a `leading_zeros`, not a search. Two-fold resolution is coarse but honest: Prometheus
//! gets the raw buckets, and quantiles report the bucket's upper bound, never an interpolation
//! pretending to more precision than was measured.

use std::sync::atomic::{AtomicU64, Ordering};

/// Finite buckets: upper bounds 1 µs .. 2^(FINITE-1) µs (about 8.4 s); one overflow bucket follows.
pub const FINITE: usize = 24;

/// Counts per bucket, the overflow bucket last.
pub type Counts = [u64; FINITE + 1];

/// Sample counts per power-of-two bucket.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; FINITE + 1],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Histogram {
    /// Counts one sample of `micros` microseconds.
    pub fn record(&self, micros: u64) {
        self.buckets[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// The current counts (each bucket read once; concurrent samples may land in between).
    pub fn counts(&self) -> Counts {
        std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed))
    }

    /// Forgets every sample (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for bucket in &self.buckets {
            bucket.store(0, Ordering::Relaxed);
        }
    }
}

fn bucket_of(micros: u64) -> usize {
    if micros <= 1 {
        return 0;
    }
    let bits = (u64::BITS - (micros - 1).leading_zeros()) as usize;
    bits.min(FINITE)
}

/// Upper bound in microseconds of finite bucket `i`.
pub fn upper_bound_us(i: usize) -> u64 {
    1u64 << i
}

/// The upper bound (µs) of the bucket holding quantile `q` (0..1) of `counts`; 0 without samples.
/// A quantile in the overflow bucket reports the largest finite bound.
pub fn quantile_us(counts: &Counts, q: f64) -> u64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return upper_bound_us(i.min(FINITE - 1));
        }
    }
    upper_bound_us(FINITE - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_their_power_of_two_bucket() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(2), 1);
        assert_eq!(bucket_of(3), 2);
        assert_eq!(bucket_of(4), 2);
        assert_eq!(bucket_of(5), 3);
        assert_eq!(bucket_of(1 << 20), 20);
        assert_eq!(bucket_of(u64::MAX), FINITE);
    }

    #[test]
    fn quantiles_report_bucket_upper_bounds() {
        let h = Histogram::default();
        assert_eq!(quantile_us(&h.counts(), 0.5), 0);
        for _ in 0..98 {
            h.record(3);
        }
        h.record(1000);
        h.record(u64::MAX);
        let counts = h.counts();
        assert_eq!(quantile_us(&counts, 0.5), 4);
        assert_eq!(quantile_us(&counts, 0.99), 1024);
        assert_eq!(quantile_us(&counts, 0.999), upper_bound_us(FINITE - 1));
    }
}
