//! `kiwi-bench` against real servers: what it says it sent is what the server counted, what it
//! wrote reads back, and its machine output parses.

mod common;

use std::process::{Command, Output};

use common::{call, runtime, Kiwi, Redis};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

fn bench(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kiwi-bench"))
        .args(args)
        .arg("--quiet")
        .output()
        .expect("run kiwi-bench");
    assert!(
        out.status.success(),
        "kiwi-bench {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// `calls` of `INFO commandstats` for `command`, as the server counted them.
fn server_calls(addr: &str, command: &str) -> u64 {
    let info = runtime().block_on(async {
        let mut client = Client::connect(addr).await.expect("connect");
        call(&mut client, &["INFO", "commandstats"]).await
    });
    let text = match info {
        Frame::Bulk(b) | Frame::Verbatim(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO returned {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

fn requests(doc: &serde_json::Value, test: &str, command: &str) -> u64 {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["test"] == test && r["command"] == command)
        .unwrap_or_else(|| panic!("no row {test}/{command} in {doc}"))["requests"]
        .as_u64()
        .expect("requests is a number")
}

/// Closed loop with pipelines, a mix and an open-loop run: every count kiwi-bench reports is
/// the server's own count, then `--verify` reads back every value.
fn counts_and_verify(port: u16) {
    let addr = format!("127.0.0.1:{port}");
    let port = port.to_string();
    let out = bench(&[
        "-p",
        &port,
        "-t",
        "set,get",
        "-w",
        "incr:1,get:3",
        "-n",
        "4000",
        "-c",
        "5",
        "-P",
        "7",
        "-r",
        "500",
        "--json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json output parses");
    for field in [
        "ops_per_sec",
        "avg_ms",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "p999_ms",
        "max_ms",
        "errors",
        "moved",
        "busy",
    ] {
        assert!(
            doc["results"][0][field].is_number(),
            "{field} missing in {}",
            doc["results"][0]
        );
    }
    assert_eq!(doc["settings"]["pipeline"], 7);
    assert_eq!(requests(&doc, "set", "set"), 4000);
    assert_eq!(requests(&doc, "get", "get"), 4000);
    let (mix_get, mix_incr) = (requests(&doc, "mix", "get"), requests(&doc, "mix", "incr"));
    assert_eq!(mix_get + mix_incr, 4000);
    assert!(
        mix_get > 2 * mix_incr,
        "3:1 mix gave {mix_get} GET, {mix_incr} INCR"
    );
    assert_eq!(server_calls(&addr, "set"), 4000);
    assert_eq!(server_calls(&addr, "get"), 4000 + mix_get);
    assert_eq!(server_calls(&addr, "incr"), mix_incr);
    let errors: u64 = doc["results"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["errors"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(errors, 0);

    // The harness's readiness probe sent PINGs of its own.
    let pings_before = server_calls(&addr, "ping");
    let out = bench(&[
        "-p",
        &port,
        "-t",
        "ping",
        "--rate",
        "3000",
        "--duration",
        "600ms",
        "-c",
        "3",
        "--csv",
    ]);
    let csv = String::from_utf8_lossy(&out.stdout);
    let row: Vec<&str> = csv.lines().nth(1).expect("a CSV row").split(',').collect();
    let sent: u64 = row[3].parse().expect("requests column");
    assert!(
        (1500..=2100).contains(&sent),
        "open loop at 3000/s for 0.6 s sent {sent}"
    );
    assert_eq!(server_calls(&addr, "ping") - pings_before, sent);

    let out = bench(&[
        "-p", &port, "--verify", "-r", "3000", "-d", "1-300", "--resp3", "-c", "4",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("every value read back as written"));
    assert_eq!(server_calls(&addr, "set"), 4000 + 3000);
}

#[test]
fn counts_match_redis_server() {
    let redis = Redis::start();
    counts_and_verify(redis.port);
}

#[test]
fn counts_match_kiwi() {
    let kiwi = Kiwi::start(&[]);
    counts_and_verify(kiwi.port);
}

#[test]
fn two_targets_print_a_ratio_table() {
    let redis = Redis::start();
    let kiwi = Kiwi::start(&[]);
    let out = bench(&[
        "--target",
        &format!("redis={}", redis.addr()),
        "--target",
        &format!("kiwi={}", kiwi.addr()),
        "-t",
        "get",
        "-n",
        "2000",
        "--rounds",
        "2",
        "-c",
        "4",
        "--markdown",
        "-",
    ]);
    let table = String::from_utf8_lossy(&out.stderr);
    assert!(table.contains("ratio to redis"), "{table}");
    let ratio_row = table
        .lines()
        .skip_while(|l| !l.starts_with("ratio to"))
        .find(|l| l.contains("kiwi"))
        .expect("kiwi ratio");
    let ratio: f64 = ratio_row
        .split_whitespace()
        .nth(4)
        .and_then(|r| r.parse().ok())
        .expect("ratio column");
    assert!(ratio > 0.0);
    let markdown = String::from_utf8_lossy(&out.stdout);
    assert!(
        markdown.contains("Ratio to `redis`") && markdown.contains("| kiwi | get | get |"),
        "{markdown}"
    );
    // Two rounds of 1000 requests each per target.
    assert_eq!(server_calls(&kiwi.addr(), "get"), 2000);
    assert_eq!(server_calls(&redis.addr(), "get"), 2000);
}
