//! Integration tests against a real kiwi process: real clients, persistence, crashes, limits and
//! hostile input.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{bulk, call, multi_runtime, runtime, Kiwi};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

fn info_field(info: &Frame, field: &str) -> Option<String> {
    let text = match info {
        Frame::Bulk(b) | Frame::Verbatim(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("INFO returned {other:?}"),
    };
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli must be installed (apt-get install redis-tools)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn redis_cli_and_redis_benchmark_work_unchanged() {
    let kiwi = Kiwi::start(&[]);
    assert_eq!(
        redis_cli(kiwi.port, &["SET", "greeting", "hello world"]),
        "OK"
    );
    assert_eq!(redis_cli(kiwi.port, &["GET", "greeting"]), "hello world");
    assert_eq!(redis_cli(kiwi.port, &["INCRBY", "n", "41"]), "41");
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &kiwi.port.to_string(),
            "-q",
            "-n",
            "2000",
            "-c",
            "10",
            "-P",
            "8",
        ])
        .args(["-t", "ping_inline,ping_mbulk,set,get,incr,mset"])
        .output()
        .expect("redis-benchmark must be installed");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    for test in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(test) && l.contains("requests per second")),
            "redis-benchmark did not complete {test}:\n{text}"
        );
    }
    // redis-benchmark's INCR and MSET really reached storage.
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(&mut c, &["GET", "counter:__rand_int__"]).await,
            bulk("2000")
        );
        assert_eq!(
            call(&mut c, &["EXISTS", "key:__rand_int__"]).await,
            Frame::Integer(1)
        );
    });
}

#[test]
fn pipelines_keep_order_across_connection_and_storage_commands() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        c.queue(&["SET", "k", "db0"]);
        c.queue(&["SELECT", "1"]);
        c.queue(&["GET", "k"]);
        c.queue(&["SET", "k", "db1"]);
        c.queue(&["PING"]);
        c.queue(&["SELECT", "0"]);
        c.queue(&["GET", "k"]);
        for i in 0..500 {
            c.queue(&["INCR", "ctr"]);
            if i % 100 == 0 {
                c.queue(&["ECHO", "mark"]);
            }
        }
        c.flush().await.unwrap();
        let expected = [
            Frame::ok(),
            Frame::ok(),
            Frame::Null,
            Frame::ok(),
            Frame::simple("PONG"),
            Frame::ok(),
            bulk("db0"),
        ];
        for e in expected {
            assert_eq!(c.read_reply().await.unwrap(), e);
        }
        let mut last = 0;
        for _ in 0..505 {
            match c.read_reply().await.unwrap() {
                Frame::Integer(n) => {
                    assert_eq!(n, last + 1);
                    last = n;
                }
                Frame::Bulk(b) => assert_eq!(&b[..], b"mark"),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(last, 500);
    });
}

#[test]
fn concurrent_increments_are_not_lost() {
    let kiwi = Kiwi::start(&[]);
    let rt = multi_runtime();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let addr = kiwi.addr();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(&addr).await.unwrap();
                for _ in 0..250 {
                    c.queue(&["INCR", "shared"]);
                    c.queue(&["INCRBYFLOAT", "shared_f", "0.5"]);
                    c.queue(&["APPEND", "log", "x"]);
                }
                c.flush().await.unwrap();
                for _ in 0..750 {
                    assert!(!c.read_reply().await.unwrap().is_error());
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut c, &["GET", "shared"]).await, bulk("5000"));
        assert_eq!(call(&mut c, &["GET", "shared_f"]).await, bulk("2500"));
        assert_eq!(call(&mut c, &["STRLEN", "log"]).await, Frame::Integer(5000));
    });
}

#[test]
fn data_and_ttls_survive_a_graceful_restart() {
    let mut kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["SET", "plain", "v"]).await;
        call(&mut c, &["SET", "ttl", "v", "EX", "1000"]).await;
        call(&mut c, &["SET", "short", "v", "PX", "300"]).await;
        call(&mut c, &["SELECT", "3"]).await;
        call(&mut c, &["MSET", "a", "1", "b", "2"]).await;
        call(&mut c, &["SWAPDB", "3", "4"]).await;
    });
    let status = kiwi.terminate();
    assert!(status.success(), "kiwi exited with {status} on SIGTERM");
    std::thread::sleep(Duration::from_millis(400));
    let kiwi = kiwi.restart();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut c, &["GET", "plain"]).await, bulk("v"));
        match call(&mut c, &["TTL", "ttl"]).await {
            Frame::Integer(n) => assert!((990..=1000).contains(&n), "ttl {n}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(call(&mut c, &["GET", "short"]).await, Frame::Null);
        assert_eq!(call(&mut c, &["DBSIZE"]).await, Frame::Integer(2));
        call(&mut c, &["SELECT", "4"]).await;
        assert_eq!(
            call(&mut c, &["MGET", "a", "b"]).await,
            Frame::Array(vec![bulk("1"), bulk("2")])
        );
        assert_eq!(call(&mut c, &["DBSIZE"]).await, Frame::Integer(2));
        call(&mut c, &["SELECT", "3"]).await;
        assert_eq!(call(&mut c, &["DBSIZE"]).await, Frame::Integer(0));
    });
}

#[test]
fn acknowledged_writes_survive_kill_9_under_load() {
    let mut kiwi = Kiwi::start(&[]);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let rt = multi_runtime();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (addr, acked, stop) = (kiwi.addr(), acked.clone(), stop.clone());
        writers.push(rt.spawn(async move {
            let mut c = Client::connect(&addr).await.unwrap();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{w}:{i}");
                match c.call(&["SET", key.as_str(), key.as_str()]).await {
                    Ok(Frame::Simple(_)) => acked.lock().unwrap().push(key),
                    _ => return,
                }
                i += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    kiwi.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = rt.block_on(w);
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 500,
        "the write load was too small to mean anything: {}",
        acked.len()
    );
    let kiwi = kiwi.restart();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        for chunk in acked.chunks(500) {
            let mut args = vec!["MGET"];
            args.extend(chunk.iter().map(String::as_str));
            let Frame::Array(values) = call(&mut c, &args).await else {
                panic!("MGET")
            };
            for (key, value) in chunk.iter().zip(values) {
                assert_eq!(
                    value,
                    bulk(key),
                    "acknowledged key {key} lost after kill -9"
                );
            }
        }
        let Frame::Integer(n) = call(&mut c, &["DBSIZE"]).await else {
            panic!()
        };
        assert!(
            n as usize >= acked.len(),
            "DBSIZE {n} < acknowledged {}",
            acked.len()
        );
    });
}

/// Sends raw bytes on a fresh connection and returns everything the server answers before closing.
fn raw_exchange(addr: &str, payload: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(payload).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn malformed_input_gets_redis_errors_and_the_server_stays_up() {
    let kiwi = Kiwi::start(&[]);
    let addr = kiwi.addr();
    let cases: [(&[u8], &str); 6] = [
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$1073741824\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$-3\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n:1\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"*3000000000\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"PING\r\nSET \"unbalanced\r\n",
            "+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (payload, expected) in cases {
        assert_eq!(
            raw_exchange(&addr, payload),
            expected,
            "payload {:?}",
            String::from_utf8_lossy(payload)
        );
    }
    // An inline request without a newline beyond 64 KiB.
    let reply = raw_exchange(&addr, &vec![b'x'; 70 * 1024]);
    assert_eq!(reply, "-ERR Protocol error: too big inline request\r\n");
    // Binary garbage: whatever is answered, the server must survive it.
    let garbage: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let _ = raw_exchange(&addr, &garbage);
    // Half a frame, then disconnect.
    {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc")
            .unwrap();
    }
    // A claimed 500 MB bulk with only a few bytes sent must not allocate 500 MB.
    let mut hold = TcpStream::connect(&addr).unwrap();
    hold.write_all(b"*2\r\n$4\r\nECHO\r\n$500000000\r\nabc")
        .unwrap();
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&addr).await.unwrap();
        assert_eq!(call(&mut c, &["PING"]).await, Frame::simple("PONG"));
        assert_eq!(call(&mut c, &["GET", "k"]).await, Frame::Null);
        let info = call(&mut c, &["INFO", "memory"]).await;
        let rss: u64 = info_field(&info, "used_memory_rss")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            rss < 300 << 20,
            "RSS {rss} suggests a lying length was allocated"
        );
    });
    drop(hold);
}

#[test]
fn ten_thousand_connections_opened_and_dropped() {
    let kiwi = Kiwi::start(&[]);
    let rt = multi_runtime();
    rt.block_on(async {
        for _ in 0..20 {
            let mut batch = Vec::new();
            for _ in 0..500 {
                let addr = kiwi.addr();
                batch.push(tokio::spawn(async move {
                    if let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await {
                        use tokio::io::AsyncWriteExt;
                        let _ = s.write_all(b"*1\r\n$4\r\nPI").await;
                    }
                }));
            }
            for t in batch {
                t.await.unwrap();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        loop {
            let info = call(&mut c, &["INFO", "clients"]).await;
            let n: u64 = info_field(&info, "connected_clients")
                .unwrap()
                .parse()
                .unwrap();
            if n == 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{n} connections still registered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let info = call(&mut c, &["INFO", "stats"]).await;
        let total: u64 = info_field(&info, "total_connections_received")
            .unwrap()
            .parse()
            .unwrap();
        assert!(total >= 10_001, "{total}");
    });
}

#[test]
fn maxclients_refuses_with_the_redis_error() {
    let kiwi = Kiwi::start(&["--set", "maxclients=2"]);
    let rt = runtime();
    rt.block_on(async {
        let mut a = Client::connect(&kiwi.addr()).await.unwrap();
        // The start-up probe's connection may still be closing; wait until `a` is alone.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let info = call(&mut a, &["INFO", "clients"]).await;
            if info_field(&info, "connected_clients").as_deref() == Some("1") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "start-up connection never closed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut b = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut b, &["PING"]).await, Frame::simple("PONG"));
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            c.read_reply().await.unwrap(),
            Frame::Error("ERR max number of clients reached".into())
        );
    });
}

#[test]
fn requirepass_gates_every_command_but_auth() {
    let kiwi = Kiwi::start(&["--set", "requirepass=s3cret"]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(&mut c, &["GET", "k"]).await,
            Frame::Error("NOAUTH Authentication required.".into())
        );
        assert_eq!(
            call(&mut c, &["AUTH", "wrong"]).await,
            Frame::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
        );
        assert_eq!(call(&mut c, &["AUTH", "s3cret"]).await, Frame::ok());
        assert_eq!(call(&mut c, &["SET", "k", "v"]).await, Frame::ok());
        let mut d = Client::connect(&kiwi.addr()).await.unwrap();
        assert!(matches!(
            call(&mut d, &["HELLO", "3", "AUTH", "default", "s3cret"]).await,
            Frame::Map(_)
        ));
        assert_eq!(call(&mut d, &["GET", "k"]).await, bulk("v"));
        assert_eq!(
            call(&mut d, &["CONFIG", "GET", "requirepass"]).await,
            Frame::Map(vec![(bulk("requirepass"), bulk("s3cret"))])
        );
    });
}

#[test]
fn config_set_changes_behaviour_and_rewrite_persists_it() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("kiwi.conf");
    std::fs::write(&conf, "# my node\nport 7379\nmaxclients 100\n").unwrap();
    let kiwi = Kiwi::start(&["--config", conf.to_str().unwrap()]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut c, &["CONFIG", "SET", "maxclients", "1", "timeout", "30"]).await, Frame::ok());
        assert_eq!(
            call(&mut c, &["CONFIG", "GET", "maxc*"]).await,
            Frame::Array(vec![bulk("maxclients"), bulk("1")])
        );
        // maxclients 1 now refuses a second connection.
        let mut second = Client::connect(&kiwi.addr()).await.unwrap();
        assert!(second.read_reply().await.unwrap().is_error());
        assert_eq!(
            call(&mut c, &["CONFIG", "SET", "port", "1"]).await,
            Frame::Error("ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config".into())
        );
        assert_eq!(
            call(&mut c, &["CONFIG", "SET", "maxclients", "lots"]).await,
            Frame::Error("ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer".into())
        );
        assert_eq!(
            call(&mut c, &["CONFIG", "SET", "nosuch", "1"]).await,
            Frame::Error("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'".into())
        );
        assert_eq!(call(&mut c, &["CONFIG", "SET", "memory", "256mb", "appendfsync", "always"]).await, Frame::ok());
        // Redis parameters, by name and by alias, are kept by CONFIG REWRITE too.
        let redis = [
            "save", "900 1", "slave-read-only", "no", "notify-keyspace-events", "KEA",
            "maxmemory", "2gb", "list-max-ziplist-size", "5",
        ];
        assert_eq!(call(&mut c, &[&["CONFIG", "SET"][..], &redis].concat()).await, Frame::ok());
        assert_eq!(call(&mut c, &["SET", "k", "v"]).await, Frame::ok());
        assert_eq!(call(&mut c, &["CONFIG", "REWRITE"]).await, Frame::ok());
    });
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with("# my node\n"), "{text}");
    for line in [
        "maxclients 1",
        "timeout 30",
        "memory 268435456",
        "appendfsync always",
        "save \"900 1\"",
        "replica-read-only no",
        "notify-keyspace-events AKE",
        "maxmemory 2147483648",
        "list-max-listpack-size 5",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing '{line}' in rewritten config:\n{text}"
        );
    }
    // Read back by a restart (with room for more than one client this time).
    std::fs::write(&conf, text.replace("maxclients 1\n", "maxclients 100\n")).unwrap();
    let mut kiwi = kiwi;
    kiwi.terminate();
    let kiwi = kiwi.restart();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(
                &mut c,
                &[
                    "CONFIG",
                    "GET",
                    "save",
                    "slave-read-only",
                    "notify-keyspace-events",
                    "maxmemory",
                    "list-max-ziplist-size"
                ]
            )
            .await,
            Frame::Array(
                [
                    "save",
                    "900 1",
                    "slave-read-only",
                    "no",
                    "notify-keyspace-events",
                    "AKE",
                    "maxmemory",
                    "2147483648",
                    "list-max-ziplist-size",
                    "5"
                ]
                .into_iter()
                .map(bulk)
                .collect()
            )
        );
    });
}

#[test]
fn second_instance_on_the_same_directory_fails_clearly() {
    let kiwi = Kiwi::start(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_kiwi"))
        .args(["--port", &common::free_port().to_string(), "--dir"])
        .arg(&kiwi.dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already in use by another kiwi process"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_config_names_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("bad.conf");
    std::fs::write(&conf, "port 7379\nmemory 12 parsecs\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiwi"))
        .arg("--config")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.conf:2: 'memory': takes exactly one value"),
        "{err}"
    );
    std::fs::write(&conf, "port 7379\n\nappendfsync sometimes\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiwi"))
        .arg("--config")
        .arg(&conf)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "bad.conf:3: 'appendfsync': argument(s) must be one of the following: everysec, always, no"
        ),
        "{err}"
    );
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let kiwi = Kiwi::start(&["--set", "timeout=1"]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut c, &["PING"]).await, Frame::simple("PONG"));
        tokio::time::sleep(Duration::from_millis(2600)).await;
        assert!(
            c.call(&["PING"]).await.is_err(),
            "idle connection was not closed"
        );
    });
}

#[test]
fn active_expiry_keeps_dbsize_exact() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        for i in 0..200 {
            c.queue(&["SET", &format!("k{i}"), "v", "PX", "100"]);
        }
        c.queue(&["SET", "keep", "v"]);
        c.flush().await.unwrap();
        for _ in 0..201 {
            c.read_reply().await.unwrap();
        }
        assert_eq!(call(&mut c, &["DBSIZE"]).await, Frame::Integer(201));
        tokio::time::sleep(Duration::from_millis(150)).await;
        // Expired keys are invisible at once, whether or not the sweep has run.
        assert_eq!(call(&mut c, &["DBSIZE"]).await, Frame::Integer(1));
        assert_eq!(
            call(&mut c, &["KEYS", "*"]).await,
            Frame::Array(vec![bulk("keep")])
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        let info = call(&mut c, &["INFO", "stats"]).await;
        assert_eq!(info_field(&info, "expired_keys").as_deref(), Some("200"));
        assert_eq!(call(&mut c, &["DBSIZE"]).await, Frame::Integer(1));
    });
}

#[test]
fn shutdown_command_stops_the_server_cleanly() {
    let mut kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["SET", "k", "v"]).await;
        assert!(
            c.call(&["SHUTDOWN"]).await.is_err(),
            "SHUTDOWN closes the connection without a reply"
        );
    });
    let status = kiwi.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let kiwi = kiwi.restart();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut c, &["GET", "k"]).await, bulk("v"));
    });
}

#[test]
fn info_reports_both_runtimes() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        for _ in 0..10 {
            call(&mut c, &["SET", "k", "v"]).await;
        }
        let info = call(&mut c, &["INFO", "runtime"]).await;
        assert_eq!(info_field(&info, "storage_threads").as_deref(), Some("2"));
        assert_eq!(info_field(&info, "network_threads").as_deref(), Some("2"));
        assert_eq!(
            info_field(&info, "storage_breaker").as_deref(),
            Some("closed")
        );
        let done: u64 = info_field(&info, "storage_commands_completed")
            .unwrap()
            .parse()
            .unwrap();
        assert!(done >= 10, "{done}");
        let all = call(&mut c, &["INFO"]).await;
        assert_eq!(info_field(&all, "db0").as_deref(), Some("keys=1"));
        assert_eq!(
            info_field(&all, "cmdstat_set"),
            None,
            "commandstats is not a default section"
        );
        call(&mut c, &["GET", "k", "extra"]).await;
        call(&mut c, &["INCR", "k"]).await;
        let stats = call(&mut c, &["INFO", "commandstats"]).await;
        let set = info_field(&stats, "cmdstat_set").unwrap();
        assert!(set.starts_with("calls=10,usec="), "{set}");
        let get = info_field(&stats, "cmdstat_get").unwrap();
        assert!(
            get.starts_with("calls=0,") && get.ends_with("rejected_calls=1,failed_calls=0"),
            "{get}"
        );
        let incr = info_field(&stats, "cmdstat_incr").unwrap();
        assert!(incr.ends_with("rejected_calls=0,failed_calls=1"), "{incr}");
        assert!(info_field(&all, "redis_version").is_some());
    });
}

#[test]
fn overlapping_multi_key_writes_from_many_clients_never_deadlock() {
    // Jobs hold the key stripes of their pending writes until they commit; clients pipelining
    // multi-key writes over the same keys in opposite orders must still all finish.
    let kiwi = Kiwi::start(&[]);
    let rt = multi_runtime();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for client in 0..12 {
            let addr = kiwi.addr();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(&addr).await.unwrap();
                for round in 0..40 {
                    for i in 0..10 {
                        let (a, b) = (
                            format!("k{}", (i + client) % 7),
                            format!("k{}", (i * 3 + round) % 7),
                        );
                        if client % 2 == 0 {
                            c.queue(&["MSET", a.as_str(), "x", b.as_str(), "y"]);
                        } else {
                            c.queue(&["MSET", b.as_str(), "y", a.as_str(), "x"]);
                        }
                        c.queue(&["INCR", "total"]);
                        c.queue(&["COPY", a.as_str(), "copy", "REPLACE"]);
                        c.queue(&["RENAME", "copy", b.as_str()]);
                    }
                    c.flush().await.unwrap();
                    for _ in 0..40 {
                        let reply = c.read_reply().await.unwrap();
                        assert!(
                            !reply.is_error()
                                || matches!(&reply, Frame::Error(e) if e == "ERR no such key"),
                            "{reply:?}"
                        );
                    }
                }
            }));
        }
        let all = async {
            for t in tasks {
                t.await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .expect("clients stalled: deadlock?");
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut c, &["GET", "total"]).await, bulk("4800"));
    });
}

#[test]
fn full_disk_opens_the_breaker_reads_go_on_and_it_closes_when_space_returns() {
    #[cfg(unix)]
    {
        if !common::disk::is_root() {
            eprintln!("SKIPPED: mounting a small tmpfs to fill needs root (CI runs as root)");
            return;
        }
        let disk = common::disk::SmallDisk::mount(24);
        let mnt = disk.path.clone();
        let kiwi = Kiwi::spawn(
            common::free_port(),
            &mnt.join("data"),
            &["--set", "memory=16MB", "--set", "rocksdb-compression=none"],
        );
        let rt = runtime();
        rt.block_on(async {
            let mut c = Client::connect(&kiwi.addr()).await.unwrap();
            let value = "x".repeat(100_000);
            let mut written = 0;
            let refusal = loop {
                match call(&mut c, &["SET", &format!("k{written}"), &value]).await {
                    Frame::Simple(_) => written += 1,
                    Frame::Error(e) => break e,
                    other => panic!("{other:?}"),
                }
                assert!(written < 1000, "24 MB never filled up");
            };
            assert!(written > 10, "{written}");
            assert!(refusal.starts_with("MISCONF Kiwi is unable to persist to disk"), "{refusal}");
            // Reads go on; more writes fail fast with the same error.
            assert_eq!(call(&mut c, &["GET", "k0"]).await, bulk(&value));
            assert!(matches!(call(&mut c, &["SET", "x", "y"]).await, Frame::Error(e) if e.starts_with("MISCONF")));
            let info = call(&mut c, &["INFO", "runtime"]).await;
            assert_eq!(info_field(&info, "storage_breaker").as_deref(), Some("open"));
            let health = Command::new(env!("CARGO_BIN_EXE_kiwictl"))
                .args(["-p", &kiwi.port.to_string(), "health"])
                .output()
                .unwrap();
            assert_eq!(health.status.code(), Some(1), "kiwictl health must fail while writes are refused");
            // Give the disk room again. A failed SST write (flush/compaction) is retried by
            // RocksDB and the probe closes the breaker by itself; a failed WAL append poisons the
            // log writer until the database is reopened, so the node restarts itself in place
            // (same process) once the disk has room. Either way writes come back by themselves.
            disk.resize(300);
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut last = None;
            loop {
                let reply = match Client::connect(&kiwi.addr()).await {
                    Ok(mut fresh) => fresh.call(&["SET", "x", "y"]).await.ok(),
                    Err(_) => None,
                };
                if reply == Some(Frame::ok()) {
                    break;
                }
                assert!(Instant::now() < deadline, "writes never came back: {last:?}");
                last = reply;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let mut c = Client::connect(&kiwi.addr()).await.unwrap();
            let uptime = info_field(&call(&mut c, &["INFO", "server"]).await, "uptime_in_seconds");
            let info = call(&mut c, &["INFO", "runtime"]).await;
            assert_eq!(info_field(&info, "storage_breaker").as_deref(), Some("closed"));
            eprintln!(
                "writes came back after {} (uptime now {uptime:?} s)",
                match info_field(&info, "storage_breaker_trips").as_deref() {
                    Some("1") => "RocksDB resumed",
                    _ => "a restart in place",
                }
            );
            // Nothing acknowledged was lost either way.
            for i in 0..written {
                let len = call(&mut c, &["STRLEN", &format!("k{i}")]).await;
                assert_eq!(len, Frame::Integer(100_000), "k{i}");
            }
        });
        let mut kiwi = kiwi;
        assert_eq!(
            kiwi.child.try_wait().ok().flatten(),
            None,
            "the node exited"
        );
    }
}

#[test]
fn scan_visits_every_key_exactly_once_across_calls() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        for i in 0..1000 {
            c.queue(&["SET", &format!("user:{i}"), "v"]);
        }
        c.queue(&["SET", "other", "v"]);
        c.queue(&["SET", "ttl:gone", "v", "PX", "1"]);
        c.flush().await.unwrap();
        for _ in 0..1002 {
            assert_eq!(c.read_reply().await.unwrap(), Frame::ok());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut seen = std::collections::HashSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let reply = call(
                &mut c,
                &[
                    "SCAN", &cursor, "MATCH", "user:*", "COUNT", "37", "TYPE", "string",
                ],
            )
            .await;
            let Frame::Array(parts) = reply else {
                panic!("{reply:?}")
            };
            let [Frame::Bulk(next), Frame::Array(keys)] = &parts[..] else {
                panic!("{parts:?}")
            };
            for k in keys {
                let Frame::Bulk(k) = k else { panic!() };
                assert!(seen.insert(k.clone()), "key {k:?} returned twice");
            }
            calls += 1;
            cursor = String::from_utf8(next.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        assert!(calls >= 1000 / 37, "COUNT was not honoured: {calls} calls");
        // RANDOMKEY only ever returns live keys.
        for _ in 0..50 {
            match call(&mut c, &["RANDOMKEY"]).await {
                Frame::Bulk(k) => assert_ne!(&k[..], b"ttl:gone"),
                other => panic!("{other:?}"),
            }
        }
        let Frame::Array(hashes) = call(&mut c, &["SCAN", "0", "TYPE", "hash"]).await else {
            panic!()
        };
        assert_eq!(hashes[1], Frame::Array(vec![]));
    });
}

/// RANDOMKEY reaches every key: in a small database each key as often as the others (the
/// Redis suite's two-key test), in a large one also when all keys share a prefix (a random seek
/// over all byte values would land before or after `user:` and always return the first key).
#[test]
fn randomkey_reaches_every_key() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["MSET", "foo", "x", "bar", "y"]).await;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            if let Frame::Bulk(k) = call(&mut c, &["RANDOMKEY"]).await {
                seen.insert(k);
            }
        }
        assert_eq!(seen.len(), 2, "100 RANDOMKEYs over two keys saw {seen:?}");
        call(&mut c, &["FLUSHDB"]).await;
        for chunk in (0..2000).collect::<Vec<_>>().chunks(500) {
            let mut args = vec!["MSET".to_string()];
            for i in chunk {
                args.push(format!("user:{i}"));
                args.push("v".into());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            call(&mut c, &args).await;
        }
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            if let Frame::Bulk(k) = call(&mut c, &["RANDOMKEY"]).await {
                seen.insert(k);
            }
        }
        assert!(
            seen.len() > 250,
            "1000 RANDOMKEYs over 2000 prefixed keys saw {} keys",
            seen.len()
        );
    });
}

#[test]
fn client_commands_see_and_control_other_connections() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut a = Client::connect(&kiwi.addr()).await.unwrap();
        let mut b = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(&mut b, &["CLIENT", "SETNAME", "worker-b"]).await,
            Frame::ok()
        );
        assert_eq!(call(&mut b, &["SELECT", "5"]).await, Frame::ok());
        assert_eq!(
            call(&mut b, &["CLIENT", "SETINFO", "LIB-NAME", "kiwi-tests"]).await,
            Frame::ok()
        );
        let Frame::Integer(b_id) = call(&mut b, &["CLIENT", "ID"]).await else {
            panic!()
        };
        let Frame::Bulk(list) = call(&mut a, &["CLIENT", "LIST"]).await else {
            panic!()
        };
        let list = String::from_utf8_lossy(&list).into_owned();
        let Frame::Integer(a_id) = call(&mut a, &["CLIENT", "ID"]).await else {
            panic!()
        };
        assert!(
            list.lines().any(|l| l.starts_with(&format!("id={a_id} "))),
            "{list}"
        );
        let line = list
            .lines()
            .find(|l| l.contains("name=worker-b"))
            .expect("b listed");
        for field in [
            format!("id={b_id} "),
            " db=5 ".into(),
            " cmd=client".into(),
            " lib-name=kiwi-tests".into(),
        ] {
            assert!(line.contains(&field), "{field} missing in {line}");
        }
        let Frame::Bulk(info) = call(&mut b, &["CLIENT", "INFO"]).await else {
            panic!()
        };
        assert!(String::from_utf8_lossy(&info).starts_with(&format!("id={b_id} ")));
        // CLIENT REPLY OFF silences a connection until ON.
        a.queue(&["CLIENT", "REPLY", "OFF"]);
        a.queue(&["SET", "silent", "1"]);
        a.queue(&["CLIENT", "REPLY", "ON"]);
        a.queue(&["GET", "silent"]);
        a.flush().await.unwrap();
        assert_eq!(a.read_reply().await.unwrap(), Frame::ok());
        assert_eq!(a.read_reply().await.unwrap(), bulk("1"));
        // KILL by id closes b and reports one client.
        let id = b_id.to_string();
        assert_eq!(
            call(&mut a, &["CLIENT", "KILL", "ID", &id]).await,
            Frame::Integer(1)
        );
        assert!(
            b.call(&["PING"]).await.is_err(),
            "killed client still served"
        );
        assert_eq!(
            call(&mut a, &["CLIENT", "KILL", "127.0.0.1:1"]).await,
            Frame::Error("ERR No such client".into())
        );
        // CONFIG RESETSTAT zeroes the counters INFO shows.
        assert_eq!(call(&mut a, &["CONFIG", "RESETSTAT"]).await, Frame::ok());
        let info = call(&mut a, &["INFO", "stats"]).await;
        assert_eq!(
            info_field(&info, "total_commands_processed").as_deref(),
            Some("1")
        );
        // RESP3: INFO is verbatim text, HELLO a map with the protocol.
        let hello = call(&mut a, &["HELLO", "3"]).await;
        let Frame::Map(fields) = hello else {
            panic!("{hello:?}")
        };
        assert!(fields.contains(&(bulk("proto"), Frame::Integer(3))));
        assert!(matches!(
            call(&mut a, &["INFO", "server"]).await,
            Frame::Verbatim(_)
        ));
    });
}

#[test]
fn long_pipelines_of_large_replies_stream_instead_of_piling_up() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        let value = "v".repeat(100_000);
        assert_eq!(call(&mut c, &["SET", "big", &value]).await, Frame::ok());
        // 3000 replies of 100 KB = 300 MB, requested in one pipeline.
        for _ in 0..3000 {
            c.queue(&["GET", "big"]);
        }
        c.flush().await.unwrap();
        for _ in 0..3000 {
            let Frame::Bulk(b) = c.read_reply().await.unwrap() else {
                panic!()
            };
            assert_eq!(b.len(), 100_000);
        }
        let info = call(&mut c, &["INFO", "memory"]).await;
        let rss: u64 = info_field(&info, "used_memory_rss")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            rss < 200 << 20,
            "RSS {rss}: replies were accumulated instead of streamed"
        );
    });
}

#[test]
fn a_pipeline_of_large_rewrites_commits_early_instead_of_hoarding_versions() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        // Every SETRANGE rewrites a 3 MB value: 100 superseded versions would be 300 MB if a job
        // kept them all until its end.
        for i in 0..100 {
            c.queue(&["SETRANGE", "big", "3000000", &format!("{}", i % 10)]);
        }
        c.flush().await.unwrap();
        for _ in 0..100 {
            assert_eq!(c.read_reply().await.unwrap(), Frame::Integer(3_000_001));
        }
        let info = call(&mut c, &["INFO", "memory"]).await;
        let rss: u64 = info_field(&info, "used_memory_rss")
            .unwrap()
            .parse()
            .unwrap();
        assert!(rss < 200 << 20, "RSS {rss}: the job held every version");
        assert_eq!(
            call(&mut c, &["GETRANGE", "big", "3000000", "-1"]).await,
            bulk("9")
        );
    });
}

/// The `addr=` field of a connection's CLIENT INFO: what the slow log must show for it.
async fn client_addr(client: &mut Client) -> String {
    let Frame::Bulk(info) = call(client, &["CLIENT", "INFO"]).await else {
        panic!("CLIENT INFO is a bulk string in RESP2")
    };
    String::from_utf8_lossy(&info)
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .expect("addr field")
        .to_string()
}

/// One SLOWLOG GET entry: (id, unix time, microseconds, argv, client address, client name).
fn slow_entry(frame: &Frame) -> (i64, i64, i64, Vec<String>, String, String) {
    let text = |f: &Frame| match f {
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    };
    let Frame::Array(fields) = frame else {
        panic!("entry is not an array: {frame:?}")
    };
    let [Frame::Integer(id), Frame::Integer(time), Frame::Integer(micros), Frame::Array(argv), addr, name] =
        &fields[..]
    else {
        panic!("entry has Redis's six fields: {fields:?}")
    };
    (
        *id,
        *time,
        *micros,
        argv.iter().map(text).collect(),
        text(addr),
        text(name),
    )
}

async fn slowlog(
    client: &mut Client,
    count: &str,
) -> Vec<(i64, i64, i64, Vec<String>, String, String)> {
    let Frame::Array(entries) = call(client, &["SLOWLOG", "GET", count]).await else {
        panic!("SLOWLOG GET is an array")
    };
    entries.iter().map(slow_entry).collect()
}

#[test]
fn slowlog_keeps_who_ran_what_newest_first_within_its_limits() {
    let kiwi = Kiwi::start(&["--set", "slowlog-log-slower-than=0"]);
    let rt = runtime();
    rt.block_on(async {
        let mut named = Client::connect(&kiwi.addr()).await.unwrap();
        let mut anonymous = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(&mut named, &["CLIENT", "SETNAME", "reporter"]).await,
            Frame::ok()
        );
        let named_addr = client_addr(&mut named).await;
        let anonymous_addr = client_addr(&mut anonymous).await;
        let started = (kiwi::util::now_ms() / 1000) as i64;
        assert_eq!(call(&mut named, &["SLOWLOG", "RESET"]).await, Frame::ok());
        // Storage and connection commands, from both clients, one a pipeline mixing the two.
        assert_eq!(
            call(&mut named, &["SET", "key", "value"]).await,
            Frame::ok()
        );
        assert_eq!(call(&mut anonymous, &["ECHO", "hi"]).await, bulk("hi"));
        named.queue(&["INCR", "n"]);
        named.queue(&["PING"]);
        named.queue(&["GET", "n"]);
        named.flush().await.unwrap();
        for _ in 0..3 {
            named.read_reply().await.unwrap();
        }
        // Long calls are shortened: 31 arguments and a count, 128 bytes and a count.
        let mut rpush: Vec<String> = vec!["RPUSH".into(), "list".into()];
        rpush.extend((0..38).map(|i| i.to_string()));
        assert_eq!(named.call(&rpush).await.unwrap(), Frame::Integer(38));
        let big = "x".repeat(200);
        assert_eq!(call(&mut named, &["SET", "big", &big]).await, Frame::ok());
        // Failed calls are logged, with passwords hidden.
        assert!(call(&mut anonymous, &["AUTH", "hunter2"]).await.is_error());

        let entries = slowlog(&mut named, "-1").await;
        let argv: Vec<Vec<String>> = entries.iter().map(|e| e.3.clone()).collect();
        let strings = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(argv.len(), 9, "{argv:?}");
        assert_eq!(argv[0], strings(&["AUTH", "(redacted)"]));
        assert_eq!(
            argv[1],
            strings(&["SET", "big", &format!("{}... (72 more bytes)", &big[..128])])
        );
        assert_eq!(argv[2].len(), 32);
        assert_eq!(argv[2][..3], strings(&["RPUSH", "list", "0"]));
        assert_eq!(argv[2][30], "28");
        assert_eq!(argv[2][31], "... (9 more arguments)");
        assert_eq!(argv[3], strings(&["GET", "n"]));
        assert_eq!(argv[4], strings(&["PING"]));
        assert_eq!(argv[5], strings(&["INCR", "n"]));
        assert_eq!(argv[6], strings(&["ECHO", "hi"]));
        assert_eq!(argv[7], strings(&["SET", "key", "value"]));
        assert_eq!(argv[8], strings(&["SLOWLOG", "RESET"]));
        let now = (kiwi::util::now_ms() / 1000) as i64;
        for (i, (id, time, micros, _, addr, name)) in entries.iter().enumerate() {
            assert_eq!(
                *id,
                entries[0].0 - i as i64,
                "ids count down from the newest"
            );
            assert!(
                (started..=now).contains(time),
                "time {time} not in {started}..={now}"
            );
            assert!(*micros >= 0);
            let anonymous_call = i == 0 || i == 6;
            let (want_addr, want_name) = if anonymous_call {
                (&anonymous_addr, "")
            } else {
                (&named_addr, "reporter")
            };
            assert_eq!((addr, name.as_str()), (want_addr, want_name), "entry {i}");
        }
        assert_eq!(slowlog(&mut named, "2").await.len(), 2);
        assert_eq!(slowlog(&mut named, "0").await.len(), 0);
        // The default count is 10.
        let Frame::Array(default) = call(&mut named, &["SLOWLOG", "GET"]).await else {
            panic!()
        };
        assert_eq!(default.len(), 10);

        // Lowering slowlog-max-len trims the oldest entries at once (the CONFIG SET is logged).
        assert_eq!(
            call(&mut named, &["CONFIG", "SET", "slowlog-max-len", "3"]).await,
            Frame::ok()
        );
        assert_eq!(
            call(&mut named, &["SLOWLOG", "LEN"]).await,
            Frame::Integer(3)
        );
        let kept = slowlog(&mut named, "-1").await;
        assert_eq!(kept[0].3, strings(&["SLOWLOG", "LEN"]));
        assert_eq!(kept[1].3[..2], strings(&["CONFIG", "SET"]));

        // Off: nothing more is logged; ids resume where they were when it is back on.
        let last_id = kept[0].0 + 1; // the SLOWLOG GET above
        call(
            &mut named,
            &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
        )
        .await;
        call(&mut named, &["SET", "unseen", "1"]).await;
        call(
            &mut named,
            &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
        )
        .await;
        let newest = slowlog(&mut named, "1").await;
        assert_eq!(
            newest[0].3[..4],
            strings(&["CONFIG", "SET", "slowlog-log-slower-than", "0"])
        );
        assert_eq!(newest[0].0, last_id + 1);

        // RESP3 keeps the same shape.
        assert!(matches!(
            call(&mut named, &["HELLO", "3"]).await,
            Frame::Map(_)
        ));
        let newest = slowlog(&mut named, "1").await;
        assert_eq!(newest[0].3, strings(&["HELLO", "3"]));
    });
}

#[test]
fn latency_monitor_samples_slow_commands_by_event() {
    let kiwi = Kiwi::start(&["--set", "latency-monitor-threshold=1"]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        // One ZADD of 100k members takes well over a millisecond; ZADD is a fast command.
        let mut zadd: Vec<String> = vec!["ZADD".into(), "z".into()];
        for i in 0..100_000 {
            zadd.push(i.to_string());
            zadd.push(format!("member:{i}"));
        }
        assert_eq!(c.call(&zadd).await.unwrap(), Frame::Integer(100_000));
        let Frame::Array(latest) = call(&mut c, &["LATENCY", "LATEST"]).await else {
            panic!()
        };
        let fast = latest
            .iter()
            .find_map(|e| match e {
                Frame::Array(f) if f[0] == bulk("fast-command") => Some(f.clone()),
                _ => None,
            })
            .expect("a fast-command event");
        let [_, Frame::Integer(time), Frame::Integer(latency), Frame::Integer(max)] = &fast[..]
        else {
            panic!("{fast:?}")
        };
        assert!(*time > 0 && *latency >= 1 && max >= latency, "{fast:?}");
        let Frame::Array(history) = call(&mut c, &["LATENCY", "HISTORY", "fast-command"]).await
        else {
            panic!()
        };
        assert_eq!(
            history.last(),
            Some(&Frame::Array(vec![
                Frame::Integer(*time),
                Frame::Integer(*latency)
            ]))
        );
        let Frame::Bulk(graph) = call(&mut c, &["LATENCY", "GRAPH", "fast-command"]).await else {
            panic!()
        };
        let graph = String::from_utf8_lossy(&graph).into_owned();
        assert!(graph.starts_with("fast-command - high "), "{graph}");
        let Frame::Bulk(doctor) = call(&mut c, &["LATENCY", "DOCTOR"]).await else {
            panic!()
        };
        let doctor = String::from_utf8_lossy(&doctor).into_owned();
        assert!(doctor.contains(". fast-command: "), "{doctor}");
        // RESET by name is case-insensitive; HISTORY names are exact.
        assert_eq!(
            call(&mut c, &["LATENCY", "RESET", "FAST-COMMAND"]).await,
            Frame::Integer(1)
        );
        assert_eq!(
            call(&mut c, &["LATENCY", "HISTORY", "fast-command"]).await,
            Frame::Array(vec![])
        );
    });
}

/// Sends each line (words split on spaces) and fails on an error reply.
async fn run_lines(c: &mut Client, lines: &[&str]) {
    for line in lines {
        let args: Vec<&str> = line.split(' ').collect();
        if let Frame::Error(e) = call(c, &args).await {
            panic!("{line}: {e}");
        }
    }
}

async fn value_digests(c: &mut Client, keys: &[&str]) -> Vec<Frame> {
    let mut args = vec!["DEBUG", "DIGEST-VALUE"];
    args.extend(keys);
    match call(c, &args).await {
        Frame::Array(items) => items,
        other => panic!("DEBUG DIGEST-VALUE answered {other:?}"),
    }
}

async fn digest(c: &mut Client) -> String {
    match call(c, &["DEBUG", "DIGEST"]).await {
        Frame::Simple(d) => {
            let d = String::from_utf8_lossy(&d).into_owned();
            assert!(
                d.len() == 40
                    && d.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{d}"
            );
            d
        }
        other => panic!("DEBUG DIGEST answered {other:?}"),
    }
}

/// The same data built two different ways — other command orders, collections overwritten or
/// pushed from the other end, so internal versions and list offsets differ — digests the same;
/// a change to one member, one expiry, one key name or a key's database changes the digest.
#[test]
fn debug_digest_depends_on_the_data_not_its_history() {
    let kiwi = Kiwi::start(&[]);
    // Far in the future, and the same for both builds.
    const AT: &str = "4102444800000";
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.expect("connect");
        let zeros = "0".repeat(40);
        assert_eq!(digest(&mut c).await, zeros, "an empty server");
        let keys = ["s", "n", "h", "l", "S", "z", "t", "hll", "nosuch"];
        run_lines(
            &mut c,
            &[
                "SET s hello",
                "SET n 10",
                "HSET h f1 v1 f2 v2 f3 v3",
                "RPUSH l a b c",
                "SADD S a b c",
                "ZADD z 1 a 2 b 3 c",
                &format!("SET t v PXAT {AT}"),
                "HSET ht f v",
                &format!("PEXPIREAT ht {AT}"),
                "PFADD hll a b c",
                "SELECT 3",
                "SET d3 v",
                "SELECT 0",
            ],
        )
        .await;
        let a = digest(&mut c).await;
        assert_ne!(a, zeros);
        let values_a = value_digests(&mut c, &keys).await;
        assert_eq!(
            values_a.last(),
            Some(&Frame::Simple(zeros.clone().into())),
            "a missing key"
        );
        assert_eq!(call(&mut c, &["FLUSHALL"]).await, Frame::ok());
        assert_eq!(digest(&mut c).await, zeros, "after FLUSHALL");
        run_lines(
            &mut c,
            &[
                "SELECT 3",
                "SET d3 v",
                "SELECT 0",
                "PFADD hll c b a",
                // A list pushed from the other end, after an older list under the same name.
                "RPUSH l x y",
                "DEL l",
                "LPUSH l c b a",
                // A set once a hash, members added and removed.
                "HSET S x y",
                "DEL S",
                "SADD S c x b a",
                "SREM S x",
                "ZADD z 3 c 5 b 1 a",
                "ZADD z 2 b",
                "HSET h f3 v3 f2 x f4 v4",
                "HSET h f1 v1 f2 v2",
                "HDEL h f4",
                &format!("PEXPIREAT ht {AT}"),
                "HSET ht f v",
                &format!("PEXPIREAT ht {AT}"),
                "SET t v",
                &format!("PEXPIREAT t {AT}"),
                "SET n 5",
                "INCRBY n 5",
                "SET s he",
                "APPEND s llo",
            ],
        )
        .await;
        assert_eq!(digest(&mut c).await, a, "the same data built another way");
        assert_eq!(value_digests(&mut c, &keys).await, values_a);
        // A value's digest does not depend on the key's name (as in Redis).
        run_lines(&mut c, &["SET s2 hello"]).await;
        assert_eq!(
            call(&mut c, &["DEBUG", "DIGEST-VALUE", "s2"]).await,
            Frame::Array(vec![values_a[0].clone()])
        );
        run_lines(&mut c, &["DEL s2"]).await;
        assert_eq!(digest(&mut c).await, a);
        // Each change moves the digest; undoing it brings it back.
        let later = "4102444800001";
        let (at_later, at) = (format!("PEXPIREAT t {later}"), format!("PEXPIREAT t {AT}"));
        let ht_at = format!("PEXPIREAT ht {AT}");
        let changes: [(&[&str], &[&str]); 10] = [
            (&["HSET h f2 v2x"], &["HSET h f2 v2"]),
            (&["SADD S d"], &["SREM S d"]),
            (&["ZADD z 2.5 b"], &["ZADD z 2 b"]),
            (&["LSET l 0 B"], &["LSET l 0 a"]),
            (&["SETRANGE s 0 H"], &["SETRANGE s 0 h"]),
            (&[&at_later], &[&at]),
            (&["PERSIST ht"], &[&ht_at]),
            (&["RENAME s s9"], &["RENAME s9 s"]),
            (&["MOVE s 5"], &["SELECT 5", "MOVE s 0", "SELECT 0"]),
            (&["SWAPDB 0 3"], &["SWAPDB 0 3"]),
        ];
        for (change, undo) in changes {
            run_lines(&mut c, change).await;
            assert_ne!(digest(&mut c).await, a, "after {change:?}");
            run_lines(&mut c, undo).await;
            assert_eq!(digest(&mut c).await, a, "after {undo:?}");
        }
        assert_eq!(digest(&mut c).await, a, "after undoing every change");
        assert_eq!(value_digests(&mut c, &keys).await, values_a);
        // A list's order is part of its value.
        run_lines(&mut c, &["LSET l 0 b", "LSET l 1 a"]).await;
        assert_ne!(value_digests(&mut c, &keys).await[3], values_a[3]);
    });
}
