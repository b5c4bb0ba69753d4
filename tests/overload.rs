//! Backpressure under overload: far more clients and pipelined data than the storage runtime can
//! take at once. 2,000 connections each write their whole pipeline of SETs without waiting for a
//! reply (1 GiB in all, by default), so almost all of it is pending at the start. The node must
//! hold its memory bounded — by not reading a socket while that connection's job waits for
//! storage, so the rest waits in the kernel's TCP buffers and the clients' writes block — and
//! must lose no acknowledged write, also across a `kill -9` afterwards.
//!
//! `KIWI_OVERLOAD_MB` sets the total (default 1024); the peak RSS limit is stated in
//! docs/reliability.md.

mod common;

use std::time::{Duration, Instant};

use common::Kiwi;
use kiwi::resp::client::Client;
use kiwi::resp::Frame;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 2000;
const VALUE: usize = 16 * 1024;
/// Peak resident memory the node may reach while the whole load is pending: the storage memory
/// budget given to it below, plus per-connection buffers, plus RocksDB's and the allocator's
/// overhead. The load itself is 1 GiB.
const PEAK_RSS_LIMIT: u64 = 512 << 20;

fn total_mb() -> usize {
    std::env::var("KIWI_OVERLOAD_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

fn key(conn: usize, i: usize) -> String {
    format!("c{conn}:{i}")
}

/// The value of `key(conn, i)`: one letter repeated, different for neighbouring keys.
fn value(conn: usize, i: usize) -> Vec<u8> {
    vec![b'a' + ((conn * 7 + i) % 26) as u8; VALUE]
}

fn set_command(conn: usize, i: usize) -> Vec<u8> {
    let key = key(conn, i);
    let mut out =
        format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${VALUE}\r\n", key.len()).into_bytes();
    out.extend_from_slice(&value(conn, i));
    out.extend_from_slice(b"\r\n");
    out
}

/// What one connection saw: the indexes acknowledged with `+OK`, and the other replies.
#[derive(Default)]
struct Outcome {
    acked: Vec<usize>,
    errors: Vec<String>,
    /// The connection broke before every reply came.
    broken: bool,
}

/// Writes all `count` SETs of connection `conn` at once while reading their replies.
async fn client(addr: String, conn: usize, count: usize) -> Outcome {
    let mut outcome = Outcome::default();
    let Ok(stream) = TcpStream::connect(&addr).await else {
        outcome.broken = true;
        return outcome;
    };
    let (read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        for i in 0..count {
            if write.write_all(&set_command(conn, i)).await.is_err() {
                return;
            }
        }
        let _ = write.flush().await;
        // Keep the write half open until the replies are read: closing it would end the session.
        std::future::pending::<()>().await;
    });
    let mut lines = BufReader::new(read).lines();
    for i in 0..count {
        match lines.next_line().await {
            Ok(Some(line)) if line == "+OK" => outcome.acked.push(i),
            Ok(Some(line)) => outcome.errors.push(line),
            Ok(None) | Err(_) => {
                outcome.broken = true;
                break;
            }
        }
    }
    writer.abort();
    outcome
}

/// The node's peak resident set size so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmHWM value");
    kib << 10
}

/// Checks that every acknowledged key holds its full value, and that nothing else was written.
async fn verify(addr: &str, acked: &[(usize, usize)]) {
    let mut c = Client::connect(addr).await.expect("connect to verify");
    assert_eq!(
        c.call(&["DBSIZE"]).await.expect("DBSIZE"),
        Frame::Integer(acked.len() as i64),
        "DBSIZE is not the number of acknowledged SETs"
    );
    for chunk in acked.chunks(500) {
        for &(conn, i) in chunk {
            c.queue(&["GET", &key(conn, i)]);
        }
        c.flush().await.expect("send GETs");
        for &(conn, i) in chunk {
            match c.read_reply().await.expect("GET reply") {
                Frame::Bulk(v) if v[..] == value(conn, i)[..] => {}
                other => panic!(
                    "acknowledged {} lost or wrong: {:?}",
                    key(conn, i),
                    format!("{other:?}").chars().take(80).collect::<String>()
                ),
            }
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn two_thousand_clients_with_a_gigabyte_pending_stay_bounded_and_lose_nothing() {
    let total = total_mb() << 20;
    let per_connection = (total / CONNECTIONS / VALUE).max(1);
    let kiwi = Kiwi::start(&["--set", "memory=256MB", "--set", "maxclients=4000"]);
    let addr = kiwi.addr();
    let rt = common::multi_runtime();
    let started = Instant::now();
    let outcomes = rt.block_on(async {
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|conn| tokio::spawn(client(addr.clone(), conn, per_connection)))
            .collect();
        // A newcomer is still served while everything above is pending: the network runtime
        // never waits for storage.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let asked = Instant::now();
        let mut probe = Client::connect(&addr)
            .await
            .expect("connect while overloaded");
        let pong = tokio::time::timeout(Duration::from_secs(10), probe.call(&["PING"]))
            .await
            .expect("PING answered while overloaded")
            .expect("PING reply");
        assert_eq!(pong, Frame::Simple("PONG".into()));
        eprintln!("PING under overload answered in {:?}", asked.elapsed());
        let mut outcomes = Vec::new();
        for client in clients {
            outcomes.push(client.await.expect("client task"));
        }
        outcomes
    });
    let elapsed = started.elapsed();
    let peak = peak_rss(kiwi.child.id());
    let acked: Vec<(usize, usize)> = outcomes
        .iter()
        .enumerate()
        .flat_map(|(conn, o)| o.acked.iter().map(move |&i| (conn, i)))
        .collect();
    let errors: Vec<&String> = outcomes.iter().flat_map(|o| &o.errors).collect();
    let broken = outcomes.iter().filter(|o| o.broken).count();
    eprintln!(
        "{CONNECTIONS} connections, {} MiB sent in {:?}: {} acknowledged, {} refused, {} broken \
         connections; peak RSS {} MiB",
        (CONNECTIONS * per_connection * VALUE) >> 20,
        elapsed,
        acked.len(),
        errors.len(),
        broken,
        peak >> 20
    );
    // Overload may be refused with BUSY (the command was not run), never with anything else,
    // and no connection is dropped for it.
    assert!(
        errors.iter().all(|e| e.starts_with("-BUSY")),
        "unexpected replies: {:?}",
        errors.iter().take(5).collect::<Vec<_>>()
    );
    assert_eq!(broken, 0, "connections were dropped under overload");
    assert!(
        acked.len() * 2 >= CONNECTIONS * per_connection,
        "fewer than half of the SETs were accepted"
    );
    assert!(
        peak < PEAK_RSS_LIMIT,
        "peak RSS {} MiB is over the {} MiB limit",
        peak >> 20,
        PEAK_RSS_LIMIT >> 20
    );
    rt.block_on(verify(&addr, &acked));

    // Every acknowledged write also survives a crash right after the load.
    let mut kiwi = kiwi;
    kiwi.kill9();
    let kiwi = kiwi.restart();
    rt.block_on(verify(&kiwi.addr(), &acked));
}
