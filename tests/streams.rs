//! Streams under real use: a consumer-group work queue with concurrent producers and consumers
//! (one of which dies holding unacknowledged entries that XAUTOCLAIM recovers), blocking XREAD
//! and XREADGROUP (wake-ups, timeouts, CLIENT UNBLOCK, the key or group going away, MULTI, the
//! 1000-entry cap), approximate trimming on Redis's node boundaries compared with redis-server,
//! entries, groups and pending entries surviving kill -9, and the key-space commands (DEL,
//! RENAME, COPY, EXPIRE, TYPE, OBJECT ENCODING, SCAN TYPE) on streams with groups.
//!
//! `KIWI_STREAMS_AGAINST_REDIS=1` runs the tests that need no Kiwi-only feature (restarts) against
//! redis-server instead, to show that the expectations are Redis's.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{bulk, call, multi_runtime, runtime, Kiwi, Redis};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

/// The server a test runs against: kiwi, or redis-server with `KIWI_STREAMS_AGAINST_REDIS=1`.
enum Server {
    Kiwi(Kiwi),
    Redis(Redis),
}

impl Server {
    fn start() -> Server {
        if std::env::var("KIWI_STREAMS_AGAINST_REDIS").is_ok_and(|v| v == "1") {
            Server::Redis(Redis::start())
        } else {
            Server::Kiwi(Kiwi::start(&[]))
        }
    }

    fn addr(&self) -> String {
        match self {
            Server::Kiwi(k) => k.addr(),
            Server::Redis(r) => r.addr(),
        }
    }
}

/// A bulk or simple string (or an integer) as text.
fn text(frame: &Frame) -> String {
    match frame {
        Frame::Bulk(b) | Frame::Simple(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Integer(n) => n.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

fn items(frame: &Frame) -> &[Frame] {
    match frame {
        Frame::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

fn bulks(words: &[&str]) -> Frame {
    Frame::Array(words.iter().map(|w| bulk(w)).collect())
}

/// An entry as replies show it.
type Entry = (String, Vec<String>);

/// `[[id, [field, value, ...]], ...]`.
fn entries(frame: &Frame) -> Vec<Entry> {
    items(frame)
        .iter()
        .map(|entry| {
            let pair = items(entry);
            (text(&pair[0]), items(&pair[1]).iter().map(text).collect())
        })
        .collect()
}

/// The entries of a one-stream XREAD/XREADGROUP reply (RESP2), none for a null reply.
fn read_entries(frame: &Frame, key: &str) -> Vec<Entry> {
    match frame {
        Frame::NullArray => Vec::new(),
        Frame::Array(streams) => {
            assert_eq!(streams.len(), 1, "one stream asked for: {frame:?}");
            let pair = items(&streams[0]);
            assert_eq!(text(&pair[0]), key);
            entries(&pair[1])
        }
        other => panic!("not an XREAD reply: {other:?}"),
    }
}

/// The value of field `n` of an entry.
fn number(entry: &Entry) -> u64 {
    assert_eq!(entry.1[0], "n", "{entry:?}");
    entry.1[1].parse().expect("a number")
}

/// INFO clients' `blocked_clients`.
async fn blocked_clients(c: &mut Client) -> u64 {
    let info = call(c, &["INFO", "clients"]).await;
    let info = text(&info);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("blocked_clients in INFO clients")
}

/// Waits until exactly `n` clients are blocked.
async fn wait_blocked(c: &mut Client, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = blocked_clients(c).await;
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{now} clients blocked, not {n}, after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sends a blocking command on a connection of its own; the task returns its reply.
async fn blocked(addr: &str, command: &[&str]) -> tokio::task::JoinHandle<Frame> {
    let mut c = Client::connect(addr).await.unwrap();
    let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
    tokio::spawn(async move {
        call(
            &mut c,
            &command.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await
    })
}

fn error(frame: &Frame) -> &str {
    match frame {
        Frame::Error(e) => e,
        other => panic!("not an error: {other:?}"),
    }
}

// ---- 1. a consumer-group work queue ----

/// What one consumer did.
#[derive(Default, Debug)]
struct ConsumerLog {
    /// Every number it was delivered, acknowledged or not.
    processed: Vec<u64>,
    /// The numbers it acknowledged (XACK answered for all of them).
    acked: Vec<u64>,
    /// The sum of its XACK replies.
    ack_replies: i64,
    /// The batch it died holding (the victim only).
    unacked: Vec<u64>,
}

const PRODUCERS: u64 = 3;
const PER_PRODUCER: u64 = 300;
const TOTAL: u64 = PRODUCERS * PER_PRODUCER;

/// Reads batches of 10 and acknowledges each, until the producers are done and the stream has
/// nothing new. The `victim` dies on its third batch, without acknowledging it.
async fn consumer(
    addr: String,
    name: String,
    victim: bool,
    producers_done: Arc<AtomicBool>,
    victim_gone: Arc<AtomicBool>,
) -> ConsumerLog {
    let mut c = Client::connect(&addr).await.unwrap();
    let mut log = ConsumerLog::default();
    let mut batches = 0;
    let command = [
        "XREADGROUP",
        "GROUP",
        "g",
        &name,
        "COUNT",
        "10",
        "BLOCK",
        "200",
        "STREAMS",
        "s",
        ">",
    ];
    loop {
        let reply = call(&mut c, &command).await;
        let batch = read_entries(&reply, "s");
        if batch.is_empty() {
            if producers_done.load(Ordering::Acquire)
                && (victim || victim_gone.load(Ordering::Acquire))
            {
                break;
            }
            continue;
        }
        assert!(batch.len() <= 10, "COUNT 10 gave {}", batch.len());
        let numbers: Vec<u64> = batch.iter().map(number).collect();
        log.processed.extend(&numbers);
        batches += 1;
        if victim && batches == 3 {
            // Killed mid-way: the connection goes with the batch unacknowledged.
            log.unacked = numbers;
            drop(c);
            victim_gone.store(true, Ordering::Release);
            return log;
        }
        let mut xack = vec!["XACK", "s", "g"];
        xack.extend(batch.iter().map(|e| e.0.as_str()));
        let Frame::Integer(n) = call(&mut c, &xack).await else {
            panic!("XACK did not answer an integer")
        };
        assert_eq!(n as usize, batch.len(), "{name}: XACK of a fresh batch");
        log.ack_replies += n;
        log.acked.extend(&numbers);
    }
    if victim {
        victim_gone.store(true, Ordering::Release);
    }
    log
}

#[test]
fn a_consumer_group_work_queue_with_a_killed_consumer_acknowledges_everything_once() {
    let server = Server::start();
    let addr = server.addr();
    multi_runtime().block_on(async {
        let mut admin = Client::connect(&addr).await.unwrap();
        assert_eq!(
            call(&mut admin, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).await,
            Frame::ok()
        );
        let producers_done = Arc::new(AtomicBool::new(false));
        let victim_gone = Arc::new(AtomicBool::new(false));
        let consumers: Vec<_> = (0..3)
            .map(|k| {
                tokio::spawn(consumer(
                    addr.clone(),
                    format!("c{k}"),
                    k == 2,
                    producers_done.clone(),
                    victim_gone.clone(),
                ))
            })
            .collect();
        // Every consumer waits before the first entry, so all of them get a share.
        wait_blocked(&mut admin, 3).await;
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let addr = addr.clone();
                tokio::spawn(async move {
                    let mut c = Client::connect(&addr).await.unwrap();
                    for i in 0..PER_PRODUCER {
                        let n = (p * 1000 + i).to_string();
                        let reply = call(&mut c, &["XADD", "s", "*", "n", &n]).await;
                        assert!(matches!(reply, Frame::Bulk(_)), "XADD: {reply:?}");
                    }
                })
            })
            .collect();
        for p in producers {
            p.await.unwrap();
        }
        producers_done.store(true, Ordering::Release);
        let mut logs = Vec::new();
        for c in consumers {
            logs.push(c.await.unwrap());
        }
        let victim = &logs[2];
        assert!(
            !victim.unacked.is_empty(),
            "the victim died before its third batch: {victim:?}"
        );

        // What the victim held is pending, under its name only.
        let summary = call(&mut admin, &["XPENDING", "s", "g"]).await;
        let summary = items(&summary);
        assert_eq!(summary[0], Frame::Integer(victim.unacked.len() as i64));
        assert_eq!(
            summary[3],
            Frame::Array(vec![bulks(&["c2", &victim.unacked.len().to_string()])])
        );

        // A survivor claims and finishes the victim's work.
        let mut survivor = Client::connect(&addr).await.unwrap();
        let mut claimed_log = ConsumerLog::default();
        let mut cursor = "0-0".to_string();
        loop {
            let reply = call(
                &mut survivor,
                &["XAUTOCLAIM", "s", "g", "c0", "0", &cursor, "COUNT", "100"],
            )
            .await;
            let parts = items(&reply);
            assert_eq!(parts[2], Frame::Array(vec![]), "no deleted entries");
            let claimed = entries(&parts[1]);
            let numbers: Vec<u64> = claimed.iter().map(number).collect();
            claimed_log.processed.extend(&numbers);
            if !claimed.is_empty() {
                let mut xack = vec!["XACK", "s", "g"];
                xack.extend(claimed.iter().map(|e| e.0.as_str()));
                let Frame::Integer(n) = call(&mut survivor, &xack).await else {
                    panic!("XACK did not answer an integer")
                };
                claimed_log.ack_replies += n;
                claimed_log.acked.extend(&numbers);
            }
            cursor = text(&parts[0]);
            if cursor == "0-0" {
                break;
            }
        }
        let mut claimed_sorted = claimed_log.processed.clone();
        claimed_sorted.sort();
        let mut unacked_sorted = victim.unacked.clone();
        unacked_sorted.sort();
        assert_eq!(
            claimed_sorted, unacked_sorted,
            "XAUTOCLAIM claims what the victim held"
        );
        logs.push(claimed_log);

        let produced: BTreeSet<u64> = (0..PRODUCERS)
            .flat_map(|p| (0..PER_PRODUCER).map(move |i| p * 1000 + i))
            .collect();
        let processed: BTreeSet<u64> = logs
            .iter()
            .flat_map(|l| l.processed.iter().copied())
            .collect();
        assert_eq!(processed, produced, "every number processed, nothing else");
        let deliveries: usize = logs.iter().map(|l| l.processed.len()).sum();
        assert_eq!(
            deliveries,
            TOTAL as usize + logs[2].unacked.len(),
            "each entry delivered once by >, the victim's batch once more by XAUTOCLAIM"
        );
        let ack_replies: i64 = logs.iter().map(|l| l.ack_replies).sum();
        assert_eq!(
            ack_replies, TOTAL as i64,
            "XACK replies add up to the total"
        );
        let mut acked = HashSet::new();
        for n in logs.iter().flat_map(|l| l.acked.iter()) {
            assert!(acked.insert(*n), "{n} acknowledged twice");
        }
        assert_eq!(acked.len() as u64, TOTAL);
        assert!(
            logs[..3].iter().all(|l| !l.processed.is_empty()),
            "every consumer got work"
        );

        assert_eq!(
            call(&mut admin, &["XPENDING", "s", "g"]).await,
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::Null,
                Frame::Null,
                Frame::NullArray
            ])
        );
        assert_eq!(
            call(&mut admin, &["XLEN", "s"]).await,
            Frame::Integer(TOTAL as i64)
        );
        let groups = call(&mut admin, &["XINFO", "GROUPS", "s"]).await;
        let group = items(&items(&groups)[0]);
        let last = call(&mut admin, &["XREVRANGE", "s", "+", "-", "COUNT", "1"]).await;
        let last_id = entries(&last)[0].0.clone();
        assert_eq!(
            group,
            &[
                bulk("name"),
                bulk("g"),
                bulk("consumers"),
                Frame::Integer(3),
                bulk("pending"),
                Frame::Integer(0),
                bulk("last-delivered-id"),
                bulk(&last_id),
                bulk("entries-read"),
                Frame::Integer(TOTAL as i64),
                bulk("lag"),
                Frame::Integer(0),
            ][..]
        );
    });
}

// ---- 2. blocking ----

/// `XREADGROUP GROUP g <consumer> BLOCK 0 STREAMS s >`.
fn blocking_readgroup(consumer: &str) -> [&str; 9] {
    [
        "XREADGROUP",
        "GROUP",
        "g",
        consumer,
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]
}

#[test]
fn one_xadd_wakes_every_blocked_reader_and_dollar_skips_older_entries() {
    let server = Server::start();
    let addr = server.addr();
    runtime().block_on(async {
        let mut c = Client::connect(&addr).await.unwrap();
        call(&mut c, &["XADD", "s", "1-1", "f", "old"]).await;
        call(&mut c, &["XADD", "s", "1-2", "f", "older"]).await;
        let first = blocked(&addr, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]).await;
        let second = blocked(
            &addr,
            &["XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", "s", "$"],
        )
        .await;
        wait_blocked(&mut c, 2).await;
        assert_eq!(
            call(&mut c, &["XADD", "s", "2-1", "f", "new"]).await,
            bulk("2-1")
        );
        let expected = vec![("2-1".to_string(), vec!["f".to_string(), "new".to_string()])];
        assert_eq!(read_entries(&first.await.unwrap(), "s"), expected);
        assert_eq!(read_entries(&second.await.unwrap(), "s"), expected);
        wait_blocked(&mut c, 0).await;

        // `$` on a key that does not exist yet reads from the first entry added.
        let waiter = blocked(&addr, &["XREAD", "BLOCK", "0", "STREAMS", "fresh", "$"]).await;
        wait_blocked(&mut c, 1).await;
        call(&mut c, &["XADD", "fresh", "5-5", "a", "b"]).await;
        assert_eq!(
            read_entries(&waiter.await.unwrap(), "fresh"),
            vec![("5-5".to_string(), vec!["a".to_string(), "b".to_string()])]
        );

        // A write that adds nothing (a trim, a group) keeps readers of `$` waiting.
        let waiter = blocked(&addr, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]).await;
        wait_blocked(&mut c, 1).await;
        call(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).await;
        call(&mut c, &["XDEL", "s", "1-1"]).await;
        wait_blocked(&mut c, 1).await;
        call(&mut c, &["XADD", "s", "3-0", "f", "last"]).await;
        assert_eq!(
            read_entries(&waiter.await.unwrap(), "s"),
            vec![("3-0".to_string(), vec!["f".to_string(), "last".to_string()])]
        );

        // XREADGROUP > wakes on an XADD, and only one of two consumers gets the entry.
        let a = blocked(&addr, &blocking_readgroup("a")).await;
        // The group starts at 0: the first reader is served at once.
        let got = read_entries(&a.await.unwrap(), "s");
        assert_eq!(got.len(), 3);
        let a = blocked(&addr, &blocking_readgroup("a")).await;
        let b = blocked(&addr, &blocking_readgroup("b")).await;
        wait_blocked(&mut c, 2).await;
        call(&mut c, &["XADD", "s", "4-0", "f", "once"]).await;
        // One of them is served; the other stays blocked until the next entry.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !a.is_finished() && !b.is_finished() {
            assert!(Instant::now() < deadline, "nobody was served");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        wait_blocked(&mut c, 1).await;
        assert!(
            !(a.is_finished() && b.is_finished()),
            "one entry served two consumers"
        );
        call(&mut c, &["XADD", "s", "5-0", "f", "twice"]).await;
        let (a, b) = (
            read_entries(&a.await.unwrap(), "s"),
            read_entries(&b.await.unwrap(), "s"),
        );
        let mut ids: Vec<String> = a.iter().chain(&b).map(|e| e.0.clone()).collect();
        ids.sort();
        assert_eq!(ids, ["4-0", "5-0"]);
        assert_eq!((a.len(), b.len()), (1, 1));
    });
}

#[test]
fn a_blocked_xreadgroup_is_released_when_its_key_or_group_goes() {
    let server = Server::start();
    let addr = server.addr();
    runtime().block_on(async {
        let mut c = Client::connect(&addr).await.unwrap();
        let read = blocking_readgroup("c");

        call(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).await;
        let waiter = blocked(&addr, &read).await;
        wait_blocked(&mut c, 1).await;
        assert_eq!(call(&mut c, &["DEL", "s"]).await, Frame::Integer(1));
        let reply = waiter.await.unwrap();
        assert!(error(&reply).starts_with("UNBLOCKED"), "{reply:?}");
        assert_eq!(error(&reply), "UNBLOCKED the stream key no longer exists");

        call(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).await;
        let waiter = blocked(&addr, &read).await;
        wait_blocked(&mut c, 1).await;
        assert_eq!(
            call(&mut c, &["XGROUP", "DESTROY", "s", "g"]).await,
            Frame::Integer(1)
        );
        assert_eq!(
            waiter.await.unwrap(),
            Frame::Error(
                "NOGROUP the consumer group this client was blocked on no longer exists".into()
            )
        );

        // The key replaced by another type.
        call(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]).await;
        let waiter = blocked(&addr, &read).await;
        wait_blocked(&mut c, 1).await;
        call(&mut c, &["SET", "s", "string now"]).await;
        assert_eq!(
            waiter.await.unwrap(),
            Frame::Error("UNBLOCKED the stream key no longer exists".into())
        );
        wait_blocked(&mut c, 0).await;

        // Another group going does not disturb it.
        call(&mut c, &["DEL", "s"]).await;
        call(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).await;
        call(&mut c, &["XGROUP", "CREATE", "s", "other", "$"]).await;
        let waiter = blocked(&addr, &read).await;
        wait_blocked(&mut c, 1).await;
        call(&mut c, &["XGROUP", "DESTROY", "s", "other"]).await;
        wait_blocked(&mut c, 1).await;
        call(&mut c, &["XADD", "s", "1-0", "k", "v"]).await;
        assert_eq!(
            read_entries(&waiter.await.unwrap(), "s"),
            vec![("1-0".to_string(), vec!["k".to_string(), "v".to_string()])]
        );
    });
}

#[test]
fn xread_block_times_out_is_unblocked_and_does_not_block_in_multi() {
    let server = Server::start();
    let addr = server.addr();
    runtime().block_on(async {
        let mut c = Client::connect(&addr).await.unwrap();
        // An empty stream (its only entry deleted) and a missing key both time out with nil.
        call(&mut c, &["XADD", "empty", "1-1", "f", "v"]).await;
        call(&mut c, &["XDEL", "empty", "1-1"]).await;
        assert_eq!(call(&mut c, &["XLEN", "empty"]).await, Frame::Integer(0));
        for key in ["empty", "missing"] {
            let started = Instant::now();
            let reply = call(&mut c, &["XREAD", "BLOCK", "100", "STREAMS", key, "$"]).await;
            let took = started.elapsed();
            assert_eq!(reply, Frame::NullArray, "{key}");
            assert!(
                took >= Duration::from_millis(95),
                "{key}: answered after {took:?}"
            );
            assert!(
                took < Duration::from_secs(3),
                "{key}: answered after {took:?}"
            );
            let reply = call(&mut c, &["XREAD", "BLOCK", "100", "STREAMS", key, "0"]).await;
            assert_eq!(reply, Frame::NullArray, "{key} from 0");
        }

        // CLIENT UNBLOCK ... ERROR.
        let mut waiter = Client::connect(&addr).await.unwrap();
        let Frame::Integer(id) = call(&mut waiter, &["CLIENT", "ID"]).await else {
            panic!("CLIENT ID")
        };
        let task = tokio::spawn(async move {
            call(
                &mut waiter,
                &["XREAD", "BLOCK", "0", "STREAMS", "empty", "$"],
            )
            .await
        });
        wait_blocked(&mut c, 1).await;
        let list = call(&mut c, &["CLIENT", "LIST", "ID", &id.to_string()]).await;
        assert!(text(&list).contains("flags=b"), "{list:?}");
        assert_eq!(
            call(&mut c, &["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]).await,
            Frame::Integer(1)
        );
        assert_eq!(
            task.await.unwrap(),
            Frame::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK".into())
        );
        // ... and TIMEOUT answers nil, here to a blocked XREADGROUP.
        call(&mut c, &["XGROUP", "CREATE", "empty", "g", "$"]).await;
        let mut waiter = Client::connect(&addr).await.unwrap();
        let Frame::Integer(id) = call(&mut waiter, &["CLIENT", "ID"]).await else {
            panic!("CLIENT ID")
        };
        let task = tokio::spawn(async move {
            let mut read = blocking_readgroup("c");
            read[7] = "empty";
            call(&mut waiter, &read).await
        });
        wait_blocked(&mut c, 1).await;
        assert_eq!(
            call(&mut c, &["CLIENT", "UNBLOCK", &id.to_string(), "TIMEOUT"]).await,
            Frame::Integer(1)
        );
        assert_eq!(task.await.unwrap(), Frame::NullArray);

        // Inside MULTI, BLOCK does not block: `$` finds nothing at once.
        let started = Instant::now();
        assert_eq!(call(&mut c, &["MULTI"]).await, Frame::ok());
        assert_eq!(
            call(&mut c, &["XREAD", "BLOCK", "0", "STREAMS", "empty", "$"]).await,
            Frame::Simple("QUEUED".into())
        );
        assert_eq!(
            call(&mut c, &["XREAD", "BLOCK", "0", "STREAMS", "missing", "0"]).await,
            Frame::Simple("QUEUED".into())
        );
        assert_eq!(
            call(&mut c, &["EXEC"]).await,
            Frame::Array(vec![Frame::NullArray, Frame::NullArray])
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        wait_blocked(&mut c, 0).await;
    });
}

#[test]
fn a_woken_xread_without_count_gets_at_most_1000_entries() {
    let server = Server::start();
    let addr = server.addr();
    runtime().block_on(async {
        let mut c = Client::connect(&addr).await.unwrap();
        call(&mut c, &["XADD", "s", "1-0", "f", "before"]).await;
        let waiter = blocked(&addr, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]).await;
        let grouped = {
            call(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]).await;
            blocked(
                &addr,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "c",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    "s",
                    ">",
                ],
            )
            .await
        };
        wait_blocked(&mut c, 2).await;
        c.queue(&["MULTI"]);
        for i in 0..1500u64 {
            c.queue(&["XADD", "s", &format!("2-{i}"), "n", &i.to_string()]);
        }
        c.queue(&["EXEC"]);
        c.flush().await.unwrap();
        for _ in 0..1501 {
            c.read_reply().await.unwrap();
        }
        let Frame::Array(added) = c.read_reply().await.unwrap() else {
            panic!("EXEC")
        };
        assert_eq!(added.len(), 1500);
        for got in [waiter.await.unwrap(), grouped.await.unwrap()] {
            let got = read_entries(&got, "s");
            assert_eq!(got.len(), 1000);
            assert_eq!(got[0].0, "2-0");
            assert_eq!(got[999].0, "2-999");
        }
        // Without blocking there is no cap.
        let all = call(&mut c, &["XREAD", "STREAMS", "s", "1-0"]).await;
        assert_eq!(read_entries(&all, "s").len(), 1500);
        let rest = call(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
        )
        .await;
        assert_eq!(read_entries(&rest, "s").len(), 500);
    });
}

// ---- 3. approximate trimming ----

/// The trimming sequence of the task, on one server: XLEN after 1000 `XADD MAXLEN ~ 555`, the
/// first remaining item, then with 10-entry nodes XTRIM's reply and XLEN.
async fn trim_sequence(addr: &str) -> Vec<Frame> {
    let mut c = Client::connect(addr).await.unwrap();
    let mut out = Vec::new();
    call(&mut c, &["CONFIG", "SET", "stream-node-max-entries", "100"]).await;
    for j in 0..1000 {
        c.queue(&[
            "XADD",
            "s",
            "MAXLEN",
            "~",
            "555",
            "*",
            "xitem",
            &j.to_string(),
        ]);
    }
    c.flush().await.unwrap();
    for _ in 0..1000 {
        assert!(matches!(c.read_reply().await.unwrap(), Frame::Bulk(_)));
    }
    out.push(call(&mut c, &["XLEN", "s"]).await);
    let first = call(&mut c, &["XRANGE", "s", "-", "+", "COUNT", "1"]).await;
    out.push(bulk(&entries(&first)[0].1[1]));
    // Exact trimming at the same point goes to the entry.
    out.push(call(&mut c, &["XTRIM", "s", "MAXLEN", "=", "555"]).await);
    out.push(call(&mut c, &["XLEN", "s"]).await);

    assert_eq!(
        call(&mut c, &["CONFIG", "SET", "stream-node-max-entries", "10"]).await,
        Frame::ok()
    );
    for j in 0..100 {
        c.queue(&["XADD", "s2", "*", "xitem", &j.to_string()]);
    }
    c.flush().await.unwrap();
    for _ in 0..100 {
        c.read_reply().await.unwrap();
    }
    out.push(call(&mut c, &["XTRIM", "s2", "MAXLEN", "~", "55"]).await);
    out.push(call(&mut c, &["XLEN", "s2"]).await);
    // MINID ~ stops at the node holding the threshold too; LIMIT caps whole nodes.
    let all = call(&mut c, &["XRANGE", "s2", "-", "+"]).await;
    let ids: Vec<String> = entries(&all).into_iter().map(|e| e.0).collect();
    out.push(call(&mut c, &["XTRIM", "s2", "MINID", "~", &ids[15]]).await);
    out.push(call(&mut c, &["XLEN", "s2"]).await);
    out.push(call(&mut c, &["XTRIM", "s2", "MAXLEN", "~", "0", "LIMIT", "25"]).await);
    out.push(call(&mut c, &["XLEN", "s2"]).await);
    let first = call(&mut c, &["XRANGE", "s2", "-", "+", "COUNT", "1"]).await;
    out.push(bulk(&entries(&first)[0].1[1]));

    // One XDEL of two entries of one node, then that node trimmed whole: its count must have
    // taken both deletions (nodes of 10: 1-0..10-0 and 11-0..).
    for i in 1..=15 {
        call(
            &mut c,
            &["XADD", "s3", &format!("{i}-0"), "n", &i.to_string()],
        )
        .await;
    }
    out.push(call(&mut c, &["XDEL", "s3", "3-0", "5-0"]).await);
    out.push(call(&mut c, &["XTRIM", "s3", "MAXLEN", "~", "5"]).await);
    out.push(call(&mut c, &["XLEN", "s3"]).await);
    for i in 1..=15 {
        call(
            &mut c,
            &["XADD", "s4", &format!("{i}-0"), "n", &i.to_string()],
        )
        .await;
    }
    out.push(call(&mut c, &["XDEL", "s4", "3-0", "5-0"]).await);
    out.push(
        call(
            &mut c,
            &["XADD", "s4", "MINID", "=", "12-0", "16-0", "n", "16"],
        )
        .await,
    );
    out.push(call(&mut c, &["XLEN", "s4"]).await);
    out.push(call(&mut c, &["XRANGE", "s4", "-", "+", "COUNT", "1"]).await);
    call(&mut c, &["CONFIG", "SET", "stream-node-max-entries", "100"]).await;
    out
}

#[test]
fn approximate_trimming_cuts_where_redis_does() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    let rt = runtime();
    let expected = rt.block_on(trim_sequence(&redis.addr()));
    let got = rt.block_on(trim_sequence(&kiwi.addr()));
    assert_eq!(got, expected, "kiwi and redis-server differ");
    // The numbers of the task, as Redis 7.0 gives them.
    assert_eq!(got[0], Frame::Integer(600));
    assert_eq!(got[1], bulk("400"));
    assert_eq!(got[2], Frame::Integer(45));
    assert_eq!(got[4], Frame::Integer(40));
    assert_eq!(got[5], Frame::Integer(60));
    // The node of 1-0..10-0 held 8 entries after the XDEL.
    assert_eq!(
        &got[11..14],
        &[Frame::Integer(2), Frame::Integer(8), Frame::Integer(5)]
    );
    assert_eq!(got[16], Frame::Integer(5));
}

// ---- 4. persistence ----

/// Removes the value after `name` in a RESP2 field/value array (idle times).
fn without(frame: &Frame, name: &str) -> Frame {
    let items = items(frame);
    let mut out = Vec::new();
    let mut i = 0;
    while i < items.len() {
        if items[i] == bulk(name) {
            i += 2;
            continue;
        }
        out.push(items[i].clone());
        i += 1;
    }
    Frame::Array(out)
}

/// Everything a stream shows except times.
async fn stream_state(c: &mut Client) -> Vec<Frame> {
    let mut out = vec![
        call(c, &["XRANGE", "s", "-", "+"]).await,
        call(c, &["XLEN", "s"]).await,
        call(c, &["XINFO", "STREAM", "s"]).await,
        call(c, &["XINFO", "GROUPS", "s"]).await,
    ];
    for group in ["g1", "g2"] {
        out.push(call(c, &["XPENDING", "s", group]).await);
        let rows = call(c, &["XPENDING", "s", group, "-", "+", "100"]).await;
        // id, consumer, idle, deliveries: drop the idle time.
        out.push(Frame::Array(
            items(&rows)
                .iter()
                .map(|r| {
                    let r = items(r);
                    Frame::Array(vec![r[0].clone(), r[1].clone(), r[3].clone()])
                })
                .collect(),
        ));
        let consumers = call(c, &["XINFO", "CONSUMERS", "s", group]).await;
        out.push(Frame::Array(
            items(&consumers)
                .iter()
                .map(|c| without(c, "idle"))
                .collect(),
        ));
    }
    out
}

#[test]
fn entries_groups_and_pending_entries_survive_kill_9() {
    let mut kiwi = Kiwi::start(&[]);
    let rt = runtime();
    let before = rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        for i in 1..=30u64 {
            call(
                &mut c,
                &[
                    "XADD",
                    "s",
                    &format!("{i}-1"),
                    "n",
                    &i.to_string(),
                    "pad",
                    "x",
                ],
            )
            .await;
        }
        call(&mut c, &["XDEL", "s", "3-1", "30-1"]).await;
        call(&mut c, &["XTRIM", "s", "MINID", "2-1"]).await;
        call(&mut c, &["XGROUP", "CREATE", "s", "g1", "0"]).await;
        call(&mut c, &["XGROUP", "CREATE", "s", "g2", "$"]).await;
        call(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g2", "idle-one"]).await;
        let alice = call(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "g1",
                "alice",
                "COUNT",
                "4",
                "STREAMS",
                "s",
                ">",
            ],
        )
        .await;
        assert_eq!(read_entries(&alice, "s").len(), 4);
        let bob = call(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "g1",
                "bob",
                "COUNT",
                "3",
                "STREAMS",
                "s",
                ">",
            ],
        )
        .await;
        assert_eq!(read_entries(&bob, "s").len(), 3);
        // alice: 2-1 4-1 5-1 6-1; bob: 7-1 8-1 9-1. Acknowledge one each, move one to bob.
        assert_eq!(
            call(&mut c, &["XACK", "s", "g1", "4-1", "8-1"]).await,
            Frame::Integer(2)
        );
        let claimed = call(&mut c, &["XCLAIM", "s", "g1", "bob", "0", "5-1", "JUSTID"]).await;
        assert_eq!(claimed, bulks(&["5-1"]));
        call(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "g1",
                "carol",
                "NOACK",
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">",
            ],
        )
        .await;
        stream_state(&mut c).await
    });
    // Sanity: the state holds what was done.
    assert_eq!(before[1], Frame::Integer(27));
    assert_eq!(
        items(&before[4])[0],
        Frame::Integer(5),
        "g1 pending: {:?}",
        before[4]
    );
    kiwi.kill9();
    let mut kiwi = kiwi.restart();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        let after = stream_state(&mut c).await;
        assert_eq!(after, before, "the stream after kill -9");
        // The last id survives even though its entry was deleted.
        assert_eq!(
            error(&call(&mut c, &["XADD", "s", "30-1", "f", "v"]).await),
            "ERR The ID specified in XADD is equal or smaller than the target stream top item"
        );
        // History reads what alice still holds, with one more delivery each.
        let history = call(
            &mut c,
            &["XREADGROUP", "GROUP", "g1", "alice", "STREAMS", "s", "0"],
        )
        .await;
        let ids: Vec<String> = read_entries(&history, "s")
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(ids, ["2-1", "6-1"]);
        let rows = call(&mut c, &["XPENDING", "s", "g1", "-", "+", "10", "alice"]).await;
        let counts: Vec<Frame> = items(&rows).iter().map(|r| items(r)[3].clone()).collect();
        assert_eq!(counts, vec![Frame::Integer(2), Frame::Integer(2)]);
        // New entries go on where the group stopped (carol read 10-1 and 11-1).
        let next = call(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "g1",
                "dave",
                "COUNT",
                "1",
                "STREAMS",
                "s",
                ">",
            ],
        )
        .await;
        assert_eq!(read_entries(&next, "s")[0].0, "12-1");
        assert_eq!(
            call(&mut c, &["XACK", "s", "g1", "2-1", "5-1", "12-1"]).await,
            Frame::Integer(3)
        );
        call(&mut c, &["XADD", "s", "40-1", "n", "40"]).await;
        let g2 = call(
            &mut c,
            &["XREADGROUP", "GROUP", "g2", "idle-one", "STREAMS", "s", ">"],
        )
        .await;
        assert_eq!(read_entries(&g2, "s")[0].0, "40-1");
    });
    let before = rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        stream_state(&mut c).await
    });
    kiwi.kill9();
    let kiwi = kiwi.restart();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            stream_state(&mut c).await,
            before,
            "changes after the restart survive too"
        );
        let summary = call(&mut c, &["XPENDING", "s", "g1"]).await;
        assert_eq!(
            summary,
            Frame::Array(vec![
                Frame::Integer(3),
                bulk("6-1"),
                bulk("9-1"),
                Frame::Array(vec![bulks(&["alice", "1"]), bulks(&["bob", "2"])]),
            ])
        );
    });
}

// ---- 5. key-space commands ----

/// `XINFO GROUPS` as (name, consumers, pending, last-delivered-id) rows.
async fn groups(c: &mut Client, key: &str) -> Vec<(String, i64, i64, String)> {
    let reply = call(c, &["XINFO", "GROUPS", key]).await;
    items(&reply)
        .iter()
        .map(|g| {
            let g = items(g);
            let int = |f: &Frame| match f {
                Frame::Integer(n) => *n,
                other => panic!("{other:?}"),
            };
            (text(&g[1]), int(&g[3]), int(&g[5]), text(&g[7]))
        })
        .collect()
}

fn row(name: &str, consumers: i64, pending: i64, last: &str) -> (String, i64, i64, String) {
    (name.into(), consumers, pending, last.into())
}

/// A stream `key` of entries 1-0 to 5-0 with group `g` (consumer `c` holding 1-0 and 2-0).
async fn stream_with_group(c: &mut Client, key: &str) {
    for i in 1..=5 {
        call(c, &["XADD", key, &format!("{i}-0"), "n", &i.to_string()]).await;
    }
    call(c, &["XGROUP", "CREATE", key, "g", "0"]).await;
    call(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "2",
            "STREAMS",
            key,
            ">",
        ],
    )
    .await;
}

#[test]
fn key_commands_treat_a_stream_with_groups_as_one_value() {
    let server = Server::start();
    let addr = server.addr();
    runtime().block_on(async {
        let mut c = Client::connect(&addr).await.unwrap();
        stream_with_group(&mut c, "s").await;
        assert_eq!(
            call(&mut c, &["TYPE", "s"]).await,
            Frame::Simple("stream".into())
        );
        assert_eq!(
            call(&mut c, &["OBJECT", "ENCODING", "s"]).await,
            bulk("stream")
        );

        // COPY: the copy's groups are its own.
        assert_eq!(
            call(&mut c, &["COPY", "s", "copy"]).await,
            Frame::Integer(1)
        );
        assert_eq!(
            call(&mut c, &["COPY", "s", "copy"]).await,
            Frame::Integer(0)
        );
        assert_eq!(groups(&mut c, "copy").await, vec![row("g", 1, 2, "2-0")]);
        let read = call(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "d", "STREAMS", "copy", ">"],
        )
        .await;
        assert_eq!(read_entries(&read, "copy").len(), 3);
        assert_eq!(
            call(&mut c, &["XACK", "copy", "g", "1-0"]).await,
            Frame::Integer(1)
        );
        call(&mut c, &["XGROUP", "CREATE", "copy", "only-in-copy", "$"]).await;
        call(&mut c, &["XADD", "copy", "9-0", "n", "9"]).await;
        assert_eq!(
            groups(&mut c, "copy").await,
            vec![row("g", 2, 4, "5-0"), row("only-in-copy", 0, 0, "5-0")]
        );
        assert_eq!(groups(&mut c, "s").await, vec![row("g", 1, 2, "2-0")]);
        assert_eq!(call(&mut c, &["XLEN", "s"]).await, Frame::Integer(5));
        let pending = call(&mut c, &["XPENDING", "s", "g"]).await;
        assert_eq!(
            pending,
            Frame::Array(vec![
                Frame::Integer(2),
                bulk("1-0"),
                bulk("2-0"),
                Frame::Array(vec![bulks(&["c", "2"])]),
            ])
        );
        // The original's consumer reads its history; the copy's acknowledgement is not its.
        let history = call(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"],
        )
        .await;
        assert_eq!(read_entries(&history, "s").len(), 2);
        assert_eq!(
            call(&mut c, &["XGROUP", "DESTROY", "copy", "g"]).await,
            Frame::Integer(1)
        );
        assert_eq!(groups(&mut c, "s").await, vec![row("g", 1, 2, "2-0")]);
        // COPY REPLACE puts the original's state back.
        assert_eq!(
            call(&mut c, &["COPY", "s", "copy", "REPLACE"]).await,
            Frame::Integer(1)
        );
        assert_eq!(groups(&mut c, "copy").await, vec![row("g", 1, 2, "2-0")]);
        assert_eq!(call(&mut c, &["XLEN", "copy"]).await, Frame::Integer(5));

        // RENAME moves the groups, also over a stream that had groups of its own.
        stream_with_group(&mut c, "target").await;
        call(&mut c, &["XGROUP", "CREATE", "target", "old", "0"]).await;
        assert_eq!(
            call(&mut c, &["RENAME", "copy", "target"]).await,
            Frame::ok()
        );
        assert_eq!(call(&mut c, &["EXISTS", "copy"]).await, Frame::Integer(0));
        assert_eq!(groups(&mut c, "target").await, vec![row("g", 1, 2, "2-0")]);
        assert_eq!(
            error(&call(&mut c, &["XINFO", "GROUPS", "copy"]).await),
            "ERR no such key"
        );
        let history = call(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "target", "0"],
        )
        .await;
        assert_eq!(read_entries(&history, "target").len(), 2);

        // DEL: a stream made again at the same key starts from nothing.
        assert_eq!(call(&mut c, &["DEL", "target"]).await, Frame::Integer(1));
        assert_eq!(
            call(&mut c, &["XADD", "target", "1-0", "n", "1"]).await,
            bulk("1-0")
        );
        assert_eq!(groups(&mut c, "target").await, vec![]);
        let nogroup = call(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "target", "0"],
        )
        .await;
        assert!(error(&nogroup).starts_with("NOGROUP"), "{nogroup:?}");
        call(&mut c, &["XGROUP", "CREATE", "target", "g", "0"]).await;
        assert_eq!(
            call(&mut c, &["XPENDING", "target", "g"]).await,
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::Null,
                Frame::Null,
                Frame::NullArray
            ])
        );
        let info = call(&mut c, &["XINFO", "CONSUMERS", "target", "g"]).await;
        assert_eq!(info, Frame::Array(vec![]));

        // EXPIRE: the stream and its groups go together.
        stream_with_group(&mut c, "short").await;
        assert_eq!(
            call(&mut c, &["EXPIRE", "short", "100"]).await,
            Frame::Integer(1)
        );
        assert!(matches!(call(&mut c, &["TTL", "short"]).await, Frame::Integer(t) if t > 90));
        // XADD, XREADGROUP and XACK keep the TTL.
        call(&mut c, &["XADD", "short", "7-0", "n", "7"]).await;
        call(&mut c, &["XACK", "short", "g", "1-0"]).await;
        assert!(matches!(call(&mut c, &["TTL", "short"]).await, Frame::Integer(t) if t > 90));
        assert_eq!(
            call(&mut c, &["PEXPIRE", "short", "20"]).await,
            Frame::Integer(1)
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while call(&mut c, &["EXISTS", "short"]).await != Frame::Integer(0) {
            assert!(Instant::now() < deadline, "the stream did not expire");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(call(&mut c, &["XLEN", "short"]).await, Frame::Integer(0));
        assert!(error(&call(&mut c, &["XPENDING", "short", "g"]).await).starts_with("NOGROUP"));
        assert_eq!(
            call(&mut c, &["XADD", "short", "1-0", "n", "1"]).await,
            bulk("1-0")
        );
        assert_eq!(groups(&mut c, "short").await, vec![]);
        assert_eq!(call(&mut c, &["TTL", "short"]).await, Frame::Integer(-1));

        // SCAN TYPE stream finds the streams, and only them (an empty stream is one too).
        call(&mut c, &["SET", "a-string", "x"]).await;
        call(&mut c, &["HSET", "a-hash", "f", "v"]).await;
        call(&mut c, &["XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"]).await;
        let mut found = BTreeSet::new();
        let mut cursor = "0".to_string();
        loop {
            let reply = call(&mut c, &["SCAN", &cursor, "TYPE", "stream", "COUNT", "3"]).await;
            let reply = items(&reply);
            found.extend(items(&reply[1]).iter().map(text));
            cursor = text(&reply[0]);
            if cursor == "0" {
                break;
            }
        }
        let expected: BTreeSet<String> = ["s", "target", "short", "empty"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(found, expected);
        assert_eq!(
            call(&mut c, &["TYPE", "empty"]).await,
            Frame::Simple("stream".into())
        );
        assert_eq!(
            call(&mut c, &["OBJECT", "ENCODING", "empty"]).await,
            bulk("stream")
        );
        assert_eq!(
            call(&mut c, &["DEL", "s", "empty", "a-string"]).await,
            Frame::Integer(3)
        );
        assert_eq!(
            call(&mut c, &["TYPE", "s"]).await,
            Frame::Simple("none".into())
        );
    });
}
