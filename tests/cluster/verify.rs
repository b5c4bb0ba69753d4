//! The end-of-scenario checks: every node converges to the same data, the recorded history is
//! linearizable (with the converged values as final reads), and no acknowledged write is lost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kiwi::resp::client::Client;
use kiwi::resp::Frame;
use sha2::{Digest, Sha256};

use super::harness::Cluster;
use super::linearizability::{self, Call, Op, Outcome};
use super::workload::{History, COUNTER, REGISTERS};

/// Every key of one node and its value (long values as their SHA-256).
pub type Dump = BTreeMap<String, String>;

fn text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Bulk(b) if b.len() > 64 => Some(format!("sha256:{:x}", Sha256::digest(b))),
        Frame::Bulk(b) | Frame::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Reads a node's own data (READONLY: no leader involved); `None` if it does not answer.
pub async fn dump(addr: &str) -> Option<Dump> {
    let work = async {
        let mut c = Client::connect(addr).await.ok()?;
        c.call(&["READONLY"]).await.ok()?;
        let Frame::Array(keys) = c.call(&["KEYS", "*"]).await.ok()? else {
            return None;
        };
        let keys: Vec<String> = keys.iter().filter_map(text).collect();
        for key in &keys {
            c.queue(&["GET", key.as_str()]);
        }
        c.flush().await.ok()?;
        let mut out = Dump::new();
        for key in keys {
            let value = c.read_reply().await.ok()?;
            out.insert(key, text(&value).unwrap_or_else(|| format!("{value:?}")));
        }
        Some(out)
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .ok()
        .flatten()
}

/// Waits until every running node holds identical data and returns it.
pub async fn converge(cluster: &Cluster) -> Dump {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut dumps = Vec::new();
        for id in cluster.up_ids() {
            dumps.push((id, dump(&cluster.node(id).resp_addr()).await));
        }
        let first = dumps[0].1.clone();
        if first.is_some() && dumps.iter().all(|(_, d)| *d == first) {
            return first.unwrap_or_default();
        }
        if Instant::now() > deadline {
            let summary: Vec<String> = dumps
                .iter()
                .map(|(id, d)| match d {
                    Some(d) => format!("node {id}: {} keys, {:?}", d.len(), digest(d)),
                    None => format!("node {id}: no answer"),
                })
                .collect();
            let diff = differences(&dumps);
            panic!(
                "nodes did not converge within 60 s:\n{}\n{diff}",
                summary.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A short fingerprint of a node's data.
pub fn digest(d: &Dump) -> String {
    let mut h = Sha256::new();
    for (k, v) in d {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    format!("{:x}", h.finalize())[..16].to_string()
}

fn differences(dumps: &[(u64, Option<Dump>)]) -> String {
    let Some((first_id, Some(first))) = dumps.first() else {
        return String::new();
    };
    let mut out = Vec::new();
    for (id, d) in &dumps[1..] {
        let Some(d) = d else { continue };
        for key in first.keys().chain(d.keys()) {
            if first.get(key) != d.get(key) && out.len() < 20 {
                out.push(format!(
                    "{key}: node {first_id} {:?} vs node {id} {:?}",
                    first.get(key),
                    d.get(key)
                ));
            }
        }
    }
    out.join("\n")
}

/// The three checks of every fault scenario; panics with the evidence on a violation.
pub async fn verify(cluster: &Cluster, mut history: History) -> Dump {
    eprintln!("history: {}", history.summary());
    let data = converge(cluster).await;
    // The converged values, read after every client stopped, are the last reads of the history.
    let at = history.end + 1;
    for key in REGISTERS.iter().chain([&COUNTER]) {
        history.ops.push(Op {
            client: usize::MAX,
            key: key.to_string(),
            call: Call::Get,
            invoke: at,
            complete: at,
            outcome: Outcome::Value(data.get(*key).cloned()),
        });
    }
    let started = Instant::now();
    if let Err(e) = linearizability::check(&history.ops) {
        panic!("linearizability violation: {e}");
    }
    eprintln!(
        "linearizable ({} ops checked in {:?})",
        history.ops.len(),
        started.elapsed()
    );
    for (key, value, outcome) in &history.unique_writes {
        match outcome {
            Outcome::Ok => assert_eq!(
                data.get(key),
                Some(value),
                "acknowledged write of {key} lost"
            ),
            Outcome::Fail => assert_eq!(data.get(key), None, "{key} was refused but applied"),
            _ => {}
        }
    }
    data
}
