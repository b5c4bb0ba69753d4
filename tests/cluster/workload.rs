//! Concurrent client load for fault tests: clients hop between the nodes and run SET/GET/INCR on a
//! few hot keys (recorded for the linearizability check) and SETs of unique keys (for the
//! lost-write check), each with invoke and completion times and the outcome as the client saw it.
//! A scripted load does the same through Lua scripts (EVAL, EVAL_RO, a compare-and-set script).
//!
//! Outcomes are read the way cluster clients read them: an error word that Redis Cluster clients
//! retry on their own (`CLUSTERDOWN`, `TRYAGAIN`, `MOVED`, ...) is a definite failure, so a server
//! that sends one for a write it applied is caught — the checker then finds the write's effect
//! with no write to explain it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiwi::resp::client::Client;
use kiwi::resp::Frame;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::linearizability::{Call, Op, Outcome, Time};

/// Keys modelled as registers.
pub const REGISTERS: [&str; 3] = ["r0", "r1", "r2"];
/// The key modelled as a counter.
pub const COUNTER: &str = "ctr";
/// Prefix of the keys each written once, for the lost-write check.
pub const UNIQUE_PREFIX: &str = "w:";

/// Longest a client waits for one reply (longer than the nodes' proposal timeout).
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The seed of this run: `KIWI_CLUSTER_SEED` or the clock. Printed so a failure can be rerun.
pub fn seed() -> u64 {
    let seed = std::env::var("KIWI_CLUSTER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or_default()
        });
    eprintln!("cluster test seed: KIWI_CLUSTER_SEED={seed}");
    seed
}

/// Everything the clients did.
#[derive(Default)]
pub struct History {
    /// Operations on the hot keys.
    pub ops: Vec<Op>,
    /// Writes of unique keys: key, value, outcome.
    pub unique_writes: Vec<(String, String, Outcome)>,
    /// When the load stopped, on the history's clock.
    pub end: Time,
}

impl History {
    /// Counts of outcomes, for the test log.
    pub fn summary(&self) -> String {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for op in &self.ops {
            let kind = match &op.outcome {
                Outcome::Fail => "fail",
                Outcome::Unknown => "unknown",
                _ => "ok",
            };
            let call = match op.call {
                Call::Set(_) => "SET",
                Call::Get => "GET",
                Call::Incr => "INCR",
                Call::Cas(..) => "CAS",
            };
            *counts.entry(format!("{call}/{kind}")).or_default() += 1;
        }
        format!(
            "{} ops, {} unique writes: {counts:?}",
            self.ops.len(),
            self.unique_writes.len()
        )
    }
}

/// Running clients; `stop` ends them and returns the history.
pub struct Load {
    running: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<History>>,
    started: Instant,
}

impl Load {
    /// Starts `clients` clients, client i first talking to `addrs[i % addrs.len()]`, then hopping
    /// to a random node now and then and after every failed connection.
    pub fn start(addrs: &[String], clients: usize, seed: u64) -> Load {
        Load::start_with(addrs, clients, seed, false)
    }

    /// Like [`Load::start`], with every hot-key operation run by a Lua script.
    pub fn start_scripted(addrs: &[String], clients: usize, seed: u64) -> Load {
        Load::start_with(addrs, clients, seed, true)
    }

    fn start_with(addrs: &[String], clients: usize, seed: u64, scripted: bool) -> Load {
        let running = Arc::new(AtomicBool::new(true));
        let started = Instant::now();
        let clients = (0..clients)
            .map(|i| {
                let rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64));
                let addrs = addrs.to_vec();
                tokio::spawn(client(i, addrs, rng, running.clone(), started, scripted))
            })
            .collect();
        Load {
            running,
            clients,
            started,
        }
    }

    /// Stops every client after its current operation and merges their histories.
    pub async fn stop(self) -> History {
        self.running.store(false, Ordering::Release);
        let mut all = History::default();
        for c in self.clients {
            let h = c.await.expect("client task");
            all.ops.extend(h.ops);
            all.unique_writes.extend(h.unique_writes);
        }
        all.end = self.started.elapsed().as_nanos() as Time;
        all
    }
}

/// Error words that promise the command was not executed: Redis Cluster clients retry them on
/// their own. `BUSY` is Kiwi's full proposal queue (a refusal clients do not retry).
pub const NOT_EXECUTED: [&str; 8] = [
    "CLUSTERDOWN",
    "TRYAGAIN",
    "MOVED",
    "ASK",
    "LOADING",
    "READONLY",
    "MASTERDOWN",
    "BUSY",
];

/// True for an error that promises its command was not executed.
pub fn not_executed(error: &str) -> bool {
    NOT_EXECUTED.contains(&error.split(' ').next().unwrap_or_default())
}

/// What the reply to a write tells about whether it was applied.
fn write_outcome(reply: Result<Frame, ()>) -> Outcome {
    match reply {
        Ok(Frame::Simple(_)) => Outcome::Ok,
        Ok(Frame::Integer(n)) => Outcome::Int(n),
        Ok(Frame::Error(e)) if not_executed(&e) => Outcome::Fail,
        _ => Outcome::Unknown,
    }
}

fn read_outcome(reply: Result<Frame, ()>) -> Outcome {
    match reply {
        Ok(Frame::Bulk(b)) => Outcome::Value(Some(String::from_utf8_lossy(&b).into_owned())),
        Ok(Frame::Null) => Outcome::Value(None),
        _ => Outcome::Fail,
    }
}

/// Chance, per operation, that a client moves to another node.
const HOP_PERCENT: u32 = 10;

async fn client(
    id: usize,
    addrs: Vec<String>,
    mut rng: StdRng,
    running: Arc<AtomicBool>,
    started: Instant,
    scripted: bool,
) -> History {
    let mut history = History::default();
    let mut conn: Option<Client> = None;
    let mut addr = addrs[id % addrs.len()].clone();
    let mut seq = 0u64;
    // The last value this client read of each key: what its compare-and-sets expect.
    let mut last_seen: BTreeMap<String, String> = BTreeMap::new();
    while running.load(Ordering::Acquire) {
        if conn.is_none() || rng.gen_range(0..100) < HOP_PERCENT {
            let next = addrs[rng.gen_range(0..addrs.len())].clone();
            if next != addr {
                addr = next;
                conn = None;
            }
        }
        let Some(c) = connected(&mut conn, &addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        seq += 1;
        let dice = rng.gen_range(0..100);
        let register = REGISTERS[rng.gen_range(0..REGISTERS.len())];
        let (key, call, args): (String, Call, Vec<String>) = match dice {
            0..=89 if scripted => {
                let expected = last_seen.get(register).cloned();
                scripted_op(id, seq, dice, register, expected)
            }
            0..=34 => {
                let v = format!("c{id}-{seq}");
                (
                    register.into(),
                    Call::Set(v.clone()),
                    vec!["SET".into(), register.into(), v],
                )
            }
            35..=69 => (
                register.into(),
                Call::Get,
                vec!["GET".into(), register.into()],
            ),
            70..=84 => (
                COUNTER.into(),
                Call::Incr,
                vec!["INCR".into(), COUNTER.into()],
            ),
            85..=89 => (
                COUNTER.into(),
                Call::Get,
                vec!["GET".into(), COUNTER.into()],
            ),
            _ => {
                let key = format!("{UNIQUE_PREFIX}{id}:{seq}");
                let reply = timed_call(c, &["SET", &key, "x"]).await;
                if reply.is_err() {
                    conn = None;
                }
                history
                    .unique_writes
                    .push((key, "x".into(), write_outcome(reply)));
                continue;
            }
        };
        let invoke = started.elapsed().as_nanos() as Time;
        let reply = timed_call(c, &args).await;
        let complete = started.elapsed().as_nanos() as Time;
        if reply.is_err() {
            conn = None;
        }
        let outcome = match call {
            Call::Get => read_outcome(reply),
            _ => write_outcome(reply),
        };
        if let (Outcome::Value(Some(v)), true) = (&outcome, scripted) {
            last_seen.insert(key.clone(), v.clone());
        }
        history.ops.push(Op {
            client: id,
            key,
            call,
            invoke,
            complete,
            outcome,
        });
    }
    history
}

/// Script bodies of the scripted load.
const SCRIPT_SET: &str = "redis.call('set', KEYS[1], ARGV[1]) return redis.status_reply('OK')";
const SCRIPT_GET: &str = "return redis.call('get', KEYS[1])";
const SCRIPT_INCR: &str = "return redis.call('incr', KEYS[1])";
const SCRIPT_CAS: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then \
    redis.call('set', KEYS[1], ARGV[2]) return 1 else return 0 end";

/// A hot-key operation of the scripted load: the same mix as the plain load, with a
/// compare-and-set in place of some SETs.
fn scripted_op(
    id: usize,
    seq: u64,
    dice: u32,
    register: &str,
    expected: Option<String>,
) -> (String, Call, Vec<String>) {
    let eval = |command: &str, body: &str, key: &str, args: &[&str]| {
        let mut call = vec![
            command.to_string(),
            body.to_string(),
            "1".into(),
            key.to_string(),
        ];
        call.extend(args.iter().map(|a| a.to_string()));
        call
    };
    let value = format!("c{id}-{seq}");
    match dice {
        0..=19 => (
            register.into(),
            Call::Set(value.clone()),
            eval("EVAL", SCRIPT_SET, register, &[&value]),
        ),
        20..=34 => {
            // Expect what this client last read: right unless another client wrote since.
            let expected = expected.unwrap_or_default();
            (
                register.into(),
                Call::Cas(expected.clone(), value.clone()),
                eval("EVAL", SCRIPT_CAS, register, &[&expected, &value]),
            )
        }
        35..=69 => (
            register.into(),
            Call::Get,
            eval("EVAL_RO", SCRIPT_GET, register, &[]),
        ),
        70..=84 => (
            COUNTER.into(),
            Call::Incr,
            eval("EVAL", SCRIPT_INCR, COUNTER, &[]),
        ),
        _ => (
            COUNTER.into(),
            Call::Get,
            eval("EVAL_RO", SCRIPT_GET, COUNTER, &[]),
        ),
    }
}

async fn connected<'a>(conn: &'a mut Option<Client>, addr: &str) -> Option<&'a mut Client> {
    if conn.is_none() {
        let c = tokio::time::timeout(Duration::from_secs(1), Client::connect(addr)).await;
        *conn = c.ok().and_then(Result::ok);
    }
    conn.as_mut()
}

/// One command with a deadline; `Err` when the connection failed or timed out (it is dropped).
async fn timed_call<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) -> Result<Frame, ()> {
    match tokio::time::timeout(REPLY_TIMEOUT, c.call(args)).await {
        Ok(Ok(frame)) => Ok(frame),
        _ => Err(()),
    }
}
