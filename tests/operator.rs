//! Operator controls over other clients: MONITOR streams their commands in Redis's format (hiding
//! secrets and admin commands, stopping on RESET), CLIENT PAUSE holds them back.

mod common;

use std::time::Duration;

use common::{call, runtime, Kiwi};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

fn line(frame: Frame) -> String {
    match frame {
        Frame::Simple(s) => String::from_utf8_lossy(&s).into_owned(),
        other => panic!("MONITOR sent {other:?}"),
    }
}

#[test]
fn monitor_streams_every_client_command_in_redis_format() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut monitor = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut monitor, &["MONITOR"]).await, Frame::ok());
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["SET", "a b", "x\"y\n\u{1}"]).await;
        call(&mut c, &["CONFIG", "GET", "maxclients"]).await;
        call(&mut c, &["AUTH", "secret"]).await;
        call(&mut c, &["SELECT", "3"]).await;
        call(&mut c, &["LPUSH", "l", "v"]).await;
        let mut lines = Vec::new();
        for _ in 0..4 {
            lines.push(line(monitor.read_reply().await.unwrap()));
        }
        let shapes: Vec<&str> = lines.iter().map(|l| l.split_once(']').unwrap().1).collect();
        assert_eq!(
            shapes,
            [
                r#" "SET" "a b" "x\"y\n\x01""#,
                r#" "AUTH" "(redacted)""#,
                r#" "SELECT" "3""#,
                r#" "LPUSH" "l" "v""#,
            ]
        );
        // `<seconds>.<micros> [<db> <client address>]`
        let (stamp, rest) = lines[3].split_once(' ').unwrap();
        assert!(stamp
            .split_once('.')
            .is_some_and(|(s, us)| s.len() >= 10 && us.len() == 6));
        assert!(rest.starts_with("[3 127.0.0.1:"), "{rest}");
        assert!(lines[0].contains("[0 127.0.0.1:"));

        // RESET ends monitoring: the next command is not streamed.
        assert_eq!(
            call(&mut monitor, &["RESET"]).await,
            Frame::Simple("RESET".into())
        );
        call(&mut c, &["GET", "after-reset"]).await;
        let quiet = tokio::time::timeout(Duration::from_millis(200), monitor.read_reply()).await;
        assert!(
            quiet.is_err(),
            "a reset connection still received {quiet:?}"
        );
    });
}

/// CLIENT PAUSE WRITE holds back writes but not reads until CLIENT UNPAUSE; CLIENT PAUSE ALL
/// holds back reads too until its deadline.
#[test]
fn client_pause_holds_back_commands_until_unpause_or_deadline() {
    let kiwi = Kiwi::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let mut admin = Client::connect(&kiwi.addr()).await.unwrap();
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        call(&mut c, &["SET", "k", "before"]).await;
        assert_eq!(
            call(&mut admin, &["CLIENT", "PAUSE", "10000", "WRITE"]).await,
            Frame::ok()
        );
        assert_eq!(call(&mut c, &["GET", "k"]).await, common::bulk("before"));
        let addr = kiwi.addr();
        let writer = tokio::spawn(async move {
            let mut w = Client::connect(&addr).await.unwrap();
            call(&mut w, &["SET", "k", "after"]).await
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !writer.is_finished(),
            "a write ran during CLIENT PAUSE WRITE"
        );
        assert_eq!(call(&mut c, &["GET", "k"]).await, common::bulk("before"));
        assert_eq!(call(&mut admin, &["CLIENT", "UNPAUSE"]).await, Frame::ok());
        assert_eq!(writer.await.unwrap(), Frame::ok());
        assert_eq!(call(&mut c, &["GET", "k"]).await, common::bulk("after"));

        call(&mut admin, &["CLIENT", "PAUSE", "300", "ALL"]).await;
        let started = std::time::Instant::now();
        assert_eq!(call(&mut c, &["GET", "k"]).await, common::bulk("after"));
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "a read ran during CLIENT PAUSE ALL"
        );
    });
}
