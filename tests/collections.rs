//! Collection commands at sizes, concurrency levels and life-cycle events the differential
//! scripts do not reach: long lists read near both ends, many clients writing one key at once,
//! kill -9 and restarts, and big collections deleted with their disk space coming back.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{bulk, call, multi_runtime, runtime, Kiwi};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

fn bulks(items: &[&str]) -> Frame {
    Frame::Array(items.iter().map(|s| bulk(s)).collect())
}

#[test]
fn a_100k_element_list_reads_and_writes_near_both_ends() {
    const N: usize = 100_000;
    const CHUNK: usize = 10_000;
    let kiwi = Kiwi::start(&[]);
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        // Pipelined in chunks, so neither side's socket buffer fills while the other waits.
        for start in (0..N).step_by(CHUNK) {
            for i in start..start + CHUNK {
                c.queue(&["LPUSH", "big", &format!("e{i}")]);
            }
            c.flush().await.unwrap();
            for i in start..start + CHUNK {
                assert_eq!(c.read_reply().await.unwrap(), Frame::Integer(i as i64 + 1));
            }
        }
        assert_eq!(
            call(&mut c, &["LLEN", "big"]).await,
            Frame::Integer(N as i64)
        );
        // LPUSH puts the last pushed element first.
        assert_eq!(call(&mut c, &["LINDEX", "big", "0"]).await, bulk("e99999"));
        assert_eq!(call(&mut c, &["LINDEX", "big", "1"]).await, bulk("e99998"));
        assert_eq!(call(&mut c, &["LINDEX", "big", "-1"]).await, bulk("e0"));
        assert_eq!(call(&mut c, &["LINDEX", "big", "-2"]).await, bulk("e1"));
        assert_eq!(
            call(&mut c, &["LINDEX", "big", "100000"]).await,
            Frame::Null
        );
        assert_eq!(
            call(&mut c, &["LSET", "big", "0", "first"]).await,
            Frame::ok()
        );
        assert_eq!(
            call(&mut c, &["LSET", "big", "-1", "last"]).await,
            Frame::ok()
        );
        assert_eq!(
            call(&mut c, &["LRANGE", "big", "0", "2"]).await,
            bulks(&["first", "e99998", "e99997"])
        );
        assert_eq!(
            call(&mut c, &["LRANGE", "big", "-3", "-1"]).await,
            bulks(&["e2", "e1", "last"])
        );
        assert_eq!(
            call(&mut c, &["LRANGE", "big", "49999", "50000"]).await,
            bulks(&["e50000", "e49999"])
        );
        // A range past the point-read threshold walks an iterator.
        let Frame::Array(items) = call(&mut c, &["LRANGE", "big", "-100", "-1"]).await else {
            panic!("LRANGE did not answer an array");
        };
        assert_eq!(items.len(), 100);
        assert_eq!(items[0], bulk("e99"));
        assert_eq!(items[98], bulk("e1"));
        assert_eq!(
            call(&mut c, &["RPOP", "big", "2"]).await,
            bulks(&["last", "e1"])
        );
        assert_eq!(call(&mut c, &["LPOP", "big"]).await, bulk("first"));
        assert_eq!(
            call(&mut c, &["LLEN", "big"]).await,
            Frame::Integer(N as i64 - 3)
        );
    });
}

#[test]
fn concurrent_pushers_and_poppers_lose_and_duplicate_nothing() {
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 20;
    const PER_ROUND: usize = 25;
    let kiwi = Kiwi::start(&[]);
    let rt = multi_runtime();
    let popped: Vec<Vec<String>> = rt.block_on(async {
        let mut tasks = Vec::new();
        for id in 0..CLIENTS {
            let addr = kiwi.addr();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(&addr).await.unwrap();
                let mut popped = Vec::new();
                for round in 0..ROUNDS {
                    for i in 0..PER_ROUND {
                        c.queue(&["RPUSH", "q", &format!("c{id}:{round}:{i}")]);
                        // Half the clients pop with a count, the others one at a time.
                        if id % 2 == 0 {
                            c.queue(&["LPOP", "q"]);
                        } else {
                            c.queue(&["LPOP", "q", "2"]);
                        }
                    }
                    c.flush().await.unwrap();
                    for _ in 0..PER_ROUND {
                        let pushed = c.read_reply().await.unwrap();
                        assert!(matches!(pushed, Frame::Integer(n) if n > 0), "{pushed:?}");
                        match c.read_reply().await.unwrap() {
                            Frame::Bulk(b) => popped.push(String::from_utf8(b.to_vec()).unwrap()),
                            Frame::Array(items) => {
                                for item in items {
                                    let Frame::Bulk(b) = item else {
                                        panic!("LPOP returned {item:?}");
                                    };
                                    popped.push(String::from_utf8(b.to_vec()).unwrap());
                                }
                            }
                            Frame::Null | Frame::NullArray => {}
                            other => panic!("LPOP returned {other:?}"),
                        }
                    }
                }
                popped
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.unwrap());
        }
        all
    });
    let (remaining, len) = rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        let list = call(&mut c, &["LRANGE", "q", "0", "-1"]).await;
        let len = call(&mut c, &["LLEN", "q"]).await;
        (list, len)
    });
    let Frame::Array(remaining) = remaining else {
        panic!("LRANGE returned {remaining:?}");
    };
    assert_eq!(len, Frame::Integer(remaining.len() as i64));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let left = remaining.into_iter().map(|f| match f {
        Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
        other => panic!("LRANGE item {other:?}"),
    });
    for value in popped.into_iter().flatten().chain(left) {
        *seen.entry(value).or_default() += 1;
    }
    for id in 0..CLIENTS {
        for round in 0..ROUNDS {
            for i in 0..PER_ROUND {
                let value = format!("c{id}:{round}:{i}");
                assert_eq!(
                    seen.remove(&value),
                    Some(1),
                    "{value} not seen exactly once"
                );
            }
        }
    }
    assert!(seen.is_empty(), "values nobody pushed: {seen:?}");
}

fn strings(frame: Frame) -> Vec<String> {
    match frame {
        Frame::Array(items) | Frame::Set(items) => items
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Writes one collection of each type (one with a TTL), for the restart tests.
async fn write_collections(c: &mut Client) {
    call(c, &["HSET", "h", "f1", "v1", "f2", "v2"]).await;
    call(c, &["SADD", "s", "a", "b", "c"]).await;
    call(c, &["RPUSH", "l", "x", "y", "z"]).await;
    call(c, &["LPUSH", "l", "w"]).await;
    call(c, &["ZADD", "z", "1.5", "m1", "-2", "m2", "inf", "m3"]).await;
    call(c, &["HSET", "ttl", "f", "v"]).await;
    call(c, &["EXPIRE", "ttl", "1000"]).await;
    call(c, &["SADD", "gone", "x"]).await;
    call(c, &["PEXPIRE", "gone", "200"]).await;
    call(c, &["PFADD", "hll", "a", "b", "c"]).await;
    call(c, &["SETBIT", "bits", "100", "1"]).await;
    call(c, &["GEOADD", "geo", "13.361389", "38.115556", "Palermo"]).await;
}

async fn check_collections(c: &mut Client) {
    assert_eq!(
        sorted(strings(call(c, &["HGETALL", "h"]).await)),
        ["f1", "f2", "v1", "v2"]
    );
    assert_eq!(
        sorted(strings(call(c, &["SMEMBERS", "s"]).await)),
        ["a", "b", "c"]
    );
    assert_eq!(
        strings(call(c, &["LRANGE", "l", "0", "-1"]).await),
        ["w", "x", "y", "z"]
    );
    assert_eq!(
        strings(call(c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]).await),
        ["m2", "-2", "m1", "1.5", "m3", "inf"]
    );
    assert_eq!(call(c, &["TYPE", "l"]).await, Frame::Simple("list".into()));
    assert_eq!(call(c, &["HLEN", "h"]).await, Frame::Integer(2));
    match call(c, &["TTL", "ttl"]).await {
        Frame::Integer(n) => assert!((990..=1000).contains(&n), "ttl {n}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(call(c, &["EXISTS", "gone"]).await, Frame::Integer(0));
    assert_eq!(call(c, &["PFCOUNT", "hll"]).await, Frame::Integer(3));
    assert_eq!(call(c, &["BITCOUNT", "bits"]).await, Frame::Integer(1));
    assert_eq!(call(c, &["GETBIT", "bits", "100"]).await, Frame::Integer(1));
    assert_eq!(
        strings(call(c, &["GEOHASH", "geo", "Palermo"]).await),
        ["sqc8b49rny0"]
    );
    assert_eq!(call(c, &["DBSIZE"]).await, Frame::Integer(8));
}

#[test]
fn every_collection_type_survives_restart_and_kill_9() {
    let mut kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        write_collections(&mut c).await;
    });
    assert!(kiwi.terminate().success());
    std::thread::sleep(Duration::from_millis(300));
    let mut kiwi = kiwi.restart();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        check_collections(&mut c).await;
        // Acknowledged changes made after the restart survive a kill -9 too.
        call(&mut c, &["HSET", "h", "f3", "v3"]).await;
        call(&mut c, &["HDEL", "h", "f3"]).await;
        call(&mut c, &["SREM", "s", "zz"]).await;
    });
    kiwi.kill9();
    let kiwi = kiwi.restart();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        check_collections(&mut c).await;
    });
}

#[test]
fn deleting_a_big_collection_is_instant_and_its_space_comes_back() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    const FIELDS: usize = 200_000;
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        let value = "v".repeat(100);
        for chunk in (0..FIELDS).collect::<Vec<_>>().chunks(1000) {
            let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
            for i in chunk {
                args.push(format!("field:{i}"));
                args.push(value.clone());
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            c.queue(&refs);
        }
        c.flush().await.unwrap();
        for _ in 0..FIELDS / 1000 {
            assert!(!c.read_reply().await.unwrap().is_error());
        }
        assert_eq!(
            call(&mut c, &["HLEN", "big"]).await,
            Frame::Integer(FIELDS as i64)
        );
    });
    let full = dir_size(&kiwi.dir);
    assert!(
        full > 20 << 20,
        "200k x 100 B should take > 20 MB, took {full}"
    );
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut c, &["DEL", "big"]).await, Frame::Integer(1));
        // The key is gone at once, and a new key of the same name starts empty.
        assert_eq!(call(&mut c, &["HLEN", "big"]).await, Frame::Integer(0));
        call(&mut c, &["HSET", "big", "only", "1"]).await;
        assert_eq!(call(&mut c, &["HLEN", "big"]).await, Frame::Integer(1));
        assert_eq!(strings(call(&mut c, &["HKEYS", "big"]).await), ["only"]);
    });
    // The background reclaim compacts the deleted range; generous bound, measured in the docs.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = dir_size(&kiwi.dir);
        if now < full / 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "disk still {now} bytes a minute after deleting ({full} before)"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn overwriting_or_expiring_a_collection_leaves_no_members_behind() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["SADD", "k", "a", "b", "c"]).await;
        call(&mut c, &["SET", "k", "string now"]).await;
        call(&mut c, &["DEL", "k"]).await;
        call(&mut c, &["SADD", "k", "d"]).await;
        assert_eq!(strings(call(&mut c, &["SMEMBERS", "k"]).await), ["d"]);

        call(&mut c, &["HSET", "e", "f1", "1", "f2", "2"]).await;
        call(&mut c, &["PEXPIRE", "e", "50"]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Expired but maybe not swept yet: a write starts a fresh hash.
        assert_eq!(
            call(&mut c, &["HSET", "e", "f3", "3"]).await,
            Frame::Integer(1)
        );
        assert_eq!(strings(call(&mut c, &["HKEYS", "e"]).await), ["f3"]);
        assert_eq!(call(&mut c, &["TTL", "e"]).await, Frame::Integer(-1));

        call(&mut c, &["SADD", "src", "1", "2"]).await;
        call(&mut c, &["HSET", "dst", "old", "x"]).await;
        call(&mut c, &["RENAME", "src", "dst"]).await;
        assert_eq!(
            sorted(strings(call(&mut c, &["SMEMBERS", "dst"]).await)),
            ["1", "2"]
        );
        call(&mut c, &["SADD", "src", "3"]).await;
        assert_eq!(strings(call(&mut c, &["SMEMBERS", "src"]).await), ["3"]);
    });
}

#[test]
fn parallel_clients_on_the_same_collections_keep_their_invariants() {
    let kiwi = Kiwi::start(&[]);
    let rt = multi_runtime();
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 300;
    rt.block_on(async {
        let mut tasks = Vec::new();
        for id in 0..CLIENTS {
            let addr = kiwi.addr();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(&addr).await.unwrap();
                for i in 0..ROUNDS {
                    let field = format!("f{}", i % 10);
                    let member = format!("c{id}:{i}");
                    c.queue(&["HINCRBY", "counters", &field, "1"]);
                    c.queue(&["ZINCRBY", "board", "1", &field]);
                    c.queue(&["SADD", "members", &member]);
                    c.queue(&["RPUSH", "queue", &member]);
                    if i % 2 == 1 {
                        c.queue(&["SREM", "members", &member]);
                        c.queue(&["LPOP", "queue"]);
                    }
                }
                c.flush().await.unwrap();
                let replies = ROUNDS * 4 + ROUNDS / 2 * 2;
                for _ in 0..replies {
                    let reply = c.read_reply().await.unwrap();
                    assert!(!reply.is_error(), "{reply:?}");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        let values = strings(call(&mut c, &["HVALS", "counters"]).await);
        let total: usize = values.iter().map(|v| v.parse::<usize>().unwrap()).sum();
        assert_eq!(total, CLIENTS * ROUNDS);
        // The sorted set saw the same increments, and its score index agrees with its members.
        let board = strings(call(&mut c, &["ZRANGE", "board", "0", "-1", "WITHSCORES"]).await);
        let scores: Vec<usize> = board
            .iter()
            .skip(1)
            .step_by(2)
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(scores, vec![CLIENTS * ROUNDS / 10; 10]);
        assert_eq!(
            call(&mut c, &["ZCOUNT", "board", "-inf", "+inf"]).await,
            Frame::Integer(10)
        );
        assert_eq!(
            call(&mut c, &["SCARD", "members"]).await,
            Frame::Integer((CLIENTS * ROUNDS / 2) as i64)
        );
        let members = strings(call(&mut c, &["SMEMBERS", "members"]).await);
        assert!(members.iter().all(|m| {
            let i: usize = m.rsplit(':').next().unwrap().parse().unwrap();
            i % 2 == 0
        }));
        // Every push and pop happened exactly once: the length is the difference, and the
        // elements still queued are distinct.
        let queued = strings(call(&mut c, &["LRANGE", "queue", "0", "-1"]).await);
        assert_eq!(queued.len(), CLIENTS * ROUNDS / 2);
        let mut distinct = queued.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), queued.len());
    });
}

/// MEMORY USAGE follows what a key holds: every member adds its bytes, an expiry adds its index
/// row, and a sampled estimate of a uniform collection is the exact figure.
#[test]
fn memory_usage_grows_with_the_data() {
    let kiwi = Kiwi::start(&[]);
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        let usage = |reply: Frame| match reply {
            Frame::Integer(n) => n,
            other => panic!("MEMORY USAGE: {other:?}"),
        };
        call(&mut c, &["SET", "s", "0123456789"]).await;
        let string = usage(call(&mut c, &["MEMORY", "USAGE", "s"]).await);
        call(&mut c, &["SET", "s2", &"x".repeat(1000)]).await;
        let long = usage(call(&mut c, &["MEMORY", "USAGE", "s2"]).await);
        assert!(long >= string + 990, "{string} then {long}");
        call(&mut c, &["EXPIRE", "s", "100"]).await;
        assert!(usage(call(&mut c, &["MEMORY", "USAGE", "s"]).await) > string);
        for n in 0..1000 {
            let field = format!("field:{n:04}");
            call(&mut c, &["HSET", "h", &field, "value"]).await;
            if n == 9 {
                let ten = usage(call(&mut c, &["MEMORY", "USAGE", "h"]).await);
                assert!(ten > 10 * 10, "{ten}");
            }
        }
        let all = usage(call(&mut c, &["MEMORY", "USAGE", "h", "SAMPLES", "0"]).await);
        let sampled = usage(call(&mut c, &["MEMORY", "USAGE", "h"]).await);
        assert!(all > 1000 * 15, "{all}");
        assert_eq!(sampled, all, "uniform members: the estimate is exact");
        call(&mut c, &["ZADD", "z", "1", "m"]).await;
        call(&mut c, &["SADD", "set", "m"]).await;
        let (z, set) = (
            usage(call(&mut c, &["MEMORY", "USAGE", "z"]).await),
            usage(call(&mut c, &["MEMORY", "USAGE", "set"]).await),
        );
        assert!(
            z > set,
            "a sorted set also has its score index: {z} vs {set}"
        );
        assert_eq!(
            call(&mut c, &["MEMORY", "USAGE", "nokey"]).await,
            Frame::Null
        );
    });
}
