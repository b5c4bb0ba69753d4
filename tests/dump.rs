//! DUMP and RESTORE against a real redis-server: values of every type, in every encoding Redis
//! 7.0 writes (intsets, listpacks, quicklists with plain nodes, skiplists, hashtables, streams
//! with their groups and pending entries), move
//! from Redis to Kiwi and back unchanged; RESTORE's options and errors are Redis's; a damaged
//! payload is refused and creates nothing.

mod common;

use common::{call, runtime, Kiwi, Redis};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

/// Builds the same keys on a server: small and large collections of each type.
async fn populate(c: &mut Client) {
    let big: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
    let mut commands: Vec<Vec<String>> = vec![
        vec!["SET".into(), "str".into(), "hello".into()],
        vec!["SET".into(), "int".into(), "-12345".into()],
        vec![
            "RPUSH".into(),
            "list".into(),
            "a".into(),
            "1".into(),
            "-2".into(),
            "1000000".into(),
        ],
        vec![
            "RPUSH".into(),
            "plain".into(),
            "x".repeat(100_000),
            "y".into(),
        ],
        vec![
            "SADD".into(),
            "intset".into(),
            "1".into(),
            "-100".into(),
            "70000".into(),
        ],
        vec!["SADD".into(), "set".into(), "x".into(), "y".into()],
        vec![
            "ZADD".into(),
            "zset".into(),
            "1.5".into(),
            "a".into(),
            "-inf".into(),
            "b".into(),
            "3".into(),
            "c".into(),
        ],
        vec![
            "HSET".into(),
            "hash".into(),
            "f".into(),
            "v".into(),
            "g".into(),
            "123".into(),
        ],
    ];
    for (command, key) in [("RPUSH", "biglist"), ("SADD", "bigset")] {
        let mut call: Vec<String> = vec![command.into(), key.into()];
        call.extend(big.iter().cloned());
        commands.push(call);
    }
    let mut hset: Vec<String> = vec!["HSET".into(), "bighash".into()];
    let mut zadd: Vec<String> = vec!["ZADD".into(), "bigzset".into()];
    for (i, m) in big.iter().enumerate() {
        hset.extend([m.clone(), format!("v{i}")]);
        zadd.extend([format!("{}", i as f64 * 0.25), m.clone()]);
    }
    commands.push(hset);
    commands.push(zadd);
    // Streams: entries over several listpack nodes (some deleted, some with other fields),
    // groups with pending entries and consumers.
    for i in 1..=250 {
        let fields = if i % 7 == 0 {
            ["other", "x"]
        } else {
            ["f", "v"]
        };
        commands.push(
            [
                "XADD",
                "stream",
                &format!("{i}-{i}"),
                fields[0],
                fields[1],
                "n",
                &i.to_string(),
            ]
            .map(String::from)
            .to_vec(),
        );
    }
    for call in [
        "XDEL stream 3-3 120-120",
        "XGROUP CREATE stream g1 0",
        "XGROUP CREATE stream g2 $ ENTRIESREAD 250",
        "XREADGROUP GROUP g1 alice COUNT 5 STREAMS stream >",
        "XREADGROUP GROUP g1 bob COUNT 3 STREAMS stream >",
        "XACK stream g1 1-1",
        "XGROUP CREATECONSUMER stream g2 carol",
        "XADD emptystream 5-5 f v",
        "XDEL emptystream 5-5",
    ] {
        commands.push(call.split(' ').map(String::from).collect());
    }
    for command in commands {
        let reply = c.call(&command).await.expect("populate");
        assert!(!matches!(reply, Frame::Error(_)), "{command:?}: {reply:?}");
    }
}

const KEYS: [&str; 14] = [
    "str",
    "int",
    "list",
    "plain",
    "intset",
    "set",
    "zset",
    "hash",
    "biglist",
    "bigset",
    "bighash",
    "bigzset",
    "stream",
    "emptystream",
];

fn payload(frame: Frame) -> Vec<u8> {
    match frame {
        Frame::Bulk(b) => b.to_vec(),
        other => panic!("DUMP answered {other:?}"),
    }
}

async fn restore(c: &mut Client, key: &str, ttl: &str, payload: &[u8], extra: &[&str]) -> Frame {
    let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload];
    args.extend(extra.iter().map(|e| e.as_bytes()));
    c.call(&args).await.expect("restore")
}

#[test]
fn every_type_and_encoding_moves_from_redis_to_kiwi_and_back() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start_with(&["--enable-debug-command", "yes"]);
    runtime().block_on(async {
        let mut k = Client::connect(&kiwi.addr()).await.unwrap();
        let mut r = Client::connect(&redis.addr()).await.unwrap();
        populate(&mut r).await;
        for key in KEYS {
            let from_redis = payload(call(&mut r, &["DUMP", key]).await);
            assert_eq!(
                restore(&mut k, key, "0", &from_redis, &[]).await,
                Frame::ok(),
                "{key}"
            );
            assert_eq!(
                call(&mut k, &["TYPE", key]).await,
                call(&mut r, &["TYPE", key]).await,
                "{key}"
            );
            // Back into Redis under another name: the same value, byte for byte.
            let from_kiwi = payload(call(&mut k, &["DUMP", key]).await);
            let copy = format!("{key}:back");
            assert_eq!(
                restore(&mut r, &copy, "0", &from_kiwi, &[]).await,
                Frame::ok(),
                "{key}"
            );
            assert_eq!(
                call(&mut r, &["DEBUG", "DIGEST-VALUE", key]).await,
                call(&mut r, &["DEBUG", "DIGEST-VALUE", &copy]).await,
                "{key} changed on its way through Kiwi"
            );
            // And Kiwi's own content agrees: the digests of the two copies match there too.
            let again = format!("{key}:again");
            assert_eq!(
                restore(&mut k, &again, "0", &from_kiwi, &[]).await,
                Frame::ok()
            );
            assert_eq!(
                call(&mut k, &["DEBUG", "DIGEST-VALUE", key]).await,
                call(&mut k, &["DEBUG", "DIGEST-VALUE", &again]).await,
                "{key}"
            );
        }
        assert_eq!(call(&mut k, &["DUMP", "nosuchkey"]).await, Frame::Null);
    });
}

#[test]
fn restore_options_and_errors_are_redis_s() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    runtime().block_on(async {
        let mut k = Client::connect(&kiwi.addr()).await.unwrap();
        let mut r = Client::connect(&redis.addr()).await.unwrap();
        call(&mut r, &["RPUSH", "src", "a", "b"]).await;
        let good = payload(call(&mut r, &["DUMP", "src"]).await);
        let mut bad_crc = good.clone();
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 1;
        let truncated = &good[..good.len() - 3];
        let future = (kiwi::util::now_ms() + 100_000).to_string();
        let cases: Vec<(&str, &str, &[u8], Vec<&str>)> = vec![
            ("k1", "0", &good, vec![]),
            ("k1", "0", &good, vec![]),
            ("k1", "0", &good, vec!["REPLACE"]),
            ("k2", "-1", &good, vec![]),
            ("k2", "notanumber", &good, vec![]),
            ("k2", "0", &bad_crc, vec![]),
            ("k2", "0", truncated, vec![]),
            ("k2", "0", b"junk", vec![]),
            ("k2", "0", &good, vec!["BOGUS"]),
            ("k2", "0", &good, vec!["IDLETIME", "-1"]),
            ("k2", "0", &good, vec!["FREQ", "256"]),
            ("k2", "0", &good, vec!["IDLETIME", "5", "FREQ", "5"]),
            ("k3", "1", &good, vec!["ABSTTL"]),
            ("k4", &future, &good, vec!["ABSTTL", "REPLACE"]),
            ("k5", "100000", &good, vec![]),
        ];
        for (key, ttl, data, extra) in cases {
            let expected = restore(&mut r, key, ttl, data, &extra).await;
            let got = restore(&mut k, key, ttl, data, &extra).await;
            assert_eq!(got, expected, "RESTORE {key} {ttl} ... {extra:?}");
        }
        for key in ["k1", "k2", "k3", "k4", "k5"] {
            assert_eq!(
                call(&mut k, &["EXISTS", key]).await,
                call(&mut r, &["EXISTS", key]).await,
                "{key}"
            );
            let ttl = |f: Frame| matches!(f, Frame::Integer(n) if n > 0);
            assert_eq!(
                ttl(call(&mut k, &["PTTL", key]).await),
                ttl(call(&mut r, &["PTTL", key]).await),
                "{key}"
            );
        }
    });
}

/// Payloads with bytes changed, cut or repeated (their checksums fixed, so the parser sees
/// them): every one is refused or restored, the server stays up, and a refused one leaves no
/// key behind.
#[test]
fn damaged_payloads_are_refused_and_create_nothing() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    runtime().block_on(async {
        let mut k = Client::connect(&kiwi.addr()).await.unwrap();
        let mut r = Client::connect(&redis.addr()).await.unwrap();
        populate(&mut r).await;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut refused = 0;
        for key in KEYS {
            let original = payload(call(&mut r, &["DUMP", key]).await);
            let body = &original[..original.len() - 10];
            for round in 0..60 {
                let mut data = body.to_vec();
                let at = (next() as usize) % data.len();
                match round % 3 {
                    0 => data[at] = next() as u8,
                    1 => data.truncate(at.max(1)),
                    _ => {
                        let piece = data[at..].to_vec();
                        data.extend_from_slice(&piece);
                    }
                }
                kiwi::util::rdb::finish_payload(&mut data);
                let target = format!("damaged:{key}:{round}");
                match restore(&mut k, &target, "0", &data, &[]).await {
                    Frame::Error(e) => {
                        assert_eq!(e, "ERR Bad data format", "{target}");
                        refused += 1;
                        assert_eq!(call(&mut k, &["EXISTS", &target]).await, Frame::Integer(0));
                    }
                    other => assert_eq!(other, Frame::ok(), "{target}"),
                }
            }
        }
        assert!(
            refused > 100,
            "only {refused} damaged payloads were refused"
        );
        assert_eq!(call(&mut k, &["PING"]).await, Frame::simple("PONG"));
    });
}

/// MIGRATE to a redis-server and to another Kiwi: keys arrive with their values and time to
/// live and leave the source (unless COPY); a key the target already has is refused with
/// Redis's error (unless REPLACE), and the source keeps it.
#[test]
fn migrate_moves_keys_to_redis_and_to_kiwi() {
    let kiwi = Kiwi::start(&[]);
    let other = Kiwi::start(&[]);
    let redis = Redis::start();
    runtime().block_on(async {
        let mut k = Client::connect(&kiwi.addr()).await.unwrap();
        let mut r = Client::connect(&redis.addr()).await.unwrap();
        let mut o = Client::connect(&other.addr()).await.unwrap();
        call(&mut k, &["RPUSH", "list", "a", "b"]).await;
        call(&mut k, &["SET", "s", "v", "PX", "100000"]).await;
        call(&mut k, &["HSET", "h", "f", "v"]).await;
        let redis_port = redis.addr().rsplit(':').next().unwrap().to_string();
        let other_port = other.port.to_string();
        // One key to redis-server, database 2.
        let moved = call(&mut k, &["MIGRATE", "127.0.0.1", &redis_port, "list", "2", "5000"]).await;
        assert_eq!(moved, Frame::ok());
        assert_eq!(call(&mut k, &["EXISTS", "list"]).await, Frame::Integer(0));
        call(&mut r, &["SELECT", "2"]).await;
        assert_eq!(
            call(&mut r, &["LRANGE", "list", "0", "-1"]).await,
            Frame::Array(vec![common::bulk("a"), common::bulk("b")])
        );
        // Several keys to another Kiwi, with COPY: they stay here too, TTL included.
        let copied = call(
            &mut k,
            &["MIGRATE", "127.0.0.1", &other_port, "", "0", "5000", "COPY", "KEYS", "s", "h", "missing"],
        )
        .await;
        assert_eq!(copied, Frame::ok());
        assert_eq!(call(&mut o, &["GET", "s"]).await, common::bulk("v"));
        assert!(matches!(call(&mut o, &["PTTL", "s"]).await, Frame::Integer(n) if n > 90_000));
        assert_eq!(call(&mut o, &["HGET", "h", "f"]).await, common::bulk("v"));
        assert_eq!(call(&mut k, &["EXISTS", "s", "h"]).await, Frame::Integer(2));
        // Again without REPLACE: the target refuses, and the source keeps its keys.
        let refused = call(&mut k, &["MIGRATE", "127.0.0.1", &other_port, "h", "0", "5000"]).await;
        assert_eq!(
            refused,
            Frame::Error("ERR Target instance replied with error: BUSYKEY Target key name already exists.".into())
        );
        assert_eq!(call(&mut k, &["EXISTS", "h"]).await, Frame::Integer(1));
        let replaced =
            call(&mut k, &["MIGRATE", "127.0.0.1", &other_port, "h", "0", "5000", "REPLACE"]).await;
        assert_eq!(replaced, Frame::ok());
        assert_eq!(call(&mut k, &["EXISTS", "h"]).await, Frame::Integer(0));
        // Nothing to move, nobody listening, bad arguments.
        let none = call(&mut k, &["MIGRATE", "127.0.0.1", &other_port, "gone", "0", "5000"]).await;
        assert_eq!(none, Frame::simple("NOKEY"));
        let closed = common::free_port().to_string();
        let unreachable = call(&mut k, &["MIGRATE", "127.0.0.1", &closed, "s", "0", "500"]).await;
        assert_eq!(unreachable, Frame::Error("IOERR error or timeout connecting to the client".into()));
        assert_eq!(call(&mut k, &["EXISTS", "s"]).await, Frame::Integer(1));
        let keys_with_key =
            call(&mut k, &["MIGRATE", "127.0.0.1", &other_port, "s", "0", "5000", "KEYS", "h"]).await;
        assert_eq!(
            keys_with_key,
            Frame::Error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string".into())
        );
    });
}

/// The `migrate_cached_sockets` line of INFO.
async fn cached_sockets(c: &mut Client) -> usize {
    let Frame::Bulk(info) = call(c, &["INFO", "stats"]).await else {
        panic!("INFO is a bulk string");
    };
    let text = String::from_utf8_lossy(&info).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("migrate_cached_sockets:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO has migrate_cached_sockets")
}

/// MIGRATE keeps its connection to a target for the next call (as Redis: INFO counts it, an
/// idle one is closed after 10 s), reconnects once when the target closed it, and deletes here
/// each key the target took even when the target refused another key of the same call.
#[test]
fn migrate_keeps_its_connections_and_reconnects_once() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    runtime().block_on(async {
        let mut k = Client::connect(&kiwi.addr()).await.unwrap();
        let mut r = Client::connect(&redis.addr()).await.unwrap();
        let port = redis.addr().rsplit(':').next().unwrap().to_string();
        for key in ["a", "b", "c", "x", "y"] {
            call(&mut k, &["SET", key, key]).await;
        }
        assert_eq!(cached_sockets(&mut k).await, 0);
        let moved = call(&mut k, &["MIGRATE", "127.0.0.1", &port, "a", "0", "5000"]).await;
        assert_eq!(moved, Frame::ok());
        assert_eq!(cached_sockets(&mut k).await, 1);
        // The target drops every other client, the cached connection among them: the next
        // MIGRATE notices and reconnects instead of failing.
        call(
            &mut r,
            &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
        )
        .await;
        let moved = call(&mut k, &["MIGRATE", "127.0.0.1", &port, "b", "0", "5000"]).await;
        assert_eq!(moved, Frame::ok());
        assert_eq!(cached_sockets(&mut k).await, 1);
        // Another database through the same connection.
        let moved = call(&mut k, &["MIGRATE", "127.0.0.1", &port, "c", "3", "5000"]).await;
        assert_eq!(moved, Frame::ok());
        assert_eq!(call(&mut r, &["GET", "a"]).await, common::bulk("a"));
        assert_eq!(call(&mut r, &["GET", "b"]).await, common::bulk("b"));
        assert_eq!(call(&mut r, &["GET", "c"]).await, Frame::Null);
        call(&mut r, &["SELECT", "3"]).await;
        assert_eq!(call(&mut r, &["GET", "c"]).await, common::bulk("c"));
        // `x` exists on the target, `y` does not: the call fails, `y` moved anyway.
        call(&mut r, &["SET", "x", "there"]).await;
        let partly = call(
            &mut k,
            &[
                "MIGRATE",
                "127.0.0.1",
                &port,
                "",
                "3",
                "5000",
                "KEYS",
                "x",
                "y",
            ],
        )
        .await;
        assert_eq!(
            partly,
            Frame::Error(
                "ERR Target instance replied with error: BUSYKEY Target key name already exists."
                    .into()
            )
        );
        assert_eq!(call(&mut k, &["EXISTS", "x"]).await, Frame::Integer(1));
        assert_eq!(call(&mut k, &["EXISTS", "y"]).await, Frame::Integer(0));
        assert_eq!(call(&mut r, &["GET", "y"]).await, common::bulk("y"));
        assert_eq!(cached_sockets(&mut k).await, 1);
        tokio::time::sleep(std::time::Duration::from_secs(12)).await;
        assert_eq!(cached_sockets(&mut k).await, 0);
    });
}

/// RESTORE's IDLETIME and FREQ, and what counts as a use of a key, side by side with
/// redis-server: reads and writes make a key fresh, EXISTS, TYPE, TTL and OBJECT do not; the
/// maxmemory policy chooses which figure OBJECT shows.
#[test]
fn restore_sets_the_idle_time_and_frequency_that_object_reports() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    runtime().block_on(async {
        let mut k = Client::connect(&kiwi.addr()).await.unwrap();
        let mut r = Client::connect(&redis.addr()).await.unwrap();
        call(&mut r, &["SET", "src", "bar"]).await;
        let data = payload(call(&mut r, &["DUMP", "src"]).await);
        let idle = |f: Frame| match f {
            Frame::Integer(n) => n,
            other => panic!("OBJECT IDLETIME answered {other:?}"),
        };
        for c in [&mut k, &mut r] {
            assert_eq!(
                restore(c, "foo", "0", &data, &["IDLETIME", "1000"]).await,
                Frame::ok()
            );
            for look in [
                &["EXISTS", "foo"][..],
                &["TYPE", "foo"],
                &["TTL", "foo"],
                &["OBJECT", "ENCODING", "foo"],
            ] {
                call(c, look).await;
            }
            let seconds = idle(call(c, &["OBJECT", "IDLETIME", "foo"]).await);
            assert!((1000..=1002).contains(&seconds), "{seconds} s idle");
            call(c, &["GET", "foo"]).await;
            assert_eq!(idle(call(c, &["OBJECT", "IDLETIME", "foo"]).await), 0);
        }
        let same: [&[&str]; 8] = [
            &["OBJECT", "FREQ", "foo"],
            &["OBJECT", "IDLETIME", "missing"],
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
            &["OBJECT", "IDLETIME", "foo"],
            &["SET", "new", "v"],
            &["OBJECT", "FREQ", "new"],
            &["CONFIG", "SET", "lfu-decay-time", "0"],
            &["CONFIG", "GET", "lfu-decay-time"],
        ];
        for args in same {
            assert_eq!(
                call(&mut k, args).await,
                call(&mut r, args).await,
                "{args:?}"
            );
        }
        for c in [&mut k, &mut r] {
            assert_eq!(
                restore(c, "hot", "0", &data, &["FREQ", "100"]).await,
                Frame::ok()
            );
            assert_eq!(
                call(c, &["OBJECT", "FREQ", "hot"]).await,
                Frame::Integer(100)
            );
        }
    });
}
