//! Blocking pops with real concurrency: a BLPOP work queue with several producers and consumers
//! loses and duplicates nothing, pushes wake blocked clients (also through MULTI/EXEC, LMOVE and
//! RENAME), timeouts return nil, and a key's type changing keeps the waiter blocked.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{bulk, call, multi_runtime, runtime, Kiwi};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

#[test]
fn blpop_work_queue_with_several_producers_and_consumers_loses_nothing() {
    let kiwi = Kiwi::start(&[]);
    let rt = multi_runtime();
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    const ITEMS: usize = 500;
    rt.block_on(async {
        let mut consumers = Vec::new();
        for _ in 0..CONSUMERS {
            let addr = kiwi.addr();
            consumers.push(tokio::spawn(async move {
                let mut c = Client::connect(&addr).await.unwrap();
                let mut got = Vec::new();
                loop {
                    match call(&mut c, &["BLPOP", "jobs", "1"]).await {
                        Frame::Array(pair) => match &pair[1] {
                            Frame::Bulk(b) if b.as_ref() == b"stop" => break,
                            Frame::Bulk(b) => got.push(String::from_utf8_lossy(b).into_owned()),
                            other => panic!("{other:?}"),
                        },
                        Frame::NullArray => {}
                        other => panic!("BLPOP answered {other:?}"),
                    }
                }
                got
            }));
        }
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let addr = kiwi.addr();
            producers.push(tokio::spawn(async move {
                let mut c = Client::connect(&addr).await.unwrap();
                for i in 0..ITEMS {
                    let item = format!("{p}:{i}");
                    call(&mut c, &["RPUSH", "jobs", &item]).await;
                }
            }));
        }
        for p in producers {
            p.await.unwrap();
        }
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        for _ in 0..CONSUMERS {
            call(&mut c, &["RPUSH", "jobs", "stop"]).await;
        }
        let mut all = Vec::new();
        for consumer in consumers {
            all.extend(consumer.await.unwrap());
        }
        let distinct: HashSet<&String> = all.iter().collect();
        assert_eq!(all.len(), PRODUCERS * ITEMS, "items lost or duplicated");
        assert_eq!(distinct.len(), PRODUCERS * ITEMS);
        assert_eq!(call(&mut c, &["LLEN", "jobs"]).await, Frame::Integer(0));
    });
}

/// Starts `command` on its own connection and returns its reply once it arrives.
fn blocked(addr: String, command: &'static [&'static str]) -> tokio::task::JoinHandle<Frame> {
    tokio::spawn(async move {
        let mut c = Client::connect(&addr).await.unwrap();
        call(&mut c, command).await
    })
}

#[test]
fn writes_of_every_kind_wake_blocked_clients_and_timeouts_return_nil() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        let settle = || tokio::time::sleep(Duration::from_millis(100));

        // A push inside MULTI/EXEC.
        let waiter = blocked(kiwi.addr(), &["BLPOP", "q1", "5"]);
        settle().await;
        for cmd in [&["MULTI"][..], &["RPUSH", "q1", "a"], &["EXEC"]] {
            call(&mut c, cmd).await;
        }
        assert_eq!(
            waiter.await.unwrap(),
            Frame::Array(vec![bulk("q1"), bulk("a")])
        );

        // LMOVE into the key, and BLMOVE on the waiting side.
        let waiter = blocked(kiwi.addr(), &["BLMOVE", "q2", "out", "LEFT", "RIGHT", "5"]);
        settle().await;
        call(&mut c, &["RPUSH", "src", "b"]).await;
        call(&mut c, &["LMOVE", "src", "q2", "LEFT", "LEFT"]).await;
        assert_eq!(waiter.await.unwrap(), bulk("b"));
        assert_eq!(
            call(&mut c, &["LRANGE", "out", "0", "-1"]).await,
            Frame::Array(vec![bulk("b")])
        );

        // RENAME onto the key.
        let waiter = blocked(kiwi.addr(), &["BRPOP", "q3", "5"]);
        settle().await;
        call(&mut c, &["RPUSH", "tmp", "c"]).await;
        call(&mut c, &["RENAME", "tmp", "q3"]).await;
        assert_eq!(
            waiter.await.unwrap(),
            Frame::Array(vec![bulk("q3"), bulk("c")])
        );

        // A sorted set.
        let waiter = blocked(kiwi.addr(), &["BZPOPMIN", "z", "5"]);
        settle().await;
        call(&mut c, &["ZADD", "z", "2", "m"]).await;
        assert_eq!(
            waiter.await.unwrap(),
            Frame::Array(vec![bulk("z"), bulk("m"), bulk("2")])
        );

        // The key becoming a string keeps the client blocked until the timeout.
        let started = Instant::now();
        let waiter = blocked(kiwi.addr(), &["BLPOP", "q4", "0.5"]);
        settle().await;
        call(&mut c, &["SET", "q4", "not a list"]).await;
        assert_eq!(waiter.await.unwrap(), Frame::NullArray);
        assert!(started.elapsed() >= Duration::from_millis(450));

        // A destination of the wrong type answers the served client with WRONGTYPE, as Redis
        // does, and the element stays in the source.
        call(&mut c, &["SET", "notalist", "x"]).await;
        let waiter = blocked(kiwi.addr(), &["BRPOPLPUSH", "q5", "notalist", "5"]);
        settle().await;
        call(&mut c, &["RPUSH", "q5", "kept"]).await;
        assert!(
            matches!(waiter.await.unwrap(), Frame::Error(e) if e.starts_with("WRONGTYPE")),
            "the blocked BRPOPLPUSH got no WRONGTYPE"
        );
        assert_eq!(
            call(&mut c, &["LRANGE", "q5", "0", "-1"]).await,
            Frame::Array(vec![bulk("kept")])
        );

        // First come, first served.
        let first = blocked(kiwi.addr(), &["BLPOP", "fifo", "5"]);
        settle().await;
        let second = blocked(kiwi.addr(), &["BLPOP", "fifo", "5"]);
        settle().await;
        call(&mut c, &["RPUSH", "fifo", "1"]).await;
        assert_eq!(
            first.await.unwrap(),
            Frame::Array(vec![bulk("fifo"), bulk("1")])
        );
        call(&mut c, &["RPUSH", "fifo", "2"]).await;
        assert_eq!(
            second.await.unwrap(),
            Frame::Array(vec![bulk("fifo"), bulk("2")])
        );
    });
}

#[test]
fn client_unblock_releases_a_blocked_client_with_nil_or_an_error() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        for (reason, expected) in [
            ("TIMEOUT", Frame::NullArray),
            (
                "ERROR",
                Frame::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK".into()),
            ),
        ] {
            let mut waiter = Client::connect(&kiwi.addr()).await.unwrap();
            let Frame::Integer(id) = call(&mut waiter, &["CLIENT", "ID"]).await else {
                panic!("CLIENT ID")
            };
            let blocked =
                tokio::spawn(async move { call(&mut waiter, &["BLPOP", "never", "0"]).await });
            tokio::time::sleep(Duration::from_millis(100)).await;
            let Frame::Bulk(info) = call(&mut c, &["INFO", "clients"]).await else {
                panic!("INFO")
            };
            assert!(String::from_utf8_lossy(&info).contains("blocked_clients:1"));
            let id = id.to_string();
            assert_eq!(
                call(&mut c, &["CLIENT", "UNBLOCK", &id, reason]).await,
                Frame::Integer(1)
            );
            assert_eq!(blocked.await.unwrap(), expected);
            assert_eq!(
                call(&mut c, &["CLIENT", "UNBLOCK", &id]).await,
                Frame::Integer(0),
                "a client that is not blocked is not released"
            );
        }
    });
}

/// INFO clients' `connected_clients` and `blocked_clients`.
async fn client_counts(c: &mut Client) -> (u64, u64) {
    let Frame::Bulk(info) = call(c, &["INFO", "clients"]).await else {
        panic!("INFO clients is not a bulk string")
    };
    let text = String::from_utf8_lossy(&info);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in INFO clients"))
    };
    (field("connected_clients:"), field("blocked_clients:"))
}

/// A client that hangs up while blocked (timeout 0) is gone at once, as in Redis: it leaves no
/// blocked client, connection or waiter behind, and a push afterwards stays in the list.
#[test]
fn a_blocked_client_that_hangs_up_is_gone() {
    let kiwi = Kiwi::start(&[]);
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        let mut waiter = Client::connect(&kiwi.addr()).await.unwrap();
        waiter.queue(&["BLPOP", "hangup", "0"]);
        waiter.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(client_counts(&mut c).await, (2, 1));
        drop(waiter);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = client_counts(&mut c).await;
            if now == (1, 0) {
                break;
            }
            assert!(Instant::now() < deadline, "still {now:?} after the hang-up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        call(&mut c, &["RPUSH", "hangup", "kept"]).await;
        assert_eq!(
            call(&mut c, &["LRANGE", "hangup", "0", "-1"]).await,
            Frame::Array(vec![bulk("kept")])
        );
    });
}

/// CLIENT PAUSE WRITE holds back writes and what may reach replicas (PUBLISH, PFCOUNT), and
/// the held clients count as blocked, as in Redis; reads go on.
#[test]
fn paused_clients_count_as_blocked() {
    let kiwi = Kiwi::start(&[]);
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["PFADD", "hll", "a"]).await;
        call(&mut c, &["CLIENT", "PAUSE", "60000", "WRITE"]).await;
        let mut held = Vec::new();
        for command in [
            &["SET", "k", "v"][..],
            &["PFCOUNT", "hll"],
            &["PUBLISH", "ch", "m"],
        ] {
            let mut other = Client::connect(&kiwi.addr()).await.unwrap();
            other.queue(command);
            other.flush().await.unwrap();
            held.push(other);
        }
        // A transaction that writes is queued, and its EXEC held.
        let mut transaction = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut transaction, &["MULTI"]).await, Frame::ok());
        let queued = call(&mut transaction, &["SET", "t", "v"]).await;
        assert_eq!(queued, Frame::Simple("QUEUED".into()));
        transaction.queue(&["EXEC"]);
        transaction.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(call(&mut c, &["GET", "k"]).await, Frame::Null);
        assert_eq!(client_counts(&mut c).await.1, 4);
        call(&mut c, &["CLIENT", "UNPAUSE"]).await;
        let mut replies = Vec::new();
        for other in &mut held {
            replies.push(other.read_reply().await.unwrap());
        }
        assert_eq!(
            replies,
            vec![Frame::ok(), Frame::Integer(1), Frame::Integer(0)]
        );
        assert_eq!(
            transaction.read_reply().await.unwrap(),
            Frame::Array(vec![Frame::ok()])
        );
        assert_eq!(client_counts(&mut c).await.1, 0);
    });
}
