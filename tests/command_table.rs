//! The command table against redis-server, command by command: every command that takes keys has
//! an example call here, and for each example
//! - COMMAND GETKEYS and COMMAND GETKEYSANDFLAGS answer exactly as Redis does (RESP2 and RESP3);
//! - an ACL user limited to `~app:*` is refused (NOPERM, Redis's text) whenever one key of the
//!   call lies outside the pattern, and is not refused when all of them lie inside;
//! - users limited to reading (`%R~*`) or writing (`%W~*`) keys are refused exactly when Redis
//!   refuses them, which checks what the table says the command does with each key.
//!
//! A command added to the table (or known to Redis) with keys but without an example here fails
//! `every_command_with_keys_has_an_example`. And every command's (and subcommand's) COMMAND INFO
//! name, arity, flags and first/last/step key positions are Redis's.

mod common;

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use common::{connect, exchange, Kiwi, Redis, Reply};
use kiwi::cmd::{KeySpec, COMMANDS};
use kiwi::resp::client::Client;
use kiwi::resp::Frame;

/// One call of every command that takes keys (several where options change the keys or their
/// flags). Keys are words no other argument of the call uses; blocking commands wait 10 ms.
const EXAMPLES: &[&str] = &[
    // strings
    "get k",
    "set k v",
    "set k v nx get",
    "setnx k v",
    "setex k 10 v",
    "psetex k 10000 v",
    "getset k v",
    "getdel k",
    "getex k persist",
    "mget k1 k2",
    "mset k1 v1 k2 v2",
    "msetnx k1 v1 k2 v2",
    "append k v",
    "strlen k",
    "incr k",
    "decr k",
    "incrby k 2",
    "decrby k 2",
    "incrbyfloat k 1.5",
    "getrange k 0 -1",
    "substr k 0 -1",
    "setrange k 0 v",
    "lcs k1 k2",
    // DUMP and RESTORE
    "dump k",
    "restore k 0 payload replace",
    "migrate host 6379 k 0 1000 copy replace",
    "migrate host 6379 \"\" 0 1000 auth pw keys k1 k2",
    // scripting
    "eval body 2 k1 k2 a1",
    "evalsha sha 1 k1 a1",
    "eval_ro body 1 k1",
    "evalsha_ro sha 2 k1 k2",
    "fcall f 1 k1 a1",
    "fcall_ro f 2 k1 k2 a1",
    // keyspace
    "del k1 k2",
    "unlink k1 k2",
    "exists k1 k2",
    "touch k1 k2",
    "type k",
    "expire k 100",
    "pexpire k 100000",
    "expireat k 4000000000",
    "pexpireat k 4000000000000",
    "ttl k",
    "pttl k",
    "expiretime k",
    "pexpiretime k",
    "persist k",
    "rename src dst",
    "renamenx src dst",
    "copy src dst",
    "move k 1",
    "object encoding k",
    "memory usage k samples 5",
    "object freq k",
    "object idletime k",
    "object refcount k",
    // hashes
    "hset k f v",
    "hsetnx k f v",
    "hget k f",
    "hmset k f v",
    "hmget k f1 f2",
    "hgetall k",
    "hdel k f",
    "hexists k f",
    "hlen k",
    "hkeys k",
    "hvals k",
    "hincrby k f 1",
    "hincrbyfloat k f 1.5",
    "hstrlen k f",
    "hrandfield k",
    "hscan k 0",
    // sets
    "sadd k m",
    "srem k m",
    "smembers k",
    "sismember k m",
    "smismember k m1 m2",
    "scard k",
    "spop k",
    "srandmember k",
    "smove src dst m",
    "sinter k1 k2",
    "sintercard 2 k1 k2",
    "sinterstore dst k1 k2",
    "sunion k1 k2",
    "sunionstore dst k1 k2",
    "sdiff k1 k2",
    "sdiffstore dst k1 k2",
    "sscan k 0",
    // sorting
    "sort k",
    "sort k limit 0 1 store dst",
    "sort_ro k",
    // lists
    "lpush k v",
    "rpush k v",
    "lpushx k v",
    "rpushx k v",
    "lpop k",
    "rpop k",
    "llen k",
    "lindex k 0",
    "lrange k 0 -1",
    "lset k 0 v",
    "ltrim k 0 -1",
    "lrem k 0 v",
    "linsert k before p v",
    "lpos k v",
    "lmove src dst left right",
    "rpoplpush src dst",
    "lmpop 2 k1 k2 left",
    // sorted sets
    "zadd k 1 m",
    "zincrby k 1 m",
    "zrem k m",
    "zcard k",
    "zcount k 0 1",
    "zlexcount k - +",
    "zscore k m",
    "zmscore k m1 m2",
    "zrank k m",
    "zrevrank k m",
    "zrange k 0 -1",
    "zrangestore dst src 0 -1",
    "zrevrange k 0 -1",
    "zrangebyscore k 0 1",
    "zrevrangebyscore k 1 0",
    "zrangebylex k - +",
    "zrevrangebylex k + -",
    "zremrangebyrank k 0 1",
    "zremrangebyscore k 0 1",
    "zremrangebylex k - +",
    "zpopmin k",
    "zpopmax k",
    "zmpop 2 k1 k2 min",
    "zrandmember k",
    "zunion 2 k1 k2",
    "zinter 2 k1 k2",
    "zdiff 2 k1 k2",
    "zunionstore dst 2 k1 k2",
    "zinterstore dst 2 k1 k2 weights 1 2",
    "zdiffstore dst 2 k1 k2",
    "zintercard 2 k1 k2",
    "zscan k 0",
    // geo
    "geoadd k 13.36 38.11 m",
    "geodist k m1 m2",
    "geohash k m",
    "geopos k m",
    "georadius k 15 37 200 km",
    "georadius k 15 37 200 km storedist dst2 store dst1",
    "georadius_ro k 15 37 200 km",
    "georadiusbymember k m 100 km store dst",
    "georadiusbymember_ro k m 100 km",
    "geosearch k frommember m byradius 100 km",
    "geosearchstore dst src frommember m byradius 100 km",
    // blocking pops
    "blpop k1 k2 0.01",
    "brpop k1 k2 0.01",
    "blmove src dst left right 0.01",
    "brpoplpush src dst 0.01",
    "blmpop 0.01 2 k1 k2 left",
    "bzpopmin k1 k2 0.01",
    "bzpopmax k1 k2 0.01",
    "bzmpop 0.01 2 k1 k2 min",
    // transactions
    "watch k1 k2",
    // bitmaps
    "setbit k 7 1",
    "getbit k 7",
    "bitcount k",
    "bitpos k 1",
    "bitop and dst k1 k2",
    "bitfield k get u8 0 overflow wrap",
    "bitfield k incrby u8 0 1",
    "bitfield_ro k get u8 0",
    // hyperloglog
    "pfadd k a",
    "pfcount k1 k2",
    "pfmerge dst k1 k2",
    "pfdebug getreg k",
    // streams
    "xadd k * f v",
    "xadd k maxlen ~ 10 * f v",
    "xrange k - +",
    "xrevrange k + - count 1",
    "xlen k",
    "xdel k 1-1",
    "xtrim k maxlen 1",
    "xsetid k 1-1",
    "xread count 1 block 10 streams k1 k2 0 0",
    "xreadgroup group g c count 1 streams k1 k2 > >",
    "xack k g 1-1",
    "xpending k g",
    "xclaim k g c 0 1-1",
    "xautoclaim k g c 0 0",
    "xgroup create k g $ mkstream",
    "xgroup setid k g $",
    "xgroup destroy k g",
    "xgroup createconsumer k g c",
    "xgroup delconsumer k g c",
    "xinfo stream k full",
    "xinfo groups k",
    "xinfo consumers k g",
];

fn words(example: &str) -> Vec<String> {
    // `""` stands for the empty argument (MIGRATE's key when KEYS lists them).
    example
        .split_whitespace()
        .map(|w| {
            if w == "\"\"" {
                String::new()
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// Whether some example calls `name` (and `sub`, for a subcommand).
fn has_example(name: &str, sub: Option<&str>) -> bool {
    EXAMPLES.iter().any(|e| {
        let w = words(e);
        w[0] == name && sub.is_none_or(|s| w.get(1).is_some_and(|x| x == s))
    })
}

/// Redis's COMMAND INFO of one command, and whether its key specs (field 8) or its
/// subcommands' name real keys (a spec not flagged `not_key`).
fn redis_has_keys(info: &Frame) -> (bool, Vec<String>) {
    fn specs_name_keys(specs: &Frame) -> bool {
        let Frame::Array(specs) = specs else {
            return false;
        };
        specs.iter().any(|spec| {
            let text = format!("{spec:?}");
            !text.contains("not_key")
        })
    }
    let Frame::Array(fields) = info else {
        return (false, Vec::new());
    };
    let own = fields.get(8).is_some_and(specs_name_keys);
    let mut subs = Vec::new();
    if let Some(Frame::Array(list)) = fields.get(9) {
        for sub in list {
            if let Frame::Array(sub_fields) = sub {
                if sub_fields.get(8).is_some_and(specs_name_keys) {
                    if let Some(Frame::Bulk(name)) = sub_fields.first() {
                        let name = String::from_utf8_lossy(name);
                        let sub = name.split_once('|').map_or("", |(_, s)| s);
                        subs.push(sub.to_string());
                    }
                }
            }
        }
    }
    (own, subs)
}

#[test]
fn every_command_with_keys_has_an_example() {
    let redis = Redis::start();
    let mut missing = BTreeSet::new();
    for c in COMMANDS {
        if c.keys.iter().any(KeySpec::is_key) && !has_example(c.name, None) {
            missing.insert(c.name.to_string());
        }
        for sub in c.subcommands {
            if sub.keys.iter().any(KeySpec::is_key) && !has_example(c.name, Some(sub.name)) {
                missing.insert(format!("{} {}", c.name, sub.name));
            }
        }
    }
    // Redis's own key specs, in case the table forgot a command's keys altogether.
    common::runtime().block_on(async {
        let mut client = connect(&redis.addr(), false).await;
        for c in COMMANDS {
            let info = common::call(&mut client, &["COMMAND", "INFO", c.name]).await;
            let Frame::Array(mut infos) = info else {
                panic!("COMMAND INFO {} is not an array", c.name)
            };
            let (own, subs) = redis_has_keys(&infos.remove(0));
            if own && !has_example(c.name, None) {
                missing.insert(c.name.to_string());
            }
            for sub in subs {
                if !has_example(c.name, Some(&sub)) {
                    missing.insert(format!("{} {sub}", c.name));
                }
            }
        }
    });
    assert!(
        missing.is_empty(),
        "commands with keys but no example call in EXAMPLES: {missing:?}"
    );
    for example in EXAMPLES {
        let name = &words(example)[0];
        assert!(
            COMMANDS.iter().any(|c| c.name == name),
            "example of a command kiwi does not have: {example}"
        );
    }
}

/// COMMAND INFO's name, arity, flags and first/last/step (fields 0 to 5) of a command or
/// subcommand reply, and its subcommands' replies.
fn info_head(info: &Frame) -> (Vec<Frame>, Vec<Frame>) {
    let Frame::Array(fields) = info else {
        return (Vec::new(), Vec::new());
    };
    let mut head: Vec<Frame> = fields.iter().take(6).cloned().collect();
    // RESP2 sends the flags as an array, RESP3 as a set; both list them in Redis's order.
    if let Some(Frame::Set(flags)) = head.get(2).cloned() {
        head[2] = Frame::Array(flags);
    }
    let subs = match fields.get(9) {
        Some(Frame::Array(subs)) => subs.clone(),
        _ => Vec::new(),
    };
    (head, subs)
}

#[test]
fn command_info_matches_redis() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    let mut failures = Vec::new();
    let mut subs_compared = 0;
    common::runtime().block_on(async {
        let mut k = connect(&kiwi.addr(), false).await;
        let mut r = connect(&redis.addr(), false).await;
        for c in COMMANDS {
            let ask = ["COMMAND", "INFO", c.name];
            let (Frame::Array(ours), Frame::Array(theirs)) = (
                common::call(&mut k, &ask).await,
                common::call(&mut r, &ask).await,
            ) else {
                panic!("COMMAND INFO {} is not an array", c.name)
            };
            let (our_head, our_subs) = info_head(&ours[0]);
            let (their_head, their_subs) = info_head(&theirs[0]);
            if our_head != their_head {
                failures.push(format!(
                    "{}\n    redis: {their_head:?}\n    kiwi:  {our_head:?}",
                    c.name
                ));
            }
            // Kiwi's subcommands, except the two of later Redis versions it also accepts.
            for our_sub in &our_subs {
                let (our_head, _) = info_head(our_sub);
                let name = match our_head.first() {
                    Some(Frame::Bulk(name)) => String::from_utf8_lossy(name).into_owned(),
                    other => panic!("subcommand name {other:?}"),
                };
                if matches!(name.as_str(), "client|setinfo" | "client|no-touch") {
                    continue;
                }
                let theirs = their_subs
                    .iter()
                    .map(info_head)
                    .find(|(h, _)| h.first() == our_head.first());
                subs_compared += 1;
                match theirs {
                    Some((their_head, _)) if our_head == their_head => {}
                    Some((their_head, _)) => failures.push(format!(
                        "{name}\n    redis: {their_head:?}\n    kiwi:  {our_head:?}"
                    )),
                    None => failures.push(format!("{name}: not a Redis 7.0 subcommand")),
                }
            }
        }
    });
    assert!(
        failures.is_empty(),
        "{} COMMAND INFO replies differ from redis-server:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        subs_compared > 50,
        "only {subs_compared} subcommands compared"
    );
}

/// Sends `args` on a pair of connections (kiwi's, redis-server's) and describes both replies
/// unless `agree(redis, kiwi)`.
async fn check(
    pair: &mut (Client, Client),
    args: &[String],
    what: &str,
    agree: impl Fn(&Reply, &Reply) -> bool,
) -> Option<String> {
    let expected = exchange(&mut pair.1, args).await.expect("redis reply");
    let got = exchange(&mut pair.0, args).await.expect("kiwi reply");
    (!agree(&expected, &got)).then(|| {
        format!(
            "{what}: {}\n    redis: {:?}\n    kiwi:  {:?}",
            args.join(" "),
            String::from_utf8_lossy(&expected.1),
            String::from_utf8_lossy(&got.1)
        )
    })
}

/// Byte-identical replies.
fn same(redis: &Reply, kiwi: &Reply) -> bool {
    redis.1 == kiwi.1
}

#[test]
fn getkeys_and_flags_match_redis() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    let mut failures = Vec::new();
    common::runtime().block_on(async {
        for resp3 in [false, true] {
            let mut pair = (
                connect(&kiwi.addr(), resp3).await,
                connect(&redis.addr(), resp3).await,
            );
            let what = if resp3 { "RESP3" } else { "RESP2" };
            for example in EXAMPLES {
                for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                    let mut args = vec!["COMMAND".to_string(), sub.to_string()];
                    args.extend(words(example));
                    failures.extend(check(&mut pair, &args, what, same).await);
                }
            }
        }
    });
    assert!(
        failures.is_empty(),
        "{} replies differ from redis-server:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The keys Redis finds in `args` (COMMAND GETKEYS), each a word used once in the call.
async fn redis_keys(redis: &mut Client, args: &[String]) -> Vec<String> {
    let mut call = vec!["COMMAND".to_string(), "GETKEYS".to_string()];
    call.extend(args.iter().cloned());
    let Frame::Array(keys) =
        common::call(redis, &call.iter().map(String::as_str).collect::<Vec<_>>()).await
    else {
        panic!("redis-server finds no keys in {args:?}")
    };
    let keys: Vec<String> = keys
        .iter()
        .map(|k| match k {
            Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("key {other:?}"),
        })
        .collect();
    for key in &keys {
        let uses = args.iter().filter(|a| *a == key).count();
        assert_eq!(
            uses, 1,
            "example {args:?}: key {key} must appear exactly once"
        );
    }
    keys
}

/// `args` with each key in `inside` renamed into `app:*`.
fn place(args: &[String], keys: &[String], inside: impl Fn(usize) -> bool) -> Vec<String> {
    let position: HashMap<&String, usize> = keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
    args.iter()
        .map(|a| match position.get(a) {
            Some(&i) if inside(i) => format!("app:{a}"),
            _ => a.clone(),
        })
        .collect()
}

fn is_noperm(reply: &Reply) -> bool {
    matches!(&reply.0, Frame::Error(e) if e.starts_with("NOPERM"))
}

/// Opens a connection authenticated as `user`.
async fn login(addr: &str, user: &str) -> Client {
    let mut c = connect(addr, false).await;
    let reply = common::call(&mut c, &["AUTH", user, "pw"]).await;
    assert_eq!(
        reply,
        Frame::Simple(Bytes::from_static(b"OK")),
        "AUTH {user}"
    );
    c
}

#[test]
fn acl_key_patterns_apply_to_every_key_of_every_command() {
    let kiwi = Kiwi::start(&[]);
    let redis = Redis::start();
    let users: [&[&str]; 3] = [
        &["ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@all"],
        &["ACL", "SETUSER", "reader", "on", ">pw", "%R~*", "+@all"],
        &["ACL", "SETUSER", "writer", "on", ">pw", "%W~*", "+@all"],
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    common::runtime().block_on(async {
        let mut admin_k = connect(&kiwi.addr(), false).await;
        let mut admin_r = connect(&redis.addr(), false).await;
        for rule in users {
            assert_eq!(common::call(&mut admin_k, rule).await, Frame::ok());
            assert_eq!(common::call(&mut admin_r, rule).await, Frame::ok());
        }
        let mut app = (
            login(&kiwi.addr(), "app").await,
            login(&redis.addr(), "app").await,
        );
        let mut others = [
            (
                login(&kiwi.addr(), "reader").await,
                login(&redis.addr(), "reader").await,
            ),
            (
                login(&kiwi.addr(), "writer").await,
                login(&redis.addr(), "writer").await,
            ),
        ];
        for example in EXAMPLES {
            let args = words(example);
            let keys = redis_keys(&mut admin_r, &args).await;
            // One key outside the pattern at a time: both must refuse, with the same error.
            for outside in 0..keys.len() {
                let call = place(&args, &keys, |i| i != outside);
                let refused = |r: &Reply, k: &Reply| is_noperm(r) && same(r, k);
                failures.extend(check(&mut app, &call, "app", refused).await);
                checked += 1;
            }
            // Every key inside: neither refuses.
            let call = place(&args, &keys, |_| true);
            let allowed = |r: &Reply, k: &Reply| !is_noperm(r) && !is_noperm(k);
            failures.extend(check(&mut app, &call, "app, all keys inside", allowed).await);
            // Read-only and write-only key permissions follow each key's flags.
            let as_redis = |r: &Reply, k: &Reply| {
                is_noperm(r) == is_noperm(k) && (!is_noperm(r) || same(r, k))
            };
            for (user, pair) in ["reader", "writer"].iter().zip(others.iter_mut()) {
                failures.extend(check(pair, &call, user, as_redis).await);
            }
            checked += 3;
        }
    });
    eprintln!("checked {checked} calls of {} examples", EXAMPLES.len());
    assert!(
        failures.is_empty(),
        "{} ACL decisions differ from redis-server:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
