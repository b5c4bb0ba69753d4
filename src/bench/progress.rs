//! The live progress line on stderr: ops/s, p99 and errors of the last second.

use std::io::Write as _;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::stats::new_histogram;

/// What connections hand over between two refreshes of the line.
pub struct Progress {
    label: String,
    window: Mutex<(Histogram<u64>, u64)>,
}

impl Progress {
    /// A progress line labelled `label` (target and test).
    pub fn new(label: String) -> Progress {
        Progress {
            label,
            window: Mutex::new((new_histogram(), 0)),
        }
    }

    /// Adds a connection's latencies and error count since its last hand-over.
    pub fn add(&self, latency: &Histogram<u64>, errors: u64) {
        if let Ok(mut window) = self.window.lock() {
            let _ = window.0.add(latency);
            window.1 += errors;
        }
    }

    /// Redraws the line every second until every worker has finished, then erases it.
    pub fn watch<T>(&self, workers: &[JoinHandle<T>], record_from: Instant) {
        let mut last = Instant::now();
        let mut errors = 0u64;
        while !workers.iter().all(JoinHandle::is_finished) {
            std::thread::sleep(Duration::from_millis(50));
            let now = Instant::now();
            if now.duration_since(last) < Duration::from_secs(1) {
                continue;
            }
            let (ops, p99, new_errors) = match self.window.lock() {
                Ok(mut w) => {
                    let snapshot = (w.0.len(), w.0.value_at_quantile(0.99), w.1);
                    w.0.reset();
                    w.1 = 0;
                    snapshot
                }
                Err(_) => return,
            };
            errors += new_errors;
            let rate = ops as f64 / now.duration_since(last).as_secs_f64();
            let phase = if now < record_from { " (warm-up)" } else { "" };
            eprint!(
                "\r\x1b[2K{}{phase}: {:.0} ops/s  p99 {:.3} ms  errors {errors}",
                self.label,
                rate,
                p99 as f64 / 1000.0
            );
            let _ = std::io::stderr().flush();
            last = now;
        }
        eprint!("\r\x1b[2K");
    }
}
