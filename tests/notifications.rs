//! Keyspace notifications against redis-server: the same command sequence — every command family,
//! keyspace commands, blocking pops, MULTI/EXEC, lazy and active expiry — runs on kiwi and on a
//! real redis-server, each with a subscriber on `__key*__:*`, under many `notify-keyspace-events`
//! settings; the ordered message streams must be identical. Also: CONFIG GET/SET of the flags
//! reads and refuses like Redis, and with notifications off nothing is published.

mod common;

use std::time::Duration;

use common::{call, Kiwi, Redis};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

/// One step of a scenario.
#[derive(Clone, Copy)]
enum Step {
    /// A command, its words separated by spaces (`""` is the empty string).
    Cmd(&'static str),
    /// A pause, to let keys expire.
    Sleep(u64),
    /// The first command blocks on a second connection; the second one, sent 300 ms later on the
    /// main connection, serves it.
    Served(&'static str, &'static str),
    /// A transaction of these commands (MULTI ... EXEC).
    Exec(&'static [&'static str]),
    /// A WATCH of the key, a write to it from the main connection, then a transaction on the
    /// watching connection that must be aborted (and so announce nothing).
    AbortedExec(&'static str),
}

use Step::*;

fn words(line: &str) -> Vec<String> {
    line.split(' ')
        .map(|w| {
            if w == "\"\"" {
                String::new()
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// Lazy expiry: the sweep is off (DEBUG SET-ACTIVE-EXPIRE 0), so each expired key is found by
/// the command that looks it up. Every family, every keyspace command.
const FAMILIES: &[Step] = &[
    // Strings.
    Cmd("SET foo bar"),
    Cmd("SET foo baz"),
    Cmd("SET k v EX 100"),
    Cmd("SET k v KEEPTTL"),
    Cmd("SET k v NX"),
    Cmd("SET k2 v XX"),
    Cmd("SETNX foo x"),
    Cmd("SETNX n1 x"),
    Cmd("SETEX se 100 v"),
    Cmd("PSETEX pse 100000 v"),
    Cmd("GETSET foo q"),
    Cmd("GETSET gs1 v"),
    Cmd("SET sg v GET"),
    Cmd("SET sg w GET"),
    Cmd("MSET a 1 b 2 a 3"),
    Cmd("MSETNX a 1 z 2"),
    Cmd("MSETNX y 1 z 2"),
    Cmd("INCR cnt"),
    Cmd("INCRBY cnt 5"),
    Cmd("DECR cnt"),
    Cmd("DECRBY cnt 2"),
    Cmd("INCRBYFLOAT fl 1.5"),
    Cmd("APPEND ap hello"),
    Cmd("APPEND ap world"),
    Cmd("SETRANGE sr 5 x"),
    Cmd("SETRANGE sr 0 \"\""),
    Cmd("SETRANGE missing 0 \"\""),
    Cmd("GETDEL ap"),
    Cmd("GETDEL nokey"),
    Cmd("GETEX foo EX 100"),
    Cmd("GETEX foo EX 100"),
    Cmd("GETEX foo PERSIST"),
    Cmd("GETEX foo PERSIST"),
    Cmd("GETEX foo PX 500000"),
    Cmd("GETEX foo EXAT 1"),
    Cmd("GET nokey"),
    Cmd("MGET nokey foo a"),
    Cmd("STRLEN nokey"),
    Cmd("GETRANGE nokey 0 1"),
    Cmd("LCS nokey a"),
    Cmd("SET past v PXAT 1"),
    Cmd("GET past"),
    // Bitmaps.
    Cmd("SETBIT bm 7 1"),
    Cmd("SETBIT bm 7 1"),
    Cmd("SETBIT bm 7 0"),
    Cmd("SETBIT bm 100 0"),
    Cmd("GETBIT nokey 1"),
    Cmd("BITCOUNT nokey"),
    Cmd("BITPOS nokey 1"),
    Cmd("BITFIELD bf SET u8 0 255 GET u8 0"),
    Cmd("BITFIELD bf GET u8 0"),
    Cmd("BITFIELD bf OVERFLOW FAIL INCRBY u8 0 10"),
    Cmd("BITFIELD bf2 OVERFLOW FAIL INCRBY u2 0 10"),
    Cmd("BITFIELD_RO nokey GET u8 0"),
    Cmd("BITOP AND dest bm nokey"),
    Cmd("BITOP OR dest bm bf"),
    Cmd("BITOP AND dest nokey nokey2"),
    Cmd("BITOP AND dest nokey nokey2"),
    // HyperLogLog.
    Cmd("PFADD hll a b c"),
    Cmd("PFADD hll a"),
    Cmd("PFMERGE hll2 hll nokey2"),
    Cmd("PFCOUNT hll"),
    Cmd("PFCOUNT nokey"),
    Cmd("PFCOUNT hll nokey"),
    // Keyspace.
    Cmd("DEL foo nokey a a"),
    Cmd("UNLINK b"),
    Cmd("EXISTS y z nokey"),
    Cmd("TOUCH nokey y"),
    Cmd("TYPE nokey"),
    Cmd("TTL nokey"),
    Cmd("PTTL nokey"),
    Cmd("EXPIRETIME nokey"),
    Cmd("PEXPIRETIME nokey"),
    Cmd("OBJECT ENCODING nokey"),
    Cmd("EXPIRE y 100"),
    Cmd("EXPIRE y 100 NX"),
    Cmd("EXPIRE y 200 GT"),
    Cmd("PEXPIRE y 100000"),
    Cmd("EXPIREAT y 4000000000"),
    Cmd("PEXPIREAT y 4000000000000"),
    Cmd("PERSIST y"),
    Cmd("PERSIST y"),
    Cmd("EXPIRE z -1"),
    Cmd("EXPIRE nokey 10"),
    Cmd("RENAME y y"),
    Cmd("RENAME y y2"),
    Cmd("SET y3 v"),
    Cmd("RENAME y2 y3"),
    Cmd("RENAMENX y3 y3"),
    Cmd("SET y4 v"),
    Cmd("RENAMENX y3 y4"),
    Cmd("RENAMENX y3 y5"),
    Cmd("MOVE y5 1"),
    Cmd("MOVE y4 1"),
    Cmd("COPY y4 cp1"),
    Cmd("COPY cp1 y4 DB 2"),
    Cmd("COPY cp1 y4 DB 2"),
    Cmd("COPY cp1 y4 DB 2 REPLACE"),
    Cmd("COPY cp1 cp2 REPLACE"),
    Cmd("COPY nokey cpx"),
    Cmd("SELECT 1"),
    Cmd("SET indb1 v"),
    Cmd("LPUSH indb1l a"),
    Cmd("RENAME indb1 indb1b"),
    Cmd("MOVE indb1b 0"),
    Cmd("SELECT 0"),
    // Lists.
    Cmd("LPUSH l a b c"),
    Cmd("RPUSH l d"),
    Cmd("LPUSHX nol a"),
    Cmd("RPUSHX l e"),
    Cmd("LINSERT l BEFORE a z"),
    Cmd("LINSERT l BEFORE nothere z"),
    Cmd("LINSERT nol BEFORE a z"),
    Cmd("LSET l 0 q"),
    Cmd("LREM l 1 q"),
    Cmd("LREM l 0 nothere"),
    Cmd("LTRIM l 0 100"),
    Cmd("LTRIM l 1 2"),
    Cmd("LTRIM nol 1 2"),
    Cmd("LPOP l"),
    Cmd("RPOP l"),
    Cmd("LPOP l"),
    Cmd("RPOP l 5"),
    Cmd("LPUSH l x"),
    Cmd("LPOP l 0"),
    Cmd("LTRIM l 5 6"),
    Cmd("LPUSH l2 x y"),
    Cmd("LMOVE l2 l3 LEFT RIGHT"),
    Cmd("LMOVE l2 l3 RIGHT LEFT"),
    Cmd("LMOVE l3 l3 LEFT RIGHT"),
    Cmd("RPOPLPUSH l3 l4"),
    Cmd("RPOPLPUSH nol l4"),
    Cmd("LMPOP 2 nol l4 LEFT COUNT 5"),
    Cmd("LRANGE nol 0 -1"),
    Cmd("LLEN nol"),
    Cmd("LINDEX nol 0"),
    Cmd("LPOS nol a"),
    Cmd("BLPOP l4 nol 0.01"),
    Cmd("RPUSH bl a"),
    Cmd("BLPOP bl 1"),
    Cmd("RPUSH bl a b"),
    Cmd("BRPOP bl 1"),
    Cmd("BLMOVE bl bl2 LEFT LEFT 1"),
    Cmd("BLMPOP 1 1 bl2 RIGHT COUNT 3"),
    // Hashes.
    Cmd("HSET h a 1 b 2"),
    Cmd("HSET h a 1"),
    Cmd("HMSET h c 3"),
    Cmd("HSETNX h a 5"),
    Cmd("HSETNX h d 5"),
    Cmd("HSETNX h2 d 5"),
    Cmd("HINCRBY h a 3"),
    Cmd("HINCRBYFLOAT h f 1.5"),
    Cmd("HDEL h a nothere"),
    Cmd("HDEL h nothere"),
    Cmd("HDEL h b c d f"),
    Cmd("HDEL nokey a"),
    Cmd("HGET nokey x"),
    Cmd("HMGET nokey x y"),
    Cmd("HGETALL nokey"),
    Cmd("HLEN nokey"),
    Cmd("HEXISTS nokey a"),
    Cmd("HRANDFIELD nokey"),
    Cmd("HSCAN nokey 0"),
    // Sets.
    Cmd("SADD s a b c"),
    Cmd("SADD s a"),
    Cmd("SREM s a x"),
    Cmd("SREM s x"),
    Cmd("SMOVE s s2 b"),
    Cmd("SMOVE s s2 zz"),
    Cmd("SMOVE s s3 c"),
    Cmd("SMOVE nokey s3 c"),
    Cmd("SADD s4 1 2 3"),
    Cmd("SPOP s4 0"),
    Cmd("SPOP s4 5"),
    Cmd("SADD s5 1"),
    Cmd("SPOP s5"),
    Cmd("SADD sa a b c"),
    Cmd("SADD sb b c d"),
    Cmd("SINTERSTORE si sa sb"),
    Cmd("SUNIONSTORE su sa sb"),
    Cmd("SDIFFSTORE sd sa sb"),
    Cmd("SINTERSTORE si sa nokey"),
    Cmd("SINTERSTORE si2 sa nokey"),
    Cmd("SDIFFSTORE sd sb sb"),
    Cmd("SMEMBERS nokey"),
    Cmd("SISMEMBER nokey a"),
    Cmd("SMISMEMBER nokey a"),
    Cmd("SCARD nokey"),
    Cmd("SINTER nokey sa"),
    Cmd("SUNION sa nokey"),
    Cmd("SINTERCARD 2 sa nokey"),
    // Sorted sets.
    Cmd("ZADD z 1 a 2 b"),
    Cmd("ZADD z 1 a"),
    Cmd("ZADD z 5 a"),
    Cmd("ZADD z XX 1 zz"),
    Cmd("ZADD nz XX 1 zz"),
    Cmd("ZADD z NX 1 a"),
    Cmd("ZADD z GT 0 a"),
    Cmd("ZADD z CH 9 a"),
    Cmd("ZINCRBY z 2 b"),
    Cmd("ZADD z INCR 1 c"),
    Cmd("ZREM z nothere"),
    Cmd("ZREM z c"),
    Cmd("ZADD z 3 c 4 d 5 e 6 f"),
    Cmd("ZREMRANGEBYSCORE z 0 1"),
    Cmd("ZREMRANGEBYSCORE z 100 200"),
    Cmd("ZREMRANGEBYRANK z 0 0"),
    Cmd("ZREMRANGEBYRANK z 50 60"),
    Cmd("ZREMRANGEBYLEX z - +"),
    Cmd("ZADD za 1 a 2 b 3 c"),
    Cmd("ZADD zb 1 b 2 c 3 d"),
    Cmd("ZUNIONSTORE zu 2 za zb"),
    Cmd("ZINTERSTORE zi 2 za zb"),
    Cmd("ZDIFFSTORE zd 2 za zb"),
    Cmd("ZINTERSTORE zi 2 za nokey"),
    Cmd("ZRANGESTORE zr za 0 1"),
    Cmd("ZRANGESTORE zr2 nokey 0 1"),
    Cmd("ZPOPMIN za"),
    Cmd("ZPOPMAX za 0"),
    Cmd("ZPOPMAX za 5"),
    Cmd("ZPOPMIN nokey"),
    Cmd("ZMPOP 1 zb MIN COUNT 10"),
    Cmd("ZADD zc 1 a"),
    Cmd("BZPOPMIN zc 1"),
    Cmd("ZADD zc 1 a 2 b"),
    Cmd("BZMPOP 1 1 zc MAX"),
    Cmd("ZSCORE nokey a"),
    Cmd("ZRANGE nokey 0 -1"),
    Cmd("ZRANGEBYSCORE nokey 0 1"),
    Cmd("ZCOUNT nokey 0 1"),
    Cmd("ZCARD nokey"),
    Cmd("ZRANK nokey a"),
    Cmd("ZUNION 2 nokey zc"),
    Cmd("ZSCAN nokey 0"),
    // Geo.
    Cmd("GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"),
    Cmd("GEOADD g 13.361389 38.115556 Palermo"),
    Cmd("GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 200 km"),
    Cmd("GEORADIUS g 15 37 200 km STORE gr"),
    Cmd("GEORADIUS g 15 37 1 km STORE gr"),
    Cmd("GEORADIUS nokey 15 37 1 km STORE gr2"),
    Cmd("GEOPOS nokey a"),
    Cmd("GEODIST nokey a b"),
    Cmd("GEOSEARCH nokey FROMLONLAT 0 0 BYRADIUS 1 km"),
    // SORT.
    Cmd("RPUSH sortme 3 1 2"),
    Cmd("SORT sortme STORE sorted"),
    Cmd("SORT sortme BY nosort STORE sorted2"),
    Cmd("SORT nokey STORE sorted"),
    Cmd("SORT nokey STORE sorted3"),
    Cmd("SET w_1 3"),
    Cmd("SORT sortme BY w_* GET o_* GET #"),
    Cmd("SORT_RO nokey"),
    // Lazy expiry, met by every kind of lookup.
    Cmd("SET e1 v PX 1"),
    Cmd("RPUSH e2 a"),
    Cmd("PEXPIRE e2 1"),
    Cmd("SET e3 v PX 1"),
    Cmd("SET e4 v PX 1"),
    Cmd("HSET e5 a 1"),
    Cmd("PEXPIRE e5 1"),
    Cmd("SET e6 v PX 1"),
    Cmd("SET e7 v PX 1"),
    Cmd("SET e8 v PX 1"),
    Cmd("SET e9 v PX 1"),
    Cmd("SADD e11 a"),
    Cmd("SET e10 v PX 1"),
    Cmd("SET a1 1"),
    Cmd("SET a2 v PX 1"),
    Cmd("ZADD e12 1 a"),
    Cmd("PEXPIRE e12 1"),
    Cmd("SET e13 v PX 1"),
    Cmd("SET e14 v PX 1"),
    Cmd("SET e15 v PX 1"),
    Cmd("SET e16 v PX 1"),
    Cmd("SET e17 v PX 1"),
    Cmd("SET e18 v PX 1"),
    Sleep(50),
    Cmd("GET e1"),
    Cmd("LPUSH e2 b"),
    Cmd("EXISTS e3"),
    Cmd("SET e4 again"),
    Cmd("HGET e5 a"),
    Cmd("DEL e6"),
    Cmd("EXPIRE e7 100"),
    Cmd("SCAN 0 MATCH e8 COUNT 1000"),
    Cmd("RENAME e9 x"),
    Cmd("SINTERSTORE e10 e11"),
    Cmd("RENAME a1 a2"),
    Cmd("ZADD e12 2 b"),
    Cmd("SET e13 w GET"),
    Cmd("MSETNX e14 1 e15 2"),
    Cmd("INCR e16"),
    Cmd("SCAN 0 MATCH e17 TYPE string COUNT 1000"),
    Cmd("SORT nokey STORE e18"),
    // Transactions.
    Exec(&[
        "SET t1 5",
        "LPUSH t2 a",
        "INCR t1",
        "RPOP t2",
        "SADD t3 x",
        "EXPIRE t3 100",
    ]),
    Exec(&["SET t4 x", "INCR t4", "DEL t4"]),
    AbortedExec("t1"),
    // Blocked clients served by a later write.
    Served("BLPOP bq 5", "RPUSH bq x y"),
    Served("BLMOVE bq2 bq3 LEFT RIGHT 5", "RPUSH bq2 x"),
    Served("BZPOPMAX bz 5", "ZADD bz 1 a"),
    Served("BLMPOP 5 1 bq4 LEFT COUNT 2", "LPUSH bq4 x"),
    // Databases.
    Cmd("SWAPDB 0 1"),
    Cmd("FLUSHDB"),
    Cmd("FLUSHALL"),
];

/// Active expiry: the sweep (kiwi's `hz`, Redis's active expire cycle) removes the keys and
/// announces them.
const ACTIVE_EXPIRY: &[Step] = &[
    Cmd("SET ae1 v PX 50"),
    Cmd("HSET ae2 f v"),
    Cmd("PEXPIRE ae2 60"),
    Sleep(1500),
    Cmd("SET after 1"),
];

/// The `notify-keyspace-events` settings each scenario runs under.
const FLAG_SETS: &[&str] = &[
    "KEA", "Kl", "Eg", "Ex", "En", "KA", "E$", "Kh", "Ks", "Kz", "Em", "KEAnm", "Kgn", "A", "KE",
    "",
];

/// One server with a command connection, a second one for blocking calls and a subscriber.
struct Side {
    name: &'static str,
    addr: String,
    cmd: Client,
    sub: Client,
}

/// The end of a scenario: a message on a channel the subscriber's pattern matches.
const MARKER: &str = "__keyspace@0__:__end__";

impl Side {
    async fn open(name: &'static str, addr: String) -> Side {
        let cmd = Client::connect(&addr).await.expect("connect");
        let mut sub = Client::connect(&addr).await.expect("connect");
        let reply = call(&mut sub, &["PSUBSCRIBE", "__key*__:*"]).await;
        assert!(matches!(reply, Frame::Array(_)), "{name}: {reply:?}");
        Side {
            name,
            addr,
            cmd,
            sub,
        }
    }

    async fn run(&mut self, steps: &[Step]) {
        for step in steps {
            match *step {
                Cmd(line) => {
                    self.cmd.call(&words(line)).await.expect("command");
                }
                Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Exec(lines) => {
                    self.cmd.queue(&["MULTI"]);
                    for line in lines {
                        self.cmd.queue(&words(line));
                    }
                    self.cmd.queue(&["EXEC"]);
                    self.cmd.flush().await.expect("send");
                    for _ in 0..lines.len() + 2 {
                        self.cmd.read_reply().await.expect("reply");
                    }
                }
                AbortedExec(key) => {
                    let mut watcher = Client::connect(&self.addr).await.expect("connect");
                    call(&mut watcher, &["WATCH", key]).await;
                    call(&mut self.cmd, &["SET", key, "changed"]).await;
                    call(&mut watcher, &["MULTI"]).await;
                    call(&mut watcher, &["SET", key, "never"]).await;
                    let reply = call(&mut watcher, &["EXEC"]).await;
                    assert!(
                        matches!(reply, Frame::NullArray | Frame::Null),
                        "{}: {reply:?}",
                        self.name
                    );
                }
                Served(block, serve) => {
                    let mut blocked = Client::connect(&self.addr).await.expect("connect");
                    blocked.queue(&words(block));
                    blocked.flush().await.expect("send");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    self.cmd.call(&words(serve)).await.expect("command");
                    let reply = tokio::time::timeout(Duration::from_secs(10), blocked.read_reply())
                        .await
                        .expect("served within 10 s")
                        .expect("reply");
                    assert!(
                        !matches!(reply, Frame::Null | Frame::NullArray),
                        "{}: {block} was not served",
                        self.name
                    );
                }
            }
        }
    }

    /// Every message the subscriber got up to the marker, as `channel message`.
    async fn messages(&mut self) -> Vec<String> {
        call(&mut self.cmd, &["PUBLISH", MARKER, "end"]).await;
        let mut out = Vec::new();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.sub.read_reply())
                .await
                .unwrap_or_else(|_| panic!("{}: no end marker within 10 s", self.name))
                .expect("read");
            let Frame::Array(items) = frame else {
                panic!("{}: {frame:?}", self.name)
            };
            let text = |f: &Frame| match f {
                Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                other => format!("{other:?}"),
            };
            let (channel, message) = (text(&items[2]), text(&items[3]));
            if channel == MARKER {
                return out;
            }
            out.push(format!("{channel} {message}"));
        }
    }

    async fn reset(&mut self, flags: &str, active_expire: bool) {
        call(&mut self.cmd, &["SELECT", "0"]).await;
        call(&mut self.cmd, &["FLUSHALL"]).await;
        let set = call(
            &mut self.cmd,
            &["CONFIG", "SET", "notify-keyspace-events", flags],
        )
        .await;
        assert_eq!(set, Frame::ok(), "{}", self.name);
        let on = if active_expire { "1" } else { "0" };
        let reply = call(&mut self.cmd, &["DEBUG", "SET-ACTIVE-EXPIRE", on]).await;
        assert_eq!(reply, Frame::ok(), "{}", self.name);
    }
}

/// Runs `steps` on both servers under `flags` and compares the message streams.
async fn compare(kiwi: &mut Side, redis: &mut Side, flags: &str, steps: &[Step], active: bool) {
    let mut streams = Vec::new();
    for side in [&mut *kiwi, &mut *redis] {
        side.reset(flags, active).await;
        side.run(steps).await;
        streams.push(side.messages().await);
    }
    let (got, want) = (&streams[0], &streams[1]);
    if got != want {
        let first = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        let from = first.saturating_sub(3);
        panic!(
            "flags {flags:?}: message {first} differs (kiwi {} messages, redis {})\n\
             kiwi:  {:#?}\nredis: {:#?}",
            got.len(),
            want.len(),
            &got[from..(first + 5).min(got.len())],
            &want[from..(first + 5).min(want.len())],
        );
    }
    if flags.is_empty() || flags == "A" || flags == "KE" {
        assert!(got.is_empty(), "flags {flags:?} published {got:?}");
    } else {
        assert!(!got.is_empty(), "flags {flags:?}: nothing published");
    }
}

fn servers() -> (Kiwi, Redis) {
    (
        Kiwi::start(&[]),
        Redis::start_with(&["--enable-debug-command", "yes"]),
    )
}

#[test]
fn every_family_matches_redis_under_every_flag_set() {
    let (kiwi, redis) = servers();
    common::multi_runtime().block_on(async {
        let mut k = Side::open("kiwi", kiwi.addr()).await;
        let mut r = Side::open("redis", redis.addr()).await;
        for flags in FLAG_SETS {
            compare(&mut k, &mut r, flags, FAMILIES, false).await;
        }
    });
}

#[test]
fn active_expiry_matches_redis() {
    let (kiwi, redis) = servers();
    common::multi_runtime().block_on(async {
        let mut k = Side::open("kiwi", kiwi.addr()).await;
        let mut r = Side::open("redis", redis.addr()).await;
        for flags in ["KEA", "Ex", "Kx", "Eg"] {
            compare(&mut k, &mut r, flags, ACTIVE_EXPIRY, true).await;
        }
    });
}

/// Subscribers in RESP3 get the same events as push frames, before the reply of the write that
/// caused them when they are on the writing connection, as in Redis.
#[test]
fn resp3_subscriber_gets_events_before_its_own_reply() {
    let (kiwi, redis) = servers();
    common::runtime().block_on(resp3_conversations(kiwi.addr(), redis.addr()));
}

async fn resp3_conversations(kiwi: String, redis: String) {
    let mut wires = Vec::new();
    for addr in [kiwi, redis] {
        let mut c = common::connect(&addr, true).await;
        call(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]).await;
        call(&mut c, &["SUBSCRIBE", "__keyevent@0__:set"]).await;
        c.queue(&["SET", "k", "v"]);
        c.flush().await.expect("send");
        let mut wire = Vec::new();
        for _ in 0..2 {
            let (_, bytes) = c.read_reply_with_bytes().await.expect("read");
            wire.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        wires.push(wire);
    }
    assert_eq!(wires[0], wires[1]);
}

/// CONFIG SET/GET of the flags: Redis's spelling on the way back, its error for a bad letter.
#[test]
fn config_reads_and_refuses_like_redis() {
    let (kiwi, redis) = servers();
    common::runtime().block_on(config_conversations(kiwi.addr(), redis.addr()));
}

async fn config_conversations(kiwi: String, redis: String) {
    let mut replies = Vec::new();
    for addr in [kiwi, redis] {
        let mut c = Client::connect(&addr).await.expect("connect");
        let mut got = Vec::new();
        for flags in [
            "KEA",
            "gKE",
            "$lshzxeKE",
            "KA",
            "EA",
            "mn",
            "Kg$lshzxetd",
            "AnmKE",
            "xKEmn",
            "",
            "KQ",
            "a",
        ] {
            let set = call(&mut c, &["CONFIG", "SET", "notify-keyspace-events", flags]).await;
            let get = call(&mut c, &["CONFIG", "GET", "notify-keyspace-events"]).await;
            got.push(format!("{flags:?}: {set:?} {get:?}"));
        }
        replies.push(got);
    }
    assert_eq!(replies[0], replies[1]);
}
