//! Transactions under concurrency: optimistic locking with WATCH from many clients at once, and
//! EXEC's atomicity against other clients' writes.

mod common;

use common::{bulk, call, multi_runtime, Kiwi};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

/// 20 clients each add 1 to a counter 50 times with WATCH/GET/MULTI/SET/EXEC, retrying when EXEC
/// aborts: the final value is exact, so no two transactions ever read the same value and both won.
#[test]
fn watch_based_counter_from_20_clients_ends_exactly_right() {
    let kiwi = Kiwi::start(&[]);
    let rt = multi_runtime();
    const CLIENTS: usize = 20;
    const ROUNDS: usize = 50;
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let addr = kiwi.addr();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(&addr).await.unwrap();
                let mut aborted = 0;
                for _ in 0..ROUNDS {
                    loop {
                        call(&mut c, &["WATCH", "counter"]).await;
                        let current = match call(&mut c, &["GET", "counter"]).await {
                            Frame::Bulk(b) => String::from_utf8_lossy(&b).parse::<u64>().unwrap(),
                            _ => 0,
                        };
                        let next = (current + 1).to_string();
                        call(&mut c, &["MULTI"]).await;
                        call(&mut c, &["SET", "counter", &next]).await;
                        match call(&mut c, &["EXEC"]).await {
                            Frame::Array(replies) => {
                                assert_eq!(replies, vec![Frame::ok()]);
                                break;
                            }
                            Frame::NullArray => aborted += 1,
                            other => panic!("EXEC answered {other:?}"),
                        }
                    }
                }
                aborted
            }));
        }
        let mut aborted = 0;
        for t in tasks {
            aborted += t.await.unwrap();
        }
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(&mut c, &["GET", "counter"]).await,
            bulk(&(CLIENTS * ROUNDS).to_string())
        );
        // With 20 clients racing, some transactions must have lost and retried.
        assert!(
            aborted > 0,
            "no EXEC was ever aborted: WATCH is not doing anything"
        );
    });
}

/// A transaction moving value between two keys keeps their sum constant for every reader
/// transaction, even when it commits part of its writes early (a command in the middle iterates
/// over a set) — its keys stay locked until EXEC ends, so nobody sees half of it.
#[test]
fn exec_is_atomic_for_other_transactions() {
    let kiwi = Kiwi::start(&[]);
    let rt = multi_runtime();
    rt.block_on(async {
        let mut setup = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut setup, &["MSET", "left", "1000", "right", "1000"]).await;
        call(&mut setup, &["SADD", "audit", "a", "b", "c"]).await;
        let mut tasks = Vec::new();
        for id in 0..6 {
            let addr = kiwi.addr();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(&addr).await.unwrap();
                for i in 0..200 {
                    let replies = if id % 2 == 0 {
                        let (from, to) = if i % 2 == 0 {
                            ("left", "right")
                        } else {
                            ("right", "left")
                        };
                        let member = format!("{id}:{i}");
                        vec![
                            vec!["MULTI"],
                            vec!["DECRBY", from, "7"],
                            vec!["SADD", "audit", member.as_str()],
                            vec!["SMEMBERS", "audit"],
                            vec!["INCRBY", to, "7"],
                            vec!["EXEC"],
                        ]
                        .into_iter()
                        .map(|cmd| cmd.into_iter().map(String::from).collect::<Vec<_>>())
                        .collect::<Vec<_>>()
                    } else {
                        [
                            ["MULTI", ""],
                            ["GET", "left"],
                            ["GET", "right"],
                            ["EXEC", ""],
                        ]
                        .iter()
                        .map(|cmd| {
                            cmd.iter()
                                .filter(|a| !a.is_empty())
                                .map(|a| a.to_string())
                                .collect()
                        })
                        .collect()
                    };
                    for cmd in &replies {
                        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
                        c.queue(&args);
                    }
                    c.flush().await.unwrap();
                    let mut last = Frame::Null;
                    for _ in 0..replies.len() {
                        last = c.read_reply().await.unwrap();
                        assert!(!last.is_error(), "{last:?}");
                    }
                    if id % 2 == 1 {
                        let Frame::Array(values) = last else {
                            panic!("EXEC answered {last:?}")
                        };
                        let sum: i64 = values
                            .iter()
                            .map(|v| match v {
                                Frame::Bulk(b) => {
                                    String::from_utf8_lossy(b).parse::<i64>().unwrap()
                                }
                                other => panic!("{other:?}"),
                            })
                            .sum();
                        assert_eq!(sum, 2000, "a reader saw half a transaction");
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            call(&mut setup, &["SCARD", "audit"]).await,
            Frame::Integer(3 + 3 * 200)
        );
    });
}

/// A WATCH that registers while another transaction that writes the key is still running (its
/// write made but not yet committed) must see that write. The watcher reads the key after WATCH
/// and, if it read the old value, its transaction may only commit if it comes before the
/// writer's (the writer's value then wins): ending with the watcher's value after reading the old
/// one is a lost update. Watchers used to be flagged when the write was made rather than when it
/// was committed, and a WATCH in between missed it.
#[test]
fn watch_during_a_running_transaction_sees_its_write() {
    let kiwi = Kiwi::start(&[]);
    let rt = multi_runtime();
    rt.block_on(async {
        let mut inside = 0;
        for round in 0..30 {
            let mut writer = Client::connect(&kiwi.addr()).await.unwrap();
            let mut watcher = Client::connect(&kiwi.addr()).await.unwrap();
            call(&mut watcher, &["SET", "k", "old"]).await;
            // A long transaction: its SET runs first, then many more commands before it commits.
            writer.queue(&["MULTI"]);
            writer.queue(&["SET", "k", "new"]);
            for i in 0..20_000 {
                writer.queue(&["SADD", "filler", &i.to_string()]);
            }
            writer.queue(&["EXEC"]);
            writer.flush().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(round)).await;
            call(&mut watcher, &["WATCH", "k"]).await;
            let read = call(&mut watcher, &["GET", "k"]).await;
            call(&mut watcher, &["MULTI"]).await;
            call(&mut watcher, &["SET", "k", "mine"]).await;
            let exec = call(&mut watcher, &["EXEC"]).await;
            for _ in 0..20_003 {
                writer.read_reply().await.unwrap();
            }
            let last = call(&mut watcher, &["GET", "k"]).await;
            if read == bulk("old") && exec != Frame::NullArray {
                assert_eq!(
                    last,
                    bulk("new"),
                    "round {round}: a transaction that read the value from before another's \
                     commit ran after it"
                );
            }
            if read == bulk("old") && exec == Frame::NullArray {
                inside += 1;
            }
            call(&mut watcher, &["DEL", "filler"]).await;
        }
        assert!(
            inside > 0,
            "no WATCH ever landed inside the running transaction"
        );
    });
}
