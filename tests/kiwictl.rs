//! `kiwictl` as operators run it: the built binary against a real kiwi node, checking output,
//! exit codes and the one-line errors.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, Kiwi};
use kiwi::resp::client::Client;

/// Runs kiwictl with a clean environment: no KIWI_* variables and a HOME without a config file,
/// unless the test provides one.
fn kiwictl_in(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiwictl"));
    for (key, _) in std::env::vars() {
        if key.starts_with("KIWI") || key == "XDG_CONFIG_HOME" {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", home)
        .env("RUST_BACKTRACE", "1")
        .envs(envs.iter().copied())
        .args(args)
        .output()
        .expect("run kiwictl")
}

fn kiwictl(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp home");
    kiwictl_in(home.path(), args, &[])
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success and returns stdout.
fn ok(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Asserts a failure reported as exactly one `kiwictl: ...` line, and returns it.
fn one_line_failure(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");
    assert!(err.starts_with("kiwictl: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err.trim_end().to_string()
}

#[test]
fn info_config_ping_and_health_against_a_node() {
    let kiwi = Kiwi::start(&[]);
    let p = kiwi.port.to_string();

    assert!(ok(kiwictl(&["-p", &p, "ping"])).starts_with("PONG ("));
    let info = ok(kiwictl(&["-p", &p, "info", "server"]));
    assert!(info.contains("redis_version:"), "{info}");
    assert!(!info.contains('\r'));
    let json: serde_json::Value =
        serde_json::from_str(&ok(kiwictl(&["-p", &p, "info", "-o", "json"]))).expect("info json");
    assert!(json["server"]["tcp_port"] == p.as_str(), "{json}");

    assert_eq!(
        ok(kiwictl(&["-p", &p, "config", "set", "maxclients", "5000"])),
        "OK\n"
    );
    assert_eq!(
        ok(kiwictl(&["-p", &p, "config", "get", "maxclient*"])),
        "NAME        VALUE\nmaxclients   5000\n"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(kiwictl(&[
        "-p",
        &p,
        "-o",
        "json",
        "config",
        "get",
        "maxclients",
    ])))
    .expect("config json");
    assert_eq!(
        json,
        serde_json::json!([{ "name": "maxclients", "value": "5000" }])
    );
    let bad = kiwictl(&["-p", &p, "config", "set", "maxclients", "lots"]);
    let line = one_line_failure(&bad, 1);
    assert!(line.contains("ERR CONFIG SET failed"), "{line}");

    assert_eq!(ok(kiwictl(&["-p", &p, "health"])), "healthy\n");
}

#[test]
fn slowlog_and_clients() {
    let kiwi = Kiwi::start(&[]);
    let p = kiwi.port.to_string();
    ok(kiwictl(&[
        "-p",
        &p,
        "config",
        "set",
        "slowlog-log-slower-than",
        "0",
    ]));
    ok(kiwictl(&["-p", &p, "ping"]));
    let log = ok(kiwictl(&["-p", &p, "slowlog", "get", "5"]));
    assert!(log.starts_with("ID  AGE"), "{log}");
    assert!(
        log.contains("CONFIG SET slowlog-log-slower-than 0"),
        "{log}"
    );
    ok(kiwictl(&["-p", &p, "slowlog", "reset"]));

    let list = ok(kiwictl(&["-p", &p, "clients"]));
    assert!(list.starts_with("ID "), "{list}");
    assert_eq!(
        list.lines().count(),
        2,
        "kiwictl's own connection is listed: {list}"
    );
    assert!(
        list.lines()
            .nth(1)
            .is_some_and(|row| row.contains(" 127.0.0.1:")),
        "{list}"
    );
    let line = one_line_failure(&kiwictl(&["-p", &p, "clients", "kill", "999999"]), 1);
    assert!(
        line.ends_with("no client 999999") || line.contains("No such client"),
        "{line}"
    );
}

#[test]
fn unreachable_nodes_fail_with_one_line_and_exit_2() {
    let port = free_port().to_string();
    for args in [
        vec!["-p", &port, "info"],
        vec!["-p", &port, "health"],
        vec!["--admin-port", &port, "cluster", "status"],
        vec!["--admin-port", &port, "top"],
        vec!["--admin-port", &port, "compact"],
    ] {
        let line = one_line_failure(&kiwictl(&args), 2);
        assert_eq!(
            line,
            format!("kiwictl: cannot reach node at 127.0.0.1:{port}: connection refused"),
            "{args:?}"
        );
    }
    let line = one_line_failure(&kiwictl(&["-H", "no-such-host.invalid", "ping"]), 2);
    assert!(
        line.starts_with("kiwictl: cannot reach node at no-such-host.invalid:7379: "),
        "{line}"
    );
}

#[test]
fn wrong_password_is_one_line() {
    let kiwi = Kiwi::start(&["--set", "requirepass=sesame"]);
    let p = kiwi.port.to_string();
    let line = one_line_failure(&kiwictl(&["-p", &p, "-a", "wrong", "info"]), 1);
    assert!(line.contains("authentication failed"), "{line}");
    assert!(ok(kiwictl(&["-p", &p, "-a", "sesame", "info", "server"])).contains("redis_version"));
}

#[test]
fn settings_come_from_environment_and_config_file() {
    let kiwi = Kiwi::start(&[]);
    let p = kiwi.port.to_string();
    let home = tempfile::tempdir().expect("temp home");
    assert!(ok(kiwictl_in(home.path(), &["ping"], &[("KIWI_PORT", &p)])).starts_with("PONG"));

    let conf = home.path().join(".config/kiwi");
    std::fs::create_dir_all(&conf).expect("config dir");
    std::fs::write(
        conf.join("kiwictl.conf"),
        format!("# test\nport = {p}\noutput = json\n"),
    )
    .expect("write config");
    let out = ok(kiwictl_in(home.path(), &["ping"], &[]));
    assert!(
        out.contains("\"rtt_ms\""),
        "output = json from the file: {out}"
    );
    let out = ok(kiwictl_in(home.path(), &["ping", "-o", "table"], &[]));
    assert!(out.starts_with("PONG"), "the command line wins: {out}");

    std::fs::write(conf.join("kiwictl.conf"), "port = seven\n").expect("write config");
    let line = one_line_failure(&kiwictl_in(home.path(), &["ping"], &[]), 2);
    assert!(
        line.ends_with("kiwictl.conf: line 1: port is not valid: \"seven\""),
        "{line}"
    );
}

#[test]
fn completions_for_every_shell() {
    for (shell, marker) in [
        ("bash", "_kiwictl"),
        ("zsh", "#compdef kiwictl"),
        ("fish", "complete -c kiwictl"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = ok(kiwictl(&["completions", shell]));
        assert!(script.contains(marker), "{shell}");
        assert!(script.contains("add-node"), "{shell} completes subcommands");
    }
}

#[test]
fn checkpoint_and_compact_need_the_admin_token() {
    let kiwi = Kiwi::start(&["--set", "admin-token=t0ken"]);
    let a = kiwi.admin_port.to_string();
    let line = one_line_failure(&kiwictl(&["--admin-port", &a, "compact"]), 1);
    assert_eq!(
        line,
        format!(
            "kiwictl: node at 127.0.0.1:{a} refused the admin token (check --token / KIWI_TOKEN)"
        )
    );
    assert_eq!(
        ok(kiwictl(&[
            "--admin-port",
            &a,
            "--token",
            "t0ken",
            "compact"
        ])),
        "compaction started\n"
    );

    let out = tempfile::tempdir().expect("temp dir");
    let dir = out.path().join("cp1");
    let dir = dir.to_str().expect("utf-8 temp path");
    let home = tempfile::tempdir().expect("temp home");
    let printed = ok(kiwictl_in(
        home.path(),
        &["--admin-port", &a, "checkpoint", dir],
        &[("KIWI_TOKEN", "t0ken")],
    ));
    assert_eq!(printed, format!("checkpoint written to {dir}\n"));
    assert!(
        Path::new(dir).join("CURRENT").exists(),
        "a RocksDB checkpoint"
    );
    let line = one_line_failure(
        &kiwictl_in(
            home.path(),
            &["--admin-port", &a, "checkpoint", dir],
            &[("KIWI_TOKEN", "t0ken")],
        ),
        1,
    );
    assert!(
        line.starts_with(&format!("kiwictl: 127.0.0.1:{a}: ")),
        "the node's reason: {line}"
    );
}

#[test]
fn cluster_commands_on_a_single_node_say_so() {
    let kiwi = Kiwi::start(&[]);
    let a = kiwi.admin_port.to_string();
    for sub in ["status", "members"] {
        let line = one_line_failure(&kiwictl(&["--admin-port", &a, "cluster", sub]), 1);
        assert!(line.contains("single-node mode"), "{line}");
    }
}

/// A tmux server on a private socket, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` in a detached `width`x`height` session.
    fn start(command: &str, width: u16, height: u16) -> Tmux {
        let tmux = Tmux {
            socket: format!("kiwictl-test-{}", std::process::id()),
        };
        let status = Command::new("tmux")
            .args(["-L", &tmux.socket, "new-session", "-d", "-s", "top"])
            .args(["-x", &width.to_string(), "-y", &height.to_string(), command])
            .status()
            .expect("tmux must be installed (scripts/install-deps.sh)");
        assert!(status.success(), "tmux new-session");
        tmux
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "top"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "top", keys])
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    fn resize(&self, width: u16, height: u16) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "resize-window", "-t", "top"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .status()
            .expect("tmux resize-window");
        assert!(status.success());
    }

    /// Waits until the pane satisfies `want`, returning it.
    fn wait_for(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let pane = self.capture();
            if want(&pane) {
                return pane;
            }
            assert!(
                Instant::now() < deadline,
                "pane never showed {what}:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// The current ops/s of a `top` pane (`12.3k ops/s · reads ...`).
fn ops_per_sec(pane: &str) -> f64 {
    let line = pane
        .lines()
        .find(|l| l.contains(" ops/s · reads"))
        .unwrap_or_else(|| panic!("no rate:\n{pane}"));
    let before = line.split(" ops/s").next().unwrap_or_default();
    let word = before.rsplit([' ', '│']).next().unwrap_or_default();
    let (digits, scale) = match word.chars().last() {
        Some('k') => (&word[..word.len() - 1], 1e3),
        Some('M') => (&word[..word.len() - 1], 1e6),
        _ => (word, 1.0),
    };
    digits
        .parse::<f64>()
        .unwrap_or_else(|_| panic!("rate {word:?} in {line:?}"))
        * scale
}

/// Keeps writing and reading until told to stop or the node goes away.
fn load(addr: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        common::runtime().block_on(async {
            let Ok(mut c) = Client::connect(&addr).await else {
                return;
            };
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("k{}", i % 1000);
                if c.call(&["SET", key.as_str(), "v"]).await.is_err()
                    || c.call(&["GET", key.as_str()]).await.is_err()
                {
                    return;
                }
                i += 1;
            }
        })
    })
}

#[test]
fn top_under_tmux_shows_moving_numbers_marks_a_dead_node_and_restores_the_terminal() {
    let admin_port = free_port();
    let admin_flag = format!("admin-port={admin_port}");
    let mut kiwi = Kiwi::start(&["--set", &admin_flag]);
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(kiwi.addr(), stop.clone());

    let command = format!(
        "env -u KIWI_HOST -u KIWI_ADMIN_PORT HOME=/nonexistent {} --admin-port {admin_port} top --interval 0.5; echo EXITED $?; sleep 60",
        env!("CARGO_BIN_EXE_kiwictl")
    );
    let tmux = Tmux::start(&command, 120, 36);
    let first = tmux.wait_for("a rate", |p| {
        p.contains(" ops/s · reads") && ops_per_sec(p) > 0.0
    });
    std::thread::sleep(Duration::from_millis(1500));
    let second = tmux.wait_for("a rate", |p| p.contains(" ops/s · reads"));
    assert!(ops_per_sec(&second) > 0.0, "{second}");
    assert_ne!(first, second, "the screen refreshes");
    for pane in [
        "Throughput",
        "Commands",
        "set",
        "Runtimes",
        "breaker",
        "closed",
        "Storage (RocksDB)",
        "single-node mode",
    ] {
        assert!(second.contains(pane), "{pane} missing:\n{second}");
    }
    if let Ok(path) = std::env::var("KIWICTL_TOP_CAPTURE") {
        std::fs::write(path, &second).expect("write the capture");
    }

    // A small terminal gets the compact layout (one pane, tab cycles); growing back, the full one.
    // (The size is restored before quitting: tmux 3.3 shows a stale main screen after leaving an
    // alternate screen whose size changed, whatever the program.)
    tmux.resize(70, 20);
    let compact = tmux.wait_for("the compact layout", |p| {
        p.contains("Commands · sort") && !p.contains("Throughput")
    });
    assert!(
        compact.lines().all(|l| l.chars().count() <= 70),
        "{compact}"
    );
    tmux.keys("Tab");
    tmux.keys("Tab");
    tmux.wait_for("the cluster pane", |p| {
        p.contains("single-node mode") && !p.contains("Commands · sort")
    });
    tmux.resize(120, 36);
    tmux.wait_for("the full layout", |p| {
        p.contains("Throughput") && p.contains("Storage (RocksDB)")
    });

    // The node dies: top says so and keeps the last data; the node returns: top reconnects.
    stop.store(true, Ordering::Relaxed);
    let _ = loader.join();
    kiwi.kill9();
    let down = tmux.wait_for("the node down", |p| p.contains("DOWN for"));
    assert!(
        down.contains("connection refused") && down.contains("Throughput"),
        "{down}"
    );
    let _kiwi = kiwi.restart();
    tmux.wait_for("the node back", |p| {
        !p.contains("DOWN for") && p.contains(" ops/s · reads")
    });

    // `q` leaves the alternate screen: the shell's pane is back, exit status 0.
    tmux.keys("q");
    let after = tmux.wait_for("kiwictl's exit", |p| p.contains("EXITED"));
    assert!(after.contains("EXITED 0"), "{after}");
    assert!(!after.contains("Throughput"), "terminal restored:\n{after}");
}

/// Two fake admin ports standing in for a Raft pair until real clusters exist in tests: the
/// follower answers every cluster call with 421 and the leader's address, the leader records
/// what it was asked. Proves kiwictl finds the leader by itself.
#[test]
fn cluster_calls_sent_to_a_follower_reach_the_leader() {
    use axum::http::StatusCode;
    use axum::routing::post;
    use axum::{Json, Router};
    use serde_json::{json, Value};

    let (leader_port, follower_port, lost_port) = (free_port(), free_port(), free_port());
    let asked = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let leader_addr = format!("127.0.0.1:{leader_port}");
    let record = asked.clone();
    let leader = Router::new().route(
        "/v1/cluster/{op}",
        post(
            move |axum::extract::Path(op): axum::extract::Path<String>, Json(body): Json<Value>| {
                let record = record.clone();
                async move {
                    record
                        .lock()
                        .expect("lock")
                        .push(json!({ "op": op, "body": body }));
                    Json(json!({ "ok": true }))
                }
            },
        ),
    );
    let to_leader = leader_addr.clone();
    let follower = Router::new().route(
        "/v1/cluster/{op}",
        post(move || {
            let leader = to_leader.clone();
            async move {
                (
                    StatusCode::MISDIRECTED_REQUEST,
                    Json(json!({ "error": "not leader", "leader_admin_addr": leader })),
                )
            }
        }),
    );
    let lost = Router::new().route(
        "/v1/cluster/{op}",
        post(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "not leader" })),
            )
        }),
    );
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        common::runtime().block_on(async move {
            for (port, app) in [
                (leader_port, leader),
                (follower_port, follower),
                (lost_port, lost),
            ] {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .expect("bind");
                tokio::spawn(async move { axum::serve(listener, app).await });
            }
            ready_tx.send(()).expect("signal ready");
            std::future::pending::<()>().await;
        })
    });
    ready_rx.recv().expect("fake cluster up");

    let f = follower_port.to_string();
    let out = ok(kiwictl(&[
        "--admin-port",
        &f,
        "cluster",
        "remove-node",
        "3",
    ]));
    assert_eq!(out, format!("node 3 removed (leader {leader_addr})\n"));
    let out = ok(kiwictl(&[
        "--admin-port",
        &f,
        "cluster",
        "add-node",
        "4",
        "10.0.0.4:7380",
        "--resp-addr",
        "10.0.0.4:7379",
    ]));
    assert_eq!(
        out,
        format!("node 4 (10.0.0.4:7380) is a voter (leader {leader_addr})\n")
    );
    let out = ok(kiwictl(&[
        "--admin-port",
        &f,
        "cluster",
        "transfer-leader",
        "2",
    ]));
    assert_eq!(
        out,
        format!("node 2 asked to take over leadership from {leader_addr}\n")
    );
    let out = ok(kiwictl(&[
        "--admin-port",
        &f,
        "-o",
        "json",
        "cluster",
        "transfer-leader",
        "2",
    ]));
    let answer: Value = serde_json::from_str(&out).expect("json answer");
    assert_eq!(answer, json!({ "ok": true }));
    assert_eq!(
        *asked.lock().expect("lock"),
        [
            json!({ "op": "remove-node", "body": { "id": 3 } }),
            json!({ "op": "add-node", "body": { "id": 4, "admin_addr": "10.0.0.4:7380", "resp_addr": "10.0.0.4:7379" } }),
            json!({ "op": "transfer-leader", "body": { "id": 2 } }),
            json!({ "op": "transfer-leader", "body": { "id": 2 } }),
        ]
    );

    let line = one_line_failure(
        &kiwictl(&[
            "--admin-port",
            &lost_port.to_string(),
            "cluster",
            "remove-node",
            "3",
        ]),
        1,
    );
    assert_eq!(
        line,
        format!("kiwictl: node at 127.0.0.1:{lost_port} is not the leader and does not know one (election in progress?)")
    );
}

/// `kiwictl import` loads a dump.rdb written by redis-server (every type, several databases, a
/// stream with groups, expiries) and `kiwictl export` writes a file a fresh redis-server loads
/// back: the dataset's DEBUG DIGEST is the same at both ends. A function library in the file is
/// skipped and reported; a truncated file is refused.
#[test]
fn rdb_files_move_a_dataset_from_redis_through_kiwi_and_back() {
    use common::{call, runtime, Redis};
    use kiwi::resp::Frame;
    let files = tempfile::tempdir().expect("temp dir");
    let dir = files.path().to_str().expect("utf-8 path");
    let debug = ["--enable-debug-command", "yes", "--dir", dir];
    let source = Redis::start_with(&[&debug[..], &["--dbfilename", "src.rdb"]].concat());
    let kiwi = Kiwi::start(&[]);
    let digest = runtime().block_on(async {
        let mut r = Client::connect(&source.addr()).await.expect("connect");
        let big: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let mut commands: Vec<Vec<String>> = [
            "SET s hello",
            "SET n 12345",
            "SET e v PX 100000000",
            "RPUSH l a b c",
            "SADD ints 1 2 3",
            "SADD strs x y",
            "ZADD z 1 a 2.5 b",
            "HSET h f v g 1",
            "PFADD hll a b c",
            "XADD x 1-1 a 1",
            "XADD x 2-1 b 2",
            "XGROUP CREATE x g 0",
            "XREADGROUP GROUP g c COUNT 1 STREAMS x >",
            "SELECT 3",
            "SET in3 v",
            "FUNCTION LOAD #!lua\\x20name=lib\nredis.register_function('f',\\x20function()\\x20return\\x201\\x20end)",
        ]
        .iter()
        .map(|c| c.split(' ').map(|w| w.replace("\\x20", " ")).collect())
        .collect();
        commands.push([&["RPUSH".to_string(), "biglist".into()], &big[..]].concat());
        let mut hset = vec!["HSET".to_string(), "bighash".into()];
        hset.extend(big.iter().flat_map(|i| [format!("f{i}"), i.clone()]));
        commands.push(hset);
        for command in &commands {
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            let reply = call(&mut r, &args).await;
            assert!(!matches!(reply, Frame::Error(_)), "{command:?}: {reply:?}");
        }
        assert_eq!(call(&mut r, &["SAVE"]).await, Frame::ok());
        call(&mut r, &["DEBUG", "DIGEST"]).await
    });
    let port = kiwi.port.to_string();
    let src = files.path().join("src.rdb");
    let out = kiwictl(&["-p", &port, "import", src.to_str().expect("path")]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).starts_with("imported 13 keys"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("1 items skipped"), "{}", stdout(&out));
    let back = files.path().join("back.rdb");
    let out = kiwictl(&["-p", &port, "export", back.to_str().expect("path")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out).trim(),
        format!("exported 13 keys to {}", back.display())
    );
    let copy = Redis::start_with(&[&debug[..], &["--dbfilename", "back.rdb"]].concat());
    runtime().block_on(async {
        let mut r = Client::connect(&copy.addr()).await.expect("connect");
        assert_eq!(call(&mut r, &["DEBUG", "DIGEST"]).await, digest);
        assert_eq!(
            call(&mut r, &["XINFO", "GROUPS", "x"]).await,
            call(
                &mut Client::connect(&source.addr()).await.expect("connect"),
                &["XINFO", "GROUPS", "x"]
            )
            .await
        );
    });
    // A cut file is refused, with the place where it ends.
    let bytes = std::fs::read(&src).expect("read src.rdb");
    let cut = files.path().join("cut.rdb");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write cut.rdb");
    let out = kiwictl(&["-p", &port, "import", cut.to_str().expect("path")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupt or unsupported data at byte"), "{err}");
    assert!(err.contains("keys before it were imported"), "{err}");
}

/// `kiwictl migrate` copies a live redis-server (200k keys of several types in two databases)
/// while clients keep writing to it: every key that existed before and was not touched arrives
/// with its value, and the summary's count is what the node holds.
#[test]
fn migrate_copies_a_live_redis_while_it_takes_writes() {
    use common::{call, runtime, Redis};
    use kiwi::resp::Frame;
    let source = Redis::start_with(&["--enable-debug-command", "yes"]);
    let kiwi = Kiwi::start(&[]);
    const KEYS: usize = 200_000;
    runtime().block_on(async {
        let mut r = Client::connect(&source.addr()).await.expect("connect");
        let populate = call(
            &mut r,
            &["DEBUG", "POPULATE", &KEYS.to_string(), "key", "20"],
        )
        .await;
        assert_eq!(populate, Frame::ok());
        for i in 0..500 {
            let h = format!("hash:{i}");
            r.queue(&["HSET", h.as_str(), "f", "v", "n", &i.to_string()]);
        }
        r.queue(&["XADD", "stream", "1-1", "a", "1"]);
        r.queue(&["SELECT", "2"]);
        r.queue(&["SET", "db2", "two"]);
        r.queue(&["SELECT", "0"]);
        r.flush().await.expect("flush");
        for _ in 0..504 {
            r.read_reply().await.expect("reply");
        }
    });
    // Writers add keys of their own while the copy runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (addr, stop) = (source.addr(), stop.clone());
        std::thread::spawn(move || {
            runtime().block_on(async {
                let mut c = Client::connect(&addr).await.expect("connect");
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    call(&mut c, &["SET", &format!("w:{i}"), "x"]).await;
                    i += 1;
                }
                i
            })
        })
    };
    let from = format!("redis://{}", source.addr());
    let out = kiwictl(&["-p", &kiwi.port.to_string(), "migrate", "--from", &from]);
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer");
    assert!(out.status.success(), "{out:?}");
    let summary = stdout(&out);
    let moved: u64 = summary
        .strip_prefix("migrated ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(moved >= (KEYS + 502) as u64, "{summary}");
    assert!(moved <= (KEYS + 502) as u64 + written, "{summary}");
    runtime().block_on(async {
        let mut k = Client::connect(&kiwi.addr()).await.expect("connect");
        let mut r = Client::connect(&source.addr()).await.expect("connect");
        let mut on_node = 0;
        for db in ["0", "2"] {
            call(&mut k, &["SELECT", db]).await;
            if let Frame::Integer(n) = call(&mut k, &["DBSIZE"]).await {
                on_node += n as u64;
            }
        }
        assert_eq!(on_node, moved, "{summary}");
        assert!(
            summary.contains(&format!("the node {on_node}")),
            "{summary}"
        );
        call(&mut k, &["SELECT", "0"]).await;
        // Every key populated before the copy, compared 1000 at a time.
        for chunk in (0..KEYS).collect::<Vec<_>>().chunks(1000) {
            let mut mget = vec!["MGET".to_string()];
            mget.extend(chunk.iter().map(|i| format!("key:{i}")));
            let args: Vec<&str> = mget.iter().map(String::as_str).collect();
            assert_eq!(call(&mut k, &args).await, call(&mut r, &args).await);
        }
        for key in ["hash:0", "hash:499"] {
            assert_eq!(
                call(&mut k, &["HGETALL", key]).await,
                call(&mut r, &["HGETALL", key]).await
            );
        }
        assert_eq!(
            call(&mut k, &["XRANGE", "stream", "-", "+"]).await,
            call(&mut r, &["XRANGE", "stream", "-", "+"]).await
        );
    });
    // A second run without --replace leaves what is there and says so.
    let again = kiwictl(&[
        "-p",
        &kiwi.port.to_string(),
        "migrate",
        "--from",
        &from,
        "--db",
        "2",
    ]);
    assert!(again.status.success(), "{again:?}");
    assert!(
        stdout(&again).starts_with("migrated 0 keys") && stdout(&again).contains("1 existed"),
        "{}",
        stdout(&again)
    );
}
