//! Cluster mode under faults: real multi-process clusters on 127.0.0.1 lose a leader, a
//! follower, their links or all their processes while clients write and read; each scenario then
//! checks that the recorded history is linearizable, that no acknowledged write was lost and that
//! every node holds identical data. See docs/cluster-testing.md.

mod common;

#[path = "cluster/harness.rs"]
mod harness;
#[path = "cluster/linearizability.rs"]
mod linearizability;
#[path = "cluster/proxy.rs"]
mod proxy;
#[path = "cluster/verify.rs"]
mod verify;
#[path = "cluster/workload.rs"]
mod workload;

use std::time::Duration;

use harness::{Cluster, Options};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;
use tokio::time::sleep;
use verify::verify;
use workload::{seed, Load};

/// One cluster at a time: the machine is small and elections need their CPU.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Clients per scenario.
const CLIENTS: usize = 6;

fn addrs(cluster: &Cluster) -> Vec<String> {
    cluster.nodes.iter().map(|n| n.resp_addr()).collect()
}

async fn start_with_load(nodes: usize) -> (Cluster, Load) {
    let cluster = Cluster::start(nodes, Options::default()).await;
    let load = Load::start(&addrs(&cluster), CLIENTS, seed());
    sleep(Duration::from_millis(800)).await;
    (cluster, load)
}

fn follower_of(cluster: &Cluster, leader: u64) -> u64 {
    cluster
        .up_ids()
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_leader_5_nodes() {
    let _serial = SERIAL.lock().await;
    let (mut c, load) = start_with_load(5).await;
    let leader = c.wait_leader(None).await;
    c.kill(leader);
    c.wait_leader(Some(leader)).await;
    sleep(Duration::from_millis(800)).await;
    c.restart(leader);
    sleep(Duration::from_millis(800)).await;
    verify(&c, load.stop().await).await;
}

/// Lua scripts (SET, compare-and-set, INCR and reads, each a script) stay linearizable while the
/// leader is killed twice, and every node ends with the same data: scripts travel through the
/// log and run on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_stay_linearizable_through_leader_kills() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3, Options::default()).await;
    let load = Load::start_scripted(&addrs(&c), CLIENTS, seed());
    sleep(Duration::from_millis(800)).await;
    for _ in 0..2 {
        let leader = c.wait_leader(None).await;
        c.kill(leader);
        c.wait_leader(Some(leader)).await;
        sleep(Duration::from_millis(600)).await;
        c.restart(leader);
        sleep(Duration::from_millis(600)).await;
    }
    let history = load.stop().await;
    let cas = history
        .ops
        .iter()
        .filter(|op| matches!(op.call, linearizability::Call::Cas(..)))
        .filter(|op| op.outcome == linearizability::Outcome::Int(1))
        .count();
    eprintln!("{cas} compare-and-sets succeeded");
    verify(&c, history).await;
}

/// Scripts and functions on every node: EVALSHA of a script loaded on a follower only,
/// FUNCTION LOAD replicated to every node, and scripts that read the clock and draw random
/// numbers and members leave identical data everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_and_functions_run_alike_on_every_node() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(3, Options::default()).await;
    let leader = c.wait_leader(None).await;
    let follower = follower_of(&c, leader);
    let node = |id: u64| {
        c.nodes
            .iter()
            .find(|n| n.id == id)
            .expect("node")
            .resp_addr()
    };
    let mut on_follower = Client::connect(&node(follower)).await.expect("connect");
    let sha = on_follower
        .call(&[
            "SCRIPT",
            "LOAD",
            "return redis.call('incrby', KEYS[1], ARGV[1])",
        ])
        .await
        .expect("script load");
    let Frame::Bulk(sha) = sha else {
        panic!("SCRIPT LOAD answered {sha:?}")
    };
    let sha = String::from_utf8_lossy(&sha).into_owned();
    for _ in 0..3 {
        let reply = on_follower
            .call(&["EVALSHA", &sha, "1", "n", "5"])
            .await
            .expect("evalsha");
        assert!(matches!(reply, Frame::Integer(_)), "{reply:?}");
    }
    let unknown = on_follower
        .call(&["EVALSHA", &"0".repeat(40), "0"])
        .await
        .expect("evalsha");
    assert!(
        matches!(&unknown, Frame::Error(e) if e.starts_with("NOSCRIPT")),
        "{unknown:?}"
    );
    let mut on_leader = Client::connect(&node(leader)).await.expect("connect");
    let library = "#!lua name=chaos
        redis.register_function('chaos', function(keys, args)
          local t = redis.call('time')
          redis.call('set', keys[1], t[1] .. '.' .. t[2] .. ':' .. math.random(1000000))
          local popped = redis.call('spop', keys[2])
          redis.call('rpush', keys[3], tostring(popped), tostring(redis.call('randomkey')))
          return popped
        end)";
    let loaded = on_leader
        .call(&["FUNCTION", "LOAD", library])
        .await
        .expect("load");
    assert_eq!(loaded, Frame::Bulk("chaos".into()));
    let members: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let mut sadd = vec!["SADD".to_string(), "pool".into()];
    sadd.extend(members);
    on_leader.call(&sadd).await.expect("sadd");
    for id in c.up_ids() {
        let mut client = Client::connect(&node(id)).await.expect("connect");
        for _ in 0..5 {
            let reply = client
                .call(&["FCALL", "chaos", "3", "clock", "pool", "log"])
                .await
                .expect("fcall");
            assert!(matches!(reply, Frame::Bulk(_)), "node {id}: {reply:?}");
        }
        let listed = client.call(&["FUNCTION", "LIST"]).await.expect("list");
        assert!(
            matches!(&listed, Frame::Array(libs) if libs.len() == 1),
            "node {id}: {listed:?}"
        );
    }
    let data = verify::converge(&c).await;
    assert_eq!(data.get("n").map(String::as_str), Some("15"));
    assert!(data.contains_key("clock"), "{data:?}");
    // The whole dataset, sets and lists included, is the same on every node.
    let mut digests = Vec::new();
    for id in c.up_ids() {
        let mut client = Client::connect(&node(id)).await.expect("connect");
        client.call(&["READONLY"]).await.expect("readonly");
        let digest = client.call(&["DEBUG", "DIGEST"]).await.expect("digest");
        let popped = client.call(&["SCARD", "pool"]).await.expect("scard");
        assert_eq!(
            popped,
            Frame::Integer(35),
            "node {id}: 15 FCALLs pop 15 of 50"
        );
        digests.push(digest);
    }
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_follower() {
    let _serial = SERIAL.lock().await;
    let (mut c, load) = start_with_load(3).await;
    let follower = follower_of(&c, c.wait_leader(None).await);
    c.kill(follower);
    sleep(Duration::from_millis(1000)).await;
    c.restart(follower);
    sleep(Duration::from_millis(800)).await;
    verify(&c, load.stop().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_leader_past_election_timeout() {
    let _serial = SERIAL.lock().await;
    let (mut c, load) = start_with_load(3).await;
    let leader = c.wait_leader(None).await;
    c.pause(leader);
    c.wait_leader(Some(leader)).await;
    sleep(Duration::from_millis(500)).await;
    c.resume(leader);
    sleep(Duration::from_millis(1000)).await;
    verify(&c, load.stop().await).await;
}

/// Clients hop between all nodes while the leader is killed, then the next one paused past the
/// election timeout, then the next one cut off from the others: forwarded writes lose their
/// leader mid-flight in every way, and the history must still be linearizable with every
/// `CLUSTERDOWN`/`TRYAGAIN`/`MOVED`... counted as not executed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hopping_clients_through_kill_pause_and_partition() {
    let _serial = SERIAL.lock().await;
    let (mut c, load) = start_with_load(3).await;
    let killed = c.wait_leader(None).await;
    c.kill(killed);
    let paused = c.wait_leader(Some(killed)).await;
    sleep(Duration::from_millis(500)).await;
    c.restart(killed);
    sleep(Duration::from_millis(500)).await;
    c.pause(paused);
    let isolated = c.wait_leader(Some(paused)).await;
    sleep(Duration::from_millis(500)).await;
    c.resume(paused);
    sleep(Duration::from_millis(500)).await;
    c.isolate(isolated);
    c.wait_leader(Some(isolated)).await;
    sleep(Duration::from_millis(800)).await;
    c.heal();
    sleep(Duration::from_millis(1000)).await;
    verify(&c, load.stop().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_all_nodes_at_once() {
    let _serial = SERIAL.lock().await;
    let (mut c, load) = start_with_load(3).await;
    let ids = c.up_ids();
    for &id in &ids {
        c.kill(id);
    }
    for &id in &ids {
        c.restart(id);
    }
    c.wait_leader(None).await;
    sleep(Duration::from_millis(1000)).await;
    verify(&c, load.stop().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_node_during_load() {
    let _serial = SERIAL.lock().await;
    let (mut c, load) = start_with_load(3).await;
    let added = c.add_node().await;
    sleep(Duration::from_millis(800)).await;
    let data = verify(&c, load.stop().await).await;
    assert!(c.up_ids().contains(&added));
    assert!(!data.is_empty());
}

/// Runs the built kiwictl against `admin_port` and returns its output, failing on a non-zero exit.
fn kiwictl(admin_port: u16, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiwictl"))
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .args(["--admin-port", &admin_port.to_string(), "--timeout", "20"])
        .args(args)
        .output()
        .expect("run kiwictl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kiwictl {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The operator's path: `kiwictl cluster add-node` and `remove-node`, sent to a follower (kiwictl
/// finds the leader itself), while clients keep writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiwictl_adds_and_removes_nodes() {
    let _serial = SERIAL.lock().await;
    let (mut c, load) = start_with_load(3).await;
    let leader = c.wait_leader(None).await;
    let follower = c.node(follower_of(&c, leader)).admin_port;
    // A peer without the cluster secret is refused.
    let refused = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{follower}/raft/vote"))
        .header("x-kiwi-cluster-secret", "wrong")
        .body(Vec::<u8>::new())
        .send()
        .await
        .expect("post to the admin port");
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let spare = c.start_spare().await;
    let spare_admin = format!("127.0.0.1:{}", c.node(spare).proxy.port);
    let spare_resp = c.node(spare).resp_addr();
    let id = spare.to_string();
    let added = tokio::task::spawn_blocking(move || {
        kiwictl(
            follower,
            &[
                "cluster",
                "add-node",
                &id,
                &spare_admin,
                "--resp-addr",
                &spare_resp,
            ],
        )
    })
    .await
    .expect("kiwictl add-node");
    assert!(added.contains("voter"), "add-node said: {added}");
    let status = tokio::task::spawn_blocking(move || kiwictl(follower, &["cluster", "status"]))
        .await
        .expect("kiwictl status");
    assert!(
        status.lines().count() >= 5,
        "four members expected:\n{status}"
    );
    let id = spare.to_string();
    tokio::task::spawn_blocking(move || kiwictl(follower, &["cluster", "remove-node", &id]))
        .await
        .expect("kiwictl remove-node");
    let now = c.wait_leader(None).await;
    let members = c.members(now).await.expect("members");
    assert!(
        members.members.iter().all(|m| m.id != spare),
        "removed node {spare} still listed: {members:?}"
    );
    c.kill(spare);
    verify(&c, load.stop().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_leader() {
    let _serial = SERIAL.lock().await;
    let (mut c, load) = start_with_load(3).await;
    let leader = c.wait_leader(None).await;
    c.remove_node(leader).await;
    let next = c.wait_leader(Some(leader)).await;
    let members = c.members(next).await.expect("members from the new leader");
    assert!(
        members.members.iter().all(|m| m.id != leader),
        "removed node {leader} still listed: {members:?}"
    );
    c.kill(leader);
    sleep(Duration::from_millis(1000)).await;
    verify(&c, load.stop().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_isolates_the_leader() {
    let _serial = SERIAL.lock().await;
    let (c, load) = start_with_load(3).await;
    let old = c.wait_leader(None).await;
    c.isolate(old);
    // Relays the rules no longer admit were aborted; let them finish dying.
    sleep(Duration::from_millis(50)).await;
    // A write sent to the old leader while it is cut off must not succeed.
    let minority = c.node(old).resp_addr();
    let probe = tokio::spawn(async move {
        let mut client = Client::connect(&minority).await.ok()?;
        tokio::time::timeout(
            Duration::from_secs(6),
            client.call(&["SET", "minority-probe", "x"]),
        )
        .await
        .ok()
        .and_then(Result::ok)
    });
    let new = c.wait_leader(Some(old)).await;
    // The majority accepts writes (its first may race the new leader's first commit).
    let majority = c.node(new).resp_addr();
    write_with_retries(&majority, "majority-probe", "y").await;
    let probed = probe.await.expect("probe task");
    assert!(
        !matches!(probed, Some(Frame::Simple(_))),
        "the isolated old leader acknowledged a write: {probed:?}"
    );
    eprintln!("write to the isolated old leader answered {probed:?}");
    // Still cut: the majority must not have seen the minority's write.
    let mut reader = Client::connect(&majority)
        .await
        .expect("connect new leader");
    let seen = reader
        .call(&["GET", "minority-probe"])
        .await
        .expect("read on the majority");
    assert_eq!(
        seen,
        Frame::Null,
        "the cut-off old leader committed a write"
    );
    sleep(Duration::from_millis(500)).await;
    c.heal();
    sleep(Duration::from_millis(1000)).await;
    let data = verify(&c, load.stop().await).await;
    assert_eq!(data.get("majority-probe").map(String::as_str), Some("y"));
    // A write refused outright must never apply; one left unanswered (outcome unknown, no
    // reply) may still be handed to the new leader after the heal.
    if matches!(&probed, Some(Frame::Error(e)) if workload::not_executed(e)) {
        assert_eq!(
            data.get("minority-probe"),
            None,
            "a refused write was applied"
        );
    }
}

/// One write that must succeed within 15 s (retried on errors; SET is idempotent).
/// WATCH in cluster mode: clients on every node increment one counter with the optimistic-locking
/// pattern (WATCH, GET, MULTI, SET, EXEC, retried when EXEC answers nil). A transaction must not
/// commit over a write its client did not see, even one already in the log but not yet applied
/// on the client's node: the final value is exactly the number of committed transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_guards_transactions_across_nodes() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(3, Options::default()).await;
    c.wait_leader(None).await;
    const WORKERS: usize = 6;
    const INCREMENTS: u64 = 25;
    let mut workers = Vec::new();
    for (worker, addr) in addrs(&c).iter().cycle().take(WORKERS).enumerate() {
        let addr = addr.clone();
        workers.push(tokio::spawn(async move {
            let mut client = Client::connect(&addr).await.expect("connect");
            let (mut committed, mut aborted) = (0, 0);
            let mut last_abort = String::new();
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while committed < INCREMENTS {
                assert!(
                    std::time::Instant::now() < deadline,
                    "worker {worker} on {addr}: {committed} commits, {aborted} aborts in 60 s \
                     (the last: {last_abort})"
                );
                let watched = client.call(&["WATCH", "counter"]).await.expect("WATCH");
                assert_eq!(watched, Frame::ok());
                let value: u64 = match client.call(&["GET", "counter"]).await.expect("GET") {
                    Frame::Bulk(b) => String::from_utf8_lossy(&b).parse().expect("a number"),
                    Frame::Null => 0,
                    // A read barrier that missed its quorum on the loaded machine: retried, as
                    // cluster clients retry CLUSTERDOWN.
                    Frame::Error(e) if workload::not_executed(&e) => {
                        client.call(&["UNWATCH"]).await.expect("UNWATCH");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    other => panic!("GET counter: {other:?}"),
                };
                let next = (value + 1).to_string();
                client.queue(&["MULTI"]);
                client.queue(&["SET", "counter", next.as_str()]);
                client.queue(&["EXEC"]);
                client.flush().await.expect("flush");
                for _ in 0..2 {
                    client.read_reply().await.expect("queued");
                }
                match client.read_reply().await.expect("EXEC") {
                    Frame::Array(_) => committed += 1,
                    Frame::NullArray => {
                        aborted += 1;
                        last_abort = format!("EXEC aborted after GET read {value}");
                    }
                    // Refused before reaching the log: nothing was applied.
                    Frame::Error(e) if workload::not_executed(&e) => {
                        aborted += 1;
                        last_abort = e;
                    }
                    other => panic!("EXEC: {other:?}"),
                }
            }
            (committed, aborted)
        }));
    }
    let (mut committed, mut aborted) = (0, 0);
    for worker in workers {
        let (c, a) = worker.await.expect("worker");
        committed += c;
        aborted += a;
    }
    let data = verify::converge(&c).await;
    eprintln!("{committed} transactions committed, {aborted} aborted by WATCH");
    assert_eq!(data.get("counter"), Some(&committed.to_string()));
}

/// A write larger than one log entry (`raft-max-entry-size`, 4 MB by default) is refused with an
/// error rather than wedging replication; a pipeline larger than one entry goes as several, in
/// order; a transaction larger than one entry is refused whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_larger_than_an_entry() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(3, Options::default()).await;
    let leader = c.wait_leader(None).await;
    let mut client = Client::connect(&c.node(leader).resp_addr())
        .await
        .expect("connect");
    let mut send = async |commands: &[Vec<String>]| {
        for command in commands {
            client.queue(command);
        }
        client.flush().await.expect("flush");
        let mut replies = Vec::new();
        for _ in commands {
            replies.push(client.read_reply().await.expect("reply"));
        }
        replies
    };
    let set = |key: String, size: usize| vec!["SET".to_string(), key, "v".repeat(size)];

    let huge = send(&[set("huge".into(), 5 << 20)]).await;
    match &huge[0] {
        Frame::Error(text) => assert!(text.contains("raft-max-entry-size"), "{text}"),
        other => panic!("a 5 MB SET was not refused: {other:?}"),
    }

    // 60 × 100 KB: one pipeline, two entries; one oversized command in the middle is refused
    // alone.
    let mut pipeline: Vec<Vec<String>> = (0..60).map(|i| set(format!("p{i}"), 100 << 10)).collect();
    pipeline.insert(30, set("too-big".into(), 5 << 20));
    let replies = send(&pipeline).await;
    for (i, reply) in replies.iter().enumerate() {
        match (i, reply) {
            (30, Frame::Error(text)) => assert!(text.contains("raft-max-entry-size"), "{text}"),
            (30, other) => panic!("the oversized command was not refused: {other:?}"),
            (_, Frame::Simple(ok)) => assert_eq!(ok.as_ref(), b"OK"),
            (_, other) => panic!("pipeline reply {i}: {other:?}"),
        }
    }

    let mut transaction = vec![vec!["MULTI".to_string()]];
    transaction.extend((0..60).map(|i| set(format!("t{i}"), 100 << 10)));
    transaction.push(vec!["EXEC".to_string()]);
    let replies = send(&transaction).await;
    match replies.last() {
        Some(Frame::Error(text)) => assert!(text.contains("raft-max-entry-size"), "{text}"),
        other => panic!("an oversized transaction was not refused: {other:?}"),
    }

    let data = verify::converge(&c).await;
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 60, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with('p')), "{keys:?}");
}

/// A Python client script (tests/clients/) run with the test's redis-py: its output lines
/// arrive on a channel, and a line on its stdin tells it to go on.
struct PyScript {
    child: std::process::Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    transcript: Vec<String>,
}

impl PyScript {
    fn start(script: &str, args: &[String]) -> PyScript {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let python = common::python();
        assert!(
            python.exists(),
            "{} is missing: run scripts/install-deps.sh (it installs redis-py into a virtualenv)",
            python.display()
        );
        let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(&python)
            .arg(path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run a redis-py client script");
        let stdout = child.stdout.take().expect("stdout");
        let (lines_tx, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        PyScript {
            child,
            lines,
            transcript: Vec::new(),
        }
    }

    /// Waits up to a minute for the line `marker`; panics with the output so far otherwise.
    async fn wait_for(&mut self, marker: &str) {
        let seen = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = self.lines.recv().await {
                let done = line == marker;
                self.transcript.push(line);
                if done {
                    return true;
                }
            }
            false
        })
        .await;
        if seen != Ok(true) {
            let _ = self.child.kill();
            let mut stderr = String::new();
            if let Some(mut err) = self.child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
            }
            panic!("no {marker}:\n{}\n{stderr}", self.transcript.join("\n"));
        }
    }

    /// Tells the script to go on, waits for it to exit successfully and returns its transcript.
    async fn finish(mut self) -> Vec<String> {
        use std::io::Write;
        let mut stdin = self.child.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("signal the client");
        drop(stdin);
        let pid = self.child.id().to_string();
        let child = self.child;
        let waited = tokio::time::timeout(
            Duration::from_secs(120),
            tokio::task::spawn_blocking(move || child.wait_with_output()),
        )
        .await;
        let Ok(waited) = waited else {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid])
                .status();
            panic!("the redis-py client hung:\n{}", self.transcript.join("\n"));
        };
        let output = waited.expect("join").expect("client output");
        let mut transcript = self.transcript;
        while let Ok(line) = self.lines.try_recv() {
            transcript.push(line);
        }
        assert!(
            output.status.success(),
            "{}\n{}",
            transcript.join("\n"),
            String::from_utf8_lossy(&output.stderr)
        );
        transcript
    }
}

/// redis-py's RedisCluster finds the leader from the cluster protocol (CLUSTER SLOTS, MOVED),
/// counts and lists a slot's keys, and follows the leader through a `kill -9` with the same
/// client object (tests/clients/redis_py_cluster_check.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_cluster_client_follows_the_leader() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3, Options::default()).await;
    let leader = c.wait_leader(None).await;
    // The leader listed last: the client must discover it through the cluster protocol.
    let mut seeds = addrs(&c);
    seeds.sort_by_key(|a| *a == c.node(leader).resp_addr());
    let mut client = PyScript::start("redis_py_cluster_check.py", &seeds);
    client.wait_for("READY").await;
    c.kill(leader);
    eprintln!("{}", client.finish().await.join("\n"));
}

/// Leader failovers under redis-py RedisCluster INCR load (tests/clients/redis_py_cluster_incr.py):
/// the clients retry every reply that promises "not executed", so the counter may exceed the
/// successful INCRs only by the calls whose connection broke (the one outcome no server can
/// report). Every successful INCR saw a value no other saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_cluster_incr_counts_exactly_through_leader_kills() {
    const KILLS: usize = 10;
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3, Options::default()).await;
    let mut leader = c.wait_leader(None).await;
    let mut args = vec!["4".to_string()];
    args.extend(addrs(&c));
    let mut client = PyScript::start("redis_py_cluster_incr.py", &args);
    client.wait_for("RUNNING").await;
    for _ in 0..KILLS {
        sleep(Duration::from_millis(700)).await;
        c.kill(leader);
        let next = c.wait_leader(Some(leader)).await;
        c.restart(leader);
        leader = next;
    }
    sleep(Duration::from_millis(1000)).await;
    let transcript = client.finish().await;
    let summary: serde_json::Value = transcript
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no summary: {transcript:?}"));
    let values: Vec<i64> = summary["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(serde_json::Value::as_i64)
        .collect();
    let unknown = summary["unknown"].as_u64().expect("unknown") as usize;
    let data = verify::converge(&c).await;
    let total: usize = data
        .get("incr-through-failovers")
        .and_then(|v| v.parse().ok())
        .expect("the counter exists");
    eprintln!(
        "{KILLS} leader kills: counter {total}, {} successful INCRs, {unknown} lost connections, \
         {} refused; errors {}",
        values.len(),
        summary["refused"],
        summary["errors"]
    );
    let distinct: std::collections::BTreeSet<i64> = values.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        values.len(),
        "two INCRs answered the same value"
    );
    assert!(
        total >= values.len() && total <= values.len() + unknown,
        "counter {total}, but {} INCRs succeeded and {unknown} had unknown outcomes",
        values.len()
    );
}

/// The Rust `redis` crate's async cluster client finds the leader through the cluster protocol
/// and follows it through a `kill -9` with the same connection object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_cluster_client_follows_the_leader() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3, Options::default()).await;
    let leader = c.wait_leader(None).await;
    let mut seeds: Vec<String> = addrs(&c).iter().map(|a| format!("redis://{a}")).collect();
    seeds.sort_by_key(|a| a.ends_with(&c.node(leader).resp_addr()));
    let client = redis::cluster::ClusterClientBuilder::new(seeds)
        .connection_timeout(Duration::from_secs(1))
        .response_timeout(Duration::from_secs(5))
        .build()
        .expect("cluster client");
    let mut conn = client
        .get_async_connection()
        .await
        .expect("connect to the cluster");
    let set = |key: String, value: usize| {
        let mut conn = conn.clone();
        async move {
            // Retried until the new leader answers: SET is safe to send again.
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let sent: redis::RedisResult<()> = redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .query_async(&mut conn)
                    .await;
                match sent {
                    Ok(()) => return,
                    Err(e) if std::time::Instant::now() < deadline => {
                        eprintln!("SET {key}: {e}; retrying");
                        sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("SET {key} failed for 30 s: {e}"),
                }
            }
        }
    };
    for i in 0..200 {
        set(format!("rust:{i}"), i).await;
    }
    c.kill(leader);
    let started = std::time::Instant::now();
    for i in 200..300 {
        set(format!("rust:{i}"), i).await;
    }
    eprintln!(
        "100 writes through the failover took {:?}",
        started.elapsed()
    );
    for i in 0..300 {
        let value: Option<usize> = redis::cmd("GET")
            .arg(format!("rust:{i}"))
            .query_async(&mut conn)
            .await
            .expect("GET after the failover");
        assert_eq!(value, Some(i), "rust:{i}");
    }
}

async fn write_with_retries(addr: &str, key: &str, value: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let reply = match Client::connect(addr).await {
            Ok(mut c) => c
                .call(&["SET", key, value])
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match reply {
            Ok(Frame::Simple(_)) => return,
            other => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "SET {key} on {addr}: {other:?}"
                );
                eprintln!("SET {key} on {addr} retried after {other:?}");
                sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Writes `count` keys one at a time (each its own log entry) through `addr`.
async fn write_sequentially(addr: &str, prefix: &str, count: usize) {
    let mut c = Client::connect(addr).await.expect("connect");
    for i in 0..count {
        let key = format!("{prefix}{i}");
        let reply = c.call(&["SET", key.as_str(), "v"]).await.expect("write");
        assert_eq!(reply, Frame::Simple("OK".into()), "SET {key}");
    }
}

/// Writes about `mb` megabytes in 100 KB values, pipelined; a SET that fails (a slow machine
/// may time a 2 MB entry out) is sent again on its own.
async fn write_bulk(addr: &str, mb: usize) {
    use rand::{distributions::Alphanumeric, Rng, SeedableRng};
    let mut c = Client::connect(addr).await.expect("connect");
    // Random characters: RocksDB's compression must not shrink the data the snapshot carries.
    let value: String = rand::rngs::StdRng::seed_from_u64(seed())
        .sample_iter(&Alphanumeric)
        .take(100 * 1024)
        .map(char::from)
        .collect();
    let count = mb * 10;
    for batch in (0..count).collect::<Vec<_>>().chunks(20) {
        let keys: Vec<String> = batch.iter().map(|i| format!("bulk:{i}")).collect();
        for key in &keys {
            c.queue(&["SET", key.as_str(), value.as_str()]);
        }
        c.flush().await.expect("flush");
        let mut failed = Vec::new();
        for key in &keys {
            match c.read_reply().await.expect("bulk reply") {
                Frame::Simple(_) => {}
                other => failed.push((key, other)),
            }
        }
        for (key, error) in failed {
            eprintln!("bulk SET {key} answered {error:?}; sending it again");
            write_with_retries(addr, key, &value).await;
        }
    }
}

fn snapshot_options() -> Options {
    Options {
        snapshot_logs: 200,
        logs_kept: 50,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_follower_and_new_node_catch_up_by_snapshot() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3, snapshot_options()).await;
    let leader = c.wait_leader(None).await;
    let follower = follower_of(&c, leader);
    let index = |status: Option<serde_json::Value>, field: &str| {
        status.and_then(|s| s[field].as_u64()).unwrap_or(0)
    };
    let follower_last = index(c.raft_status(follower).await, "last_log_index");
    c.kill(follower);
    let addr = c.node(leader).resp_addr();
    write_sequentially(&addr, "s:", 800).await;
    let mb = std::env::var("KIWI_CLUSTER_SNAPSHOT_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    write_bulk(&addr, mb).await;
    write_sequentially(&addr, "t:", 400).await;
    // The entries the follower lacks are gone from the leader's log: only a snapshot can bring
    // it (and the new node below) up to date.
    let purged = index(c.raft_status(leader).await, "purged_index");
    assert!(
        purged > follower_last,
        "the leader kept its log (purged up to {purged}, follower at {follower_last})"
    );
    c.restart(follower);
    let data = verify::converge(&c).await;
    assert_eq!(data.len(), 800 + 400 + mb * 10);
    let started = std::time::Instant::now();
    c.add_node().await;
    let joined = verify::converge(&c).await;
    eprintln!(
        "node with {mb} MB joined and converged in {:?}",
        started.elapsed()
    );
    assert_eq!(verify::digest(&data), verify::digest(&joined));
}

/// The 1 GB join, too slow for CI: `KIWI_CLUSTER_BIG_GB=1 cargo test --release --test
/// cluster -- --ignored big_join`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn big_join() {
    let _serial = SERIAL.lock().await;
    let gb: usize = std::env::var("KIWI_CLUSTER_BIG_GB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut c = Cluster::start(3, snapshot_options()).await;
    let leader = c.wait_leader(None).await;
    write_bulk(&c.node(leader).resp_addr(), gb * 1024).await;
    let before = verify::converge(&c).await;
    let started = std::time::Instant::now();
    c.add_node().await;
    let after = verify::converge(&c).await;
    eprintln!(
        "node joined a {gb} GB cluster and converged in {:?}",
        started.elapsed()
    );
    assert_eq!(verify::digest(&before), verify::digest(&after));
}

/// `GET /ready` of a node's admin API: status and body (`None` when it does not answer).
async fn ready(cluster: &Cluster, id: u64) -> Option<(u16, String)> {
    let url = format!("http://127.0.0.1:{}/ready", cluster.node(id).admin_port);
    let response = reqwest::get(url).await.ok()?;
    Some((
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    ))
}

/// A follower whose disk fills up must not stop the cluster: the leader and the other follower
/// keep committing every write, the full node says why it is not ready instead of dying or
/// restarting in a loop, and once its disk has room again it catches up with everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_with_a_full_disk_does_not_stop_the_cluster() {
    if !common::disk::is_root() {
        eprintln!("SKIPPED: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start(3, Options::default()).await;
    let leader = c.wait_leader(None).await;
    let follower = follower_of(&c, leader);
    let leader_addr = c.node(leader).resp_addr();
    write_sequentially(&leader_addr, "before:", 20).await;
    c.kill(follower);
    // Room to restart is 64 MB free (`ROOM_TO_RESTART` in src/raft/node.rs).
    let disk = common::disk::SmallDisk::mount_over(&c.node(follower).data_dir(), 400);
    c.restart(follower);
    verify::converge(&c).await;

    common::disk::fill_to_the_brim(&disk.path.join("ballast"));
    // More than the follower's preallocated write-ahead log can take, so its log write fails.
    write_bulk(&leader_addr, 48).await;
    write_sequentially(&leader_addr, "full:", 100).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert_eq!(c.node_mut(follower).exited(), None, "the full node exited");
        match ready(&c, follower).await {
            Some((503, body)) if body.contains("No space left on device") => break,
            other => assert!(
                std::time::Instant::now() < deadline,
                "the full node does not say why it is not ready: {other:?}"
            ),
        }
        sleep(Duration::from_millis(200)).await;
    }
    // Room again: the node restarts itself in place (same process id) and catches up.
    std::fs::remove_file(disk.path.join("ballast")).expect("free the disk");
    write_sequentially(&leader_addr, "after:", 20).await;
    verify::converge(&c).await;
    assert_eq!(
        c.node_mut(follower).exited(),
        None,
        "the node exited instead of restarting in place"
    );
    assert_eq!(ready(&c, follower).await.map(|r| r.0), Some(200));
}

/// Keyspace notifications in a cluster: every node announces the writes it applies, so a
/// subscriber on any node hears every write made through any node — the same messages, in the
/// same order, as a redis-server gives for the same commands, lazy expiry included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_announces_keyspace_events() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start(3, Options::default()).await;
    c.wait_leader(None).await;
    let redis = tokio::task::spawn_blocking(common::Redis::start)
        .await
        .expect("redis-server");
    let nodes = addrs(&c);
    let mut servers = nodes.clone();
    servers.push(redis.addr());
    let mut subscribers = Vec::new();
    for addr in &servers {
        let mut conn = Client::connect(addr).await.expect("connect");
        let set = conn
            .call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"])
            .await
            .expect("CONFIG SET");
        assert_eq!(set, Frame::ok(), "{addr}");
        let mut sub = Client::connect(addr).await.expect("connect");
        let reply = sub
            .call(&["PSUBSCRIBE", "__key*__:*"])
            .await
            .expect("PSUBSCRIBE");
        assert!(matches!(reply, Frame::Array(_)), "{addr}: {reply:?}");
        subscribers.push(sub);
    }
    // Through every node in turn (followers forward writes); the same commands on redis-server.
    let writes: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["LPUSH", "l", "x", "y"],
        &["INCR", "a"],
        &["RENAME", "a", "b"],
        &["SET", "e", "v", "PX", "200"],
        &["HSET", "h", "f", "v"],
        &["SADD", "s", "m"],
        &["DEL", "b", "l", "missing"],
    ];
    let mut clients = Vec::new();
    for addr in &servers {
        clients.push(Client::connect(addr).await.expect("connect"));
    }
    let (cluster_clients, redis_client) = clients.split_at_mut(nodes.len());
    let redis_client = &mut redis_client[0];
    for (i, write) in writes.iter().enumerate() {
        let got = cluster_clients[i % nodes.len()]
            .call(write)
            .await
            .expect("write");
        let want = redis_client.call(write).await.expect("write");
        assert_eq!(got, want, "{write:?}");
    }
    // `e` expires; the next write to it finds it expired (the entry's clock is past it), deletes
    // it and announces `expired` before `set`, as Redis does.
    sleep(Duration::from_millis(1000)).await;
    for client in [&mut cluster_clients[0], &mut *redis_client] {
        let reply = client.call(&["SET", "e", "again"]).await.expect("SET");
        assert_eq!(reply, Frame::ok());
        let reply = client
            .call(&["PUBLISH", "__keyspace@0__:__end__", "end"])
            .await
            .expect("PUBLISH");
        assert!(matches!(reply, Frame::Integer(_)), "{reply:?}");
    }
    let mut streams = Vec::new();
    for (addr, sub) in servers.iter().zip(&mut subscribers) {
        let mut stream = Vec::new();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), sub.read_reply())
                .await
                .unwrap_or_else(|_| panic!("{addr}: no end marker in 20 s; got {stream:?}"))
                .expect("read");
            let Frame::Array(items) = frame else {
                panic!("{addr}: {frame:?}")
            };
            let text: Vec<String> = items[2..]
                .iter()
                .map(|f| match f {
                    Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect();
            if text[0] == "__keyspace@0__:__end__" {
                break;
            }
            stream.push(text.join(" "));
        }
        streams.push(stream);
    }
    let want = streams.pop().expect("redis stream");
    assert!(want.iter().any(|m| m.ends_with(" expired")), "{want:?}");
    for (addr, got) in nodes.iter().zip(&streams) {
        assert_eq!(got, &want, "node {addr}");
    }
}
