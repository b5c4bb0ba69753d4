//! Randomized differential test: a seeded generator sends the same random command stream to kiwi
//! and to a real redis-server and compares every reply.
//!
//! Hand-written scripts (`tests/differential.rs`) check the cases someone thought of; this test
//! finds the ones nobody did: option combinations, negative and out-of-range indexes, infinite
//! scores, commands on keys of the wrong type, and the state that a long mix of writes leaves
//! behind. Each data type (string, hash, list, set, zset, stream) gets its own run on an empty
//! database, with a small key space and small member alphabets so that commands collide.
//!
//! Replies are compared byte-exact, except those of commands whose element order Redis leaves
//! unspecified (see [`UNORDERED`]): those are compared as multisets, and those that show idle
//! times or a size Kiwi only estimates (see [`TIMED`]) are compared with those left out. The
//! first mismatch of a run
//! stops that run (the states have diverged) and the test fails with the seed, the step, the last
//! commands before it in `tests/scripts` format, and both replies.
//!
//! By default it runs every type for 2000 commands with seed 1, well under a second per type;
//! `--nocapture` shows a line per type with its protocol and how many replies were errors (a
//! generator that mostly provokes errors tests little). Environment:
//! - `KIWI_RANDOM_SEED=N` another seed;
//! - `KIWI_RANDOM_STEPS=N` commands per type (longer runs find rarer cases);
//! - `KIWI_RANDOM_TYPES=string,hash` only these types (each type has its own random stream, so a
//!   failure found in a full run reproduces with just its type);
//! - `KIWI_RANDOM_AGAINST_REDIS=1` compares redis-server with a second redis-server instead of
//!   kiwi. That run must pass for every seed: it proves the test itself reports no false
//!   positives. Run it after changing the generator.
//!
//! Protocol: type number `i` in [`KINDS`] runs in RESP3 (`HELLO 3`) when `seed + i` is odd and in
//! RESP2 otherwise, so every seed covers both protocols and the next seed swaps them.
//!
//! Streams get a second test, [`random_stream_commands_match_redis`], over a fixed list of seeds
//! ([`STREAM_SEEDS`]): their generator keeps ids increasing, so most XADDs land, and changes the
//! node sizes now and then (`CONFIG SET stream-node-max-*`), so `MAXLEN ~`/`MINID ~` trimming
//! meets many node boundaries. Each run starts with the default node sizes.
//!
//! Example: `KIWI_RANDOM_SEED=7 KIWI_RANDOM_STEPS=50000 KIWI_RANDOM_TYPES=zset cargo test
//! --release --test random_differential`.

mod common;

use std::collections::VecDeque;
use std::time::Instant;

use kiwi::resp::client::{Client, ClientError};
use kiwi::resp::Frame;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// One command argument.
type Arg = Vec<u8>;

/// Builds a command's argument list from words, generated arguments and lists of them.
macro_rules! cmd {
    ($($part:expr),* $(,)?) => {{
        let mut args: Vec<Arg> = Vec::new();
        $(Part::add_to($part, &mut args);)*
        args
    }};
}

/// Anything `cmd!` accepts: lets a table row read like the command it sends.
trait Part {
    fn add_to(self, args: &mut Vec<Arg>);
}

impl Part for &str {
    fn add_to(self, args: &mut Vec<Arg>) {
        args.push(self.as_bytes().to_vec());
    }
}

impl Part for String {
    fn add_to(self, args: &mut Vec<Arg>) {
        args.push(self.into_bytes());
    }
}

impl Part for Arg {
    fn add_to(self, args: &mut Vec<Arg>) {
        args.push(self);
    }
}

impl Part for Vec<Arg> {
    fn add_to(self, args: &mut Vec<Arg>) {
        args.extend(self);
    }
}

/// A table row: how often the command is drawn (relative to its table) and how to build it.
type Row = (u32, fn(&mut Gen) -> Vec<Arg>);

/// The keys every run works on. Few, so that commands meet each other's data.
const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "k4"];

/// The key the foreign commands of a run mostly write (see [`Kind::foreign`]), so that keys of
/// another type come and go without taking over [`KEYS`]. Every command now and then reads it.
const OTHER_KEY: &str = "other";

/// The sorted set read by lex-range commands. Redis leaves lex ranges unspecified when scores
/// differ, so this key is only written by `ZUNIONSTORE ... WEIGHTS 0`, which gives every member
/// score 0 (or -0) and copies the members of the other keys.
const LEX_KEY: &str = "zlex";

/// Commands whose reply elements come in an order Redis leaves unspecified (hash and set
/// iteration order); they are compared as multisets. HGETALL is compared as a set of pairs.
const UNORDERED: &[&str] = &[
    "HGETALL", "HKEYS", "HVALS", "SMEMBERS", "SINTER", "SUNION", "SDIFF",
];

/// Commands with replies that show idle times (XPENDING's extended form, XINFO CONSUMERS) or a
/// size Kiwi only estimates (XINFO STREAM's `radix-tree-nodes`): those replies are compared with
/// these values set to 0 (see [`timeless`]); their other forms byte-exact.
const TIMED: &[&str] = &["XPENDING", "XINFO"];

/// Members that are not plain letters or small numbers.
const ODD_MEMBERS: &[&[u8]] = &[
    b"",
    b"\x00\xff",
    b"-1",
    b"0",
    b"3.5",
    b"1e3",
    b"9223372036854775807",
];

/// Commands shown before a mismatch.
const HISTORY: usize = 20;

/// A data type under test.
struct Kind {
    name: &'static str,
    commands: &'static [Row],
    /// Commands of another type mixed in now and then, mostly on [`OTHER_KEY`], so that
    /// commands meet WRONGTYPE. Empty for strings, so the string run needs nothing but strings.
    foreign: &'static [Row],
    /// Percent of commands drawn from [`KEYSPACE`], and from `foreign`.
    mix: (u32, u32),
}

/// Every type, in the order that decides their protocol (see the module doc).
const KINDS: &[Kind] = &[
    Kind {
        name: "string",
        commands: STRING,
        foreign: &[],
        mix: (4, 5),
    },
    Kind {
        name: "hash",
        commands: HASH,
        foreign: STRING,
        mix: (4, 5),
    },
    Kind {
        name: "list",
        commands: LIST,
        foreign: STRING,
        mix: (4, 5),
    },
    Kind {
        name: "set",
        commands: SET,
        foreign: STRING,
        mix: (4, 5),
    },
    // Sets rather than strings: ZUNION, ZINTER and friends accept sets as inputs.
    Kind {
        name: "zset",
        commands: ZSET,
        foreign: SET,
        mix: (4, 5),
    },
    Kind {
        name: "stream",
        commands: STREAM,
        foreign: STRING,
        // Fewer deletions, so that streams grow long enough for their nodes to matter.
        mix: (2, 3),
    },
];

/// Generic key commands, mixed into every run.
const KEYSPACE: &[Row] = &[
    (3, |g| cmd!["DEL", g.keys(2)]),
    (1, |g| cmd!["EXISTS", g.keys(3)]),
    (1, |g| cmd!["TYPE", g.key()]),
    (2, |g| {
        // Far-away or past times only: nothing may expire on its own while the test runs.
        let seconds = g.pick(&["100000", "200000", "0", "-5", "abc"]);
        cmd![
            "EXPIRE",
            g.key(),
            seconds,
            g.options(|_| words(&["NX", "XX", "GT", "LT"]))
        ]
    }),
    (1, |g| cmd!["PERSIST", g.key()]),
    (1, |g| cmd!["RENAME", g.key(), g.key()]),
];

const STRING: &[Row] = &[
    (4, |g| {
        let options = g.options(|g| {
            vec![
                cmd!["NX"],
                cmd!["XX"],
                cmd!["GET"],
                cmd!["KEEPTTL"],
                cmd!["EX", "100000"],
                cmd!["PX", g.pick(&["100000000", "0"])],
            ]
        });
        cmd!["SET", g.key(), g.value(), options]
    }),
    (2, |g| cmd!["GET", g.key()]),
    (1, |g| cmd!["APPEND", g.key(), g.value()]),
    (2, |g| cmd!["INCR", g.key()]),
    (2, |g| cmd!["INCRBYFLOAT", g.key(), g.float()]),
    (2, |g| cmd!["GETRANGE", g.key(), g.index(), g.index()]),
    (2, |g| cmd!["SETRANGE", g.key(), g.offset(), g.member()]),
];

const HASH: &[Row] = &[
    (4, |g| cmd!["HSET", g.key(), g.pairs(3)]),
    (2, |g| cmd!["HSETNX", g.key(), g.member(), g.value()]),
    (2, |g| cmd!["HGET", g.key(), g.member()]),
    (1, |g| cmd!["HMSET", g.key(), g.pairs(3)]),
    (2, |g| cmd!["HMGET", g.key(), g.members(4)]),
    (1, |g| cmd!["HGETALL", g.key()]),
    (2, |g| cmd!["HDEL", g.key(), g.members(3)]),
    (1, |g| cmd!["HEXISTS", g.key(), g.member()]),
    (1, |g| cmd!["HLEN", g.key()]),
    (1, |g| cmd!["HKEYS", g.key()]),
    (1, |g| cmd!["HVALS", g.key()]),
    (2, |g| cmd!["HINCRBY", g.key(), g.member(), g.integer()]),
    (2, |g| cmd!["HINCRBYFLOAT", g.key(), g.member(), g.float()]),
    (1, |g| cmd!["HSTRLEN", g.key(), g.member()]),
];

const LIST: &[Row] = &[
    (3, |g| cmd!["LPUSH", g.key(), g.members(3)]),
    (3, |g| cmd!["RPUSH", g.key(), g.members(3)]),
    (1, |g| cmd!["LPUSHX", g.key(), g.members(2)]),
    (1, |g| cmd!["RPUSHX", g.key(), g.members(2)]),
    (2, |g| {
        cmd!["LPOP", g.key(), g.options(|g| vec![cmd![g.count()]])]
    }),
    (2, |g| {
        cmd!["RPOP", g.key(), g.options(|g| vec![cmd![g.count()]])]
    }),
    (1, |g| cmd!["LLEN", g.key()]),
    (2, |g| cmd!["LINDEX", g.key(), g.index()]),
    (2, |g| cmd!["LRANGE", g.key(), g.index(), g.index()]),
    (1, |g| cmd!["LSET", g.key(), g.index(), g.member()]),
    (1, |g| cmd!["LTRIM", g.key(), g.index(), g.index()]),
    (1, |g| cmd!["LREM", g.key(), g.integer(), g.member()]),
    (2, |g| {
        let place = g.word(&["BEFORE", "AFTER"], "MIDDLE");
        cmd!["LINSERT", g.key(), place, g.member(), g.member()]
    }),
    (2, |g| {
        let options = g.options(|g| {
            vec![
                cmd!["RANK", g.rank()],
                cmd!["COUNT", g.count()],
                cmd!["MAXLEN", g.count()],
            ]
        });
        cmd!["LPOS", g.key(), g.member(), options]
    }),
    (2, |g| cmd!["LMOVE", g.key(), g.key(), g.side(), g.side()]),
    (1, |g| cmd!["RPOPLPUSH", g.key(), g.key()]),
    (2, |g| {
        let keys = g.keys(3);
        let count = g.options(|g| vec![cmd!["COUNT", g.count()]]);
        cmd!["LMPOP", g.numkeys(keys.len()), keys, g.side(), count]
    }),
];

const SET: &[Row] = &[
    (4, |g| cmd!["SADD", g.key(), g.members(3)]),
    (2, |g| cmd!["SREM", g.key(), g.members(3)]),
    (1, |g| cmd!["SMEMBERS", g.key()]),
    (1, |g| cmd!["SISMEMBER", g.key(), g.member()]),
    (1, |g| cmd!["SMISMEMBER", g.key(), g.members(3)]),
    (1, |g| cmd!["SCARD", g.key()]),
    (2, |g| cmd!["SMOVE", g.key(), g.key(), g.member()]),
    (1, |g| cmd!["SINTER", g.keys(3)]),
    (1, |g| {
        let keys = g.keys(3);
        let limit = g.options(|g| vec![cmd!["LIMIT", g.count()]]);
        cmd!["SINTERCARD", g.numkeys(keys.len()), keys, limit]
    }),
    (1, |g| cmd!["SINTERSTORE", g.key(), g.keys(3)]),
    (1, |g| cmd!["SUNION", g.keys(3)]),
    (1, |g| cmd!["SUNIONSTORE", g.key(), g.keys(3)]),
    (1, |g| cmd!["SDIFF", g.keys(3)]),
    (1, |g| cmd!["SDIFFSTORE", g.key(), g.keys(3)]),
];

const ZSET: &[Row] = &[
    (5, |g| {
        let options = g.options(|_| words(&["NX", "XX", "GT", "LT", "CH", "INCR"]));
        cmd!["ZADD", g.key(), options, g.scored_members(3)]
    }),
    (2, |g| cmd!["ZINCRBY", g.key(), g.score(), g.member()]),
    (2, |g| cmd!["ZREM", g.key(), g.members(3)]),
    (1, |g| cmd!["ZCARD", g.key()]),
    (1, |g| {
        cmd!["ZCOUNT", g.key(), g.score_bound(), g.score_bound()]
    }),
    (1, |g| {
        cmd!["ZLEXCOUNT", LEX_KEY, g.lex_bound(), g.lex_bound()]
    }),
    (1, |g| cmd!["ZSCORE", g.key(), g.member()]),
    (1, |g| cmd!["ZMSCORE", g.key(), g.members(3)]),
    (1, |g| cmd!["ZRANK", g.key(), g.member()]),
    (1, |g| cmd!["ZREVRANK", g.key(), g.member()]),
    (3, |g| {
        let range = zrange_args(g, true);
        cmd!["ZRANGE", range]
    }),
    (1, |g| {
        let withscores = g.chance(5);
        cmd!["ZRANGESTORE", g.key(), zrange_args(g, withscores)]
    }),
    (1, |g| {
        let options = g.options(|_| vec![cmd!["WITHSCORES"]]);
        cmd!["ZREVRANGE", g.key(), g.index(), g.index(), options]
    }),
    (1, |g| {
        let options = g.options(|g| vec![cmd!["WITHSCORES"], cmd!["LIMIT", g.index(), g.index()]]);
        cmd![
            "ZRANGEBYSCORE",
            g.key(),
            g.score_bound(),
            g.score_bound(),
            options
        ]
    }),
    (1, |g| {
        let options = g.options(|g| vec![cmd!["WITHSCORES"], cmd!["LIMIT", g.index(), g.index()]]);
        cmd![
            "ZREVRANGEBYSCORE",
            g.key(),
            g.score_bound(),
            g.score_bound(),
            options
        ]
    }),
    (1, |g| {
        let limit = g.options(|g| vec![cmd!["LIMIT", g.index(), g.index()]]);
        cmd!["ZRANGEBYLEX", LEX_KEY, g.lex_bound(), g.lex_bound(), limit]
    }),
    (1, |g| {
        let limit = g.options(|g| vec![cmd!["LIMIT", g.index(), g.index()]]);
        cmd![
            "ZREVRANGEBYLEX",
            LEX_KEY,
            g.lex_bound(),
            g.lex_bound(),
            limit
        ]
    }),
    (1, |g| {
        cmd!["ZREMRANGEBYRANK", g.key(), g.index(), g.index()]
    }),
    (1, |g| {
        cmd![
            "ZREMRANGEBYSCORE",
            g.key(),
            g.score_bound(),
            g.score_bound()
        ]
    }),
    (1, |g| {
        cmd!["ZREMRANGEBYLEX", LEX_KEY, g.lex_bound(), g.lex_bound()]
    }),
    (1, |g| {
        cmd!["ZPOPMIN", g.key(), g.options(|g| vec![cmd![g.count()]])]
    }),
    (1, |g| {
        cmd!["ZPOPMAX", g.key(), g.options(|g| vec![cmd![g.count()]])]
    }),
    (1, |g| {
        let keys = g.keys(3);
        let end = g.word(&["MIN", "MAX"], "MID");
        let count = g.options(|g| vec![cmd!["COUNT", g.count()]]);
        cmd!["ZMPOP", g.numkeys(keys.len()), keys, end, count]
    }),
    (1, |g| cmd!["ZUNION", combine_args(g, true)]),
    (1, |g| cmd!["ZINTER", combine_args(g, true)]),
    (1, |g| {
        let keys = g.keys(3);
        let options = g.options(|_| vec![cmd!["WITHSCORES"]]);
        cmd!["ZDIFF", g.numkeys(keys.len()), keys, options]
    }),
    (1, |g| cmd!["ZUNIONSTORE", g.key(), combine_args(g, false)]),
    (1, |g| cmd!["ZINTERSTORE", g.key(), combine_args(g, false)]),
    (1, |g| {
        let keys = g.keys(3);
        cmd!["ZDIFFSTORE", g.key(), g.numkeys(keys.len()), keys]
    }),
    (1, |g| {
        let keys = g.keys(3);
        let limit = g.options(|g| vec![cmd!["LIMIT", g.count()]]);
        cmd!["ZINTERCARD", g.numkeys(keys.len()), keys, limit]
    }),
    // Refreshes LEX_KEY from the other keys with every score 0.
    (2, |g| {
        let keys = g.keys(3);
        let zeros = vec![b"0".to_vec(); keys.len()];
        cmd![
            "ZUNIONSTORE",
            LEX_KEY,
            keys.len().to_string(),
            keys,
            "WEIGHTS",
            zeros
        ]
    }),
];

/// `key min max` and options for ZRANGE and ZRANGESTORE: by index, BYSCORE or BYLEX, with REV,
/// LIMIT and (if `withscores`) WITHSCORES in any order. Now and then the bounds belong to
/// another range kind, which Redis rejects.
fn zrange_args(g: &mut Gen, withscores: bool) -> Vec<Arg> {
    let by = g.rng.gen_range(0..3);
    let bounds = if g.chance(10) {
        g.rng.gen_range(0..3)
    } else {
        by
    };
    let key = if by == 2 { LEX_KEY.into() } else { g.key() };
    let (min, max) = match bounds {
        0 => (g.index(), g.index()),
        1 => (g.score_bound(), g.score_bound()),
        _ => (g.lex_bound(), g.lex_bound()),
    };
    let mut options = g.some_of(|g| {
        let mut choices = vec![cmd!["REV"], cmd!["LIMIT", g.index(), g.index()]];
        if withscores {
            choices.push(cmd!["WITHSCORES"]);
        }
        choices
    });
    match by {
        1 => options.push(cmd!["BYSCORE"]),
        2 => options.push(cmd!["BYLEX"]),
        _ => {}
    }
    cmd![key, min, max, g.in_any_order(options)]
}

/// `numkeys key... [WEIGHTS w...] [AGGREGATE how]` and, if `withscores`, `[WITHSCORES]` for
/// ZUNION, ZINTER and their STORE forms. The weight count is sometimes wrong.
fn combine_args(g: &mut Gen, withscores: bool) -> Vec<Arg> {
    let keys = g.keys(3);
    let numkeys = g.numkeys(keys.len());
    let options = g.options(|g| {
        let weights = if g.chance(90) {
            keys.len()
        } else {
            g.upto(keys.len() + 1)
        };
        let mut choices = vec![
            cmd![
                "WEIGHTS",
                (0..weights).map(|_| g.weight()).collect::<Vec<_>>()
            ],
            cmd!["AGGREGATE", g.word(&["SUM", "MIN", "MAX"], "AVG")],
        ];
        if withscores {
            choices.push(cmd!["WITHSCORES"]);
        }
        choices
    });
    cmd![numkeys, keys, options]
}

/// Consumer groups and consumers of the stream run: few, so that they meet.
const GROUPS: &[&str] = &["g0", "g1"];
const CONSUMERS: &[&str] = &["c0", "c1", "c2"];

/// Stream commands. No `*` ids and no times: only what both servers answer the same whatever
/// the clock says (min-idle 0 for XCLAIM and XAUTOCLAIM; XPENDING's and XINFO CONSUMERS' idle
/// times are left out of the comparison, and so is XINFO STREAM's `radix-tree-nodes`, which
/// Kiwi only estimates; its `radix-tree-keys`, the node count, is compared).
const STREAM: &[Row] = &[
    (20, |g| {
        let mut options = g.some_of(|_| vec![cmd!["NOMKSTREAM"]]);
        if g.chance(15) {
            options.push(g.trim_args());
        }
        let options = g.in_any_order(options);
        cmd!["XADD", g.key(), options, g.new_id(), g.fields()]
    }),
    (2, |g| {
        let n = g.how_many(3);
        let ids: Vec<Arg> = (0..n).map(|_| g.old_id()).collect();
        cmd!["XDEL", g.key(), ids]
    }),
    (1, |g| cmd!["XTRIM", g.key(), g.trim_args()]),
    (3, |g| {
        let count = g.options(|g| vec![cmd!["COUNT", g.count()]]);
        cmd!["XRANGE", g.key(), g.bound(), g.bound(), count]
    }),
    (2, |g| {
        let count = g.options(|g| vec![cmd!["COUNT", g.count()]]);
        cmd!["XREVRANGE", g.key(), g.bound(), g.bound(), count]
    }),
    (2, |g| cmd!["XLEN", g.key()]),
    (5, |g| {
        let id = g.group_id();
        let mut options = g.some_of(|g| vec![cmd!["ENTRIESREAD", g.entries_read()]]);
        if g.chance(60) {
            options.push(cmd!["MKSTREAM"]);
        }
        let options = g.in_any_order(options);
        cmd!["XGROUP", "CREATE", g.key(), g.group(), id, options]
    }),
    (1, |g| {
        let id = g.group_id();
        let options = g.options(|g| vec![cmd!["ENTRIESREAD", g.entries_read()]]);
        cmd!["XGROUP", "SETID", g.key(), g.group(), id, options]
    }),
    (1, |g| cmd!["XGROUP", "DESTROY", g.key(), g.group()]),
    (1, |g| {
        cmd!["XGROUP", "CREATECONSUMER", g.key(), g.group(), g.consumer()]
    }),
    (1, |g| {
        cmd!["XGROUP", "DELCONSUMER", g.key(), g.group(), g.consumer()]
    }),
    (8, |g| {
        let options = g.options(|g| vec![cmd!["COUNT", g.count()], cmd!["NOACK"]]);
        let keys = if g.chance(85) {
            vec![g.key()]
        } else {
            g.keys(2)
        };
        let ids: Vec<Arg> = (0..keys.len())
            .map(|_| match g.rng.gen_range(0..20) {
                0..=11 => b">".to_vec(),
                12..=16 => b"0".to_vec(),
                17..=18 => g.old_id(),
                _ => b"$".to_vec(),
            })
            .collect();
        cmd![
            "XREADGROUP",
            "GROUP",
            g.group(),
            g.consumer(),
            options,
            "STREAMS",
            keys,
            ids
        ]
    }),
    (2, |g| {
        let count = g.options(|g| vec![cmd!["COUNT", g.count()]]);
        let keys = if g.chance(80) {
            vec![g.key()]
        } else {
            g.keys(2)
        };
        let ids: Vec<Arg> = (0..keys.len())
            .map(|_| match g.rng.gen_range(0..10) {
                0..=3 => b"0".to_vec(),
                4..=8 => g.old_id(),
                _ => b"$".to_vec(),
            })
            .collect();
        cmd!["XREAD", count, "STREAMS", keys, ids]
    }),
    (5, |g| {
        let n = g.how_many(4);
        let ids: Vec<Arg> = (0..n).map(|_| g.old_id()).collect();
        cmd!["XACK", g.key(), g.group(), ids]
    }),
    (3, |g| {
        let n = g.how_many(3);
        let ids: Vec<Arg> = (0..n).map(|_| g.old_id()).collect();
        let options = g.options(|g| {
            vec![
                cmd!["JUSTID"],
                cmd!["FORCE"],
                cmd!["RETRYCOUNT", g.pick(&["0", "3", "x"])],
                cmd!["LASTID", g.old_id()],
            ]
        });
        cmd![
            "XCLAIM",
            g.key(),
            g.group(),
            g.consumer(),
            "0",
            ids,
            options
        ]
    }),
    (3, |g| {
        let start = match g.rng.gen_range(0..4) {
            0 => b"0-0".to_vec(),
            1 => b"-".to_vec(),
            _ => g.bound(),
        };
        let options = g.options(|g| {
            let count: Arg = if g.chance(90) {
                g.rng.gen_range(1..=5).to_string().into()
            } else {
                g.pick(&["0", "-1", "x"]).into()
            };
            vec![cmd!["COUNT", count], cmd!["JUSTID"]]
        });
        cmd![
            "XAUTOCLAIM",
            g.key(),
            g.group(),
            g.consumer(),
            "0",
            start,
            options
        ]
    }),
    (3, |g| cmd!["XPENDING", g.key(), g.group()]),
    (2, |g| {
        let consumer = g.options(|g| vec![cmd![g.consumer()]]);
        cmd![
            "XPENDING",
            g.key(),
            g.group(),
            g.bound(),
            g.bound(),
            g.count(),
            consumer
        ]
    }),
    (3, |g| cmd!["XINFO", "GROUPS", g.key()]),
    (1, |g| cmd!["XINFO", "CONSUMERS", g.key(), g.group()]),
    (3, |g| cmd!["XINFO", "STREAM", g.key()]),
    (1, |g| {
        let options = g.options(|g| {
            vec![
                cmd!["ENTRIESADDED", g.rng.gen_range(0..=60).to_string()],
                cmd!["MAXDELETEDID", g.old_id()],
            ]
        });
        let id = format!(
            "{}-{}",
            g.clock + g.rng.gen_range(0..=1),
            g.rng.gen_range(0..=3)
        );
        cmd!["XSETID", g.key(), id, options]
    }),
    (1, |g| {
        let replace = g.options(|_| vec![cmd!["REPLACE"]]);
        cmd!["COPY", g.key(), g.key(), replace]
    }),
    // New node sizes, so that trimming meets nodes of every size.
    (1, |g| {
        let entries = g.pick(&["2", "3", "5", "10", "100", "0"]);
        cmd!["CONFIG", "SET", "stream-node-max-entries", entries]
    }),
    (1, |g| {
        let bytes = g.pick(&["40", "60", "100", "200", "4096", "0"]);
        cmd!["CONFIG", "SET", "stream-node-max-bytes", bytes]
    }),
];

/// One option per word, for [`Gen::options`].
fn words(list: &[&str]) -> Vec<Vec<Arg>> {
    list.iter().map(|w| cmd![*w]).collect()
}

/// The random source and the random arguments shared by every table.
struct Gen {
    rng: StdRng,
    /// Building a foreign command: keys are mostly [`OTHER_KEY`].
    foreign: bool,
    /// The milliseconds of the last stream id made for XADD: ids only grow, so most XADDs land.
    clock: u64,
    /// Stream ids made for XADD lately, for the commands that name existing entries.
    ids: VecDeque<(u64, u64)>,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: StdRng::seed_from_u64(seed),
            foreign: false,
            clock: 1,
            ids: VecDeque::new(),
        }
    }

    /// True `percent` times out of 100.
    fn chance(&mut self, percent: u32) -> bool {
        self.rng.gen_range(0..100) < percent
    }

    /// A number in `0..=max`.
    fn upto(&mut self, max: usize) -> usize {
        self.rng.gen_range(0..=max)
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.rng.gen_range(0..items.len())]
    }

    fn key(&mut self) -> Arg {
        let other = if self.foreign { 90 } else { 5 };
        if self.chance(other) {
            OTHER_KEY.into()
        } else {
            self.pick(KEYS).into()
        }
    }

    /// How many items a variadic argument list gets: 1 to `max`, rarely none (an arity or
    /// "at least 1 input key" error).
    fn how_many(&mut self, max: usize) -> usize {
        if self.chance(3) {
            0
        } else {
            self.rng.gen_range(1..=max)
        }
    }

    /// Up to `max` keys, repeats allowed (`SINTER k1 k1`, `LMOVE k2 k2`).
    fn keys(&mut self, max: usize) -> Vec<Arg> {
        let n = self.how_many(max);
        (0..n).map(|_| self.key()).collect()
    }

    /// A member, field or value: mostly letters and small numbers (all-number sets take Redis's
    /// intset path), sometimes an empty string, a non-UTF-8 byte, a float or a big integer.
    fn member(&mut self) -> Arg {
        match self.rng.gen_range(0..20) {
            0..=9 => vec![b'a' + self.rng.gen_range(0..8)],
            10..=17 => self.rng.gen_range(1..=20).to_string().into(),
            _ => self.pick(ODD_MEMBERS).into(),
        }
    }

    /// A string or hash value: mostly a number, so that INCR, INCRBYFLOAT and HINCRBY often
    /// find one, otherwise a member.
    fn value(&mut self) -> Arg {
        match self.rng.gen_range(0..5) {
            0..=1 => self.rng.gen_range(-20..=100).to_string().into(),
            2 => self.float(),
            _ => self.member(),
        }
    }

    fn members(&mut self, max: usize) -> Vec<Arg> {
        let n = self.how_many(max);
        (0..n).map(|_| self.member()).collect()
    }

    /// Field/value pairs.
    fn pairs(&mut self, max: usize) -> Vec<Arg> {
        let n = self.how_many(max);
        (0..n).flat_map(|_| [self.member(), self.value()]).collect()
    }

    /// Score/member pairs.
    fn scored_members(&mut self, max: usize) -> Vec<Arg> {
        let n = self.how_many(max);
        (0..n).flat_map(|_| [self.score(), self.member()]).collect()
    }

    /// An integer argument: small, at the i64 limits, or not an integer.
    fn integer(&mut self) -> Arg {
        if self.chance(85) {
            self.rng.gen_range(-5..=10).to_string().into()
        } else {
            self.pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "abc",
                "1.5",
                "",
            ])
            .into()
        }
    }

    /// A float increment, in the syntaxes `strtold` accepts, plus values that overflow a double
    /// (but not a long double) and values that are not numbers.
    fn float(&mut self) -> Arg {
        if self.chance(85) {
            self.pick(&[
                "0.5", "-1.5", "2", "1e2", "-0.25", "3.0e-1", "10.5", "0", "-3",
            ])
            .into()
        } else {
            self.pick(&["inf", "-inf", "nan", "abc", "", "1e400", "0x10", "1.5.5"])
                .into()
        }
    }

    /// A list or range index: near the ends of small collections, far out, or invalid.
    fn index(&mut self) -> Arg {
        if self.chance(90) {
            self.rng.gen_range(-8..=8).to_string().into()
        } else {
            self.pick(&[
                "100",
                "-100",
                "9223372036854775807",
                "-9223372036854775808",
                "x",
                "1.5",
            ])
            .into()
        }
    }

    /// A SETRANGE offset. Never close to the 512 MB limit, which would make Redis allocate it.
    fn offset(&mut self) -> Arg {
        if self.chance(90) {
            self.rng.gen_range(0..=12).to_string().into()
        } else {
            self.pick(&["-1", "100", "536870912", "x"]).into()
        }
    }

    /// A COUNT or LIMIT argument.
    fn count(&mut self) -> Arg {
        if self.chance(85) {
            self.rng.gen_range(0..=4).to_string().into()
        } else {
            self.pick(&["-1", "100", "9223372036854775807", "x"]).into()
        }
    }

    /// An LPOS RANK, including 0, which Redis rejects with its own error. (`LONG_MIN` is left out:
    /// Redis 7.0 negates it with an overflow and answers nonsense.)
    fn rank(&mut self) -> Arg {
        self.pick(&["1", "2", "-1", "-2", "0", "x"]).into()
    }

    /// A `numkeys` argument for `n` keys; sometimes wrong, which shifts keys into options.
    fn numkeys(&mut self, n: usize) -> Arg {
        if self.chance(85) {
            n.to_string().into()
        } else {
            let wrong = [0, n + 1, n.saturating_sub(1)][self.upto(2)];
            if self.chance(80) {
                wrong.to_string().into()
            } else {
                self.pick(&["-1", "x"]).into()
            }
        }
    }

    /// LEFT or RIGHT.
    fn side(&mut self) -> Arg {
        self.word(&["LEFT", "RIGHT"], "UP")
    }

    /// One of `valid` (sometimes in lower case), now and then `invalid`.
    fn word(&mut self, valid: &[&str], invalid: &str) -> Arg {
        let word = self.pick(valid);
        match self.rng.gen_range(0..20) {
            0..=16 => word.into(),
            17..=18 => word.to_lowercase().into(),
            _ => invalid.into(),
        }
    }

    /// A score for ZADD/ZINCRBY: integers collide so ties are ordered by member.
    fn score(&mut self) -> Arg {
        match self.rng.gen_range(0..20) {
            0..=10 => self.rng.gen_range(-3..=10).to_string().into(),
            11..=16 => self
                .pick(&["1.5", "-0.5", "2.25", "0.1", "1e2", "3.0"])
                .into(),
            17..=18 => self.pick(&["inf", "-inf", "+inf"]).into(),
            _ => self.pick(&["nan", "abc", "(1", "", "1e400"]).into(),
        }
    }

    /// A ZUNION/ZINTER weight.
    fn weight(&mut self) -> Arg {
        self.pick(&["1", "2", "0.5", "-1", "0", "inf", "x"]).into()
    }

    /// A score range bound: inclusive or `(` exclusive, infinite, or malformed.
    fn score_bound(&mut self) -> Arg {
        let bound: String = match self.rng.gen_range(0..20) {
            0..=9 => self.rng.gen_range(-3..=10).to_string(),
            10..=13 => self.pick(&["1.5", "-0.5", "2.25", "0.1"]).into(),
            14..=17 => self.pick(&["-inf", "+inf", "inf", "(-inf"]).into(),
            _ => return self.pick(&["[1", "abc", "((1", ""]).into(),
        };
        if self.chance(30) {
            format!("({bound}").into()
        } else {
            bound.into()
        }
    }

    /// A lex range bound: `-`, `+`, `[member`, `(member`, or malformed.
    fn lex_bound(&mut self) -> Arg {
        match self.rng.gen_range(0..20) {
            0..=3 => self.pick(&["-", "+"]).into(),
            4..=17 => {
                let mut bound = vec![if self.chance(50) { b'[' } else { b'(' }];
                bound.extend(self.member());
                bound
            }
            _ => self.pick(&["a", "", "-a"]).into(),
        }
    }

    /// A random subset of the options `choices` builds, rarely with one repeated. Each option
    /// is in it 30% of the time if there are three or fewer, less often if there are more, so
    /// that long option lists (ZADD's) are not mostly conflicts.
    fn some_of(&mut self, choices: impl FnOnce(&mut Gen) -> Vec<Vec<Arg>>) -> Vec<Vec<Arg>> {
        let choices = choices(self);
        let percent = 90 / choices.len().max(3) as u32;
        let mut chosen: Vec<Vec<Arg>> = choices
            .into_iter()
            .filter(|_| self.chance(percent))
            .collect();
        if !chosen.is_empty() && self.chance(5) {
            let again = chosen[self.upto(chosen.len() - 1)].clone();
            chosen.push(again);
        }
        chosen
    }

    /// The options, shuffled and flattened into arguments.
    fn in_any_order(&mut self, mut options: Vec<Vec<Arg>>) -> Vec<Arg> {
        options.shuffle(&mut self.rng);
        options.concat()
    }

    /// A random subset of the options `choices` builds, in random order.
    fn options(&mut self, choices: impl FnOnce(&mut Gen) -> Vec<Vec<Arg>>) -> Vec<Arg> {
        let chosen = self.some_of(choices);
        self.in_any_order(chosen)
    }

    /// An id for XADD: mostly above every id made so far (`ms-seq`, `ms-*` or `ms`), now and then
    /// an old one (which XADD refuses) or a malformed one.
    fn new_id(&mut self) -> Arg {
        self.clock += self.rng.gen_range(0..=2);
        let ms = self.clock;
        let seq = self.rng.gen_range(0..=3);
        let id = match self.rng.gen_range(0..40) {
            0..=23 => format!("{ms}-{seq}"),
            24..=31 => format!("{ms}-*"),
            32..=35 => format!("{ms}"),
            36..=38 => return self.old_id(),
            _ => return self.pick(&["0-0", "0", "abc", "1-x", "-", "+"]).into(),
        };
        if self.ids.len() == 64 {
            self.ids.pop_front();
        }
        self.ids
            .push_back((ms, if id.ends_with('*') { 0 } else { seq }));
        id.into()
    }

    /// An id that was made for XADD lately (so likely an entry's), or now and then another.
    fn old_id(&mut self) -> Arg {
        if self.ids.is_empty() || self.chance(10) {
            return match self.rng.gen_range(0..4) {
                0 => "0-1".into(),
                1 => format!("{}-0", self.clock + 1).into(),
                2 => format!("{}", self.rng.gen_range(0..=self.clock)).into(),
                _ => self
                    .pick(&["x", "18446744073709551615-18446744073709551615"])
                    .into(),
            };
        }
        let at = self.upto(self.ids.len() - 1);
        let (ms, seq) = self.ids[at];
        format!("{ms}-{seq}").into()
    }

    /// A range bound for XRANGE, XPENDING and XAUTOCLAIM: `-`, `+`, an id, `(id`, or just ms.
    fn bound(&mut self) -> Arg {
        match self.rng.gen_range(0..20) {
            0..=2 => "-".into(),
            3..=5 => "+".into(),
            6..=12 => self.old_id(),
            13..=16 => {
                let mut bound = b"(".to_vec();
                bound.extend(self.old_id());
                bound
            }
            17..=18 => format!("{}", self.rng.gen_range(0..=self.clock)).into(),
            _ => self.pick(&["(-", "(+", "x", "(0-0"]).into(),
        }
    }

    /// XADD's or XTRIM's trimming: `MAXLEN|MINID [=|~] threshold [LIMIT n]`.
    fn trim_args(&mut self) -> Vec<Arg> {
        let mut args = Vec::new();
        let by_len = self.chance(60);
        args.push(if by_len { "MAXLEN" } else { "MINID" }.into());
        let how = self.rng.gen_range(0..10);
        match how {
            0..=3 => args.push("~".into()),
            4..=6 => args.push("=".into()),
            _ => {}
        }
        args.push(if by_len {
            if self.chance(95) {
                self.rng.gen_range(0..=40).to_string().into()
            } else {
                self.pick(&["-1", "x"]).into()
            }
        } else {
            self.old_id()
        });
        // LIMIT goes with `~`; elsewhere Redis refuses it.
        if (how <= 3 && self.chance(30)) || self.chance(3) {
            args.push("LIMIT".into());
            args.push(self.rng.gen_range(0..=12).to_string().into());
        }
        args
    }

    /// XADD's fields and values: mostly the same field names (which Redis's nodes store once).
    fn fields(&mut self) -> Vec<Arg> {
        let n = if self.chance(2) {
            0
        } else {
            self.rng.gen_range(1..=2)
        };
        let mut out = Vec::new();
        for i in 0..n {
            let field: Arg = if self.chance(85) {
                ["f", "g"][i].into()
            } else {
                self.member()
            };
            out.push(field);
            out.push(self.value());
        }
        if self.chance(2) {
            out.push("odd".into());
        }
        out
    }

    /// XGROUP CREATE's and SETID's id.
    fn group_id(&mut self) -> Arg {
        match self.rng.gen_range(0..10) {
            0..=3 => "$".into(),
            4..=6 => "0".into(),
            _ => self.old_id(),
        }
    }

    /// An ENTRIESREAD value.
    fn entries_read(&mut self) -> Arg {
        self.pick(&["0", "1", "5", "-1", "-2", "x"]).into()
    }

    fn group(&mut self) -> Arg {
        if self.chance(3) {
            "nogroup".into()
        } else {
            self.pick(GROUPS).into()
        }
    }

    fn consumer(&mut self) -> Arg {
        self.pick(CONSUMERS).into()
    }

    /// The next command of a run: mostly the type's own, sometimes a key command or one of the
    /// foreign type.
    fn command(&mut self, kind: &Kind) -> Vec<Arg> {
        let (keyspace, foreign) = kind.mix;
        let roll = self.rng.gen_range(0..100);
        let (table, foreign) = if roll < keyspace {
            (KEYSPACE, false)
        } else if roll < keyspace + foreign && !kind.foreign.is_empty() {
            (kind.foreign, true)
        } else {
            (kind.commands, false)
        };
        let build = table
            .choose_weighted(&mut self.rng, |row| row.0)
            .expect("command tables are non-empty with positive weights")
            .1;
        self.foreign = foreign;
        let args = build(self);
        self.foreign = false;
        args
    }
}

/// A reply and its exact bytes on the wire.
type Reply = (Frame, bytes::Bytes);

async fn exchange(client: &mut Client, args: &[Arg]) -> Result<Reply, ClientError> {
    client.queue(args);
    client.flush().await?;
    client.read_reply_with_bytes().await
}

/// Byte-exact, equal as multisets for [`UNORDERED`] commands, or equal but for idle times for
/// [`TIMED`] ones.
fn same(args: &[Arg], expected: &Reply, got: &Reply) -> bool {
    if expected.1 == got.1 {
        return true;
    }
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    if TIMED.contains(&name.as_str()) {
        if let (Some(expected), Some(got)) = (timeless(args, &expected.0), timeless(args, &got.0)) {
            return expected == got;
        }
    }
    UNORDERED.contains(&name.as_str())
        && normalised(&expected.0, name == "HGETALL") == normalised(&got.0, name == "HGETALL")
}

/// The reply of XPENDING's extended form or XINFO CONSUMERS with every idle time 0, or of XINFO
/// STREAM with `radix-tree-nodes` 0; `None` for other replies.
fn timeless(args: &[Arg], frame: &Frame) -> Option<Frame> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let sub = args.get(1).map(|a| a.to_ascii_uppercase());
    let zero_after_idle = |fields: &mut Vec<Frame>| {
        for i in 1..fields.len() {
            if matches!(&fields[i - 1], Frame::Bulk(b) if b.as_ref() == b"idle") {
                fields[i] = Frame::Integer(0);
            }
        }
    };
    match (name.as_str(), frame.clone()) {
        // id, consumer, idle, deliveries
        ("XPENDING", Frame::Array(mut rows)) if args.len() > 3 => {
            for row in &mut rows {
                if let Frame::Array(cells) = row {
                    if cells.len() == 4 {
                        cells[2] = Frame::Integer(0);
                    }
                }
            }
            Some(Frame::Array(rows))
        }
        ("XINFO", Frame::Array(mut fields)) if sub.as_deref() == Some(b"STREAM") => {
            for i in 1..fields.len() {
                if matches!(&fields[i - 1], Frame::Bulk(b) if b.as_ref() == b"radix-tree-nodes") {
                    fields[i] = Frame::Integer(0);
                }
            }
            Some(Frame::Array(fields))
        }
        ("XINFO", Frame::Map(mut pairs)) if sub.as_deref() == Some(b"STREAM") => {
            for (name, value) in &mut pairs {
                if matches!(name, Frame::Bulk(b) if b.as_ref() == b"radix-tree-nodes") {
                    *value = Frame::Integer(0);
                }
            }
            Some(Frame::Map(pairs))
        }
        ("XINFO", Frame::Array(mut consumers)) if sub.as_deref() == Some(b"CONSUMERS") => {
            for consumer in &mut consumers {
                match consumer {
                    Frame::Array(fields) => zero_after_idle(fields),
                    Frame::Map(pairs) => {
                        for (name, value) in pairs {
                            if matches!(name, Frame::Bulk(b) if b.as_ref() == b"idle") {
                                *value = Frame::Integer(0);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Some(Frame::Array(consumers))
        }
        _ => None,
    }
}

/// The reply with its elements sorted, keeping its RESP type; `pairs` keeps a RESP2 HGETALL's
/// fields next to their values.
fn normalised(frame: &Frame, pairs: bool) -> Frame {
    let order = |f: &dyn std::fmt::Debug| format!("{f:?}");
    match frame.clone() {
        Frame::Map(mut entries) => {
            entries.sort_by_cached_key(|e| order(e));
            Frame::Map(entries)
        }
        Frame::Array(items) if pairs => {
            let mut entries: Vec<&[Frame]> = items.chunks(2).collect();
            entries.sort_by_cached_key(|e| order(e));
            Frame::Array(entries.concat())
        }
        Frame::Array(mut items) => {
            items.sort_by_cached_key(|i| order(i));
            Frame::Array(items)
        }
        Frame::Set(mut items) => {
            items.sort_by_cached_key(|i| order(i));
            Frame::Set(items)
        }
        other => other,
    }
}

/// An argument in redis-cli quoting, so a failure's commands paste into a `tests/scripts` file.
fn quoted(arg: &[u8]) -> String {
    let plain = |b: &u8| b.is_ascii_graphic() && !b"\"'\\".contains(b);
    if !arg.is_empty() && arg.iter().all(plain) {
        return String::from_utf8_lossy(arg).into_owned();
    }
    let mut out = String::from("\"");
    for &b in arg {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            b' ' | b'\'' => out.push(b as char),
            _ if plain(&b) => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

fn script_line(args: &[Arg]) -> String {
    args.iter().map(|a| quoted(a)).collect::<Vec<_>>().join(" ")
}

/// What the test was started with (see the module doc).
struct Settings {
    seed: u64,
    steps: usize,
    kinds: Vec<&'static Kind>,
    against_redis: bool,
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

fn settings() -> Settings {
    let kinds = match std::env::var("KIWI_RANDOM_TYPES") {
        Ok(list) => list
            .split(',')
            .map(|name| {
                KINDS
                    .iter()
                    .find(|k| k.name.eq_ignore_ascii_case(name.trim()))
                    .unwrap_or_else(|| {
                        let known: Vec<_> = KINDS.iter().map(|k| k.name).collect();
                        panic!("KIWI_RANDOM_TYPES: unknown type {name:?}; known: {known:?}")
                    })
            })
            .collect(),
        Err(_) => KINDS.iter().collect(),
    };
    Settings {
        seed: env_number("KIWI_RANDOM_SEED", 1),
        steps: env_number("KIWI_RANDOM_STEPS", 2000),
        kinds,
        against_redis: std::env::var("KIWI_RANDOM_AGAINST_REDIS").is_ok_and(|v| v == "1"),
    }
}

/// The server compared with redis-server.
enum Target {
    Kiwi(common::Kiwi),
    /// A second redis-server, to check that the test reports no false positives.
    Redis(common::Redis),
}

impl Target {
    fn addr(&self) -> String {
        match self {
            Target::Kiwi(k) => k.addr(),
            Target::Redis(r) => r.addr(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Kiwi(_) => "kiwi",
            Target::Redis(_) => "redis2",
        }
    }
}

/// Connects, empties the database, puts the stream node sizes back to their defaults (the
/// stream run changes them) and switches to RESP3 if asked.
async fn open(addr: &str, resp3: bool) -> Client {
    let mut client = Client::connect(addr).await.expect("connect");
    let flushed = client.call(&["FLUSHALL"]).await.expect("FLUSHALL");
    assert_eq!(flushed, Frame::ok(), "FLUSHALL on {addr}");
    for (name, value) in [
        ("stream-node-max-entries", "100"),
        ("stream-node-max-bytes", "4096"),
    ] {
        let set = client.call(&["CONFIG", "SET", name, value]).await;
        assert_eq!(set.expect("CONFIG SET"), Frame::ok(), "{name} on {addr}");
    }
    if resp3 {
        let hello = client.call(&["HELLO", "3"]).await.expect("HELLO 3");
        assert!(
            matches!(hello, Frame::Map(_)),
            "HELLO 3 on {addr}: {hello:?}"
        );
    }
    client
}

/// Everything needed to understand and replay a mismatch.
struct Failure {
    kind: &'static str,
    seed: u64,
    resp3: bool,
    step: usize,
    history: VecDeque<String>,
    line: String,
    expected: String,
    target: &'static str,
    got: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, seed, step) = (self.kind, self.seed, self.step);
        let protocol = if self.resp3 { "RESP3" } else { "RESP2" };
        writeln!(f, "{kind} (seed {seed}, {protocol}) differs at step {step}")?;
        writeln!(
            f,
            "  reproduce: KIWI_RANDOM_SEED={seed} KIWI_RANDOM_TYPES={kind} KIWI_RANDOM_STEPS={step}"
        )?;
        let hello = if self.resp3 { " and HELLO 3" } else { "" };
        writeln!(f, "  last commands before it, after FLUSHALL{hello}:")?;
        for line in &self.history {
            writeln!(f, "    {line}")?;
        }
        writeln!(f, "  > {}", self.line)?;
        writeln!(f, "  redis: {}", self.expected)?;
        write!(f, "  {}: {}", self.target, self.got)
    }
}

/// Runs one type's command stream. Returns a one-line summary, or the failure report.
async fn run(
    kind: &Kind,
    settings: &Settings,
    target: &Target,
    redis_addr: &str,
) -> Result<String, String> {
    let index = KINDS
        .iter()
        .position(|k| k.name == kind.name)
        .expect("kind comes from KINDS");
    let resp3 = (settings.seed + index as u64) % 2 == 1;
    // Each type draws from its own stream, so it replays alone with KIWI_RANDOM_TYPES.
    let stream = (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut g = Gen::new(settings.seed ^ stream);
    let mut redis = open(redis_addr, resp3).await;
    let mut other = open(&target.addr(), resp3).await;
    let mut history = VecDeque::with_capacity(HISTORY);
    let (mut errors, mut wrongtype) = (0, 0);
    for step in 1..=settings.steps {
        let args = g.command(kind);
        let line = script_line(&args);
        let (expected, got) =
            tokio::join!(exchange(&mut redis, &args), exchange(&mut other, &args));
        let expected = expected.unwrap_or_else(|e| panic!("redis-server failed on {line}: {e}"));
        let failure = match got {
            Ok(got) if same(&args, &expected, &got) => None,
            Ok(got) => Some(format!("{:?}", String::from_utf8_lossy(&got.1))),
            Err(e) => Some(format!("connection failed: {e}")),
        };
        if let Some(got) = failure {
            return Err(Failure {
                kind: kind.name,
                seed: settings.seed,
                resp3,
                step,
                history,
                line,
                expected: format!("{:?}", String::from_utf8_lossy(&expected.1)),
                target: target.name(),
                got,
            }
            .to_string());
        }
        if let Frame::Error(e) = &expected.0 {
            errors += 1;
            wrongtype += usize::from(e.starts_with("WRONGTYPE"));
        }
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(line);
    }
    Ok(format!(
        "{}: {} commands in RESP{}, {errors} error replies ({wrongtype} WRONGTYPE)",
        kind.name,
        settings.steps,
        if resp3 { 3 } else { 2 }
    ))
}

#[test]
fn random_commands_match_redis() {
    let settings = settings();
    let redis = common::Redis::start();
    let target = if settings.against_redis {
        Target::Redis(common::Redis::start())
    } else {
        Target::Kiwi(common::Kiwi::start(&[]))
    };
    let rt = common::runtime();
    let mut failures = Vec::new();
    for kind in &settings.kinds {
        let started = Instant::now();
        match rt.block_on(run(kind, &settings, &target, &redis.addr())) {
            Ok(summary) => eprintln!("{summary}, {:.1} s", started.elapsed().as_secs_f64()),
            Err(report) => failures.push(report),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} types differ between redis-server and {}:\n{}",
        failures.len(),
        settings.kinds.len(),
        target.name(),
        failures.join("\n\n")
    );
}

/// The seeds of [`random_stream_commands_match_redis`]: two runs in each protocol.
const STREAM_SEEDS: &[u64] = &[2, 3, 4, 5];

/// The stream run over [`STREAM_SEEDS`], 3000 commands each (`KIWI_RANDOM_STEPS` overrides).
/// `KIWI_RANDOM_AGAINST_REDIS=1` compares two redis-servers, as for the other test.
#[test]
fn random_stream_commands_match_redis() {
    let base = settings();
    let steps = env_number("KIWI_RANDOM_STEPS", 3000);
    let stream = KINDS
        .iter()
        .find(|k| k.name == "stream")
        .expect("a stream kind");
    let redis = common::Redis::start();
    let target = if base.against_redis {
        Target::Redis(common::Redis::start())
    } else {
        Target::Kiwi(common::Kiwi::start(&[]))
    };
    let rt = common::runtime();
    let mut failures = Vec::new();
    for &seed in STREAM_SEEDS {
        let settings = Settings {
            seed,
            steps,
            kinds: vec![stream],
            against_redis: base.against_redis,
        };
        let started = Instant::now();
        match rt.block_on(run(stream, &settings, &target, &redis.addr())) {
            Ok(summary) => eprintln!(
                "seed {seed}: {summary}, {:.1} s",
                started.elapsed().as_secs_f64()
            ),
            Err(report) => failures.push(report),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} stream seeds differ between redis-server and {}:\n{}",
        failures.len(),
        STREAM_SEEDS.len(),
        target.name(),
        failures.join("\n\n")
    );
}

/// A failure report is only useful if its commands replay: every generated command must come
/// back unchanged through the script parser, whatever bytes it holds.
#[test]
fn reported_commands_parse_back() {
    for (index, kind) in KINDS.iter().enumerate() {
        let mut g = Gen::new(index as u64);
        for _ in 0..2000 {
            let args = g.command(kind);
            let line = script_line(&args);
            assert_eq!(
                kiwi::resp::parse::split_args(line.as_bytes()),
                Some(args),
                "{line}"
            );
        }
    }
}
