//! Lua scripts and functions against real processes: a busy script answers other clients with
//! BUSY until SCRIPT KILL or FUNCTION KILL stops it (and refuses to stop one that wrote),
//! function libraries survive a restart and `kill -9`, FUNCTION DUMP payloads move between
//! Kiwi and redis-server in both directions, a script cannot exhaust memory, and scripts are
//! atomic against concurrent clients. Replies themselves are compared with redis-server by
//! `tests/scripts/scripting.txt` and `functions.txt` (tests/differential.rs).

mod common;

use std::time::Duration;

use common::{bulk, call, multi_runtime, runtime, Kiwi, Redis};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

fn error(frame: &Frame) -> &str {
    match frame {
        Frame::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Waits until the server answers BUSY to PING.
async fn wait_busy(c: &mut Client) -> String {
    for _ in 0..200 {
        if let Frame::Error(e) = call(c, &["PING"]).await {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the script never became busy");
}

#[test]
fn a_busy_script_answers_busy_and_script_kill_stops_it() {
    let kiwi = Kiwi::start(&["--set", "busy-reply-threshold=50"]);
    multi_runtime().block_on(async {
        let mut runner = Client::connect(&kiwi.addr()).await.unwrap();
        let mut other = Client::connect(&kiwi.addr()).await.unwrap();
        let mut tx = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut tx, &["MULTI"]).await, Frame::ok());
        assert_eq!(call(&mut tx, &["INCR", "n"]).await, Frame::simple("QUEUED"));
        // A read-only endless script.
        runner.queue(&["EVAL", "while true do end", "0"]);
        runner.flush().await.unwrap();
        let busy = wait_busy(&mut other).await;
        assert!(
            busy.starts_with("BUSY Redis is busy running a script. You can only call SCRIPT KILL"),
            "{busy}"
        );
        // An EXEC refused while busy ends its transaction, as in Redis.
        let aborted = call(&mut tx, &["EXEC"]).await;
        assert!(
            error(&aborted).starts_with("EXECABORT Transaction discarded because of: BUSY"),
            "{aborted:?}"
        );
        // FUNCTION KILL does not stop an EVAL script; SCRIPT KILL does.
        let wrong_kind = call(&mut other, &["FUNCTION", "KILL"]).await;
        assert!(error(&wrong_kind).starts_with("BUSY"), "{wrong_kind:?}");
        assert_eq!(call(&mut other, &["SCRIPT", "KILL"]).await, Frame::ok());
        let killed = runner.read_reply().await.unwrap();
        assert!(
            error(&killed).starts_with("ERR Script killed by user with SCRIPT KILL..."),
            "{killed:?}"
        );
        assert_eq!(call(&mut other, &["PING"]).await, Frame::simple("PONG"));
        assert!(error(&call(&mut other, &["SCRIPT", "KILL"]).await).starts_with("NOTBUSY"));
        // The transaction is gone: no MULTI state, nothing ran.
        assert_eq!(call(&mut tx, &["GET", "n"]).await, Frame::Null);

        // A script that wrote cannot be killed; it runs to its end.
        let body =
            "redis.call('set', 'x', 'y') local i = 0 while i < 3e7 do i = i + 1 end return i";
        runner.queue(&["EVAL", body, "0"]);
        runner.flush().await.unwrap();
        wait_busy(&mut other).await;
        let refused = call(&mut other, &["SCRIPT", "KILL"]).await;
        assert!(error(&refused).starts_with("UNKILLABLE"), "{refused:?}");
        assert_eq!(
            runner.read_reply().await.unwrap(),
            Frame::Integer(30_000_000)
        );
        assert_eq!(call(&mut other, &["GET", "x"]).await, bulk("y"));

        // Functions are killed with FUNCTION KILL.
        let library = "#!lua name=spin\nredis.register_function{function_name='spin', \
                       callback=function() while true do end end, flags={'no-writes'}}";
        assert_eq!(
            call(&mut other, &["FUNCTION", "LOAD", library]).await,
            bulk("spin")
        );
        runner.queue(&["FCALL_RO", "spin", "0"]);
        runner.flush().await.unwrap();
        let busy = wait_busy(&mut other).await;
        assert!(busy.contains("FUNCTION KILL"), "{busy}");
        let stats = call(&mut other, &["FUNCTION", "STATS"]).await;
        assert!(format!("{stats:?}").contains("spin"), "{stats:?}");
        assert!(error(&call(&mut other, &["SCRIPT", "KILL"]).await).starts_with("BUSY"));
        assert_eq!(call(&mut other, &["FUNCTION", "KILL"]).await, Frame::ok());
        let killed = runner.read_reply().await.unwrap();
        assert!(error(&killed).contains("FUNCTION KILL"), "{killed:?}");
    });
}

#[test]
fn function_libraries_survive_restart_and_kill_9() {
    let mut kiwi = Kiwi::start(&[]);
    let library = "#!lua name=counter\nredis.register_function('bump', \
                   function(keys) return redis.call('incr', keys[1]) end)";
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(&mut c, &["FUNCTION", "LOAD", library]).await,
            bulk("counter")
        );
        assert_eq!(
            call(&mut c, &["FCALL", "bump", "1", "n"]).await,
            Frame::Integer(1)
        );
    });
    kiwi.kill9();
    let mut kiwi = kiwi.restart();
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(&mut c, &["FCALL", "bump", "1", "n"]).await,
            Frame::Integer(2)
        );
        let deleted = "#!lua name=other\nredis.register_function('gone', function() return 1 end)";
        assert_eq!(
            call(&mut c, &["FUNCTION", "LOAD", deleted]).await,
            bulk("other")
        );
        assert_eq!(
            call(&mut c, &["FUNCTION", "DELETE", "other"]).await,
            Frame::ok()
        );
    });
    kiwi.terminate();
    let kiwi = kiwi.restart();
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(&mut c, &["FCALL", "bump", "1", "n"]).await,
            Frame::Integer(3)
        );
        let gone = call(&mut c, &["FCALL", "gone", "0"]).await;
        assert_eq!(error(&gone), "ERR Function not found");
        assert_eq!(call(&mut c, &["FUNCTION", "FLUSH"]).await, Frame::ok());
    });
}

#[test]
fn function_dump_payloads_move_between_kiwi_and_redis() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    // Long enough for redis-server to LZF-compress it in its payload.
    let padding = "-- padding padding padding padding padding padding padding\n".repeat(8);
    let from_redis = format!(
        "#!lua name=fromredis\n{padding}redis.register_function('hello', function() return 'from redis' end)"
    );
    let from_kiwi =
        "#!lua name=fromkiwi\nredis.register_function('hi', function(k, a) return a[1] end)";
    runtime().block_on(async {
        let mut r = Client::connect(&redis.addr()).await.unwrap();
        let mut k = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(
            call(&mut r, &["FUNCTION", "LOAD", &from_redis]).await,
            bulk("fromredis")
        );
        let Frame::Bulk(payload) = call(&mut r, &["FUNCTION", "DUMP"]).await else {
            panic!("redis FUNCTION DUMP")
        };
        let restore = |policy: Option<&str>| {
            let mut args: Vec<Vec<u8>> =
                vec![b"FUNCTION".to_vec(), b"RESTORE".to_vec(), payload.to_vec()];
            args.extend(policy.map(|p| p.as_bytes().to_vec()));
            args
        };
        k.queue(&restore(None));
        k.flush().await.unwrap();
        assert_eq!(k.read_reply().await.unwrap(), Frame::ok());
        assert_eq!(
            call(&mut k, &["FCALL", "hello", "0"]).await,
            bulk("from redis")
        );
        k.queue(&restore(None));
        k.flush().await.unwrap();
        let again = k.read_reply().await.unwrap();
        assert_eq!(error(&again), "ERR Library fromredis already exists");
        k.queue(&restore(Some("REPLACE")));
        k.flush().await.unwrap();
        assert_eq!(k.read_reply().await.unwrap(), Frame::ok());

        // And back: Kiwi's dump restores into redis-server.
        assert_eq!(
            call(&mut k, &["FUNCTION", "LOAD", from_kiwi]).await,
            bulk("fromkiwi")
        );
        let Frame::Bulk(ours) = call(&mut k, &["FUNCTION", "DUMP"]).await else {
            panic!("kiwi FUNCTION DUMP")
        };
        r.queue(&[&b"FUNCTION"[..], b"RESTORE", &ours, b"FLUSH"]);
        r.flush().await.unwrap();
        assert_eq!(r.read_reply().await.unwrap(), Frame::ok());
        assert_eq!(
            call(&mut r, &["FCALL", "hi", "0", "back"]).await,
            bulk("back")
        );
        assert_eq!(
            call(&mut r, &["FCALL", "hello", "0"]).await,
            bulk("from redis")
        );

        // A damaged payload is refused and changes nothing.
        let mut broken = ours.to_vec();
        let at = broken.len() / 2;
        broken[at] ^= 0xff;
        k.queue(&[&b"FUNCTION"[..], b"RESTORE", &broken, b"FLUSH"]);
        k.flush().await.unwrap();
        let refused = k.read_reply().await.unwrap();
        assert_eq!(
            error(&refused),
            "ERR DUMP payload version or checksum are wrong"
        );
        assert_eq!(
            call(&mut k, &["FCALL", "hi", "0", "still"]).await,
            bulk("still")
        );
    });
}

#[test]
fn a_script_cannot_exhaust_memory() {
    let kiwi = Kiwi::start(&["--set", "lua-memory-limit=8mb"]);
    runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        let hog = "local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 100) .. i end return #t";
        let refused = call(&mut c, &["EVAL", hog, "0"]).await;
        assert!(error(&refused).contains("not enough memory"), "{refused:?}");
        // The interpreter recovers: the memory was given back.
        assert_eq!(
            call(&mut c, &["EVAL", "return #string.rep('y', 1000)", "0"]).await,
            Frame::Integer(1000)
        );
        let huge_arg = "z".repeat(4 << 20);
        let echoed = call(&mut c, &["EVAL", "return #ARGV[1]", "0", &huge_arg]).await;
        assert_eq!(echoed, Frame::Integer(4 << 20));
    });
}

/// 8 clients run a read-modify-write script 200 times each on one key while 8 others write
/// other keys: the count is exact, so no command ever ran between a script's read and write.
#[test]
fn scripts_are_atomic_under_concurrency() {
    let kiwi = Kiwi::start(&[]);
    let rt = multi_runtime();
    rt.block_on(async {
        let script = "local v = tonumber(redis.call('get', KEYS[1]) or '0') \
                      redis.call('set', KEYS[1], v + 1) return v + 1";
        let mut tasks = Vec::new();
        for i in 0..16 {
            let addr = kiwi.addr();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(&addr).await.unwrap();
                for n in 0..200 {
                    if i < 8 {
                        let reply = call(&mut c, &["EVAL", script, "1", "counter"]).await;
                        assert!(matches!(reply, Frame::Integer(_)), "{reply:?}");
                    } else {
                        call(&mut c, &["SET", &format!("other:{i}:{n}"), "x"]).await;
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut c = Client::connect(&kiwi.addr()).await.unwrap();
        assert_eq!(call(&mut c, &["GET", "counter"]).await, bulk("1600"));
    });
}
