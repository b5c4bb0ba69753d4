//! Per-command counters and latency histograms, kept per thread and merged at the end.
//!
//! Each worker thread owns its [`Stats`] (no locks or atomics on the hot path); HDR histograms
//! merge exactly, so the merged percentiles are those of all requests, not an average of
//! per-thread percentiles.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::scan::ErrorKind;

/// Highest latency we can record: one hour, in microseconds. Slower replies saturate.
const MAX_MICROS: u64 = 3_600_000_000;

/// A latency histogram in microseconds with 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; failure would be a programming error.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// Counters of one command in one test.
#[derive(Debug, Clone)]
pub struct CommandStats {
    pub latency_us: Histogram<u64>,
    pub requests: u64,
    pub errors: u64,
    pub moved: u64,
    pub ask: u64,
    pub busy: u64,
    pub other_errors: u64,
    /// `--verify` reads whose value was not what was written.
    pub mismatches: u64,
}

impl Default for CommandStats {
    fn default() -> Self {
        CommandStats {
            latency_us: new_histogram(),
            requests: 0,
            errors: 0,
            moved: 0,
            ask: 0,
            busy: 0,
            other_errors: 0,
            mismatches: 0,
        }
    }
}

impl CommandStats {
    /// Records one reply.
    pub fn record(&mut self, latency: Duration, error: Option<ErrorKind>) {
        self.requests += 1;
        self.latency_us
            .saturating_record(latency.as_micros().max(1) as u64);
        if let Some(kind) = error {
            self.errors += 1;
            *match kind {
                ErrorKind::Moved => &mut self.moved,
                ErrorKind::Ask => &mut self.ask,
                ErrorKind::Busy => &mut self.busy,
                ErrorKind::Other => &mut self.other_errors,
            } += 1;
        }
    }

    /// Adds another set of counters (another thread, another round).
    pub fn merge(&mut self, other: &CommandStats) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.requests += other.requests;
        self.errors += other.errors;
        self.moved += other.moved;
        self.ask += other.ask;
        self.busy += other.busy;
        self.other_errors += other.other_errors;
        self.mismatches += other.mismatches;
    }
}

/// The result of running one test against one target: per template counters and the time the
/// measured part took.
#[derive(Debug, Clone, Default)]
pub struct TestStats {
    pub commands: Vec<CommandStats>,
    /// Measured wall time (after warm-up), summed over rounds.
    pub elapsed: Duration,
}

impl TestStats {
    /// Empty counters for a test of `templates` commands.
    pub fn new(templates: usize) -> TestStats {
        TestStats {
            commands: vec![CommandStats::default(); templates],
            elapsed: Duration::ZERO,
        }
    }

    /// Adds a thread's counters (same run: the elapsed time is the longest).
    pub fn merge_thread(&mut self, other: &TestStats) {
        self.merge_commands(other);
        self.elapsed = self.elapsed.max(other.elapsed);
    }

    /// Adds another round (sequential runs: elapsed times add up).
    pub fn merge_round(&mut self, other: &TestStats) {
        self.merge_commands(other);
        self.elapsed += other.elapsed;
    }

    fn merge_commands(&mut self, other: &TestStats) {
        if self.commands.len() < other.commands.len() {
            self.commands
                .resize(other.commands.len(), CommandStats::default());
        }
        for (mine, theirs) in self.commands.iter_mut().zip(&other.commands) {
            mine.merge(theirs);
        }
    }

    /// All commands together (the total row of a mixed workload).
    pub fn total(&self) -> CommandStats {
        let mut total = CommandStats::default();
        for c in &self.commands {
            total.merge(c);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_threads_keeps_exact_percentiles() {
        let mut a = TestStats::new(1);
        let mut b = TestStats::new(1);
        for us in 1..=900u64 {
            a.commands[0].record(Duration::from_micros(us), None);
        }
        for us in 901..=1000u64 {
            b.commands[0].record(Duration::from_micros(us), Some(ErrorKind::Moved));
        }
        a.elapsed = Duration::from_secs(2);
        b.elapsed = Duration::from_secs(3);
        a.merge_thread(&b);
        let c = &a.commands[0];
        assert_eq!(c.requests, 1000);
        assert_eq!(
            (c.errors, c.moved, c.busy, c.other_errors),
            (100, 100, 0, 0)
        );
        assert_eq!(c.latency_us.value_at_quantile(0.5), 500);
        assert_eq!(c.latency_us.value_at_quantile(0.99), 990);
        assert_eq!(c.latency_us.max(), 1000);
        assert_eq!(a.elapsed, Duration::from_secs(3));
    }

    #[test]
    fn rounds_add_time_and_mixes_total() {
        let mut round = TestStats::new(2);
        round.commands[0].record(Duration::from_micros(10), Some(ErrorKind::Busy));
        round.commands[1].record(Duration::from_micros(30), Some(ErrorKind::Other));
        round.elapsed = Duration::from_secs(1);
        let mut sum = TestStats::new(2);
        sum.merge_round(&round);
        sum.merge_round(&round);
        assert_eq!(sum.elapsed, Duration::from_secs(2));
        let total = sum.total();
        assert_eq!((total.requests, total.busy, total.other_errors), (4, 2, 2));
        assert_eq!(total.latency_us.max(), 30);
    }
}
