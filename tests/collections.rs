//! Collection commands at sizes and concurrency levels the differential scripts do not reach:
//! long lists read near both ends, and many clients pushing and popping one key at once.

mod common;

use std::collections::HashMap;

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
