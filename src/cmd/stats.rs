//! What is recorded about every executed command: the per-command counters of `INFO
//! commandstats` (kept here), the slow log and the latency monitor (kept in shared state).
//!
//! Both runtimes finish commands through [`finished`], so the three can never disagree about
//! which calls count. The counters live beside the static command table they parallel (one slot
//! per entry, found by identity), so counting a call is three relaxed atomic adds (calls, time,
//! latency bucket) and no lookup by name. The admin port reads them through [`called`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;

use super::{CommandSpec, Flags, COMMANDS};
use crate::state::clients::ClientHandle;
use crate::state::ServerState;
use crate::util::histogram::Histogram;

/// Counters of one command.
#[derive(Default)]
pub struct CommandStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    /// Executed but answered with an error.
    pub failed: AtomicU64,
    /// Refused before execution (arity, authentication).
    pub rejected: AtomicU64,
    /// Execution time of every call (the admin port's latency histograms and quantiles).
    pub latency: Histogram,
}

static STATS: LazyLock<Box<[CommandStat]>> =
    LazyLock::new(|| COMMANDS.iter().map(|_| CommandStat::default()).collect());

/// The counters of `spec`.
pub fn of(spec: &CommandSpec) -> &'static CommandStat {
    // Specs are elements of the static table, so the address offset is the index: no search on
    // the hot path. A spec from elsewhere (never the case) falls back to slot 0.
    let offset = (spec as *const CommandSpec as usize).wrapping_sub(COMMANDS.as_ptr() as usize);
    let index = offset / std::mem::size_of::<CommandSpec>();
    STATS.get(index).unwrap_or(&STATS[0])
}

/// Records one executed call of `client`: counters, slow log (with passwords redacted) and
/// latency sample. Calls refused before running (arity, authentication) go to [`reject`] instead,
/// and are not logged, as in Redis.
pub fn finished(
    state: &ServerState,
    client: &ClientHandle,
    spec: &CommandSpec,
    args: &[Bytes],
    elapsed: Duration,
    failed: bool,
) {
    record(spec, elapsed, failed);
    let micros = elapsed.as_micros() as u64;
    state.latency.observe(micros / 1000, || {
        if spec.is_fast(args) {
            "fast-command"
        } else {
            "command"
        }
    });
    // EXEC is not logged itself: the commands it ran are, one by one (Redis's skip_slowlog).
    if !spec.flags.contains(Flags::SKIP_SLOWLOG) {
        state
            .slowlog
            .record(micros, client, args, |i| spec.is_secret(args, i));
    }
}

fn record(spec: &CommandSpec, elapsed: Duration, failed: bool) {
    let stat = of(spec);
    let micros = elapsed.as_micros() as u64;
    stat.calls.fetch_add(1, Ordering::Relaxed);
    stat.usec.fetch_add(micros, Ordering::Relaxed);
    stat.latency.record(micros);
    if failed {
        stat.failed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Takes back one recorded call of `spec` (and its failure): a blocked command is one call in
/// Redis however many attempts it takes, and the lookups the blocking loop makes for itself are
/// none.
pub fn retract(spec: &CommandSpec, failed: bool) {
    let stat = of(spec);
    // CONFIG RESETSTAT may have zeroed the counter since.
    let take_one = |v: u64| Some(v.saturating_sub(1));
    let _ = stat
        .calls
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, take_one);
    if failed {
        let _ = stat
            .failed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, take_one);
    }
}

/// Records a call refused before it ran.
pub fn reject(spec: &CommandSpec) {
    of(spec).rejected.fetch_add(1, Ordering::Relaxed);
}

/// Zeroes every counter (CONFIG RESETSTAT).
pub fn reset() {
    for stat in STATS.iter() {
        for counter in [&stat.calls, &stat.usec, &stat.failed, &stat.rejected] {
            counter.store(0, Ordering::Relaxed);
        }
        stat.latency.reset();
    }
}

/// Commands called or rejected at least once, in table order, with their counters.
pub fn called() -> impl Iterator<Item = (&'static CommandSpec, &'static CommandStat)> {
    COMMANDS.iter().zip(STATS.iter()).filter(|(_, stat)| {
        stat.calls.load(Ordering::Relaxed) > 0 || stat.rejected.load(Ordering::Relaxed) > 0
    })
}

/// `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..` lines,
/// for commands that were called at least once, as Redis prints them.
pub fn render() -> Vec<String> {
    called()
        .map(|(spec, stat)| {
            let calls = stat.calls.load(Ordering::Relaxed);
            let rejected = stat.rejected.load(Ordering::Relaxed);
            let usec = stat.usec.load(Ordering::Relaxed);
            let per_call = if calls == 0 { 0.0 } else { usec as f64 / calls as f64 };
            format!(
                "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={}",
                spec.name,
                stat.failed.load(Ordering::Relaxed)
            )
        })
        .collect()
}
