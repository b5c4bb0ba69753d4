//! The latency monitor behind LATENCY: for each kind of event that lasted at least
//! `latency-monitor-threshold` milliseconds, its worst time ever and one sample per second for the
//! last [`HISTORY_LEN`] seconds that had one.
//!
//! Events are named as in Redis: `command` (a command not flagged fast), `fast-command`, and
//! `expire-cycle` (one active expiry sweep). Like the slow log, the threshold is an atomic read
//! on every call and the mutex is taken only for an event worth recording.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Samples kept per event, as in Redis.
pub const HISTORY_LEN: usize = 160;

/// The worst latency seen in one second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub unix_secs: u64,
    pub millis: u64,
}

/// Everything kept about one event.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: &'static str,
    /// Oldest first; never empty.
    pub samples: VecDeque<Sample>,
    /// The worst latency since the event was created or last reset.
    pub max: u64,
}

impl Event {
    /// The newest sample.
    pub fn latest(&self) -> Sample {
        self.samples.back().copied().unwrap_or(Sample {
            unix_secs: 0,
            millis: 0,
        })
    }
}

/// The shared latency monitor.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    /// `latency-monitor-threshold` in milliseconds; 0 turns the monitor off.
    threshold: AtomicU64,
    /// In order of first occurrence.
    events: Mutex<Vec<Event>>,
}

impl LatencyMonitor {
    /// Applies `latency-monitor-threshold` (at start and on CONFIG SET).
    pub fn configure(&self, threshold_ms: i64) {
        let threshold = u64::try_from(threshold_ms).unwrap_or(0);
        self.threshold.store(threshold, Ordering::Relaxed);
    }

    /// The current threshold in milliseconds (0 = off).
    pub fn threshold(&self) -> u64 {
        self.threshold.load(Ordering::Relaxed)
    }

    /// Records that an event took `millis` if that reaches the threshold; `event` names it only
    /// then, so callers on the hot path pay nothing for working the name out.
    pub fn observe(&self, millis: u64, event: impl FnOnce() -> &'static str) {
        let threshold = self.threshold();
        if threshold == 0 || millis < threshold {
            return;
        }
        self.add(event(), millis, crate::util::now_ms() / 1000);
    }

    fn add(&self, name: &'static str, millis: u64, now: u64) {
        let mut events = self.events.lock();
        let index = match events.iter().position(|e| e.name == name) {
            Some(index) => index,
            None => {
                events.push(Event {
                    name,
                    samples: VecDeque::with_capacity(HISTORY_LEN),
                    max: 0,
                });
                events.len() - 1
            }
        };
        let event = &mut events[index];
        event.max = event.max.max(millis);
        // One sample per second: the worst of that second.
        if let Some(last) = event.samples.back_mut() {
            if last.unix_secs == now {
                last.millis = last.millis.max(millis);
                return;
            }
        }
        if event.samples.len() == HISTORY_LEN {
            event.samples.pop_front();
        }
        event.samples.push_back(Sample {
            unix_secs: now,
            millis,
        });
    }

    /// A copy of every event, in order of first occurrence.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().clone()
    }

    /// A copy of one event; names match exactly, as in Redis's HISTORY and GRAPH.
    pub fn event(&self, name: &[u8]) -> Option<Event> {
        self.events
            .lock()
            .iter()
            .find(|e| e.name.as_bytes() == name)
            .cloned()
    }

    /// Forgets the named events (case-insensitively), or all of them when `names` is empty.
    /// Returns how many were forgotten.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock();
        let before = events.len();
        if names.is_empty() {
            events.clear();
        } else {
            events.retain(|e| {
                !names
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(e.name.as_bytes()))
            });
        }
        before - events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeps_the_worst() {
        let monitor = LatencyMonitor::default();
        monitor.add("command", 5, 100);
        monitor.add("command", 9, 100);
        monitor.add("command", 3, 100);
        monitor.add("command", 4, 101);
        let event = monitor.event(b"command").unwrap();
        let samples: Vec<(u64, u64)> = event
            .samples
            .iter()
            .map(|s| (s.unix_secs, s.millis))
            .collect();
        assert_eq!(samples, [(100, 9), (101, 4)]);
        assert_eq!(event.max, 9);
    }

    #[test]
    fn history_is_bounded_and_reset_counts_events() {
        let monitor = LatencyMonitor::default();
        for second in 0..(HISTORY_LEN as u64 + 10) {
            monitor.add("command", 1, 1000 + second);
        }
        monitor.add("fast-command", 1, 1);
        let event = monitor.event(b"command").unwrap();
        assert_eq!(event.samples.len(), HISTORY_LEN);
        assert_eq!(event.samples[0].unix_secs, 1010);
        assert!(monitor.event(b"COMMAND").is_none());
        assert_eq!(monitor.reset(&[b"COMMAND", b"nosuch", b"command"]), 1);
        assert_eq!(monitor.reset(&[]), 1);
    }

    #[test]
    fn below_threshold_or_off_records_nothing() {
        let monitor = LatencyMonitor::default();
        monitor.observe(500, || "command");
        monitor.configure(100);
        monitor.observe(99, || "command");
        assert!(monitor.events().is_empty());
        monitor.observe(100, || "command");
        assert_eq!(monitor.events().len(), 1);
    }
}
