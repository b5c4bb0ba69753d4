//! Disk space: `max-db-size` refuses commands that grow the data before the disk fills, and a
//! node whose disk really filled (a size-limited tmpfs) restarts on it — its disk reserve makes
//! room for recovery — without losing anything acknowledged. tests/server.rs covers the node
//! that keeps running while its disk fills and is freed.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::disk::{fill_to_the_brim, is_root, SmallDisk};
use common::Kiwi;
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

/// A value that does not compress.
fn random_value(len: usize) -> Vec<u8> {
    (0..len).map(|_| rand::random::<u8>()).collect()
}

/// SETs `k<i>` to `size`-byte random values from `first` on, until a write is refused; returns
/// the keys acknowledged and the refusal.
async fn fill(
    client: &mut Client,
    first: usize,
    size: usize,
    most: usize,
) -> (Vec<String>, String) {
    let mut acked = Vec::new();
    for i in first..first + most {
        let key = format!("k{i}");
        let value = random_value(size);
        match client.call(&[&b"SET"[..], key.as_bytes(), &value]).await {
            Ok(Frame::Simple(_)) => acked.push(key),
            Ok(Frame::Error(e)) => return (acked, e),
            other => panic!("SET {key}: {other:?}"),
        }
    }
    panic!("{most} writes of {size} bytes were all accepted");
}

async fn assert_present(client: &mut Client, keys: &[String], size: usize) {
    for key in keys {
        match client.call(&["STRLEN", key]).await {
            Ok(Frame::Integer(n)) if n as usize == size => {}
            other => panic!("acknowledged {key} lost: STRLEN answered {other:?}"),
        }
    }
}

#[test]
fn max_db_size_refuses_growth_but_not_reads_or_deletes() {
    let rt = common::runtime();
    let kiwi = Kiwi::start(&["--set", "max-db-size=4MB"]);
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.expect("connect");
        let (acked, refusal) = fill(&mut c, 0, 256 << 10, 200).await;
        assert_eq!(
            refusal,
            "OOM command not allowed when the data size > 'max-db-size'."
        );
        assert!(
            acked.len() >= 8,
            "refused after only {} writes",
            acked.len()
        );
        assert_present(&mut c, &acked, 256 << 10).await;
        // Commands that do not grow the data still run.
        assert_eq!(
            c.call(&["DEL", &acked[0]]).await.ok(),
            Some(Frame::Integer(1))
        );
        assert_eq!(
            c.call(&["EXPIRE", &acked[1], "100"]).await.ok(),
            Some(Frame::Integer(1))
        );
        // Inside MULTI the refusal comes at queue time and aborts EXEC, as in Redis.
        c.call(&["MULTI"]).await.expect("MULTI");
        let queued = c.call(&["SET", "x", "y"]).await.expect("SET in MULTI");
        assert!(
            matches!(queued, Frame::Error(ref e) if e.starts_with("OOM")),
            "{queued:?}"
        );
        let exec = c.call(&["EXEC"]).await.expect("EXEC");
        assert!(
            matches!(exec, Frame::Error(ref e) if e.starts_with("EXECABORT")),
            "{exec:?}"
        );
        // Raising the limit at runtime lets writes in again within a background tick.
        c.call(&["CONFIG", "SET", "max-db-size", "1GB"])
            .await
            .expect("CONFIG SET");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match c.call(&["SET", "after", "raise"]).await.expect("SET") {
                Frame::Simple(_) => break,
                other => assert!(Instant::now() < deadline, "still refused: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

fn ready(kiwi: &Kiwi) -> (u16, String) {
    let rt = common::runtime();
    rt.block_on(async {
        let response = reqwest::get(kiwi.admin_url("/ready"))
            .await
            .expect("GET /ready");
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    })
}

fn ballast(path: &Path, megabytes: usize) {
    std::fs::write(path, vec![0u8; megabytes << 20]).expect("write ballast");
}

#[test]
fn a_node_restarts_on_a_full_disk_without_losing_acknowledged_writes() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    const VALUE: usize = 512 << 10;
    let disk = SmallDisk::mount(128);
    let ballast_path = disk.path.join("ballast");
    ballast(&ballast_path, 24);
    let dir = disk.path.join("data");
    let flags = ["--set", "disk-reserve=16MB"];
    let mut kiwi = Kiwi::spawn(common::free_port(), &dir, &flags);
    assert!(
        dir.join("KIWI-DISK-RESERVE").exists(),
        "no disk reserve written"
    );
    let rt = common::runtime();
    let acked = rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.expect("connect");
        let (acked, refusal) = fill(&mut c, 0, VALUE, 400).await;
        assert!(
            refusal.starts_with("MISCONF") && refusal.contains("No space left on device"),
            "{refusal}"
        );
        // Reads go on.
        assert_present(&mut c, &acked, VALUE).await;
        acked
    });
    let (status, body) = ready(&kiwi);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("No space left on device"), "{body}");

    // A restart on the full disk succeeds and nothing acknowledged is lost. (Freeing space while the node runs is
    // tests/server.rs `full_disk_opens_the_breaker_...`.)
    kiwi.kill9();
    // Whatever room RocksDB left is taken too: only the reserve can make room for recovery.
    fill_to_the_brim(&disk.path.join("brim"));
    let kiwi = Kiwi::spawn(kiwi.port, &dir, &flags);
    // The open may also find room in the table file its crashed flush left half written, which
    // RocksDB deletes first; the reserve covers the case where that is not enough.
    let used = !dir.join("KIWI-DISK-RESERVE").exists();
    eprintln!(
        "restarted on a full disk; the disk reserve was {}",
        if used { "used" } else { "not needed" }
    );
    rt.block_on(async {
        let mut c = Client::connect(&kiwi.addr())
            .await
            .expect("connect after restart");
        assert_present(&mut c, &acked, VALUE).await;
        // A write still finds the disk full (or the room the reserve gave back): either way
        // the answer is definite.
        let set = c.call(&["SET", "after-restart", "x"]).await.expect("SET");
        assert!(
            set == Frame::ok() || matches!(&set, Frame::Error(e) if e.starts_with("MISCONF")),
            "{set:?}"
        );
    });
}
