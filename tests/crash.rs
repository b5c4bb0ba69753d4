//! Crash trials: a single node is killed with SIGKILL again and again under a mixed write load
//! over every data type — pipelines and MULTI/EXEC transactions — and after each restart every
//! acknowledged write must be there, every transaction must be all or nothing, and DBSIZE must
//! agree with what a full SCAN finds, per type.
//!
//! `KIWI_CRASH_TRIALS` sets the kills per `appendfsync` mode (default 3, which CI runs);
//! `scripts/crash-trials.sh` runs the full 50 of docs/reliability.md.

mod common;
#[path = "common/steps.rs"]
mod steps;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Kiwi;
use kiwi::resp::client::Client;
use rand::{Rng, SeedableRng};
use steps::{Outcome, Record, WRITES_PER_STEP};

/// Writer connections per trial.
const WRITERS: usize = 4;

fn trials() -> usize {
    std::env::var("KIWI_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// Runs pipelines of 1–4 steps on its own key set until `stop` or the connection breaks; returns
/// the outcome of every step sent. A single node answers no error to these writes: one fails the
/// test.
async fn writer(addr: String, mut record: Record, stop: Arc<AtomicBool>, seed: u64) -> Record {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let Ok(mut client) = Client::connect(&addr).await else {
        return record;
    };
    while !stop.load(Ordering::Acquire) {
        let count = rng.gen_range(1..=4u64);
        let first = record.sent() + 1;
        let sent =
            steps::send_steps(&mut client, &record.keys, first, count, |_| false, None).await;
        if let Some(error) = sent.errors.first() {
            panic!("{}: {error}", record.keys.0);
        }
        record.outcomes.extend(sent.outcomes);
        if sent.broken {
            break;
        }
    }
    record
}

fn crash_trials(appendfsync: &str) {
    let rt = common::multi_runtime();
    let setting = format!("appendfsync={appendfsync}");
    let mut kiwi = Kiwi::start(&["--set", &setting]);
    let seed: u64 = rand::random();
    eprintln!("crash trials ({appendfsync}), seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut history: Vec<Record> = Vec::new();
    for trial in 0..trials() {
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let record = Record::new(format!("t{trial}w{w}"));
                rt.spawn(writer(kiwi.addr(), record, stop.clone(), rng.gen()))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.gen_range(300..900)));
        kiwi.kill9();
        stop.store(true, Ordering::Release);
        for task in writers {
            history.push(rt.block_on(task).expect("writer task"));
        }
        kiwi = kiwi.restart();
        rt.block_on(async {
            let mut client = Client::connect(&kiwi.addr()).await.expect("connect");
            let snapshots = steps::read(&mut client, &history)
                .await
                .unwrap_or_else(|e| panic!("read after restart: {e}"));
            for (record, snapshot) in history.iter().zip(&snapshots) {
                // One node loses at most a suffix of what it was sent: no gaps.
                if let Err(e) = steps::check(record, snapshot, true) {
                    panic!("{e}");
                }
            }
            steps::verify_counts(&mut client).await;
        });
    }
    let acknowledged: u64 = history.iter().map(|r| r.count(Outcome::Acked)).sum();
    eprintln!(
        "crash trials ({appendfsync}): {} kills, {acknowledged} acknowledged steps ({} writes), 0 lost",
        trials(),
        acknowledged * WRITES_PER_STEP
    );
}

#[test]
fn kill_9_loses_nothing_with_appendfsync_always() {
    crash_trials("always");
}

#[test]
fn kill_9_loses_nothing_with_appendfsync_everysec() {
    crash_trials("everysec");
}
