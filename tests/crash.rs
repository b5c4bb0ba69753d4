//! Crash trials: a single node is killed with SIGKILL again and again under a mixed write load
//! over every data type — pipelines and MULTI/EXEC transactions — and after each restart every
//! acknowledged write must be there, every transaction must be all or nothing, and DBSIZE must
//! agree with what a full SCAN finds, per type.
//!
//! `KIWI_CRASH_TRIALS` sets the kills per `appendfsync` mode (default 3, which CI runs);
//! `scripts/crash-trials.sh` runs the full 50 of docs/reliability.md.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Kiwi;
use kiwi::resp::client::Client;
use kiwi::resp::Frame;
use rand::{Rng, SeedableRng};

/// Writer connections per trial.
const WRITERS: usize = 4;

fn trials() -> usize {
    std::env::var("KIWI_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// The keys of one writer in one trial. Step `n` (from 1) writes `n` into each; even steps run
/// as MULTI/EXEC, odd ones as plain pipelined commands.
struct Keys(String);

impl Keys {
    fn new(trial: usize, writer: usize) -> Keys {
        Keys(format!("t{trial}w{writer}"))
    }

    fn key(&self, kind: &str) -> String {
        format!("{}:{kind}", self.0)
    }

    fn unique(&self, step: u64) -> String {
        format!("{}:k{step}", self.0)
    }

    /// The commands of step `n`.
    fn step(&self, n: u64) -> Vec<Vec<String>> {
        let n_s = n.to_string();
        let strs = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        vec![
            strs(&["SET", &self.key("str"), &n_s]),
            strs(&["INCR", &self.key("cnt")]),
            strs(&["HSET", &self.key("hash"), &format!("f{n}"), &n_s]),
            strs(&["RPUSH", &self.key("list"), &n_s]),
            strs(&["SADD", &self.key("set"), &n_s]),
            strs(&["ZADD", &self.key("zset"), &n_s, &format!("m{n}")]),
            strs(&["SET", &self.unique(n), &n_s]),
        ]
    }
}

/// Runs steps until `stop`; returns the last step acknowledged in full.
async fn writer(addr: String, keys: Keys, stop: Arc<AtomicBool>, seed: u64) -> u64 {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let Ok(mut client) = Client::connect(&addr).await else {
        return 0;
    };
    let mut acked = 0;
    let mut step = 1;
    while !stop.load(Ordering::Acquire) {
        // A pipeline of 1–4 steps; each even step is a transaction inside it.
        let steps = rng.gen_range(1..=4u64);
        let mut expected = 0;
        for n in step..step + steps {
            let transaction = n % 2 == 0;
            if transaction {
                client.queue(&["MULTI"]);
                expected += 1;
            }
            for command in keys.step(n) {
                client.queue(&command);
                expected += 1;
            }
            if transaction {
                client.queue(&["EXEC"]);
                expected += 1;
            }
        }
        if client.flush().await.is_err() {
            return acked;
        }
        for _ in 0..expected {
            match client.read_reply().await {
                Ok(Frame::Error(e)) => panic!("step {step} of {} failed: {e}", keys.0),
                Ok(_) => {}
                Err(_) => return acked,
            }
        }
        step += steps;
        acked = step - 1;
    }
    acked
}

async fn text(client: &mut Client, args: &[&str]) -> Vec<String> {
    let reply = client.call(args).await.expect("read after restart");
    let items = match reply {
        Frame::Array(items) => items,
        other => vec![other],
    };
    items
        .into_iter()
        .filter_map(|f| match f {
            Frame::Bulk(b) | Frame::Simple(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Frame::Integer(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// Checks one writer's keys against its last acknowledged step `acked`.
async fn verify_writer(client: &mut Client, keys: &Keys, acked: u64) {
    let who = &keys.0;
    let number = |v: Vec<String>| v.first().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let s = number(text(client, &["GET", &keys.key("str")]).await);
    assert!(
        s >= acked,
        "{who}: str holds step {s}, but step {acked} was acknowledged"
    );
    let cnt = number(text(client, &["GET", &keys.key("cnt")]).await);
    assert!(
        cnt >= acked,
        "{who}: counter {cnt} < {acked} acknowledged INCRs"
    );
    let list = text(client, &["LRANGE", &keys.key("list"), "0", "-1"]).await;
    let steps: Vec<String> = (1..=list.len()).map(|n| n.to_string()).collect();
    assert_eq!(
        list,
        steps,
        "{who}: the list is not steps 1..{} in order",
        list.len()
    );
    assert!(
        list.len() as u64 >= acked,
        "{who}: list has {} of {acked} acknowledged",
        list.len()
    );
    let hash: Vec<String> = text(client, &["HKEYS", &keys.key("hash")]).await;
    let set: Vec<String> = text(client, &["SMEMBERS", &keys.key("set")]).await;
    let zset: Vec<String> = text(client, &["ZRANGE", &keys.key("zset"), "0", "-1"]).await;
    // Steps past the acknowledged one may have applied (their replies were lost); they must be
    // the same steps everywhere a transaction wrote, and consecutive.
    let applied = |present: &dyn Fn(u64) -> bool| (1..).take_while(|&n| present(n)).count() as u64;
    let in_hash = applied(&|n| hash.contains(&format!("f{n}")));
    let in_set = applied(&|n| set.contains(&n.to_string()));
    let in_zset = applied(&|n| zset.contains(&format!("m{n}")));
    let in_list = list.len() as u64;
    for (what, count, total) in [
        ("hash", in_hash, hash.len()),
        ("set", in_set, set.len()),
        ("zset", in_zset, zset.len()),
    ] {
        assert!(
            count >= acked,
            "{who}: {what} has steps 1..{count}, {acked} acknowledged"
        );
        assert_eq!(
            count as usize, total,
            "{who}: {what} has a gap: {total} members, 1..{count} consecutive"
        );
    }
    let mut exists = vec!["EXISTS".to_string()];
    exists.extend((1..=acked).map(|n| keys.unique(n)));
    if acked > 0 {
        let args: Vec<&str> = exists.iter().map(String::as_str).collect();
        let found = number(text(client, &args).await);
        assert_eq!(
            found, acked,
            "{who}: {found} of {acked} acknowledged unique keys exist"
        );
    }
    let mut unique = acked;
    while number(text(client, &["EXISTS", &keys.unique(unique + 1)]).await) == 1 {
        unique += 1;
    }
    // A transaction (even step) past the acknowledged ones is all or nothing.
    for n in acked + 1..=acked + 4 {
        if n % 2 != 0 {
            continue;
        }
        let seen = [
            in_hash >= n,
            in_set >= n,
            in_zset >= n,
            in_list >= n,
            unique >= n,
        ];
        assert!(
            seen.iter().all(|&s| s) || seen.iter().all(|&s| !s),
            "{who}: transaction of step {n} half applied: hash/set/zset/list/key = {seen:?}"
        );
    }
}

/// DBSIZE, INFO keyspace and a full SCAN agree, and SCAN's TYPE filter splits the same keys.
async fn verify_counts(client: &mut Client) {
    let dbsize = match client.call(&["DBSIZE"]).await.expect("DBSIZE") {
        Frame::Integer(n) => n as usize,
        other => panic!("DBSIZE answered {other:?}"),
    };
    let scan = |kind: Option<&'static str>| {
        let mut args = vec![
            "SCAN".to_string(),
            "0".into(),
            "COUNT".into(),
            "1000".into(),
        ];
        if let Some(kind) = kind {
            args.extend(["TYPE".to_string(), kind.to_string()]);
        }
        args
    };
    let mut per_type = BTreeMap::new();
    for kind in [
        None,
        Some("string"),
        Some("hash"),
        Some("list"),
        Some("set"),
        Some("zset"),
    ] {
        let mut args = scan(kind);
        let mut found = std::collections::BTreeSet::new();
        loop {
            let Frame::Array(reply) = client.call(&args).await.expect("SCAN") else {
                panic!("SCAN answered something else than an array");
            };
            let cursor = match &reply[0] {
                Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("cursor {other:?}"),
            };
            if let Frame::Array(keys) = &reply[1] {
                found.extend(keys.iter().map(|k| format!("{k:?}")));
            }
            if cursor == "0" {
                break;
            }
            args[1] = cursor;
        }
        per_type.insert(kind.unwrap_or("all"), found.len());
    }
    assert_eq!(
        per_type["all"], dbsize,
        "DBSIZE {dbsize}, SCAN found {per_type:?}"
    );
    let typed: usize = per_type
        .iter()
        .filter(|(k, _)| **k != "all")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        typed, dbsize,
        "SCAN TYPE found {per_type:?}, DBSIZE {dbsize}"
    );
    let info = text(client, &["INFO", "keyspace"]).await.concat();
    let keys: usize = info
        .split("keys=")
        .nth(1)
        .and_then(|s| s.split([',', '\r']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert_eq!(keys, dbsize, "INFO keyspace says {keys}, DBSIZE {dbsize}");
}

fn crash_trials(appendfsync: &str) {
    let rt = common::multi_runtime();
    let setting = format!("appendfsync={appendfsync}");
    let mut kiwi = Kiwi::start(&["--set", &setting]);
    let seed: u64 = rand::random();
    eprintln!("crash trials ({appendfsync}), seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut history: Vec<(Keys, u64)> = Vec::new();
    let mut acknowledged = 0;
    for trial in 0..trials() {
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let task = writer(kiwi.addr(), Keys::new(trial, w), stop.clone(), rng.gen());
                rt.spawn(task)
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.gen_range(300..900)));
        kiwi.kill9();
        stop.store(true, Ordering::Release);
        for (w, task) in writers.into_iter().enumerate() {
            let acked = rt.block_on(task).expect("writer task");
            acknowledged += acked;
            history.push((Keys::new(trial, w), acked));
        }
        kiwi = kiwi.restart();
        rt.block_on(async {
            let mut client = Client::connect(&kiwi.addr()).await.expect("connect");
            for (keys, acked) in &history {
                verify_writer(&mut client, keys, *acked).await;
            }
            verify_counts(&mut client).await;
        });
    }
    eprintln!(
        "crash trials ({appendfsync}): {} kills, {acknowledged} acknowledged steps ({} writes), 0 lost",
        trials(),
        acknowledged * 7
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
