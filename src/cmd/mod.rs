//! The command table and the execution context of storage-side commands.
//!
//! One [`CommandSpec`] per command, one line in `table.rs`, is the single source of truth for its
//! name, arity, flags ([`Flags`]: Redis's and Kiwi's own, such as "runs at once inside MULTI"),
//! key specs ([`KeySpec`]: where the keys are and what the command does with each), secret
//! arguments and handler. The network runtime uses it to validate a request before anything
//! crosses to storage; ACL key checks, transaction locks, cluster routing and blocking waits read
//! their keys from it; `COMMAND` replies from it; `docs/commands.md` is generated from it.
//! Each family's handlers live in their own file.

pub mod bitmap;
pub mod blocking;
pub mod collection;
pub mod debug;
pub mod dump;
pub mod flags;
pub mod functions;
pub mod geo;
pub mod hash;
pub mod hyperloglog;
pub mod keys;
pub mod keyspace;
pub mod latency;
pub mod list;
pub mod memory;
pub mod migrate;
pub mod scripting;
pub mod server;
pub mod set;
pub mod slowlog;
pub mod sort;
pub mod stats;
pub mod stream;
pub mod strings;
mod table;
pub mod zset;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::LazyLock;

use bytes::Bytes;

pub use crate::config::KeyspaceEvents as Ev;
use crate::error::{CmdResult, ReplyError};
use crate::resp::{Frame, Protocol};
use crate::state::clients::ClientHandle;
use crate::state::stats::bump;
use crate::state::ServerState;
use crate::storage::Storage;

pub use flags::{Flags, KeyFlags};
pub use keys::{KeyRef, KeySpec};
pub use table::COMMANDS;

/// Where a command runs.
#[derive(Clone, Copy)]
pub enum Handler {
    /// On the storage runtime, with a [`Ctx`].
    Storage(fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult),
    /// On the network runtime, because it reads or changes connection state
    /// (implemented in `server::conn_cmds`).
    Connection,
}

/// A subcommand of a container command (CONFIG GET, CLIENT LIST, OBJECT ENCODING, ...).
pub struct SubSpec {
    pub name: &'static str,
    pub arity: i32,
    pub flags: Flags,
    /// Key specs, counted in the whole call (OBJECT ENCODING's key is argument 2).
    pub keys: &'static [KeySpec],
    pub summary: &'static str,
}

/// One command's metadata and handler: its line in the command table.
pub struct CommandSpec {
    /// Lowercase name.
    pub name: &'static str,
    /// Redis arity: exact argument count including the name, or `-N` for "at least N".
    pub arity: i32,
    /// Redis's command flags and Kiwi's own properties of the command.
    pub flags: Flags,
    /// Where the keys of a call are and what the command does with them (a container command's
    /// keys are on its subcommands).
    pub keys: &'static [KeySpec],
    /// Redis documentation group (`string`, `generic`, `hyperloglog`, `connection`, `server`).
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub subcommands: &'static [SubSpec],
    pub handler: Handler,
    /// Whether argument `index` of a call is a secret the slow log and MONITOR hide.
    pub secrets: Option<fn(&[Bytes], usize) -> bool>,
}

impl CommandSpec {
    /// True for commands that modify data (refused while the storage breaker is open).
    pub fn is_write(&self) -> bool {
        self.flags.contains(Flags::WRITE)
    }

    /// True for commands that go through the Raft log in cluster mode: writes, and the
    /// [`Flags::REPLICATED`] ones (PUBLISH, SPUBLISH).
    pub fn is_replicated(&self) -> bool {
        self.flags.intersects(Flags::WRITE | Flags::REPLICATED)
    }

    /// Whether CLIENT PAUSE WRITE holds it back, as Redis does: writes, and what may reach
    /// replicas (PUBLISH, PFCOUNT).
    pub fn paused_by_write_pause(&self) -> bool {
        self.flags
            .intersects(Flags::WRITE | Flags::REPLICATED | Flags::MAY_REPLICATE)
    }

    /// The subcommand this call names, for a container command.
    pub fn subcommand(&self, args: &[Bytes]) -> Option<&'static SubSpec> {
        let name = args.get(1)?;
        self.subcommands.iter().find(|s| is_opt(name, s.name))
    }

    /// The flags of this call: its subcommand's for a container command.
    pub fn call_flags(&self, args: &[Bytes]) -> Flags {
        self.subcommand(args).map_or(self.flags, |sub| sub.flags)
    }

    /// Whether this call runs a command or subcommand flagged `fast`; the latency monitor files
    /// its time under `fast-command` or `command` accordingly, as Redis does.
    pub fn is_fast(&self, args: &[Bytes]) -> bool {
        self.call_flags(args).contains(Flags::FAST)
    }

    /// ACL categories derived from group and flags, as COMMAND INFO reports them.
    pub fn categories(&self) -> Vec<String> {
        let mut cats = Vec::new();
        if self.flags.contains(Flags::WRITE) {
            cats.push("@write".to_string());
        }
        if self.flags.contains(Flags::READONLY) {
            cats.push("@read".to_string());
        }
        match self.group {
            "generic" => cats.push("@keyspace".into()),
            "sorted-set" => cats.push("@sortedset".into()),
            "server" => {
                cats.push("@admin".into());
                cats.push("@dangerous".into());
            }
            // Admin commands outside the server group (PFDEBUG) are @admin but not @dangerous.
            other if self.flags.contains(Flags::ADMIN) => {
                cats.push(format!("@{other}"));
                cats.push("@admin".into());
            }
            other => cats.push(format!("@{other}")),
        }
        cats.push(
            if self.flags.contains(Flags::FAST) {
                "@fast"
            } else {
                "@slow"
            }
            .to_string(),
        );
        cats
    }

    /// The key specs that apply to this call: its subcommand's for a container command.
    pub fn key_specs(&self, args: &[Bytes]) -> &'static [KeySpec] {
        if self.subcommands.is_empty() {
            self.keys
        } else {
            self.subcommand(args).map_or(&[], |sub| sub.keys)
        }
    }

    /// Whether calls of this command (or of the subcommand this call names) name keys at all.
    pub fn has_keys(&self, args: &[Bytes]) -> bool {
        self.key_specs(args).iter().any(KeySpec::is_key)
    }

    /// The keys of a call with what the command does to each, in Redis's order (ACL key checks,
    /// COMMAND GETKEYS and GETKEYSANDFLAGS). A malformed call has none.
    pub fn key_refs(&self, args: &[Bytes]) -> Vec<KeyRef> {
        keys::find_keys(self.key_specs(args), args)
    }

    /// Indexes of the key arguments in `args` (transaction locks, cluster routing, ...).
    pub fn key_indexes(&self, args: &[Bytes]) -> Vec<usize> {
        self.key_refs(args).into_iter().map(|k| k.index).collect()
    }

    /// COMMAND INFO's legacy (first, last, step) key positions, derived from the key specs.
    pub fn legacy_keys(&self) -> (i32, i32, i32) {
        keys::legacy_range(self.keys)
    }

    /// Whether this call reads and writes no data (INFO, CONFIG, SLOWLOG, OBJECT HELP ...): its
    /// reply describes the node that runs it, wherever it is sent.
    pub fn describes_node(&self, args: &[Bytes]) -> bool {
        !self
            .call_flags(args)
            .intersects(Flags::READONLY | Flags::WRITE | Flags::RUNS_SCRIPT | Flags::REPLICATED)
    }

    /// Whether argument `index` of this call is a secret (a password) that the slow log and
    /// MONITOR show as `(redacted)`.
    pub fn is_secret(&self, args: &[Bytes], index: usize) -> bool {
        self.secrets.is_some_and(|secret| secret(args, index))
    }
}

static BY_NAME: LazyLock<HashMap<&'static str, &'static CommandSpec>> =
    LazyLock::new(|| COMMANDS.iter().map(|c| (c.name, c)).collect());

/// Finds a command by name, case-insensitively, without allocating for ordinary names.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    std::str::from_utf8(lower)
        .ok()
        .and_then(|s| BY_NAME.get(s).copied())
}

pub(crate) fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

/// Checks a request's arity (and its subcommand's) the way Redis does before running it.
pub fn check_arity(spec: &CommandSpec, args: &[Bytes]) -> Result<(), ReplyError> {
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        let sub_name = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        let Some(sub) = spec.subcommands.iter().find(|s| s.name == sub_name) else {
            return Err(ReplyError::unknown_subcommand(&args[1], spec.name));
        };
        if !arity_ok(sub.arity, args.len()) {
            return Err(ReplyError::WrongArity(format!(
                "{}|{}",
                spec.name, sub.name
            )));
        }
        return Ok(());
    }
    if !arity_ok(spec.arity, args.len()) {
        return Err(ReplyError::WrongArity(spec.name.to_string()));
    }
    Ok(())
}

/// What a storage-side handler gets besides its arguments.
pub struct Ctx<'a> {
    pub state: &'a ServerState,
    /// The connection that sent the command (its ACL user, its CLIENT LIST line).
    pub client: &'a ClientHandle,
    /// The client's selected (logical) database.
    pub db: usize,
    pub proto: Protocol,
}

impl Ctx<'_> {
    /// The storage engine.
    pub fn store(&self) -> &Storage {
        &self.state.storage
    }

    /// Records the keyspace event `event` of `class` (a [`Ev`] bit) on `key` of the client's
    /// database, at the point of the command where Redis announces it. Published once the job's
    /// writes are committed; a no-op (one atomic load) while the class is not published.
    pub fn notify(&self, class: u32, event: &'static str, key: &[u8]) {
        self.state.storage.notify(class, event, self.db, key);
    }

    /// A read lookup found no key (Redis's `keymiss`, class `m`).
    pub fn keymiss(&self, key: &[u8]) {
        self.notify(Ev::KEY_MISS, "keymiss", key);
    }
}

/// Runs one storage command on this thread and records it (command statistics, slow log,
/// latency): the path of every storage command, whether a job's or a script's `redis.call`.
pub fn execute(
    state: &ServerState,
    client: &ClientHandle,
    spec: &'static CommandSpec,
    args: &[Bytes],
    db: usize,
    proto: Protocol,
) -> Frame {
    let stats = &state.stats.storage;
    let Handler::Storage(handler) = spec.handler else {
        return ReplyError::custom("ERR connection command sent to storage").into();
    };
    let breaker = state.storage.breaker();
    let events = state.storage.events_mark();
    let started = std::time::Instant::now();
    let result = if spec.is_write() && breaker.is_open() {
        Err(ReplyError::StorageUnavailable(breaker.reason()))
    } else {
        if !spec.call_flags(args).contains(Flags::NO_TOUCH) {
            for key in spec.key_refs(args) {
                if !key.flags.contains(KeyFlags::NOT_KEY) {
                    state.storage.record_access(db, &args[key.index]);
                }
            }
        }
        let mut ctx = Ctx {
            state,
            client,
            db,
            proto,
        };
        // A bug in one command must not take a storage thread (and every later client) with it.
        std::panic::catch_unwind(AssertUnwindSafe(|| handler(&mut ctx, args))).unwrap_or_else(
            |_| {
                tracing::error!(command = spec.name, "command handler panicked");
                Err(ReplyError::custom(
                    "ERR internal error while executing the command",
                ))
            },
        )
    };
    bump(&stats.completed, 1);
    let elapsed = started.elapsed();
    // A script that ends in an error failed, although what it wrote before stays.
    let failed = match &result {
        Err(_) => true,
        Ok(Frame::Error(_)) => spec.flags.contains(Flags::RUNS_SCRIPT),
        Ok(_) => false,
    };
    stats::finished(state, client, spec, args, elapsed, failed);
    match result {
        Ok(frame) => frame,
        Err(err) => {
            // A command answering an error wrote nothing: it announces nothing either.
            state.storage.discard_events(events);
            bump(&stats.errors, 1);
            err.into()
        }
    }
}

/// Parses an integer argument (`ERR value is not an integer or out of range`).
pub fn arg_i64(arg: &[u8]) -> Result<i64, ReplyError> {
    crate::util::number::parse_i64(arg).ok_or(ReplyError::NotInteger)
}

/// Parses a count of at least `min` (COUNT, numkeys, LIMIT, ...); Redis answers `message` both
/// for a smaller value and for a non-integer.
pub fn arg_at_least(arg: &[u8], min: i64, message: &str) -> Result<u64, ReplyError> {
    crate::util::number::parse_i64(arg)
        .filter(|&n| n >= min.max(0))
        .map(|n| n as u64)
        .ok_or_else(|| ReplyError::custom(message))
}

/// Whether the optional mode of FLUSHDB, FLUSHALL, SCRIPT FLUSH and FUNCTION FLUSH is absent
/// or one of SYNC and ASYNC.
pub fn flush_mode_ok(mode: Option<&Bytes>) -> bool {
    mode.is_none_or(|m| is_opt(m, "sync") || is_opt(m, "async"))
}

/// Case-insensitive comparison of an argument with an option name.
pub fn is_opt(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// Parses a database index argument and checks it against `databases`.
pub fn arg_db(arg: &[u8], databases: usize) -> Result<usize, ReplyError> {
    let n = arg_i64(arg)?;
    if n < 0 || n as u64 >= databases as u64 || n > i32::MAX as i64 {
        return Err(ReplyError::DbIndexOutOfRange);
    }
    Ok(n as usize)
}

/// Markdown table of every command, generated for `docs/commands.md`.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "| command | arity | group | flags | runs on | summary |\n|---|---|---|---|---|---|\n",
    );
    let mut sorted: Vec<&CommandSpec> = COMMANDS.iter().collect();
    sorted.sort_by_key(|c| (c.group, c.name));
    for c in sorted {
        let runs_on = match c.handler {
            Handler::Storage(_) => "storage",
            Handler::Connection => "network",
        };
        let mut row = |name: String, arity: i32, flags: Flags, summary: &str| {
            let flags: Vec<&str> = flags.names().collect();
            out.push_str(&format!(
                "| `{name}` | {arity} | {} | {} | {runs_on} | {summary} |\n",
                c.group,
                flags.join(", ")
            ));
        };
        let upper = c.name.to_ascii_uppercase();
        row(upper.clone(), c.arity, c.flags, c.summary);
        for s in c.subcommands {
            let name = format!("{upper} {}", s.name.to_ascii_uppercase());
            row(name, s.arity, s.flags, s.summary);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for c in COMMANDS {
            assert!(names.insert(c.name), "duplicate command {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.arity != 0, "{} has arity 0", c.name);
            assert!(!c.summary.is_empty(), "{} lacks a summary", c.name);
        }
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nosuchcommand").is_none());
    }

    #[test]
    fn arity_errors_name_the_subcommand() {
        let config = lookup(b"config").unwrap();
        let args: Vec<Bytes> = vec!["CONFIG".into(), "GET".into()];
        assert_eq!(
            check_arity(config, &args).unwrap_err().to_string(),
            "ERR wrong number of arguments for 'config|get' command"
        );
        let args: Vec<Bytes> = vec!["config".into(), "frob".into()];
        assert_eq!(
            check_arity(config, &args).unwrap_err().to_string(),
            "ERR unknown subcommand 'frob'. Try CONFIG HELP."
        );
    }

    fn call(words: &str) -> Vec<Bytes> {
        words
            .split_whitespace()
            .map(|w| Bytes::from(w.to_string()))
            .collect()
    }

    #[test]
    fn key_positions_follow_the_spec() {
        let keys = |words: &str| {
            let args = call(words);
            lookup(&args[0]).unwrap().key_indexes(&args)
        };
        assert_eq!(keys("mset a 1 b 2"), [1, 3]);
        assert_eq!(keys("blmpop 0 2 a b left"), [3, 4]);
        assert_eq!(keys("bzmpop 1.5 1 z min count 2"), [3]);
        assert_eq!(keys("object encoding k"), [2]);
        assert!(keys("object help").is_empty());
        assert_eq!(keys("sort k get store by x store d limit 0 1"), [1, 7]);
        assert!(keys("spublish channel message").is_empty());
    }

    #[test]
    fn movablekeys_is_flagged_where_the_specs_move() {
        for c in COMMANDS {
            let legacy = keys::legacy_range(c.keys);
            let moves = c
                .keys
                .iter()
                .any(|k| !matches!(k, KeySpec::Range { .. } | KeySpec::Variable { .. }));
            // SORT_RO: Redis declares its BY/GET patterns as a key spec that finds no key.
            let expected = moves || c.name == "sort_ro";
            assert_eq!(c.flags.contains(Flags::MOVABLEKEYS), expected, "{}", c.name);
            if !moves && !c.keys.is_empty() {
                assert_ne!(
                    legacy,
                    (0, 0, 0),
                    "{} has keys COMMAND INFO cannot show",
                    c.name
                );
            }
        }
    }

    #[test]
    fn blocking_and_internal_properties_come_from_the_table() {
        let with = |flag: Flags| -> Vec<&str> {
            let mut names: Vec<&str> = COMMANDS
                .iter()
                .filter(|c| c.flags.contains(flag))
                .map(|c| c.name)
                .collect();
            names.sort_unstable();
            names
        };
        assert_eq!(
            with(Flags::BLOCKING),
            [
                "blmove",
                "blmpop",
                "blpop",
                "brpop",
                "brpoplpush",
                "bzmpop",
                "bzpopmax",
                "bzpopmin",
                "xread",
                "xreadgroup"
            ]
        );
        assert_eq!(
            with(Flags::NOW_IN_MULTI),
            ["discard", "exec", "multi", "quit", "reset", "watch"]
        );
        assert_eq!(
            with(Flags::REPLICATED),
            ["eval", "evalsha", "fcall", "function", "publish", "spublish", "xgroup"]
        );
        // Every blocking pop waits on the keys its entry flags `delete` (stream readers wait on
        // the streams they read).
        for c in COMMANDS
            .iter()
            .filter(|c| c.flags.contains(Flags::BLOCKING) && c.group != "stream")
        {
            let deletes = |k: &KeySpec| match k {
                KeySpec::Range { flags, .. } | KeySpec::Counted { flags, .. } => {
                    flags.contains(KeyFlags::DELETE)
                }
                _ => false,
            };
            assert!(c.keys.iter().any(deletes), "{}", c.name);
        }
    }

    #[test]
    fn node_local_commands_are_the_ones_without_data() {
        for c in COMMANDS {
            if !matches!(c.handler, Handler::Storage(_)) || c.is_write() {
                continue;
            }
            let args = if c.name == "object" {
                call("object encoding k")
            } else if c.name == "xinfo" {
                call("xinfo stream k")
            } else {
                vec![Bytes::from_static(c.name.as_bytes())]
            };
            let by_group = matches!(c.group, "server" | "connection") && c.name != "dbsize";
            assert_eq!(c.describes_node(&args), by_group, "{}", c.name);
        }
    }
}
