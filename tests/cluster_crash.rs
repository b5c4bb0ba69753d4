//! Crash trials of a 3-node cluster: a random node — leader or follower — is killed with SIGKILL
//! again and again and restarted after a short pause, while writers connected to every node run
//! the mixed load of `tests/crash.rs` (every data type, pipelines and MULTI/EXEC; see
//! `tests/common/steps.rs`). Writers reconnect to the next node when theirs dies; a reply that is
//! an error, or a connection lost before the reply, acknowledges nothing.
//!
//! After every restart, once the cluster has a leader, every key set the writers have finished
//! is read through the leader (each in one transaction) and checked against what its writer
//! saw: acknowledged steps all there, steps refused with an error word that promises "not
//! executed" absent, `ERR outcome unknown` or lost steps present or absent but never half of a
//! transaction, nothing applied twice. At the end every node must converge to the same
//! `DEBUG DIGEST` (each read from the node's own data after READONLY), and on every node DBSIZE,
//! INFO keyspace and SCAN, in total and per type, must agree.
//!
//! `KIWI_CLUSTER_CRASH_TRIALS` sets the number of kills (default 3, which CI runs);
//! `scripts/cluster-crash-trials.sh` runs the 50 of docs/reliability.md. `KIWI_CLUSTER_SEED`
//! replays a run's choices of victims and pauses.

mod common;

#[allow(dead_code)]
#[path = "cluster/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "cluster/linearizability.rs"]
mod linearizability;
#[allow(dead_code)]
#[path = "cluster/proxy.rs"]
mod proxy;
#[path = "common/steps.rs"]
mod steps;
#[allow(dead_code)]
#[path = "cluster/workload.rs"]
mod workload;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Cluster, Options};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use steps::{Outcome, Record, WRITES_PER_STEP};
use tokio::time::{sleep, timeout};

/// Writer connections: two per node at the start.
const WRITERS: usize = 6;
/// A writer starts a new key set after this many steps (and after any step not acknowledged),
/// so the checks after each restart find finished key sets to read.
const ROTATE_AFTER: u64 = 200;
/// Longest a writer waits for one reply (longer than the nodes' proposal timeout).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

fn trials() -> usize {
    std::env::var("KIWI_CLUSTER_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// What the writers share with the test.
struct Shared {
    stop: AtomicBool,
    /// Bumped by the test after each restart: every writer then closes its key set.
    epoch: AtomicU64,
    /// The epoch each writer has seen (closed its key set at).
    seen: Vec<AtomicU64>,
    /// Finished key sets.
    records: Mutex<Vec<Record>>,
    /// Error replies by their first words.
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Shared {
    fn finished(&self) -> Vec<Record> {
        self.records.lock().expect("records").clone()
    }
}

/// The first words of an error, to count errors by kind.
fn error_kind(error: &str) -> String {
    let text = error.split_once(": ").map_or(error, |(_, e)| e);
    let kind: Vec<&str> = text.split([' ', ':']).take(3).collect();
    kind.join(" ")
}

/// One writer: pipelines of 1–4 steps on its current key set, through the node it is connected
/// to, moving to the next node when the connection fails.
async fn writer(w: usize, addrs: Vec<String>, shared: Arc<Shared>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut node = w % addrs.len();
    let mut conn: Option<Client> = None;
    let mut generation = 0;
    let mut epoch = shared.epoch.load(Ordering::Acquire);
    let mut record = Record::new(format!("w{w}g0"));
    let close = |record: &mut Record, generation: &mut u64| {
        *generation += 1;
        let done = std::mem::replace(record, Record::new(format!("w{w}g{generation}")));
        if done.sent() > 0 {
            shared.records.lock().expect("records").push(done);
        }
    };
    loop {
        let now = shared.epoch.load(Ordering::Acquire);
        let stopping = shared.stop.load(Ordering::Acquire);
        if stopping || now != epoch || record.sent() >= ROTATE_AFTER {
            close(&mut record, &mut generation);
            epoch = now;
            shared.seen[w].store(epoch, Ordering::Release);
            if stopping {
                return;
            }
        }
        if conn.is_none() {
            match timeout(Duration::from_secs(1), Client::connect(&addrs[node])).await {
                Ok(Ok(c)) => conn = Some(c),
                _ => {
                    node = (node + 1) % addrs.len();
                    sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let Some(client) = conn.as_mut() else {
            continue;
        };
        let count = rng.gen_range(1..=4u64);
        let first = record.sent() + 1;
        let sent = steps::send_steps(
            client,
            &record.keys,
            first,
            count,
            workload::not_executed,
            Some(REPLY_TIMEOUT),
        )
        .await;
        if !sent.errors.is_empty() {
            let mut errors = shared.errors.lock().expect("errors");
            for e in &sent.errors {
                *errors.entry(error_kind(e)).or_default() += 1;
            }
        }
        let failed = sent.outcomes.iter().any(|o| *o != Outcome::Acked);
        record.outcomes.extend(sent.outcomes);
        if sent.broken {
            conn = None;
            node = (node + 1) % addrs.len();
        }
        if failed {
            // The next steps go to a fresh key set, so each set's unknown steps are its last.
            close(&mut record, &mut generation);
            sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Reads every record through the leader and checks it; retries reading (never checking) while
/// the cluster cannot answer. Returns how many steps of unknown outcome were applied.
async fn check_through_leader(cluster: &Cluster, records: &[Record]) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let leader = cluster.wait_leader(None).await;
        let addr = cluster.node(leader).resp_addr();
        let attempt = async {
            let mut client = Client::connect(&addr).await.map_err(|e| e.to_string())?;
            steps::read(&mut client, records).await
        };
        let why = match timeout(Duration::from_secs(60), attempt).await {
            Ok(Ok(snapshots)) => {
                let mut unknown_applied = 0;
                for (record, snapshot) in records.iter().zip(&snapshots) {
                    match steps::check(record, snapshot, false) {
                        Ok(applied) => unknown_applied += applied,
                        Err(e) => panic!("{e}"),
                    }
                }
                return unknown_applied;
            }
            Ok(Err(e)) => e,
            Err(_) => "no answer within 60 s".to_string(),
        };
        eprintln!("reading through leader {leader} failed ({why}); retrying");
        assert!(Instant::now() < deadline, "could not read the data: {why}");
        sleep(Duration::from_millis(200)).await;
    }
}

/// A node's own view (after READONLY): its DEBUG DIGEST and DBSIZE.
async fn local_digest(addr: &str) -> Option<(String, i64)> {
    let work = async {
        let mut c = Client::connect(addr).await.ok()?;
        c.call(&["READONLY"]).await.ok()?;
        let digest = match c.call(&["DEBUG", "DIGEST"]).await.ok()? {
            Frame::Simple(d) => String::from_utf8_lossy(&d).into_owned(),
            other => panic!("DEBUG DIGEST answered {other:?}"),
        };
        let Frame::Integer(size) = c.call(&["DBSIZE"]).await.ok()? else {
            return None;
        };
        Some((digest, size))
    };
    timeout(Duration::from_secs(30), work).await.ok().flatten()
}

/// Waits until every node answers the same digest; returns it and the key count.
async fn converge(cluster: &Cluster) -> (String, i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut views = Vec::new();
        for node in &cluster.nodes {
            views.push((node.id, local_digest(&node.resp_addr()).await));
        }
        let first = views[0].1.clone();
        if let Some(first) = first.filter(|_| views.iter().all(|(_, v)| *v == views[0].1)) {
            return first;
        }
        assert!(
            Instant::now() < deadline,
            "the nodes' digests did not converge within 60 s: {views:?}"
        );
        sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kill_9_loses_no_acknowledged_write() {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(workload::seed());
    let mut cluster = Cluster::start(3, Options::default()).await;
    let addrs: Vec<String> = cluster.nodes.iter().map(|n| n.resp_addr()).collect();
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        epoch: AtomicU64::new(0),
        seen: (0..WRITERS).map(|_| AtomicU64::new(0)).collect(),
        records: Mutex::new(Vec::new()),
        errors: Mutex::new(BTreeMap::new()),
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(w, addrs.clone(), shared.clone(), rng.gen())))
        .collect();
    let (mut leader_kills, mut follower_kills) = (0, 0);
    for trial in 1..=trials() {
        sleep(Duration::from_millis(rng.gen_range(300..900))).await;
        let victim = cluster.nodes[rng.gen_range(0..cluster.nodes.len())].id;
        let was_leader = cluster
            .members(victim)
            .await
            .is_some_and(|m| m.leader == Some(victim));
        cluster.kill(victim);
        sleep(Duration::from_millis(rng.gen_range(100..600))).await;
        cluster.restart(victim);
        if was_leader {
            leader_kills += 1;
        } else {
            follower_kills += 1;
        }
        // Every writer closes the key set it wrote through the kill, then they are all checked.
        let epoch = shared.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        let deadline = Instant::now() + REPLY_TIMEOUT * 2;
        while shared
            .seen
            .iter()
            .any(|s| s.load(Ordering::Acquire) < epoch)
        {
            assert!(Instant::now() < deadline, "a writer is stuck");
            sleep(Duration::from_millis(20)).await;
        }
        let records = shared.finished();
        check_through_leader(&cluster, &records).await;
        let acked: u64 = records.iter().map(|r| r.count(Outcome::Acked)).sum();
        eprintln!(
            "kill {trial}: node {victim} ({}), {} key sets checked, {acked} steps acknowledged so far",
            if was_leader { "leader" } else { "follower" },
            records.len()
        );
    }
    shared.stop.store(true, Ordering::Release);
    for task in writers {
        task.await.expect("writer task");
    }
    let records = shared.finished();
    let unknown_applied = check_through_leader(&cluster, &records).await;
    let (digest, keys) = converge(&cluster).await;
    assert_ne!(digest, "0".repeat(40), "the digest of a written cluster");
    let mut counts = Vec::new();
    for node in &cluster.nodes {
        let mut c = Client::connect(&node.resp_addr()).await.expect("connect");
        assert_eq!(c.call(&["READONLY"]).await.expect("READONLY"), Frame::ok());
        counts.push(steps::verify_counts(&mut c).await);
    }
    assert!(
        counts.iter().all(|c| *c == counts[0]),
        "per-type counts differ between nodes: {counts:?}"
    );
    let count = |o| records.iter().map(|r| r.count(o)).sum::<u64>();
    let acked = count(Outcome::Acked);
    eprintln!(
        "cluster crash trials: {} kills ({leader_kills} of the leader, {follower_kills} of a \
         follower), {acked} acknowledged steps ({} writes), {} steps of unknown outcome ({unknown_applied} \
         of them applied), {} refused as not executed, 0 lost; {} key sets; all 3 nodes: DEBUG DIGEST {digest}, \
         {keys} keys {:?}; errors seen: {:?}; {:.0?}",
        trials(),
        acked * WRITES_PER_STEP,
        count(Outcome::Unknown),
        count(Outcome::NotExecuted),
        records.len(),
        counts[0],
        shared.errors.lock().expect("errors"),
        started.elapsed()
    );
}
