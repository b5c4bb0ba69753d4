//! The command table and the execution context of storage-side commands.
//!
//! One [`CommandSpec`] per command is the single source of truth for its name, arity, flags, key
//! positions and handler. The network runtime uses it to validate a request before anything
//! crosses to storage; `COMMAND` replies from it; `docs/commands.md` is generated from it.
//! Each family's handlers live in their own file.

pub mod bitmap;
pub mod blocking;
pub mod collection;
pub mod geo;
pub mod hash;
pub mod hyperloglog;
pub mod keyspace;
pub mod latency;
pub mod list;
pub mod server;
pub mod set;
pub mod slowlog;
pub mod sort;
pub mod stats;
pub mod strings;
mod table;
pub mod zset;

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;

use crate::error::{CmdResult, ReplyError};
use crate::resp::Protocol;
use crate::state::ServerState;
use crate::storage::Storage;

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

/// A subcommand of a container command (CONFIG GET, CLIENT LIST, ...).
pub struct SubSpec {
    pub name: &'static str,
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub summary: &'static str,
}

/// One command's metadata and handler.
pub struct CommandSpec {
    /// Lowercase name.
    pub name: &'static str,
    /// Redis arity: exact argument count including the name, or `-N` for "at least N".
    pub arity: i32,
    /// Redis command flags (`write`, `readonly`, `fast`, `admin`, ...).
    pub flags: &'static [&'static str],
    /// Legacy key specification: first key index, last (-1 = last argument), step.
    pub keys: (i32, i32, i32),
    /// Redis documentation group (`string`, `generic`, `hyperloglog`, `connection`, `server`).
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub subcommands: &'static [SubSpec],
    pub handler: Handler,
}

impl CommandSpec {
    /// True for commands that modify data (refused while the storage breaker is open).
    pub fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// Whether this call runs a command or subcommand flagged `fast`; the latency monitor files
    /// its time under `fast-command` or `command` accordingly, as Redis does.
    pub fn is_fast(&self, args: &[Bytes]) -> bool {
        let flags = args
            .get(1)
            .and_then(|name| self.subcommands.iter().find(|s| is_opt(name, s.name)))
            .map_or(self.flags, |sub| sub.flags);
        flags.contains(&"fast")
    }

    /// ACL categories derived from group and flags, as COMMAND INFO reports them.
    pub fn categories(&self) -> Vec<String> {
        let mut cats = Vec::new();
        if self.flags.contains(&"write") {
            cats.push("@write".to_string());
        }
        if self.flags.contains(&"readonly") {
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
            other if self.flags.contains(&"admin") => {
                cats.push(format!("@{other}"));
                cats.push("@admin".into());
            }
            other => cats.push(format!("@{other}")),
        }
        cats.push(
            if self.flags.contains(&"fast") {
                "@fast"
            } else {
                "@slow"
            }
            .to_string(),
        );
        cats
    }

    /// Indexes of the key arguments in `args` (COMMAND GETKEYS, and routing later on).
    pub fn key_indexes(&self, args: &[Bytes]) -> Vec<usize> {
        if let Some(keys) = self.movable_key_indexes(args) {
            return keys;
        }
        let (first, last, step) = self.keys;
        if first <= 0 {
            return Vec::new();
        }
        let last = if last < 0 {
            args.len() as i32 + last
        } else {
            last
        };
        let mut out = Vec::new();
        let mut i = first;
        while i <= last && (i as usize) < args.len() {
            out.push(i as usize);
            i += step.max(1);
        }
        out
    }

    /// Key positions of the commands whose keys follow a `numkeys` argument or an option
    /// (`movablekeys` in Redis), which the fixed first/last/step triple cannot describe, and of
    /// the shard pub/sub commands, whose key positions hold no keys. A malformed call has no keys.
    fn movable_key_indexes(&self, args: &[Bytes]) -> Option<Vec<usize>> {
        let counted = |numkeys_at: usize, before: &[usize]| -> Vec<usize> {
            let first = numkeys_at + 1;
            let count = args
                .get(numkeys_at)
                .and_then(|a| arg_i64(a).ok())
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0 && first + n <= args.len());
            match count {
                Some(n) => before.iter().copied().chain(first..first + n).collect(),
                None => Vec::new(),
            }
        };
        Some(match self.name {
            "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
                counted(1, &[])
            }
            "zunionstore" | "zinterstore" | "zdiffstore" => counted(2, &[1]),
            // Shard channels sit in key positions (cluster routing) but are flagged `not_key`,
            // so COMMAND GETKEYS finds none.
            "ssubscribe" | "sunsubscribe" | "spublish" => Vec::new(),
            "sort" | "georadius" | "georadiusbymember" => {
                let stores = (2..args.len()).filter(|&at| {
                    is_opt(&args[at - 1], "store") || is_opt(&args[at - 1], "storedist")
                });
                std::iter::once(1).chain(stores).collect()
            }
            _ => return None,
        })
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

fn arity_ok(arity: i32, argc: usize) -> bool {
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
    /// The client's selected (logical) database.
    pub db: usize,
    pub proto: Protocol,
}

impl Ctx<'_> {
    /// The storage engine.
    pub fn store(&self) -> &Storage {
        &self.state.storage
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
        let mut row = |name: String, arity: i32, flags: &[&str], summary: &str| {
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

    #[test]
    fn key_positions_follow_the_spec() {
        let mset = lookup(b"mset").unwrap();
        let args: Vec<Bytes> = ["mset", "a", "1", "b", "2"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        assert_eq!(mset.key_indexes(&args), vec![1, 3]);
    }
}
