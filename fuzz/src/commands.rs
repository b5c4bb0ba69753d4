//! `commands`: arbitrary sequences of real commands against a real single-node store, in-process.
//!
//! The store is opened once per process (a temporary directory, small memory budget, no fsync)
//! and reopened every [`REOPEN_AFTER`] inputs. Each input starts from an empty store: the keys the
//! previous input's final SCAN found are deleted one by one and expired ones swept (FLUSHALL's
//! range deletes, once per input, would pile up in the memtable and slow every read down).
//! Commands go the way the network runtime sends them: validated against the command table
//! (`cmd::lookup`, `cmd::check_arity`), then run as storage jobs by `runtime::run_job`, the
//! function each storage worker runs — single commands, pipelines (one job, one WriteBatch) and
//! MULTI/EXEC transactions (one atomic job) — so batching and the end-of-job commit are exercised
//! too. The job runs on the fuzzing thread itself: handing it to a worker thread would cost more
//! than the command.
//!
//! Commands are built from a dictionary of names and small alphabets of keys and arguments, so
//! most of them get past argument parsing and reach the data paths.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kiwi::cmd;
use kiwi::config::{ByteSize, Config, FsyncPolicy};
use kiwi::resp::{Frame, Protocol};
use kiwi::runtime::{run_job, QueuedCommand, Transaction};
use kiwi::state::clients::ClientHandle;
use kiwi::state::ServerState;
use kiwi::storage::breaker::Breaker;
use kiwi::storage::Storage;

use super::input::Input;
use super::resp::validate;

/// Databases of the fuzz store: small, so `SELECT`, `MOVE`, `SWAPDB` and `COPY ... DB` meet.
const DATABASES: usize = 4;
/// Most operations one input runs.
const MAX_OPS: usize = 48;
/// Inputs run on one store before a fresh one is opened.
const REOPEN_AFTER: u64 = 5_000;
/// The reply a command gets when its handler panicked (the storage runtime catches the panic).
const HANDLER_PANICKED: &str = "ERR internal error while executing the command";

/// The commands the sequences are made of: every storage-side data command (the blocking pops
/// run on the storage side as one non-blocking attempt, as inside MULTI) and the server commands
/// that only read or act on data. Left out: CONFIG (it would change the shared store for later
/// inputs), SLOWLOG and LATENCY (state carried between inputs), the connection commands (SELECT,
/// MULTI and EXEC are the sequence's own operations).
const COMMANDS: &[&str] = &[
    // strings
    "get",
    "set",
    "setnx",
    "setex",
    "psetex",
    "getset",
    "getdel",
    "getex",
    "mget",
    "mset",
    "msetnx",
    "append",
    "strlen",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "incrbyfloat",
    "getrange",
    "substr",
    "setrange",
    "lcs",
    // keyspace
    "del",
    "unlink",
    "exists",
    "touch",
    "type",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "ttl",
    "pttl",
    "expiretime",
    "pexpiretime",
    "persist",
    "keys",
    "scan",
    "randomkey",
    "rename",
    "renamenx",
    "copy",
    "move",
    "dbsize",
    "flushdb",
    "flushall",
    "swapdb",
    "object",
    "sort",
    "sort_ro",
    // hashes
    "hset",
    "hsetnx",
    "hget",
    "hmset",
    "hmget",
    "hgetall",
    "hdel",
    "hexists",
    "hlen",
    "hkeys",
    "hvals",
    "hincrby",
    "hincrbyfloat",
    "hstrlen",
    "hrandfield",
    "hscan",
    // sets
    "sadd",
    "srem",
    "smembers",
    "sismember",
    "smismember",
    "scard",
    "spop",
    "srandmember",
    "smove",
    "sinter",
    "sintercard",
    "sinterstore",
    "sunion",
    "sunionstore",
    "sdiff",
    "sdiffstore",
    "sscan",
    // lists
    "lpush",
    "rpush",
    "lpushx",
    "rpushx",
    "lpop",
    "rpop",
    "llen",
    "lindex",
    "lrange",
    "lset",
    "ltrim",
    "lrem",
    "linsert",
    "lpos",
    "lmove",
    "rpoplpush",
    "lmpop",
    "blpop",
    "brpop",
    "blmove",
    "brpoplpush",
    "blmpop",
    // sorted sets
    "zadd",
    "zincrby",
    "zrem",
    "zcard",
    "zcount",
    "zlexcount",
    "zscore",
    "zmscore",
    "zrank",
    "zrevrank",
    "zrange",
    "zrangestore",
    "zrevrange",
    "zrangebyscore",
    "zrevrangebyscore",
    "zrangebylex",
    "zrevrangebylex",
    "zremrangebyrank",
    "zremrangebyscore",
    "zremrangebylex",
    "zpopmin",
    "zpopmax",
    "zmpop",
    "zrandmember",
    "zunion",
    "zinter",
    "zdiff",
    "zunionstore",
    "zinterstore",
    "zdiffstore",
    "zintercard",
    "zscan",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
    // geo
    "geoadd",
    "geodist",
    "geohash",
    "geopos",
    "georadius",
    "georadius_ro",
    "georadiusbymember",
    "georadiusbymember_ro",
    "geosearch",
    "geosearchstore",
    // bitmaps and HyperLogLog
    "setbit",
    "getbit",
    "bitcount",
    "bitpos",
    "bitop",
    "bitfield",
    "bitfield_ro",
    "pfadd",
    "pfcount",
    "pfmerge",
    "pfdebug",
    // streams (XREAD and XREADGROUP with BLOCK run one non-blocking attempt, as in MULTI)
    "xadd",
    "xrange",
    "xrevrange",
    "xlen",
    "xdel",
    "xtrim",
    "xsetid",
    "xread",
    "xreadgroup",
    "xack",
    "xpending",
    "xclaim",
    "xautoclaim",
    "xgroup",
    "xinfo",
    // server
    "info",
    "command",
    "time",
    "lastsave",
];

/// Keys, at the key positions of the command table.
const KEYS: &[&str] = &["a", "b", "c", ""];

/// Everything else: keys again (for the commands whose keys follow a count), members, numbers at
/// the edges, score and lex ranges, glob patterns, and the option words of the commands above.
/// Numbers stay small or extreme: a count of a billion is a legal request that takes seconds.
const WORDS: &[&str] = &[
    "a",
    "b",
    "c",
    "",
    "x",
    "y",
    "hello",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "10",
    "100",
    "-1",
    "-2",
    "-5",
    "-100",
    "1.5",
    "-0.5",
    "3.0e3",
    "0x10",
    "01",
    " 1",
    "1 ",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "4294967296",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "1e308",
    "-1e308",
    "1e-320",
    "(1",
    "(-inf",
    "[a",
    "(a",
    "[",
    "(",
    "-",
    "+",
    "*",
    "a*",
    "?",
    "[a-c]",
    "\\",
    "#",
    "b_*",
    "->f",
    "13.361389",
    "38.115556",
    "-180",
    "180",
    "85.05112878",
    "-85.06",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "WITHSCORES",
    "WITHSCORE",
    "LIMIT",
    "COUNT",
    "MATCH",
    "TYPE",
    "string",
    "list",
    "hash",
    "set",
    "zset",
    "BYSCORE",
    "BYLEX",
    "REV",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "WEIGHTS",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "RANK",
    "MAXLEN",
    "IDX",
    "LEN",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "STORE",
    "STOREDIST",
    "BY",
    "ASC",
    "DESC",
    "ALPHA",
    "NOSORT",
    "FROMMEMBER",
    "FROMLONLAT",
    "BYRADIUS",
    "BYBOX",
    "m",
    "km",
    "mi",
    "ft",
    "WITHCOORD",
    "WITHDIST",
    "WITHHASH",
    "ANY",
    "OVERFLOW",
    "WRAP",
    "SAT",
    "FAIL",
    "u1",
    "i8",
    "u8",
    "i16",
    "u63",
    "i64",
    "#1",
    "SET",
    "INCRBY",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "BIT",
    "BYTE",
    "DB",
    "REPLACE",
    "ENCODING",
    "FREQ",
    "IDLETIME",
    "REFCOUNT",
    "HELP",
    "ASYNC",
    "SYNC",
    "DOCS",
    "LIST",
    "GETKEYS",
    "GETKEYSANDFLAGS",
    "FILTERBY",
    "keyspace",
    "all",
    "default",
    "GETREG",
    "DECODE",
    "TODENSE",
    "ENCODING",
    // stream ids and options
    "0-0",
    "1-1",
    "2-*",
    "18446744073709551615-18446744073709551615",
    "$",
    ">",
    "~",
    "=",
    "(1-1",
    "MAXLEN",
    "MINID",
    "LIMIT",
    "NOMKSTREAM",
    "STREAMS",
    "GROUP",
    "NOACK",
    "BLOCK",
    "JUSTID",
    "FORCE",
    "IDLE",
    "TIME",
    "RETRYCOUNT",
    "LASTID",
    "CREATE",
    "SETID",
    "DESTROY",
    "CREATECONSUMER",
    "DELCONSUMER",
    "MKSTREAM",
    "ENTRIESREAD",
    "ENTRIESADDED",
    "MAXDELETEDID",
    "STREAM",
    "GROUPS",
    "CONSUMERS",
    "FULL",
];

struct Store {
    state: Arc<ServerState>,
    client: Arc<ClientHandle>,
    /// Inputs run so far.
    inputs: u64,
    /// False while an input runs: one that panicked (under `cargo test`) leaves keys behind.
    clean: bool,
    /// Declared last: removed once the database above is closed.
    _dir: tempfile::TempDir,
}

/// One store per process; inputs take turns (the corpus tests may run on several threads).
static STORE: Mutex<Option<Store>> = Mutex::new(None);

/// Prefix of the stores' directories; the process id follows.
const DIR_PREFIX: &str = "kiwi-fuzz-store-";

/// Removes the directories of fuzzing processes that are gone: libFuzzer ends a process with
/// `exit`, which drops no static, so every run leaves its store behind (Linux only: it asks
/// `/proc` whether the process is alive).
fn remove_stale_stores() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        let pid = pid.split('-').next().unwrap_or_default();
        if cfg!(target_os = "linux") && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn open_store() -> Store {
    remove_stale_stores();
    let prefix = format!("{DIR_PREFIX}{}-", std::process::id());
    let dir = match tempfile::Builder::new().prefix(&prefix).tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("cannot make a temporary directory: {err}"),
    };
    let mut config = Config::sample();
    config.dir = dir.path().join("data").display().to_string();
    config.databases = DATABASES;
    config.memory = ByteSize(32 << 20);
    config.appendfsync = FsyncPolicy::No;
    // Keeps SETRANGE, SETBIT and APPEND from building huge values: past it they are refused.
    config.proto_max_bulk_len = ByteSize(1 << 20);
    // Small memtables flush often, taking FLUSHALL's and DEL's range deletions with them: left in
    // the memtable, RocksDB fragments them again on every read.
    config.rocksdb_write_buffer_size = ByteSize(1 << 20);
    if let Err(err) = std::fs::create_dir_all(&config.dir) {
        panic!("cannot make the data directory: {err}");
    }
    let storage = match Storage::open(&config, Arc::new(Breaker::default())) {
        Ok(storage) => storage,
        Err(err) => panic!("cannot open the store: {err}"),
    };
    let state = ServerState::new(config, storage, 0);
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let Some(client) = state.clients.register(loopback, loopback, usize::MAX) else {
        panic!("cannot register the fuzz client");
    };
    Store {
        state,
        client,
        inputs: 0,
        clean: true,
        _dir: dir,
    }
}

/// What one input does.
enum Op {
    Select(usize),
    /// Commands sent as one job (one command, or a pipeline).
    Pipeline(Vec<Vec<Bytes>>),
    /// MULTI ... EXEC, each command with the database it was queued in.
    Transaction(Vec<(usize, Vec<Bytes>)>),
}

/// `commands`: the first byte picks the protocol; then each operation is one byte — `0xff`
/// SELECT, `0xfe` a MULTI/EXEC of the next few commands, `0xfd` a pipeline of the next few,
/// anything else one command from [`COMMANDS`] — followed by its arguments, one byte each: a
/// word of the alphabets, or (for bytes from `0xe0`) up to four raw bytes.
///
/// Checked: no command panics (the storage runtime turns a handler's panic into an error reply,
/// which the check refuses); every reply, and EXEC's array, is strictly valid RESP of the
/// client's protocol; afterwards, in every database, DBSIZE equals the number of distinct keys a
/// full SCAN returns.
pub fn commands(data: &[u8]) {
    let mut input = Input::new(data);
    let proto = if input.byte() & 1 == 1 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    };
    let ops = read_ops(&mut input);
    let mut guard = STORE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if guard
        .as_ref()
        .is_some_and(|store| store.inputs >= REOPEN_AFTER)
    {
        *guard = None;
    }
    let store = guard.get_or_insert_with(open_store);
    store.inputs += 1;
    if !store.clean {
        store.run(0, vec![words(&["FLUSHALL"])], Protocol::Resp2);
    }
    store.clean = false;
    let mut db = 0;
    for op in ops {
        match op {
            Op::Select(to) => db = to,
            Op::Pipeline(commands) => {
                store.run(db, commands, proto);
            }
            Op::Transaction(commands) => {
                if let Some(&(last, _)) = commands.last() {
                    store.transaction(commands, proto);
                    db = last;
                }
            }
        }
    }
    for db in 0..DATABASES {
        let keys = store.check_keyspace(db);
        store.remove(db, keys);
    }
    store.sweep_expired();
    store.clean = true;
}

fn read_ops(input: &mut Input<'_>) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut db = 0;
    while !input.is_empty() && ops.len() < MAX_OPS {
        let op = input.byte();
        ops.push(match op {
            0xff => {
                db = input.choose(DATABASES);
                Op::Select(db)
            }
            0xfe => {
                let count = input.choose(8);
                let mut queued = Vec::with_capacity(count);
                for _ in 0..count {
                    // SELECT inside MULTI applies to the commands queued after it.
                    match input.byte() {
                        0xff => db = input.choose(DATABASES),
                        op => queued.push((db, build_command(op, input))),
                    }
                }
                Op::Transaction(queued)
            }
            0xfd => {
                let count = 1 + input.choose(8);
                Op::Pipeline(
                    (0..count)
                        .map(|_| build_command(input.byte(), input))
                        .collect(),
                )
            }
            op => Op::Pipeline(vec![build_command(op, input)]),
        });
    }
    ops
}

fn words(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

/// A command of the right arity (plus up to seven optional arguments for variadic ones). Each
/// argument is a word of [`WORDS`] or raw bytes; the arguments the command table then names as
/// keys take their word from [`KEYS`] instead.
fn build_command(op: u8, input: &mut Input<'_>) -> Vec<Bytes> {
    let name = COMMANDS[usize::from(op) % COMMANDS.len()];
    let Some(spec) = cmd::lookup(name.as_bytes()) else {
        panic!("{name} is not in the command table");
    };
    let fixed = spec.arity.unsigned_abs() as usize - 1;
    let extra = if spec.arity < 0 { input.choose(8) } else { 0 };
    let mut args = vec![Bytes::from_static(name.as_bytes())];
    let mut choices = vec![None];
    for _ in 0..fixed + extra {
        let choice = input.byte();
        if choice >= 0xe0 {
            args.push(Bytes::copy_from_slice(input.bytes(usize::from(choice % 5))));
            choices.push(None);
        } else {
            args.push(Bytes::from_static(
                WORDS[usize::from(choice) % WORDS.len()].as_bytes(),
            ));
            choices.push(Some(choice));
        }
    }
    for at in spec.key_indexes(&args) {
        if let Some(Some(choice)) = choices.get(at) {
            args[at] = Bytes::from_static(KEYS[usize::from(*choice) % KEYS.len()].as_bytes());
        }
    }
    args
}

impl Store {
    /// Validates `args` as the network runtime does; the error reply if it is refused.
    fn refusal(args: &[Bytes]) -> Result<&'static cmd::CommandSpec, Frame> {
        let Some(spec) = cmd::lookup(&args[0]) else {
            return Err(Frame::Error("ERR unknown command".into()));
        };
        cmd::check_arity(spec, args).map_err(Frame::from)?;
        Ok(spec)
    }

    /// Runs `commands` in `db` as one storage job and checks each reply.
    fn run(&self, db: usize, commands: Vec<Vec<Bytes>>, proto: Protocol) -> Vec<Frame> {
        let mut replies: Vec<Option<Frame>> = Vec::with_capacity(commands.len());
        let mut queued = Vec::new();
        let mut shown = Vec::new();
        for args in commands {
            match Self::refusal(&args) {
                Ok(spec) => {
                    replies.push(None);
                    shown.push(show(&args));
                    queued.push(QueuedCommand { db, spec, args });
                }
                Err(refused) => replies.push(Some(refused)),
            }
        }
        let mut executed = match run_job(&self.state, queued, proto, &self.client, None) {
            Some(frames) => frames.into_iter(),
            None => panic!("a job without a transaction was aborted: {shown:?}"),
        };
        let mut shown = shown.into_iter();
        replies
            .into_iter()
            .map(|reply| {
                let (frame, what) = match reply {
                    Some(refused) => (refused, "a refused command".to_string()),
                    None => match (executed.next(), shown.next()) {
                        (Some(frame), Some(what)) => (frame, what),
                        _ => panic!("a job answered fewer replies than it had commands"),
                    },
                };
                check_reply(&frame, proto, &what);
                frame
            })
            .collect()
    }

    /// MULTI, the commands, EXEC: one atomic job, or EXECABORT when one was refused.
    fn transaction(&self, commands: Vec<(usize, Vec<Bytes>)>, proto: Protocol) {
        let shown: Vec<String> = commands.iter().map(|(_, args)| show(args)).collect();
        let mut queued = Vec::with_capacity(commands.len());
        for (db, args) in commands {
            match Self::refusal(&args) {
                Ok(spec) => queued.push(QueuedCommand { db, spec, args }),
                Err(refused) => {
                    check_reply(&refused, proto, "a refused command");
                    return;
                }
            }
        }
        let transaction = Transaction {
            dirty: Default::default(),
            live_watched: Vec::new(),
            guards: Vec::new(),
        };
        match run_job(&self.state, queued, proto, &self.client, Some(&transaction)) {
            Some(replies) => {
                for (reply, what) in replies.iter().zip(&shown) {
                    check_reply(reply, proto, what);
                }
                check_reply(&Frame::Array(replies), proto, "EXEC");
            }
            other => panic!("EXEC of {shown:?} answered {other:?}"),
        }
    }

    fn call(&self, db: usize, args: &[&str]) -> Frame {
        let mut replies = self.run(db, vec![words(args)], Protocol::Resp2);
        replies.pop().unwrap_or(Frame::Null)
    }

    fn dbsize(&self, db: usize) -> i64 {
        match self.call(db, &["DBSIZE"]) {
            Frame::Integer(n) => n,
            other => panic!("DBSIZE answered {other:?}"),
        }
    }

    /// DBSIZE equals the number of distinct keys a full SCAN returns. A key that expires while
    /// the keys are counted changes DBSIZE too, so a count taken while DBSIZE moved is skipped.
    /// Returns the keys found.
    fn check_keyspace(&self, db: usize) -> HashSet<Bytes> {
        let before = self.dbsize(db);
        let mut keys = HashSet::new();
        let mut cursor = "0".to_string();
        for round in 0.. {
            assert!(round < 100_000, "SCAN in db {db} does not finish");
            let reply = self.call(db, &["SCAN", &cursor, "COUNT", "3"]);
            let Frame::Array(parts) = reply else {
                panic!("SCAN answered {reply:?}");
            };
            let [Frame::Bulk(next), Frame::Array(found)] = parts.as_slice() else {
                panic!("SCAN answered {parts:?}");
            };
            for key in found {
                let Frame::Bulk(key) = key else {
                    panic!("SCAN returned key {key:?}");
                };
                keys.insert(key.clone());
            }
            cursor = String::from_utf8_lossy(next).into_owned();
            if cursor == "0" {
                break;
            }
        }
        let after = self.dbsize(db);
        if before == after {
            assert_eq!(
                keys.len() as i64,
                before,
                "db {db}: DBSIZE says {before}, a full SCAN finds {keys:?}"
            );
        }
        keys
    }

    /// Deletes `keys` from `db`.
    fn remove(&self, db: usize, keys: HashSet<Bytes>) {
        if keys.is_empty() {
            return;
        }
        let mut del = vec![Bytes::from_static(b"DEL")];
        del.extend(keys);
        self.run(db, vec![del], Protocol::Resp2);
    }

    /// What the background expiry sweep does, so expired keys do not pile up across inputs.
    fn sweep_expired(&self) {
        let now = kiwi::util::now_ms();
        while let Ok(handled) = self.state.storage.sweep_expired(now, 1024) {
            if handled < 1024 {
                break;
            }
        }
    }
}

fn show(args: &[Bytes]) -> String {
    args.iter()
        .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_reply(frame: &Frame, proto: Protocol, what: &str) {
    if let Frame::Error(text) = frame {
        assert!(text != HANDLER_PANICKED, "{what} panicked in its handler");
    }
    let mut encoded = bytes::BytesMut::new();
    frame.encode(proto, &mut encoded);
    if let Err(err) = validate(&encoded, proto) {
        panic!(
            "{what} answered invalid {proto:?} ({err}): {:?}",
            String::from_utf8_lossy(&encoded)
        );
    }
}
