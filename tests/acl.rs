//! ACL users end to end: a read-only user cannot write, a user limited to `app:*` cannot touch
//! other keys, ACL SETUSER changes apply to connections already authenticated, CLIENT LIST shows
//! each connection's user, and ACL DELUSER disconnects the deleted user's connections. ACL LOG
//! entries match redis-server's field by field (but for ages and client lines), ACL GENPASS
//! has Redis's lengths, and `aclfile` survives ACL SAVE, ACL LOAD and restarts.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{bulk, call, Kiwi, Redis};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

fn error(text: &str) -> Frame {
    Frame::Error(text.into())
}

fn no_command(name: &str) -> Frame {
    error(&format!(
        "NOPERM this user has no permissions to run the '{name}' command"
    ))
}

fn no_keys() -> Frame {
    error("NOPERM this user has no permissions to access one of the keys used as arguments")
}

#[test]
fn restricted_users_cannot_write_or_leave_their_keys() {
    let kiwi = Kiwi::start(&[]);
    common::runtime().block_on(async {
        let mut admin = Client::connect(&kiwi.addr()).await.expect("connect");
        let ok = Frame::Simple("OK".into());
        assert_eq!(call(&mut admin, &["SET", "app:1", "v"]).await, ok);
        assert_eq!(call(&mut admin, &["SET", "other", "w"]).await, ok);
        let setuser = ["ACL", "SETUSER", "reader", "on", ">pw", "~*", "+@read"];
        assert_eq!(call(&mut admin, &setuser).await, ok);
        let setuser = ["ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@all"];
        assert_eq!(call(&mut admin, &setuser).await, ok);

        let mut reader = Client::connect(&kiwi.addr()).await.expect("connect");
        assert_eq!(call(&mut reader, &["AUTH", "reader", "pw"]).await, ok);
        assert_eq!(call(&mut reader, &["GET", "other"]).await, bulk("w"));
        assert_eq!(
            call(&mut reader, &["SET", "other", "x"]).await,
            no_command("set")
        );
        assert_eq!(
            call(&mut reader, &["DEL", "app:1"]).await,
            no_command("del")
        );
        let config = call(&mut reader, &["CONFIG", "SET", "maxmemory", "1"]).await;
        assert_eq!(config, no_command("config|set"));

        let mut app = Client::connect(&kiwi.addr()).await.expect("connect");
        let hello = call(&mut app, &["HELLO", "3", "AUTH", "app", "pw"]).await;
        assert!(matches!(hello, Frame::Map(_)), "{hello:?}");
        assert_eq!(call(&mut app, &["SET", "app:2", "x"]).await, ok);
        assert_eq!(call(&mut app, &["GET", "other"]).await, no_keys());
        assert_eq!(
            call(&mut app, &["MSET", "app:3", "1", "other", "2"]).await,
            no_keys()
        );
        assert_eq!(call(&mut app, &["ACL", "WHOAMI"]).await, bulk("app"));

        // Rule changes apply to the next command of an authenticated connection.
        assert_eq!(
            call(&mut admin, &["ACL", "SETUSER", "reader", "-get"]).await,
            ok
        );
        assert_eq!(
            call(&mut reader, &["GET", "other"]).await,
            no_command("get")
        );
        assert_eq!(call(&mut admin, &["GET", "other"]).await, bulk("w"));
        assert_eq!(call(&mut admin, &["GET", "app:3"]).await, Frame::Null);

        let Frame::Bulk(list) = call(&mut admin, &["CLIENT", "LIST"]).await else {
            panic!("CLIENT LIST is not a bulk string")
        };
        let list = String::from_utf8_lossy(&list).into_owned();
        for user in ["default", "reader", "app"] {
            assert!(list.contains(&format!(" user={user} ")), "{list}");
        }

        // Deleting a user disconnects its connections.
        assert_eq!(
            call(&mut admin, &["ACL", "DELUSER", "reader"]).await,
            Frame::Integer(1)
        );
        let gone = tokio::time::timeout(Duration::from_secs(5), reader.call(&["PING"])).await;
        assert!(matches!(gone, Ok(Err(_))), "{gone:?}");
        assert_eq!(call(&mut app, &["GET", "app:2"]).await, bulk("x"));
    });
}

/// The same refusals on a server: command, key, channel (inside MULTI too) and failed
/// authentications, some repeated so that entries group.
async fn refuse_things(addr: &str) -> Vec<Frame> {
    let mut admin = Client::connect(addr).await.expect("connect");
    let setuser = [
        "ACL", "SETUSER", "u", "on", ">pw", "~app:*", "&news", "+get", "+publish", "+multi",
        "+discard",
    ];
    call(&mut admin, &setuser).await;
    call(&mut admin, &["ACL", "LOG", "RESET"]).await;
    let mut user = Client::connect(addr).await.expect("connect");
    for cmd in [
        &["AUTH", "u", "pw"][..],
        &["GET", "other"],
        &["SET", "app:1", "v"],
        &["PUBLISH", "sports", "hi"],
        &["GET", "other"],
        &["MULTI"],
        &["GET", "other"],
        &["DISCARD"],
        &["auth", "u", "wrong"],
        &["HELLO", "2", "AUTH", "nosuch", "pw"],
    ] {
        call(&mut user, cmd).await;
    }
    let Frame::Array(entries) = call(&mut admin, &["ACL", "LOG"]).await else {
        panic!("ACL LOG is not an array")
    };
    entries
}

/// An ACL LOG entry with its age and client line checked for shape and then left out, since
/// they differ between any two servers.
fn comparable(entry: &Frame) -> Vec<(String, Frame)> {
    let Frame::Array(items) = entry else {
        panic!("an ACL LOG entry is not an array in RESP2: {entry:?}")
    };
    let mut fields = Vec::new();
    for pair in items.chunks(2) {
        let Frame::Bulk(name) = &pair[0] else {
            panic!("field name {:?}", pair[0])
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let value = pair[1].clone();
        match name.as_str() {
            "age-seconds" => {
                let Frame::Bulk(age) = &value else {
                    panic!("age-seconds {value:?}")
                };
                let age: f64 = String::from_utf8_lossy(age).parse().expect("a number");
                assert!((0.0..60.0).contains(&age), "age-seconds {age}");
                fields.push((name, Frame::Null));
            }
            "client-info" => {
                let Frame::Bulk(info) = &value else {
                    panic!("client-info {value:?}")
                };
                let info = String::from_utf8_lossy(info);
                assert!(
                    info.starts_with("id=") && info.contains(" addr=127.0.0.1:"),
                    "{info}"
                );
                assert!(info.contains(" user=u "), "{info}");
                fields.push((name, Frame::Null));
            }
            _ => fields.push((name, value)),
        }
    }
    fields
}

#[test]
fn acl_log_entries_match_redis() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    let rt = common::runtime();
    rt.block_on(async {
        let ours = refuse_things(&kiwi.addr()).await;
        let theirs = refuse_things(&redis.addr()).await;
        let ours: Vec<_> = ours.iter().map(comparable).collect();
        let theirs: Vec<_> = theirs.iter().map(comparable).collect();
        assert_eq!(ours, theirs);
        assert_eq!(ours.len(), 6, "{ours:?}");

        // acllog-max-len bounds the log from the next refusal on.
        let mut admin = Client::connect(&kiwi.addr()).await.expect("connect");
        let set = ["CONFIG", "SET", "acllog-max-len", "2"];
        assert_eq!(call(&mut admin, &set).await, Frame::Simple("OK".into()));
        call(&mut admin, &["AUTH", "u", "wrong-again"]).await;
        let Frame::Array(entries) = call(&mut admin, &["ACL", "LOG"]).await else {
            panic!("ACL LOG is not an array")
        };
        assert_eq!(entries.len(), 2);
    });
}

#[test]
fn genpass_has_the_requested_number_of_hex_digits() {
    let kiwi = Kiwi::start(&[]);
    common::runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.expect("connect");
        for (args, digits) in [
            (&["ACL", "GENPASS"][..], 64),
            (&["ACL", "GENPASS", "1"], 1),
            (&["ACL", "GENPASS", "5"], 2),
            (&["ACL", "GENPASS", "4096"], 1024),
        ] {
            let Frame::Bulk(pass) = call(&mut c, args).await else {
                panic!("GENPASS is not a bulk string")
            };
            assert_eq!(pass.len(), digits, "{args:?}");
            assert!(pass
                .iter()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
        let a = call(&mut c, &["ACL", "GENPASS"]).await;
        assert_ne!(a, call(&mut c, &["ACL", "GENPASS"]).await);
    });
}

fn acl_list(lines: &Frame) -> Vec<String> {
    let Frame::Array(lines) = lines else {
        panic!("ACL LIST is not an array: {lines:?}")
    };
    lines
        .iter()
        .map(|l| match l {
            Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn aclfile_survives_save_load_and_restart() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("users.acl");
    // As in Redis, the file must exist when the server starts.
    std::fs::write(&file, "").expect("write the ACL file");
    let aclfile = format!("aclfile={}", file.display());
    let mut kiwi = Kiwi::start(&["--set", &aclfile]);
    let ok = Frame::Simple("OK".into());
    let saved = common::runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.expect("connect");
        let setuser = ["ACL", "SETUSER", "alice", "on", ">pw", "~app:*", "&news", "+@read"];
        assert_eq!(call(&mut c, &setuser).await, ok);
        assert_eq!(call(&mut c, &["ACL", "SAVE"]).await, ok);
        let listed = acl_list(&call(&mut c, &["ACL", "LIST"]).await);
        let text = std::fs::read_to_string(&file).expect("read the ACL file");
        assert_eq!(text, format!("{}\n", listed.join("\n")));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(tmp.path()).expect("list").count(), 1);

        // LOAD brings the file back: later changes go, and alice's connections close.
        let mut alice = Client::connect(&kiwi.addr()).await.expect("connect");
        assert_eq!(call(&mut alice, &["AUTH", "alice", "pw"]).await, ok);
        assert_eq!(call(&mut c, &["ACL", "SETUSER", "bob", "on"]).await, ok);
        assert_eq!(call(&mut c, &["ACL", "LOAD"]).await, ok);
        assert_eq!(acl_list(&call(&mut c, &["ACL", "LIST"]).await), listed);
        let gone = tokio::time::timeout(Duration::from_secs(5), alice.call(&["PING"])).await;
        assert!(matches!(gone, Ok(Err(_))), "{gone:?}");

        // A bad file changes nothing and says where it is bad.
        std::fs::write(&file, "user carol on nopass\nuser dave +nosuch\n").expect("write");
        let Frame::Error(e) = call(&mut c, &["ACL", "LOAD"]).await else {
            panic!("a bad ACL file was loaded")
        };
        assert_eq!(e, format!("ERR {}:2: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed", file.display()));
        assert_eq!(acl_list(&call(&mut c, &["ACL", "LIST"]).await), listed);
        assert_eq!(call(&mut c, &["ACL", "SAVE"]).await, ok);
        listed
    });

    // A restart loads the users from the file.
    kiwi.terminate();
    let kiwi = kiwi.restart();
    common::runtime().block_on(async {
        let mut c = Client::connect(&kiwi.addr()).await.expect("connect");
        assert_eq!(acl_list(&call(&mut c, &["ACL", "LIST"]).await), saved);
        assert_eq!(call(&mut c, &["AUTH", "alice", "pw"]).await, ok);
        let set = ["CONFIG", "SET", "aclfile", "/elsewhere"];
        assert!(matches!(call(&mut c, &set).await, Frame::Error(_)));
    });
    drop(kiwi);

    // A bad file stops the start-up with the file and line.
    std::fs::write(&file, "user erin on\nnot a user line\n").expect("write");
    let dir = tmp.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_kiwi"))
        .args([
            "--single-node",
            "--port",
            "0",
            "--set",
            "admin-port=0",
            "--set",
            &aclfile,
        ])
        .arg("--dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("run kiwi");
    assert!(!out.status.success());
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = format!(
        "{}:2 should start with user keyword followed by the username.",
        file.display()
    );
    assert!(output.contains(&expected), "{output}");
}
