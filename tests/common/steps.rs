//! The mixed write load of the crash trials (single node: `tests/crash.rs`; cluster:
//! `tests/cluster_crash.rs`) and how its results are checked.
//!
//! A writer owns a *key set* and runs numbered *steps* on it: step `n` writes `n` into a string
//! (`SET`), a counter (`INCR`), a hash (`HSET f<n>`), a list (`RPUSH`), a set (`SADD`), a sorted
//! set (`ZADD m<n>`) and a key of its own (`SET k<n>`); every even step runs as `MULTI`/`EXEC`.
//! Steps go in pipelines of a few. Each step ends up with an [`Outcome`] as the client saw it,
//! and [`check`] compares a key set's contents with those outcomes: an acknowledged step is
//! there in full, a refused one ("not executed") is absent, a step with an unknown outcome (an
//! error that promises nothing, a lost connection) may be either, a transaction is all or
//! nothing, nothing ran twice, and nothing past the last step sent exists.
//!
//! Included with `#[path = "common/steps.rs"] mod steps;` by the tests that use it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kiwi::resp::client::Client;
use kiwi::resp::Frame;

/// Writes per step (one per key it touches).
pub const WRITES_PER_STEP: u64 = 7;

/// The keys of one key set: `<name>:str`, `<name>:cnt`, ..., and `<name>:k<n>` for each step.
#[derive(Clone, Debug)]
pub struct Keys(pub String);

impl Keys {
    pub fn key(&self, kind: &str) -> String {
        format!("{}:{kind}", self.0)
    }

    pub fn unique(&self, step: u64) -> String {
        format!("{}:k{step}", self.0)
    }

    /// The commands of step `n`.
    pub fn step(&self, n: u64) -> Vec<Vec<String>> {
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

/// Even steps are transactions.
pub fn is_transaction(step: u64) -> bool {
    step % 2 == 0
}

/// What the client learnt about a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every reply was a success: the step must be there in full.
    Acked,
    /// Every reply was an error that promises the command did not run: it must be absent.
    NotExecuted,
    /// An error that promises nothing (`ERR outcome unknown`), or no reply: either is possible.
    Unknown,
}

/// A key set and the outcome of each step sent to it (`outcomes[n - 1]` for step `n`); nothing
/// past the last one was ever sent.
#[derive(Clone, Debug)]
pub struct Record {
    pub keys: Keys,
    pub outcomes: Vec<Outcome>,
}

impl Record {
    pub fn new(name: String) -> Record {
        Record {
            keys: Keys(name),
            outcomes: Vec::new(),
        }
    }

    /// Steps sent so far.
    pub fn sent(&self) -> u64 {
        self.outcomes.len() as u64
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.iter().filter(|o| **o == outcome).count() as u64
    }

    fn outcome(&self, step: u64) -> Outcome {
        self.outcomes[step as usize - 1]
    }
}

/// The replies to one pipeline of steps, read the way a client reads them.
pub struct Sent {
    /// One per step of the pipeline.
    pub outcomes: Vec<Outcome>,
    /// The text of every error reply.
    pub errors: Vec<String>,
    /// The connection failed or a reply did not come in time: drop it.
    pub broken: bool,
}

/// Sends steps `first .. first + count` of `keys` as one pipeline and reads every reply.
/// `not_executed` tells which error replies promise that their command did not run; `timeout`
/// bounds the wait for each reply.
pub async fn send_steps(
    client: &mut Client,
    keys: &Keys,
    first: u64,
    count: u64,
    not_executed: fn(&str) -> bool,
    timeout: Option<Duration>,
) -> Sent {
    let steps: Vec<u64> = (first..first + count).collect();
    for &n in &steps {
        if is_transaction(n) {
            client.queue(&["MULTI"]);
        }
        for command in keys.step(n) {
            client.queue(&command);
        }
        if is_transaction(n) {
            client.queue(&["EXEC"]);
        }
    }
    let mut sent = Sent {
        outcomes: Vec::new(),
        errors: Vec::new(),
        broken: client.flush().await.is_err(),
    };
    for &n in &steps {
        let expected = WRITES_PER_STEP as usize + if is_transaction(n) { 2 } else { 0 };
        let mut replies = Vec::with_capacity(expected);
        while !sent.broken && replies.len() < expected {
            let reply = match timeout {
                Some(limit) => tokio::time::timeout(limit, client.read_reply())
                    .await
                    .unwrap_or(Err(kiwi::resp::client::ClientError::Closed)),
                None => client.read_reply().await,
            };
            match reply {
                Ok(frame) => replies.push(frame),
                Err(_) => sent.broken = true,
            }
        }
        if replies.len() < expected {
            sent.outcomes.push(Outcome::Unknown);
            continue;
        }
        // What decides the step: every reply of a plain step, or EXEC's of a transaction
        // (MULTI and QUEUED are answered by the node itself). Errors inside EXEC's array count.
        let decisive: Vec<Frame> = match (is_transaction(n), replies.pop()) {
            (false, Some(last)) => replies.into_iter().chain([last]).collect(),
            (true, Some(Frame::Array(results))) => {
                for reply in &replies {
                    if let Frame::Error(e) = reply {
                        sent.errors.push(format!("step {n} (queued): {e}"));
                    }
                }
                results
            }
            (true, Some(Frame::Null | Frame::NullArray)) => {
                sent.errors.push(format!("step {n}: EXEC aborted"));
                sent.outcomes.push(Outcome::NotExecuted);
                continue;
            }
            (true, Some(other)) => vec![other],
            (_, None) => Vec::new(),
        };
        let errors: Vec<String> = decisive
            .iter()
            .filter_map(|f| match f {
                Frame::Error(e) => Some(e.to_string()),
                _ => None,
            })
            .collect();
        let outcome = if errors.is_empty() {
            Outcome::Acked
        } else if errors.len() == decisive.len() && errors.iter().all(|e| not_executed(e)) {
            Outcome::NotExecuted
        } else {
            Outcome::Unknown
        };
        sent.errors
            .extend(errors.into_iter().map(|e| format!("step {n}: {e}")));
        sent.outcomes.push(outcome);
    }
    sent
}

/// A key set's contents, read in one transaction.
#[derive(Debug)]
pub struct Snapshot {
    str: Option<String>,
    cnt: Option<String>,
    list: Vec<String>,
    hash: Vec<String>,
    set: Vec<String>,
    zset: Vec<String>,
    /// `<name>:k<n>` for n in 1..=sent + 1.
    unique: Vec<Option<String>>,
}

fn text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Bulk(b) | Frame::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Frame::Integer(n) => Some(n.to_string()),
        _ => None,
    }
}

fn texts(frame: &Frame) -> Result<Vec<String>, String> {
    match frame {
        Frame::Array(items) | Frame::Set(items) => Ok(items.iter().filter_map(text).collect()),
        other => Err(format!("expected an array, got {other:?}")),
    }
}

/// Reads the key sets of `records` through `client`, each in one `MULTI`/`EXEC` (so a
/// transaction that commits meanwhile is seen whole or not at all), pipelined. `Err` on an error
/// reply or a broken connection: reading is safe to retry.
pub async fn read(client: &mut Client, records: &[Record]) -> Result<Vec<Snapshot>, String> {
    let mut out = Vec::with_capacity(records.len());
    for chunk in records.chunks(32) {
        for record in chunk {
            let keys = &record.keys;
            client.queue(&["MULTI"]);
            client.queue(&["GET", &keys.key("str")]);
            client.queue(&["GET", &keys.key("cnt")]);
            client.queue(&["LRANGE", &keys.key("list"), "0", "-1"]);
            client.queue(&["HKEYS", &keys.key("hash")]);
            client.queue(&["SMEMBERS", &keys.key("set")]);
            client.queue(&["ZRANGE", &keys.key("zset"), "0", "-1"]);
            let mut mget = vec!["MGET".to_string()];
            mget.extend((1..=record.sent() + 1).map(|n| keys.unique(n)));
            client.queue(&mget);
            client.queue(&["EXEC"]);
        }
        client.flush().await.map_err(|e| e.to_string())?;
        for _ in chunk {
            for _ in 0..8 {
                match client.read_reply().await.map_err(|e| e.to_string())? {
                    Frame::Error(e) => return Err(e.to_string()),
                    _ => continue,
                }
            }
            let reply = client.read_reply().await.map_err(|e| e.to_string())?;
            let Frame::Array(r) = reply else {
                return Err(format!("EXEC answered {reply:?}"));
            };
            if let Some(e) = r.iter().find(|f| matches!(f, Frame::Error(_))) {
                return Err(format!("{e:?}"));
            }
            let Frame::Array(unique) = &r[6] else {
                return Err(format!("MGET answered {:?}", r[6]));
            };
            out.push(Snapshot {
                str: text(&r[0]),
                cnt: text(&r[1]),
                list: texts(&r[2])?,
                hash: texts(&r[3])?,
                set: texts(&r[4])?,
                zset: texts(&r[5])?,
                unique: unique.iter().map(text).collect(),
            });
        }
    }
    Ok(out)
}

impl Snapshot {
    /// The steps each key holds, as ranges (`1-140,144-146`), for failure messages.
    fn summary(&self) -> String {
        let numbers = |items: &[String], prefix: &str| -> String {
            let mut steps: Vec<u64> = Vec::new();
            let mut other = Vec::new();
            for item in items {
                match item.strip_prefix(prefix).and_then(|n| n.parse().ok()) {
                    Some(n) => steps.push(n),
                    None => other.push(item.as_str()),
                }
            }
            // The list is shown in its own order; the others sorted.
            if !prefix.is_empty() || items.len() != steps.len() {
                steps.sort_unstable();
            }
            let mut out = ranges(steps);
            if !other.is_empty() {
                out.push_str(&format!(" and {other:?}"));
            }
            out
        };
        let present: Vec<u64> = (1u64..)
            .zip(&self.unique)
            .filter(|(_, v)| v.is_some())
            .map(|(n, _)| n)
            .collect();
        format!(
            "str {:?}, cnt {:?}, list [{}], hash [{}], set [{}], zset [{}], own keys [{}]",
            self.str,
            self.cnt,
            numbers(&self.list, ""),
            numbers(&self.hash, "f"),
            {
                let mut set = self.set.clone();
                set.sort_by_key(|m| m.parse::<u64>().unwrap_or(u64::MAX));
                numbers(&set, "")
            },
            numbers(&self.zset, "m"),
            ranges(present)
        )
    }
}

/// `1-3,5,7-9`: consecutive runs of numbers, in the order given.
fn ranges(numbers: impl IntoIterator<Item = u64>) -> String {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for n in numbers {
        match runs.last_mut() {
            Some((_, end)) if n == *end + 1 => *end = n,
            _ => runs.push((n, n)),
        }
    }
    let parts: Vec<String> = runs
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    parts.join(",")
}

/// `Acked x140, Unknown x3`: the outcomes of consecutive steps, run-length encoded.
fn runs(outcomes: &[Outcome]) -> String {
    let mut runs: Vec<(Outcome, usize)> = Vec::new();
    for &o in outcomes {
        match runs.last_mut() {
            Some((last, count)) if *last == o => *count += 1,
            _ => runs.push((o, 1)),
        }
    }
    let parts: Vec<String> = runs.iter().map(|(o, n)| format!("{o:?} x{n}")).collect();
    parts.join(", ")
}

/// Step numbers named by `items` (`prefix<n>`), each of them within `1..=sent`.
fn steps_in(items: &[String], prefix: &str, sent: u64) -> Result<BTreeSet<u64>, String> {
    let mut steps = BTreeSet::new();
    for item in items {
        let n = item
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| (1..=sent).contains(n))
            .ok_or_else(|| format!("{item:?} was never written (steps 1..={sent} sent)"))?;
        steps.insert(n);
    }
    Ok(steps)
}

/// Compares a key set's contents with the outcomes of its steps; returns how many steps of
/// unknown outcome were applied. With `ordered`, the steps applied must also be a gap-free prefix
/// in every key (one node that loses only a suffix when it dies); a cluster may skip a step whose
/// outcome was unknown and apply the next.
pub fn check(record: &Record, snap: &Snapshot, ordered: bool) -> Result<u64, String> {
    let who = &record.keys.0;
    let sent = record.sent();
    let fail = |what: String| {
        Err(format!(
            "{who}: {what}\n  outcomes: {}\n  read: {}",
            runs(&record.outcomes),
            snap.summary()
        ))
    };
    let list: Vec<u64> = match snap.list.iter().map(|s| s.parse()).collect() {
        Ok(list) => list,
        Err(_) => return fail("the list holds a non-number".into()),
    };
    if list.windows(2).any(|w| w[0] >= w[1]) {
        return fail(
            "the list is not strictly increasing (a step ran twice or out of order)".into(),
        );
    }
    let mut per_key: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    let collect = |items: &[String], prefix: &str| steps_in(items, prefix, sent);
    let listed: Vec<String> = list.iter().map(u64::to_string).collect();
    for (name, steps) in [
        ("list", collect(&listed, "")),
        ("hash", collect(&snap.hash, "f")),
        ("set", collect(&snap.set, "")),
        ("zset", collect(&snap.zset, "m")),
    ] {
        match steps {
            Ok(steps) => per_key.insert(name, steps),
            Err(e) => return fail(format!("{name}: {e}")),
        };
    }
    let mut unique = BTreeSet::new();
    for (i, value) in snap.unique.iter().enumerate() {
        let n = i as u64 + 1;
        match value {
            None => {}
            Some(v) if *v == n.to_string() && n <= sent => {
                unique.insert(n);
            }
            Some(v) => return fail(format!("{} holds {v:?}", record.keys.unique(n))),
        }
    }
    per_key.insert("key", unique);
    let mut unknown_applied = 0;
    for n in 1..=sent {
        let present: Vec<(&str, bool)> = per_key
            .iter()
            .map(|(name, steps)| (*name, steps.contains(&n)))
            .collect();
        let all = present.iter().all(|(_, p)| *p);
        let none = present.iter().all(|(_, p)| !*p);
        match record.outcome(n) {
            Outcome::Acked if !all => {
                return fail(format!("acknowledged step {n} is missing: {present:?}"))
            }
            Outcome::NotExecuted if !none => {
                return fail(format!(
                    "step {n} was refused as not executed, yet applied: {present:?}"
                ))
            }
            Outcome::Unknown if is_transaction(n) && !all && !none => {
                return fail(format!("transaction of step {n} half applied: {present:?}"))
            }
            Outcome::Unknown if !none => unknown_applied += 1,
            _ => {}
        }
    }
    if ordered {
        for (name, steps) in &per_key {
            if steps.iter().copied().ne(1..=steps.len() as u64) {
                return fail(format!(
                    "{name} has a gap: steps {}",
                    ranges(steps.iter().copied())
                ));
            }
        }
    }
    let acked = record.count(Outcome::Acked);
    let last_acked = (1..=sent)
        .rev()
        .find(|&n| record.outcome(n) == Outcome::Acked)
        .unwrap_or(0);
    let number = |v: &Option<String>| v.as_deref().map_or(Some(0), |v| v.parse::<u64>().ok());
    let Some(cnt) = number(&snap.cnt) else {
        return fail("the counter is not a number".into());
    };
    let possible = acked + record.count(Outcome::Unknown);
    if cnt < acked || cnt > possible {
        return fail(format!(
            "counter {cnt}: {acked} INCRs acknowledged, at most {possible} may have run"
        ));
    }
    let Some(s) = number(&snap.str) else {
        return fail("the string is not a number".into());
    };
    if s < last_acked || s > sent || (s > 0 && record.outcome(s) == Outcome::NotExecuted) {
        return fail(format!(
            "the string holds step {s}; step {last_acked} was the last acknowledged"
        ));
    }
    Ok(unknown_applied)
}

/// DBSIZE, INFO keyspace and a full SCAN agree, and SCAN's TYPE filter splits the same keys.
/// Returns the keys found per type (and "all").
pub async fn verify_counts(client: &mut Client) -> BTreeMap<&'static str, usize> {
    let dbsize = match client.call(&["DBSIZE"]).await.expect("DBSIZE") {
        Frame::Integer(n) => n as usize,
        other => panic!("DBSIZE answered {other:?}"),
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
        let mut args = vec![
            "SCAN".to_string(),
            "0".into(),
            "COUNT".into(),
            "1000".into(),
        ];
        if let Some(kind) = kind {
            args.extend(["TYPE".to_string(), kind.to_string()]);
        }
        let mut found = BTreeSet::new();
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
    let info = match client.call(&["INFO", "keyspace"]).await.expect("INFO") {
        Frame::Bulk(b) | Frame::Verbatim(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO answered {other:?}"),
    };
    let keys: usize = info
        .split("keys=")
        .nth(1)
        .and_then(|s| s.split([',', '\r']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert_eq!(keys, dbsize, "INFO keyspace says {keys}, DBSIZE {dbsize}");
    per_type
}
