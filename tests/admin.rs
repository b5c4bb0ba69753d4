//! The admin HTTP API against a real kiwi process: every endpoint's codes and bodies, token
//! enforcement, Prometheus validity (promtool), liveness under a write flood, and restoring a
//! checkpoint on a new node.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use common::{bulk, call, multi_runtime, runtime, Kiwi};
use kiwi::admin::status::Status;
use kiwi::resp::client::Client;
use kiwi::resp::Frame;
use serde_json::{json, Value};

const TOKEN: &str = "t0ken-for-tests";

/// The flood test measures latency, so it runs alone (write lock) while the other tests of this
/// file share the machine among themselves (read locks).
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    EXCLUSIVE
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
const PASSWORD: &str = "pa55-for-tests";

/// One HTTP exchange: status, `WWW-Authenticate` header, body as JSON (or `Value::String` when
/// the body is not JSON).
struct Reply {
    status: u16,
    challenge: Option<String>,
    body: Value,
    text: String,
}

async fn http(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.expect("read body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
    Reply {
        status,
        challenge,
        body,
        text,
    }
}

fn get(url: &str) -> Reply {
    runtime().block_on(http("GET", url, None, None))
}

/// The `error` field of an error body; panics when the body is not the API's error shape.
fn error_of(reply: &Reply) -> &str {
    reply.body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no JSON error in {} body: {}", reply.status, reply.text))
}

#[test]
fn probes_status_and_unknown_routes() {
    let _shared = shared();
    let kiwi = Kiwi::start(&[]);
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["SET", "a", "1"]).await;
        call(&mut c, &["GET", "a"]).await;
        call(&mut c, &["SELECT", "2"]).await;
        call(&mut c, &["RPUSH", "l", "x", "y"]).await;
        call(&mut c, &["INCR", "l"]).await; // WRONGTYPE: a failed call
    });

    let health = get(&kiwi.admin_url("/health"));
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["runtimes"]["storage"], "ok");
    let ready = get(&kiwi.admin_url("/ready"));
    assert_eq!((ready.status, &ready.body), (200, &json!({"ready": true})));

    let reply = get(&kiwi.admin_url("/v1/status"));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let status: Status = serde_json::from_value(reply.body.clone()).expect("status document");
    assert_eq!(status.version, 1);
    assert_eq!(status.server.mode, "single-node");
    assert_eq!(status.server.resp_addr, kiwi.addr());
    assert_eq!(
        status.server.admin_addr,
        format!("127.0.0.1:{}", kiwi.admin_port)
    );
    assert_eq!(status.server.pid, kiwi.child.id());
    assert!(status.raft.is_none());
    assert_eq!(reply.body["raft"], Value::Null);
    assert_eq!(status.keys.total, 2);
    let per_db: Vec<(u32, u64)> = status.keys.per_db.iter().map(|d| (d.db, d.keys)).collect();
    assert_eq!(per_db, vec![(0, 1), (2, 1)]);
    let incr = status
        .commands
        .iter()
        .find(|c| c.name == "incr")
        .expect("incr stats");
    assert_eq!((incr.calls, incr.failed), (1, 1));
    assert!(incr.p50_us >= 1 && incr.p50_us <= incr.p99_us && incr.p99_us <= incr.p999_us);
    assert!(status.throughput.writes_total >= 3 && status.throughput.reads_total >= 1);
    assert_eq!(status.runtimes.storage_threads, 2);
    assert_eq!(status.runtimes.breaker.state, "closed");
    assert!(status.storage.disk_used_bytes > 0 && status.storage.wal_bytes > 0);

    let missing = get(&kiwi.admin_url("/v2/nothing"));
    assert_eq!(missing.status, 404);
    assert!(error_of(&missing).contains("no such endpoint"));
    let cluster = get(&kiwi.admin_url("/v1/cluster/members"));
    assert_eq!(cluster.status, 404);
    assert!(
        error_of(&cluster).contains("single-node mode"),
        "{}",
        cluster.text
    );
    let wrong_method = runtime().block_on(http("DELETE", &kiwi.admin_url("/health"), None, None));
    assert_eq!(wrong_method.status, 405);
    assert!(error_of(&wrong_method).contains("DELETE"));
    // A mutating endpoint asked with the wrong method is 405, not 401: the route exists.
    let wrong_method = get(&kiwi.admin_url("/v1/shutdown"));
    assert_eq!(wrong_method.status, 405);
}

#[test]
fn config_mirrors_config_get_and_set_and_never_shows_secrets() {
    let _shared = shared();
    let kiwi = Kiwi::start(&[
        "--set",
        &format!("requirepass={PASSWORD}"),
        "--set",
        &format!("admin-token={TOKEN}"),
    ]);
    let rt = runtime();
    let url = |key: &str| kiwi.admin_url(&format!("/v1/config/{key}"));

    let one = get(&url("maxclients"));
    assert_eq!(
        (one.status, &one.body),
        (200, &json!({"maxclients": "10000"}))
    );
    let glob = get(&url("slowlog-*"));
    assert_eq!(
        glob.body,
        json!({"slowlog-log-slower-than": "10000", "slowlog-max-len": "128"})
    );
    for secret in ["requirepass", "admin-token"] {
        let reply = get(&url(secret));
        assert_eq!(reply.body[secret], "<redacted>", "{}", reply.text);
    }
    for path in ["/v1/config/*", "/v1/status", "/metrics"] {
        let text = get(&kiwi.admin_url(path)).text;
        assert!(
            !text.contains(PASSWORD) && !text.contains(TOKEN),
            "{path} leaks a secret"
        );
    }
    let unknown = get(&url("no-such-option"));
    assert_eq!(unknown.status, 404);
    assert!(error_of(&unknown).contains("no-such-option"));

    let put = |key: &str, body: Value| rt.block_on(http("PUT", &url(key), Some(TOKEN), Some(body)));
    let changed = put("maxclients", json!({"value": "777"}));
    assert_eq!(
        (changed.status, &changed.body),
        (200, &json!({"maxclients": "777"}))
    );
    let changed = put("slowlog-max-len", json!({"value": 64}));
    assert_eq!(changed.body, json!({"slowlog-max-len": "64"}));
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["AUTH", PASSWORD]).await;
        let reply = call(&mut c, &["CONFIG", "GET", "maxclients"]).await;
        assert_eq!(reply, Frame::Array(vec![bulk("maxclients"), bulk("777")]));
    });
    let immutable = put("port", json!({"value": "1"}));
    assert_eq!(immutable.status, 400);
    assert!(
        error_of(&immutable).contains("immutable"),
        "{}",
        immutable.text
    );
    let invalid = put("maxclients", json!({"value": "many"}));
    assert_eq!(invalid.status, 400);
    assert!(error_of(&invalid).contains("maxclients"));
    let unknown = put("no-such-option", json!({"value": "1"}));
    assert_eq!(unknown.status, 404);
    let malformed = put("maxclients", json!({"val": "1"}));
    assert_eq!(malformed.status, 400);
    assert!(error_of(&malformed).contains("invalid JSON body"));

    // A body past the limit is refused before it is parsed.
    let huge = json!({"value": "x".repeat(200_000)});
    let too_big = put("maxclients", huge);
    assert_eq!(too_big.status, 413);
    assert_eq!(error_of(&too_big), "request body too large");
}

#[test]
fn mutating_endpoints_require_the_token() {
    let _shared = shared();
    let mut kiwi = Kiwi::start(&["--set", &format!("admin-token={TOKEN}")]);
    let tmp = tempfile::tempdir().unwrap();
    let checkpoint = tmp.path().join("backup");
    let endpoints: Vec<(&str, String, Option<Value>)> = vec![
        (
            "PUT",
            kiwi.admin_url("/v1/config/maxclients"),
            Some(json!({"value": "500"})),
        ),
        ("POST", kiwi.admin_url("/v1/compact"), None),
        (
            "POST",
            kiwi.admin_url("/v1/checkpoint"),
            Some(json!({"dir": checkpoint})),
        ),
        ("POST", kiwi.admin_url("/v1/shutdown"), None),
    ];
    let rt = runtime();
    for (method, url, body) in &endpoints {
        let missing = rt.block_on(http(method, url, None, body.clone()));
        assert_eq!(missing.status, 401, "{method} {url}: {}", missing.text);
        assert!(error_of(&missing).contains("missing admin token"));
        assert_eq!(
            missing.challenge.as_deref(),
            Some("Bearer realm=\"kiwi-admin\"")
        );
        let wrong = rt.block_on(http(method, url, Some("not-the-token"), body.clone()));
        assert_eq!(wrong.status, 403, "{method} {url}: {}", wrong.text);
        assert_eq!(error_of(&wrong), "invalid admin token");
    }
    // Nothing was changed by the refused requests.
    assert!(!checkpoint.exists());
    assert_eq!(
        get(&kiwi.admin_url("/v1/config/maxclients")).body["maxclients"],
        "10000"
    );

    let expected = [
        (200, "maxclients"),
        (202, "status"),
        (201, "dir"),
        (202, "status"),
    ];
    for ((method, url, body), (code, field)) in endpoints.iter().zip(expected) {
        let right = rt.block_on(http(method, url, Some(TOKEN), body.clone()));
        assert_eq!(right.status, code, "{method} {url}: {}", right.text);
        assert!(
            right.body.get(field).is_some(),
            "{method} {url}: {}",
            right.text
        );
    }
    assert!(checkpoint.join("CURRENT").exists());
    // The accepted shutdown stops the process cleanly.
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(status) = kiwi.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "kiwi did not exit after POST /v1/shutdown"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit}");
}

#[test]
fn control_endpoints_validate_their_input() {
    let _shared = shared();
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    let post = |path: &str, body: Option<Value>| {
        rt.block_on(http("POST", &kiwi.admin_url(path), None, body))
    };
    let compact = post("/v1/compact", None);
    assert_eq!(
        (compact.status, &compact.body),
        (202, &json!({"status": "compaction started"}))
    );

    let relative = post("/v1/checkpoint", Some(json!({"dir": "backup"})));
    assert_eq!(relative.status, 400);
    assert!(error_of(&relative).contains("absolute"));
    let exists = post("/v1/checkpoint", Some(json!({"dir": kiwi.dir})));
    assert_eq!(exists.status, 409);
    assert!(error_of(&exists).contains("already exists"));
    let orphan = post(
        "/v1/checkpoint",
        Some(json!({"dir": "/no/such/parent/backup"})),
    );
    assert_eq!(orphan.status, 400);
    let no_body = post("/v1/checkpoint", None);
    assert_eq!(no_body.status, 400);
    let not_json = runtime().block_on(async {
        let response = reqwest::Client::new()
            .post(kiwi.admin_url("/v1/checkpoint"))
            .body("dir=/tmp/x")
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    });
    assert_eq!(not_json, 400);
}

#[test]
fn metrics_are_valid_prometheus_text() {
    let _shared = shared();
    let kiwi = Kiwi::start(&[]);
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        for i in 0..50 {
            call(&mut c, &["SET", &format!("k{i}"), "v"]).await;
        }
        call(&mut c, &["GET", "k1"]).await;
        call(&mut c, &["HSET", "k1", "f", "v"]).await; // WRONGTYPE
        call(&mut c, &["GET"]).await; // wrong arity: rejected
    });
    let url = kiwi.admin_url("/metrics");
    let (content_type, text) = runtime().block_on(async {
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        (content_type, response.text().await.unwrap())
    });
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    for line in [
        "kiwi_commands_total{command=\"set\",result=\"ok\"} 50",
        "kiwi_commands_total{command=\"hset\",result=\"error\"} 1",
        "kiwi_commands_total{command=\"get\",result=\"rejected\"} 1",
        "kiwi_command_duration_seconds_count{command=\"set\"} 50",
        "kiwi_command_duration_seconds_bucket{command=\"set\",le=\"+Inf\"} 50",
        "kiwi_keys{db=\"0\"} 50",
        "kiwi_storage_breaker_open 0",
        "kiwi_runtime_threads{runtime=\"storage\"} 2",
        "# TYPE kiwi_rocksdb_write_stalls_total counter",
        "# TYPE kiwi_rocksdb_sst_bytes gauge",
        "# TYPE kiwi_process_resident_memory_bytes gauge",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing '{line}' in:\n{text}"
        );
    }
    assert!(
        !text.contains("kiwi_raft_"),
        "raft metrics in single-node mode"
    );

    let Ok(mut promtool) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!(
            "SKIPPED the promtool check: promtool is not installed \
             (scripts/install-deps.sh installs Debian's prometheus package)"
        );
        return;
    };
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{report}"
    );
    assert!(
        report.trim().is_empty(),
        "promtool lint findings:\n{report}"
    );
}

/// `GET /health` over a fresh connection, as a probe does: (status code, elapsed).
fn probe_health(admin_port: u16) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", admin_port)).expect("connect admin port");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: kiwi\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read /health");
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&response);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad HTTP response: {text}"));
    (code, elapsed)
}

#[test]
fn health_answers_within_100ms_while_storage_is_flooded() {
    let _alone = EXCLUSIVE
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // One storage thread behind a short queue: 16 flooding connections keep it full.
    let kiwi = Kiwi::start(&[
        "--set",
        "storage-threads=1",
        "--set",
        "storage-queue-depth=4",
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let addr = kiwi.addr();
    let flag = stop.clone();
    let flood = std::thread::spawn(move || {
        multi_runtime().block_on(async move {
            let value = "v".repeat(512);
            let tasks: Vec<_> = (0..16)
                .map(|conn| {
                    let (addr, flag, value) = (addr.clone(), flag.clone(), value.clone());
                    tokio::spawn(async move {
                        let mut c = Client::connect(&addr).await.unwrap();
                        let mut n = 0u64;
                        while !flag.load(Ordering::Relaxed) {
                            for _ in 0..200 {
                                c.queue(&["SET", &format!("flood:{conn}:{n}"), &value]);
                                n += 1;
                            }
                            c.flush().await.unwrap();
                            for _ in 0..200 {
                                c.read_reply().await.unwrap();
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
    });
    std::thread::sleep(Duration::from_millis(500)); // let the flood build up
    let mut slowest = Duration::ZERO;
    for _ in 0..40 {
        let (code, elapsed) = probe_health(kiwi.admin_port);
        assert_eq!(code, 200);
        slowest = slowest.max(elapsed);
        std::thread::sleep(Duration::from_millis(50));
    }
    let metrics = get(&kiwi.admin_url("/metrics")).text;
    stop.store(true, Ordering::Relaxed);
    flood.join().unwrap();
    let full = metrics
        .lines()
        .find_map(|l| l.strip_prefix("kiwi_runtime_queue_full_total{runtime=\"storage\"} "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("queue-full counter");
    assert!(full > 0, "the flood never filled the storage queue");
    eprintln!("slowest /health under the flood: {slowest:?} (storage queue full {full} times)");
    assert!(
        slowest < Duration::from_millis(100),
        "/health took {slowest:?} while storage was saturated"
    );
}

#[test]
fn checkpoint_restores_on_a_new_node() {
    let _shared = shared();
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["SET", "greeting", "hello"]).await;
        call(&mut c, &["HSET", "h", "f1", "v1", "f2", "v2"]).await;
        call(&mut c, &["RPUSH", "list", "a", "b", "c"]).await;
        call(&mut c, &["ZADD", "z", "1", "one", "2", "two"]).await;
        call(&mut c, &["SELECT", "3"]).await;
        call(&mut c, &["SET", "in-db3", "yes"]).await;
    });
    let tmp = tempfile::tempdir().unwrap();
    let backup = tmp.path().join("backup");
    let reply = rt.block_on(http(
        "POST",
        &kiwi.admin_url("/v1/checkpoint"),
        None,
        Some(json!({"dir": backup})),
    ));
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["dir"], backup.display().to_string());
    // Written after the checkpoint: must not be in it.
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["SET", "later", "x"]).await;
        call(&mut c, &["DEL", "greeting"]).await;
    });

    let restored = Kiwi::spawn(common::free_port(), &backup, &[]);
    rt.block_on(async {
        let mut c = Client::connect(&restored.addr()).await.unwrap();
        assert_eq!(call(&mut c, &["GET", "greeting"]).await, bulk("hello"));
        assert_eq!(call(&mut c, &["EXISTS", "later"]).await, Frame::Integer(0));
        assert_eq!(call(&mut c, &["HGET", "h", "f2"]).await, bulk("v2"));
        assert_eq!(
            call(&mut c, &["LRANGE", "list", "0", "-1"]).await,
            Frame::Array(vec![bulk("a"), bulk("b"), bulk("c")])
        );
        assert_eq!(call(&mut c, &["ZSCORE", "z", "two"]).await, bulk("2"));
        assert_eq!(call(&mut c, &["DBSIZE"]).await, Frame::Integer(4));
        call(&mut c, &["SELECT", "3"]).await;
        assert_eq!(call(&mut c, &["GET", "in-db3"]).await, bulk("yes"));
        assert_eq!(call(&mut c, &["DBSIZE"]).await, Frame::Integer(1));
    });
    let status: Status =
        serde_json::from_value(get(&restored.admin_url("/v1/status")).body).unwrap();
    assert_eq!(status.keys.total, 5);
}

/// Runs kiwi expecting a failed start; returns its standard error.
fn failed_start(settings: &[String]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiwi"));
    cmd.args(["--port", &common::free_port().to_string(), "--dir"])
        .arg(tmp.path().join("data"));
    for setting in settings {
        cmd.arg("--set").arg(setting);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "kiwi started with {settings:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn unsafe_or_impossible_admin_ports_stop_the_start() {
    let _shared = shared();
    let err = failed_start(&[
        format!("requirepass={PASSWORD}"),
        "admin-bind=0.0.0.0".into(),
        "admin-port=0".into(),
    ]);
    assert!(err.contains("admin-token"), "{err}");
    let err = failed_start(&["admin-bind=localhost".into()]);
    assert!(
        err.contains("admin-bind 'localhost' is not an IP address"),
        "{err}"
    );
    // The port of a running node's admin API is taken.
    let kiwi = Kiwi::start(&[]);
    let err = failed_start(&[format!("admin-port={}", kiwi.admin_port)]);
    assert!(err.contains("admin API: listen on"), "{err}");
    // With a token, a non-loopback admin port is allowed.
    let open = Kiwi::start(&[
        "--set",
        &format!("requirepass={PASSWORD}"),
        "--set",
        "admin-bind=0.0.0.0",
        "--set",
        &format!("admin-token={TOKEN}"),
    ]);
    assert_eq!(get(&open.admin_url("/health")).status, 200);
}
