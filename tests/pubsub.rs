//! Pub/sub between connections: the same conversation replayed on kiwi and redis-server gives the
//! same bytes; many subscribers get every message in order; RESP3 pushes interleave with replies;
//! a subscriber that stops reading is disconnected by the output buffer limits while the server's
//! memory stays bounded; redis-cli works as a subscriber. `pubsub_throughput` (ignored) measures
//! delivered messages per second against redis-server.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{bulk, call, Kiwi, Redis};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

/// Sends one command without reading anything back.
async fn send(client: &mut Client, args: &[&str]) {
    client.queue(args);
    client.flush().await.expect("send");
}

/// Reads `n` replies or messages and returns their wire bytes.
async fn wire(client: &mut Client, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (_, bytes) =
            tokio::time::timeout(Duration::from_secs(10), client.read_reply_with_bytes())
                .await
                .expect("a reply within 10 s")
                .expect("read");
        out.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    out
}

/// Sends a command and reads the `n` frames it produces.
async fn exchange(client: &mut Client, args: &[&str], n: usize) -> Vec<String> {
    send(client, args).await;
    wire(client, n).await
}

/// The `flags`, `sub`, `psub` and `ssub` fields of one client's CLIENT LIST line.
fn pubsub_fields(list: &Frame, id: i64) -> String {
    let (Frame::Bulk(text) | Frame::Verbatim(text)) = list else {
        panic!("CLIENT LIST returned {list:?}")
    };
    let text = String::from_utf8_lossy(text);
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("client {id} not in {text}"));
    line.split(' ')
        .filter(|f| {
            ["flags=", "sub=", "psub=", "ssub="]
                .iter()
                .any(|p| f.starts_with(p))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sends an unsubscribe command without arguments and sums up its `n` confirmations: Redis
/// answers in hash order, so the names are sorted, the counts (falling one by one) are not.
async fn leave_all(client: &mut Client, command: &str, n: usize) -> String {
    send(client, &[command]).await;
    let mut names = Vec::new();
    let mut counts = Vec::new();
    for _ in 0..n {
        let (frame, wire) = client.read_reply_with_bytes().await.expect("read");
        let (Frame::Array(items) | Frame::Push(items)) = frame else {
            panic!("{frame:?}")
        };
        names.push(format!("{:?} {:?}", wire[0] as char, &items[..2]));
        counts.push(items[2].clone());
    }
    names.sort();
    format!("{names:?} {counts:?}")
}

/// Waits until nobody listens to `channel` any more (a disconnected subscriber leaves the broker
/// when its connection task ends, an instant after the kill).
async fn until_unsubscribed(p: &mut Client, channel: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while call(p, &["PUBSUB", "NUMSUB", channel]).await
        != Frame::Array(vec![bulk(channel), Frame::Integer(0)])
    {
        assert!(
            Instant::now() < deadline,
            "{channel} still has a subscriber"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One conversation between two subscribers (RESP2 and RESP3) and a publisher, as a transcript
/// of wire bytes. Groups Redis answers in hash order are sorted.
async fn conversation(addr: &str) -> Vec<String> {
    let mut s1 = Client::connect(addr).await.unwrap();
    let mut s2 = Client::connect(addr).await.unwrap();
    let mut p = Client::connect(addr).await.unwrap();
    let mut t = Vec::new();
    let Frame::Integer(s1_id) = call(&mut s1, &["CLIENT", "ID"]).await else {
        panic!()
    };
    assert!(matches!(
        call(&mut s2, &["HELLO", "3"]).await,
        Frame::Map(_)
    ));

    t.extend(exchange(&mut s1, &["SUBSCRIBE", "a", "b", "c"], 3).await);
    t.extend(exchange(&mut s1, &["PSUBSCRIBE", "a*", "?x"], 2).await);
    t.extend(exchange(&mut s1, &["SSUBSCRIBE", "a"], 1).await);
    t.extend(exchange(&mut s2, &["SUBSCRIBE", "a"], 1).await);
    t.extend(exchange(&mut s2, &["PSUBSCRIBE", "*"], 1).await);
    t.push(pubsub_fields(
        &call(&mut p, &["CLIENT", "LIST"]).await,
        s1_id,
    ));

    t.extend(exchange(&mut p, &["PUBLISH", "a", "m1"], 1).await);
    t.extend(exchange(&mut p, &["PUBLISH", "bx", "m2"], 1).await);
    t.extend(exchange(&mut p, &["SPUBLISH", "a", "m3"], 1).await);
    t.extend(exchange(&mut p, &["PUBLISH", "zz", ""], 1).await);
    t.extend(exchange(&mut p, &["PUBSUB", "NUMSUB", "a", "b", "c", "d"], 1).await);
    t.extend(exchange(&mut p, &["PUBSUB", "NUMPAT"], 1).await);
    t.extend(exchange(&mut p, &["PUBSUB", "SHARDNUMSUB", "a"], 1).await);
    t.extend(wire(&mut s1, 4).await);
    t.extend(wire(&mut s2, 4).await);

    // A RESP3 subscriber publishing to itself gets its messages before PUBLISH's reply.
    t.extend(exchange(&mut s2, &["PUBLISH", "a", "self"], 3).await);
    t.extend(wire(&mut s1, 2).await);
    t.extend(exchange(&mut s2, &["GET", "nosuch"], 1).await);
    t.extend(exchange(&mut s2, &["PING"], 1).await);
    t.extend(exchange(&mut s1, &["PING"], 1).await);

    t.extend(exchange(&mut s1, &["UNSUBSCRIBE", "b", "nosuch"], 2).await);
    t.push(leave_all(&mut s1, "PUNSUBSCRIBE", 2).await);
    t.push(leave_all(&mut s1, "UNSUBSCRIBE", 2).await);
    t.extend(exchange(&mut s1, &["GET", "x"], 1).await);
    t.extend(exchange(&mut s1, &["SUNSUBSCRIBE"], 1).await);
    t.extend(exchange(&mut s1, &["GET", "x"], 1).await);
    t.push(pubsub_fields(
        &call(&mut p, &["CLIENT", "LIST"]).await,
        s1_id,
    ));

    // Back to RESP2 while subscribed: messages become arrays, other commands are refused.
    assert!(matches!(
        call(&mut s2, &["HELLO", "2"]).await,
        Frame::Array(_)
    ));
    t.extend(exchange(&mut s2, &["GET", "x"], 1).await);
    t.extend(exchange(&mut p, &["PUBLISH", "a", "m4"], 1).await);
    t.extend(wire(&mut s2, 2).await);
    t.extend(exchange(&mut s2, &["RESET"], 1).await);
    t.extend(exchange(&mut p, &["PUBSUB", "NUMSUB", "a"], 1).await);
    t.extend(exchange(&mut p, &["PUBSUB", "NUMPAT"], 1).await);
    t.extend(exchange(&mut p, &["PUBSUB", "CHANNELS"], 1).await);
    t
}

#[test]
fn conversations_match_redis_byte_for_byte() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    let rt = common::runtime();
    let expected = rt.block_on(conversation(&redis.addr()));
    let got = rt.block_on(conversation(&kiwi.addr()));
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(e, g, "step {i} differs (redis left, kiwi right)");
    }
    assert_eq!(expected.len(), got.len());
}

/// Reads messages until `n` arrived, returning (channel or pattern kind, channel, payload).
async fn messages(client: &mut Client, n: usize) -> Vec<(String, String, String)> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let frame = tokio::time::timeout(Duration::from_secs(30), client.read_reply())
            .await
            .expect("messages keep coming")
            .expect("read");
        let (Frame::Array(items) | Frame::Push(items)) = frame else {
            panic!("not a message: {frame:?}")
        };
        let text: Vec<String> = items
            .iter()
            .map(|i| match i {
                Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                other => format!("{other:?}"),
            })
            .collect();
        match text[0].as_str() {
            "message" => out.push((text[0].clone(), text[1].clone(), text[2].clone())),
            "pmessage" => out.push((text[0].clone(), text[2].clone(), text[3].clone())),
            other => panic!("unexpected {other}"),
        }
    }
    out
}

/// Checks that the payloads of `channel` in `got` are 0, 1, 2, ... `n - 1` (each `copies` times).
fn in_order(got: &[(String, String, String)], channel: &str, n: usize, copies: usize) {
    let payloads: Vec<usize> = got
        .iter()
        .filter(|(_, c, _)| c == channel)
        .map(|(_, _, p)| p.parse().unwrap())
        .collect();
    let expected: Vec<usize> = (0..n)
        .flat_map(|i| std::iter::repeat_n(i, copies))
        .collect();
    assert!(
        payloads == expected,
        "{channel}: messages lost or out of order"
    );
}

#[test]
fn every_subscriber_gets_every_message_in_order() {
    const N: usize = 20_000;
    let kiwi = Kiwi::start(&[]);
    let addr = kiwi.addr();
    let rt = common::multi_runtime();
    rt.block_on(async {
        let mut a = Client::connect(&addr).await.unwrap();
        let mut b = Client::connect(&addr).await.unwrap();
        let mut c = Client::connect(&addr).await.unwrap();
        exchange(&mut a, &["SUBSCRIBE", "ch.1"], 1).await;
        exchange(&mut b, &["PSUBSCRIBE", "ch.*"], 1).await;
        exchange(&mut c, &["SUBSCRIBE", "ch.1"], 1).await;
        exchange(&mut c, &["PSUBSCRIBE", "ch.?"], 1).await;
        let publisher = |channel: &'static str| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let mut p = Client::connect(&addr).await.unwrap();
                let mut receivers = 0;
                for batch in 0..N / 100 {
                    for i in 0..100 {
                        let payload = (batch * 100 + i).to_string();
                        p.queue(&["PUBLISH", channel, &payload]);
                    }
                    p.flush().await.unwrap();
                    for _ in 0..100 {
                        let Frame::Integer(n) = p.read_reply().await.unwrap() else {
                            panic!()
                        };
                        receivers += n as usize;
                    }
                }
                receivers
            })
        };
        let (p1, p2) = (publisher("ch.1"), publisher("ch.2"));
        let (ra, rb, rc) = tokio::join!(
            messages(&mut a, N),
            messages(&mut b, 2 * N),
            messages(&mut c, 3 * N)
        );
        // ch.1 reaches a, b (pattern), c twice (channel and pattern); ch.2 reaches b and c.
        assert_eq!(p1.await.unwrap(), 4 * N);
        assert_eq!(p2.await.unwrap(), 2 * N);
        in_order(&ra, "ch.1", N, 1);
        in_order(&rb, "ch.1", N, 1);
        in_order(&rb, "ch.2", N, 1);
        in_order(&rc, "ch.1", N, 2);
        in_order(&rc, "ch.2", N, 1);
        // Each ch.1 message reaches c as a message, then as a pmessage.
        let kinds: Vec<&str> = rc
            .iter()
            .filter(|(_, ch, _)| ch == "ch.1")
            .take(4)
            .map(|(k, _, _)| k.as_str())
            .collect();
        assert_eq!(kinds, ["message", "pmessage", "message", "pmessage"]);
    });
}

#[test]
fn resp3_pushes_interleave_with_replies() {
    const N: usize = 2_000;
    let kiwi = Kiwi::start(&[]);
    let addr = kiwi.addr();
    let rt = common::multi_runtime();
    rt.block_on(async {
        let mut s = Client::connect(&addr).await.unwrap();
        call(&mut s, &["HELLO", "3"]).await;
        exchange(&mut s, &["SUBSCRIBE", "events"], 1).await;
        let publisher = tokio::spawn({
            let addr = addr.clone();
            async move {
                let mut p = Client::connect(&addr).await.unwrap();
                for i in 0..N {
                    assert_eq!(
                        call(&mut p, &["PUBLISH", "events", &i.to_string()]).await,
                        Frame::Integer(1)
                    );
                }
            }
        });
        let mut pushes = Vec::new();
        for i in 1..=N as i64 {
            send(&mut s, &["INCR", "counter"]).await;
            loop {
                match s.read_reply().await.unwrap() {
                    Frame::Push(items) => pushes.push(items),
                    reply => {
                        assert_eq!(reply, Frame::Integer(i));
                        break;
                    }
                }
            }
        }
        publisher.await.unwrap();
        while pushes.len() < N {
            match s.read_reply().await.unwrap() {
                Frame::Push(items) => pushes.push(items),
                other => panic!("unexpected {other:?}"),
            }
        }
        for (i, items) in pushes.iter().enumerate() {
            assert_eq!(
                items,
                &vec![bulk("message"), bulk("events"), bulk(&i.to_string())]
            );
        }
    });
}

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kb * 1024
}

/// Publishes `batches` × 100 messages of `size` bytes to `channel`; returns the PUBLISH total.
async fn flood(p: &mut Client, channel: &str, batches: usize, size: usize) -> i64 {
    let payload = "x".repeat(size);
    let mut receivers = 0;
    for _ in 0..batches {
        for _ in 0..100 {
            p.queue(&["PUBLISH", channel, &payload]);
        }
        p.flush().await.unwrap();
        for _ in 0..100 {
            let Frame::Integer(n) = p.read_reply().await.unwrap() else {
                panic!()
            };
            receivers += n;
        }
    }
    receivers
}

/// Waits until the subscriber's connection is closed by the server.
async fn closed_by_server(s: &mut Client) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read_reply()).await {
            Err(_) => panic!("the subscriber was not disconnected"),
            Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

#[test]
fn a_subscriber_that_stops_reading_is_disconnected_with_memory_bounded() {
    let kiwi = Kiwi::start(&[]);
    let rt = common::runtime();
    rt.block_on(async {
        let mut s = Client::connect(&kiwi.addr()).await.unwrap();
        let mut p = Client::connect(&kiwi.addr()).await.unwrap();
        exchange(&mut s, &["SUBSCRIBE", "firehose"], 1).await;
        // 256 MB of messages; the subscriber reads none of them.
        let receivers = flood(&mut p, "firehose", 40, 64 << 10).await;
        assert!(receivers < 4000, "every message was queued ({receivers})");
        let peak = peak_rss(kiwi.child.id());
        assert!(
            peak < 160 << 20,
            "peak RSS {} MB: the slow subscriber's queue was not bounded",
            peak >> 20
        );
        until_unsubscribed(&mut p, "firehose").await;
        closed_by_server(&mut s).await;
    });
}

#[test]
fn the_soft_limit_disconnects_after_its_seconds() {
    let kiwi = Kiwi::start(&[]);
    let rt = common::runtime();
    rt.block_on(async {
        let mut s = Client::connect(&kiwi.addr()).await.unwrap();
        let mut p = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(
                &mut p,
                &[
                    "CONFIG",
                    "SET",
                    "client-output-buffer-limit",
                    "pubsub 0 4mb 2"
                ]
            )
            .await,
            Frame::ok()
        );
        exchange(&mut s, &["SUBSCRIBE", "slow"], 1).await;
        // 32 MB: more than the sockets hold, so the queue stays above the soft limit, but not
        // for 2 seconds yet.
        assert_eq!(flood(&mut p, "slow", 5, 64 << 10).await, 500);
        assert_eq!(
            call(&mut p, &["PUBSUB", "NUMSUB", "slow"]).await,
            Frame::Array(vec![bulk("slow"), Frame::Integer(1)])
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // The next message finds it over the soft limit for too long.
        flood(&mut p, "slow", 1, 10).await;
        until_unsubscribed(&mut p, "slow").await;
        closed_by_server(&mut s).await;
    });
}

#[test]
fn subscribers_ignore_the_idle_timeout() {
    let kiwi = Kiwi::start(&["--set", "timeout=1"]);
    let rt = common::runtime();
    rt.block_on(async {
        let mut s = Client::connect(&kiwi.addr()).await.unwrap();
        let mut idle = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut idle, &["PING"]).await, Frame::simple("PONG"));
        exchange(&mut s, &["SUBSCRIBE", "quiet"], 1).await;
        tokio::time::sleep(Duration::from_millis(3000)).await;
        assert!(idle.call(&["PING"]).await.is_err(), "idle client kept");
        let mut p = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(&mut p, &["PUBLISH", "quiet", "still there?"]).await,
            Frame::Integer(1)
        );
        assert_eq!(messages(&mut s, 1).await[0].2, "still there?");
    });
}

#[test]
fn redis_cli_subscribes_and_receives() {
    use std::io::BufRead;
    let kiwi = Kiwi::start(&[]);
    let mut cli = std::process::Command::new("redis-cli")
        .args(["-p", &kiwi.port.to_string(), "subscribe", "news"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("redis-cli is installed");
    let stdout = cli.stdout.take().expect("piped stdout");
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let rt = common::runtime();
    rt.block_on(async {
        let mut p = Client::connect(&kiwi.addr()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while call(&mut p, &["PUBLISH", "news", "hello from kiwi"]).await != Frame::Integer(1) {
            assert!(Instant::now() < deadline, "redis-cli never subscribed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let mut seen = Vec::new();
    while !seen.ends_with(&["message", "news", "hello from kiwi"].map(String::from)) {
        match lines.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("redis-cli printed {seen:?}"),
        }
    }
    assert_eq!(seen[..3], ["subscribe", "news", "1"].map(String::from));
    let _ = cli.kill();
    let _ = cli.wait();
}

/// Subscriber side of the throughput run: reads until `expected` messages arrived.
async fn drain(mut client: Client, expected: usize) {
    let mut got = 0;
    while got < expected {
        let frame = client.read_reply().await.expect("read");
        assert!(matches!(frame, Frame::Array(_)), "{frame:?}");
        got += 1;
    }
}

/// Delivered messages per second with `publishers` × `per_publisher` PUBLISHes (pipelined 64 at
/// a time, 64-byte payloads) to one channel with `subscribers` subscribers.
async fn throughput(
    addr: &str,
    publishers: usize,
    subscribers: usize,
    per_publisher: usize,
) -> f64 {
    let mut subs = Vec::new();
    for _ in 0..subscribers {
        let mut s = Client::connect(addr).await.unwrap();
        exchange(&mut s, &["SUBSCRIBE", "bench"], 1).await;
        subs.push(s);
    }
    let started = Instant::now();
    let readers: Vec<_> = subs
        .into_iter()
        .map(|s| tokio::spawn(drain(s, publishers * per_publisher)))
        .collect();
    let writers: Vec<_> = (0..publishers)
        .map(|_| {
            let addr = addr.to_string();
            tokio::spawn(async move {
                let mut p = Client::connect(&addr).await.unwrap();
                let payload = Bytes::from(vec![b'p'; 64]);
                for _ in 0..per_publisher / 64 {
                    for _ in 0..64 {
                        p.queue(&[&b"PUBLISH"[..], &b"bench"[..], &payload[..]]);
                    }
                    p.flush().await.unwrap();
                    for _ in 0..64 {
                        p.read_reply().await.unwrap();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    for r in readers {
        r.await.unwrap();
    }
    (publishers * per_publisher * subscribers) as f64 / started.elapsed().as_secs_f64()
}

/// `PUBSUB_PUBLISHERS=4 PUBSUB_SUBSCRIBERS=8 PUBSUB_MESSAGES=100000 cargo test --release --test
/// pubsub -- --ignored --nocapture pubsub_throughput`
#[test]
#[ignore]
fn pubsub_throughput() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let publishers = env("PUBSUB_PUBLISHERS", 4);
    let subscribers = env("PUBSUB_SUBSCRIBERS", 8);
    let messages = env("PUBSUB_MESSAGES", 100_000) / 64 * 64;
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    let rt = common::multi_runtime();
    for (name, addr) in [("kiwi", kiwi.addr()), ("redis-server", redis.addr())] {
        let rate = rt.block_on(throughput(&addr, publishers, subscribers, messages));
        eprintln!(
            "{name}: {publishers} publishers x {messages} messages, {subscribers} subscribers: \
             {rate:.0} messages delivered per second"
        );
    }
}
