//! ACL users end to end: a read-only user cannot write, a user limited to `app:*` cannot touch
//! other keys, ACL SETUSER changes apply to connections already authenticated, CLIENT LIST shows
//! each connection's user, and ACL DELUSER disconnects the deleted user's connections.

mod common;

use std::time::Duration;

use common::{bulk, call, Kiwi};
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
