//! Periodic housekeeping on its own thread (`hz` times per second): the active expiry sweep (timed
//! for the latency monitor's `expire-cycle` event, announcing `expired` keyspace events; DEBUG
//! SET-ACTIVE-EXPIRE 0 pauses it), the once-a-second WAL sync of `appendfsync
//! everysec`, the circuit breaker probe (and the restart in place a full disk may need), idle
//! client timeouts, MIGRATE's idle connections and the ops/sec sample. None of it sits in the
//! request path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::state::ServerState;
use crate::storage::disk::DiskFullRestart;
use crate::util::now_ms;

/// Expired keys removed per sweep pass before yielding to the next tick.
const SWEEP_BUDGET: usize = 2000;

/// The running background thread.
pub struct Background {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Background {
    /// Stops the thread and waits for it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.thread.join();
    }
}

/// Starts the background thread.
pub fn start(state: Arc<ServerState>) -> std::io::Result<Background> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("kiwi-background".into())
        .spawn(move || run(state, flag))?;
    Ok(Background { stop, thread })
}

fn run(state: Arc<ServerState>, stop: Arc<AtomicBool>) {
    let mut last_second = Instant::now();
    let mut reclaimer: Option<JoinHandle<()>> = None;
    // Set once a full disk left the write-ahead log refusing writes until a restart.
    let mut disk_full: Option<DiskFullRestart> = None;
    let mut last_commands = state.stats.commands_processed.load(Ordering::Relaxed);
    while !stop.load(Ordering::Acquire) {
        let hz = state.config().hz.max(1);
        std::thread::sleep(Duration::from_millis(1000 / hz as u64));
        let storage = &state.storage;
        // Keep sweeping while whole batches come back due, for at most a quarter of the tick,
        // so a burst of expiries is drained instead of piling up.
        let slice = Instant::now();
        while storage.active_expire() {
            // Not while a script runs: keys must not expire under it.
            let Some(_gate) = state.scripts.try_enter_job() else {
                break;
            };
            match storage.sweep_expired(state.expiry_clock_ms(), SWEEP_BUDGET) {
                Ok(n)
                    if n == SWEEP_BUDGET
                        && slice.elapsed() < Duration::from_millis(250 / hz as u64) => {}
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(%err, "active expiry sweep failed");
                    break;
                }
            }
        }
        let sweep_ms = slice.elapsed().as_millis() as u64;
        state.latency.observe(sweep_ms, || "expire-cycle");
        if storage.probe() && state.cluster.get().is_none() {
            let restart = disk_full.get_or_insert_with(|| {
                let config = state.config();
                DiskFullRestart::new(&config.dir, config.disk_reserve.0, state.uptime_secs())
            });
            if restart.due() {
                restart.restart();
            }
        }
        let (max_db_size, maxmemory) = {
            let config = state.config();
            (config.max_db_size.0, config.maxmemory.0)
        };
        storage.check_quota(max_db_size, maxmemory);
        // Compacting a deleted big collection's range can take seconds: never on this thread,
        // which also syncs the WAL.
        if reclaimer.as_ref().is_none_or(|h| h.is_finished()) && storage.reclaim_pending() {
            let state = state.clone();
            reclaimer = Some(std::thread::spawn(move || {
                state.storage.reclaim_deleted();
            }));
        }
        if last_second.elapsed() >= Duration::from_secs(1) {
            let elapsed = last_second.elapsed().as_secs_f64();
            last_second = Instant::now();
            if let Err(err) = storage.periodic_sync() {
                tracing::error!(%err, "WAL sync failed");
            }
            let timeout = state.config().timeout;
            state.clients.kill_idle(timeout, now_ms());
            state.migrate_sockets.close_idle();
            let commands = state.stats.commands_processed.load(Ordering::Relaxed);
            let rate = (commands.saturating_sub(last_commands) as f64 / elapsed) as u64;
            state.stats.ops_per_sec.store(rate, Ordering::Relaxed);
            last_commands = commands;
        }
    }
}
