//! Differential tests: every script in `tests/scripts/` is replayed against kiwi and against a real
//! redis-server, and the replies must be identical (types, values and error strings).
//!
//! Script format (one command per line, redis-cli quoting):
//! - `# comment`, blank lines ignored
//! - `?type CMD ...` compares only the reply's RESP type (nondeterministic replies)
//! - `?sorted CMD ...` compares array replies after sorting their elements
//! - `@sleep MS` sleeps on both sides
//! - `[N] CMD ...` sends on the script's connection N (1 is the default; more open on first use),
//!   for scenarios like "client 1 WATCHes, client 2 writes, client 1 EXECs"
//!
//! Adding coverage is adding lines to a script (or a new `*.txt` file): no Rust needed.

mod common;

use std::path::Path;

use kiwi::resp::Frame;

#[derive(Clone, Copy, PartialEq)]
enum Compare {
    Exact,
    TypeOnly,
    Sorted,
}

fn kind(frame: &Frame) -> &'static str {
    match frame {
        Frame::Simple(_) => "simple",
        Frame::Error(_) => "error",
        Frame::Integer(_) => "integer",
        Frame::Bulk(_) => "bulk",
        Frame::Null => "null",
        Frame::NullArray => "null-array",
        Frame::Array(_) => "array",
        Frame::Map(_) => "map",
        Frame::Set(_) => "set",
        Frame::Double(_) | Frame::DoubleText(_) => "double",
        Frame::Boolean(_) => "boolean",
        Frame::Verbatim(_) => "verbatim",
        Frame::BigNumber(_) => "bignumber",
        Frame::Push(_) => "push",
    }
}

fn sorted(frame: Frame) -> Frame {
    match frame {
        Frame::Array(mut items) | Frame::Set(mut items) => {
            items.sort_by_key(|f| format!("{f:?}"));
            Frame::Array(items)
        }
        Frame::Map(mut pairs) => {
            pairs.sort_by_key(|(k, _)| format!("{k:?}"));
            Frame::Map(pairs)
        }
        other => other,
    }
}

use common::{connect, exchange, Reply};

fn same(a: &Reply, b: &Reply, mode: Compare) -> bool {
    match mode {
        // Byte-exact: also tells `$-1` from `_` and `*2` from `%1`.
        Compare::Exact => a.1 == b.1,
        Compare::TypeOnly => kind(&a.0) == kind(&b.0),
        Compare::Sorted => sorted(a.0.clone()) == sorted(b.0.clone()),
    }
}

/// Replays one script against both servers; returns a description of every mismatch. With
/// `resp3`, both connections switch to RESP3 (`HELLO 3`) before the script starts, so every script
/// also checks RESP3 reply types.
async fn replay(script: &Path, kiwi_addr: &str, redis_addr: &str, resp3: bool) -> Vec<String> {
    let text = std::fs::read_to_string(script).expect("read script");
    // Connection 1 of each server exists from the start; `[N] CMD` lines open more on first use.
    let mut kiwis = vec![connect(kiwi_addr, resp3).await];
    let mut redises = vec![connect(redis_addr, resp3).await];
    for c in [&mut kiwis[0], &mut redises[0]] {
        assert_eq!(c.call(&["FLUSHALL"]).await.expect("flushall"), Frame::ok());
    }
    let mut failures = Vec::new();
    let name = script
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(ms) = line.strip_prefix("@sleep ") {
            let ms: u64 = ms.trim().parse().expect("@sleep takes milliseconds");
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            continue;
        }
        let (connection, line) = match line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
            Some((n, rest)) => (n.parse::<usize>().expect("[N] names a connection"), rest),
            None => (1, line),
        };
        while kiwis.len() < connection {
            kiwis.push(connect(kiwi_addr, resp3).await);
            redises.push(connect(redis_addr, resp3).await);
        }
        let (kiwi, redis) = (&mut kiwis[connection - 1], &mut redises[connection - 1]);
        let (mode, command) = if let Some(rest) = line.strip_prefix("?type ") {
            (Compare::TypeOnly, rest)
        } else if let Some(rest) = line.strip_prefix("?sorted ") {
            (Compare::Sorted, rest)
        } else {
            (Compare::Exact, line)
        };
        let args = kiwi::resp::parse::split_args(command.as_bytes())
            .unwrap_or_else(|| panic!("{name}:{}: unbalanced quotes", index + 1));
        let expected = exchange(redis, &args).await.expect("redis reply");
        let got = match exchange(kiwi, &args).await {
            Ok(reply) => reply,
            Err(e) => {
                failures.push(format!(
                    "{name}:{}: {command}\n    kiwi connection failed: {e}",
                    index + 1
                ));
                return failures;
            }
        };
        if !same(&expected, &got, mode) {
            failures.push(format!(
                "{name}:{}: {command}\n    redis: {:?}\n    kiwi:  {:?}",
                index + 1,
                String::from_utf8_lossy(&expected.1),
                String::from_utf8_lossy(&got.1),
            ));
        }
    }
    failures
}

/// Polls `CLUSTER INFO` until the server reports `cluster_state:ok`.
async fn wait_cluster_ok(addr: &str) {
    let mut c = connect(addr, false).await;
    for _ in 0..200 {
        if let Ok(Frame::Bulk(info) | Frame::Verbatim(info)) = c.call(&["CLUSTER", "INFO"]).await {
            if String::from_utf8_lossy(&info).contains("cluster_state:ok") {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{addr} never reported cluster_state:ok");
}

#[test]
fn scripts_match_redis() {
    let kiwi = common::Kiwi::start(&[]);
    // DEBUG (debug.txt) is refused by Redis 7.0 unless enabled.
    let redis = common::Redis::start_with(&["--enable-debug-command", "yes"]);
    replay_all("tests/scripts", &kiwi.addr(), &redis.addr());
}

/// `tests/scripts/cluster/`: a one-node kiwi cluster against a cluster-enabled redis-server that
/// owns every slot.
#[test]
fn cluster_scripts_match_a_redis_cluster() {
    let kiwi = common::Kiwi::start(&[
        "--init-cluster",
        "--set",
        "cluster-node-id=1",
        "--set",
        "cluster-secret=differential",
    ]);
    let redis = common::Redis::start_with(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
    ]);
    let rt = common::runtime();
    rt.block_on(async {
        let mut c = connect(&redis.addr(), false).await;
        let added = c.call(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]).await;
        assert_eq!(added.expect("addslotsrange"), Frame::ok());
        wait_cluster_ok(&redis.addr()).await;
        wait_cluster_ok(&kiwi.addr()).await;
    });
    replay_all("tests/scripts/cluster", &kiwi.addr(), &redis.addr());
}

/// Replays every `*.txt` script of `dir` in RESP2 and RESP3 and fails listing every mismatch.
fn replay_all(dir: &str, kiwi: &str, redis: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut scripts: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/scripts exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty(), "no differential scripts found");
    let rt = common::runtime();
    let mut failures = Vec::new();
    let mut lines = 0;
    for script in &scripts {
        lines += std::fs::read_to_string(script)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        for resp3 in [false, true] {
            failures.extend(rt.block_on(replay(script, kiwi, redis, resp3)));
        }
    }
    eprintln!(
        "replayed {} scripts ({lines} lines) against kiwi and redis-server, in RESP2 and RESP3",
        scripts.len()
    );
    assert!(
        failures.is_empty(),
        "{} replies differ from redis-server:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Redis parameters whose value on a fresh kiwi legitimately differs from the harness's
/// redis-server, and why.
const DIFFERENT_DEFAULTS: &[(&str, &str)] = &[
    ("port", "each server listens on its own free port"),
    ("dir", "each server has its own temporary directory"),
    (
        "save",
        "the harness starts redis-server with --save ''; kiwi keeps Redis's built-in default",
    ),
    (
        "cluster-announce-ip",
        "Kiwi's own option of that name (the address of a Raft node), 127.0.0.1 by default",
    ),
];

/// Every parameter redis-server 7.0's `CONFIG GET *` lists (aliases included) is known to kiwi
/// under the same name, and, but for [`DIFFERENT_DEFAULTS`], with the same default value.
#[test]
fn config_get_knows_every_redis_parameter_with_its_default() {
    let kiwi = common::Kiwi::start(&[]);
    let redis = common::Redis::start();
    let rt = common::runtime();
    rt.block_on(async {
        let mut k = connect(&kiwi.addr(), false).await;
        let mut r = connect(&redis.addr(), false).await;
        let text = |f: &Frame| match f {
            Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("not a bulk string: {other:?}"),
        };
        let Frame::Array(all) = r.call(&["CONFIG", "GET", "*"]).await.expect("redis") else {
            panic!("CONFIG GET * is not an array");
        };
        assert!(
            all.len() > 300,
            "redis-server listed only {} items",
            all.len()
        );
        let Frame::Array(kiwi_all) = k.call(&["CONFIG", "GET", "*"]).await.expect("kiwi") else {
            panic!("kiwi's CONFIG GET * is not an array");
        };
        let kiwi_names: std::collections::HashSet<String> =
            kiwi_all.chunks(2).map(|pair| text(&pair[0])).collect();
        let mut problems = Vec::new();
        for pair in all.chunks(2) {
            let (name, expected) = (text(&pair[0]), text(&pair[1]));
            if !kiwi_names.contains(&name) {
                problems.push(format!("{name}: missing from kiwi's CONFIG GET *"));
            }
            let got = k
                .call(&["CONFIG", "GET", name.as_str()])
                .await
                .expect("kiwi");
            let Frame::Array(got) = got else {
                problems.push(format!("{name}: {got:?}"));
                continue;
            };
            if got.len() != 2 || text(&got[0]) != name {
                problems.push(format!("{name}: kiwi answered {got:?}"));
                continue;
            }
            let value = text(&got[1]);
            if DIFFERENT_DEFAULTS.iter().all(|(n, _)| *n != name) && value != expected {
                problems.push(format!("{name}: redis {expected:?}, kiwi {value:?}"));
            }
        }
        assert!(
            problems.is_empty(),
            "{} parameters differ:\n{}",
            problems.len(),
            problems.join("\n")
        );
        // Those that differ on purpose have Redis's own default where there is one.
        let save = k.call(&["CONFIG", "GET", "save"]).await.expect("kiwi");
        assert_eq!(
            save,
            Frame::Array(vec![
                common::bulk("save"),
                common::bulk("3600 1 300 100 60 10000")
            ])
        );
    });
}
