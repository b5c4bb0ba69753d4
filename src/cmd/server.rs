//! Server commands that run on the storage side: INFO, CONFIG, COMMAND, TIME, LASTSAVE (SLOWLOG
//! and LATENCY have their own modules).

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{is_opt, lookup, CommandSpec, Ctx, COMMANDS};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::state::pubsub::Kind;
use crate::state::ServerState;
use crate::util::now_ms;

/// The Redis version Kiwi reports to clients that feature-detect by version.
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";

/// Sections in the order INFO prints them, and whether a bare `INFO` includes them
/// (`commandstats` only with `INFO all`, `INFO everything` or by name, as in Redis).
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("commandstats", false),
    ("errorstats", true),
    ("keyspace", true),
    ("cluster", true),
    ("raft", true),
    ("runtime", true),
];

pub fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let wanted: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let all = wanted.iter().any(|w| w == "all" || w == "everything");
    let default = wanted.is_empty() || wanted.iter().any(|w| w == "default");
    let mut out = String::new();
    for (section, in_default) in SECTIONS {
        if all || (default && *in_default) || wanted.iter().any(|w| w == section) {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            render_section(ctx.state, section, &mut out)?;
        }
    }
    Ok(Frame::Verbatim(Bytes::from(out)))
}

fn human(bytes: u64) -> String {
    let units = ["B", "K", "M", "G", "T"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.2}{}", units[unit])
    }
}

fn render_section(state: &ServerState, section: &str, out: &mut String) -> CmdResult<()> {
    let config = state.config().clone();
    let stats = &state.stats;
    let storage = &state.storage;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let mut w = |line: String| {
        out.push_str(&line);
        out.push_str("\r\n");
    };
    match section {
        "server" => {
            w("# Server".into());
            w(format!("redis_version:{REDIS_COMPAT_VERSION}"));
            w(format!("kiwi_version:{}", env!("CARGO_PKG_VERSION")));
            w("redis_mode:standalone".into());
            w(format!(
                "os:{} {}",
                std::env::consts::OS,
                std::env::consts::ARCH
            ));
            w(format!("arch_bits:{}", usize::BITS));
            w(format!("process_id:{}", std::process::id()));
            w(format!("run_id:{}", state.run_id));
            w(format!("tcp_port:{}", state.port));
            w(format!("uptime_in_seconds:{}", state.uptime_secs()));
            w(format!("uptime_in_days:{}", state.uptime_secs() / 86400));
            w(format!("hz:{}", config.hz));
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            w(format!("executable:{exe}"));
            let file = config
                .source
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            w(format!("config_file:{file}"));
        }
        "clients" => {
            w("# Clients".into());
            w(format!("connected_clients:{}", state.clients.count()));
            w(format!("maxclients:{}", config.maxclients));
            w(format!("blocked_clients:{}", state.clients.blocked_count()));
        }
        "memory" => {
            let rss = crate::sys::rss_bytes().unwrap_or(0);
            w("# Memory".into());
            w(format!("used_memory:{rss}"));
            w(format!("used_memory_human:{}", human(rss)));
            w(format!("used_memory_rss:{rss}"));
            w(format!("used_memory_rss_human:{}", human(rss)));
            // Rust's system allocator: glibc's malloc on Linux.
            w("mem_allocator:libc".into());
            let scripts = &state.scripts;
            let (vm, bodies) = (scripts.vm_memory() as u64, scripts.bodies_memory() as u64);
            w(format!("used_memory_lua:{vm}"));
            w(format!("used_memory_vm_eval:{vm}"));
            w(format!("used_memory_lua_human:{}", human(vm)));
            w(format!("used_memory_scripts_eval:{bodies}"));
            w(format!("number_of_cached_scripts:{}", scripts.count()));
            w(format!("used_memory_vm_total:{vm}"));
            w(format!("used_memory_vm_total_human:{}", human(vm)));
            w(format!("used_memory_scripts:{bodies}"));
            w(format!("used_memory_scripts_human:{}", human(bodies)));
            w(format!("maxmemory:{}", config.maxmemory.0));
            w(format!("maxmemory_human:{}", human(config.maxmemory.0)));
            w(format!("maxmemory_policy:{}", config.maxmemory_policy));
            w(format!("kiwi_memory_budget:{}", config.memory.0));
            w(format!(
                "rocksdb_block_cache_usage:{}",
                storage.cache_usage()
            ));
            w(format!(
                "rocksdb_memtable_usage:{}",
                storage.memtable_usage()
            ));
        }
        "persistence" => {
            w("# Persistence".into());
            w("loading:0".into());
            w("aof_enabled:1".into());
            w(format!("appendfsync:{}", config.appendfsync));
            w(format!(
                "last_save_time:{}",
                state.last_save.load(Ordering::Relaxed)
            ));
            w(format!("rocksdb_sequence:{}", storage.sequence()));
            w(format!(
                "rocksdb_sst_bytes:{}",
                storage.property_sum("rocksdb.total-sst-files-size")
            ));
            w(format!(
                "rocksdb_pending_compaction_bytes:{}",
                storage.property_sum("rocksdb.estimate-pending-compaction-bytes")
            ));
            w(format!(
                "rocksdb_running_compactions:{}",
                storage.property_sum("rocksdb.num-running-compactions")
            ));
            w(format!(
                "rocksdb_write_stopped:{}",
                storage.property_sum("rocksdb.is-write-stopped")
            ));
        }
        "stats" => {
            w("# Stats".into());
            w(format!(
                "total_connections_received:{}",
                load(&stats.connections_received)
            ));
            w(format!(
                "total_commands_processed:{}",
                load(&stats.commands_processed)
            ));
            w(format!(
                "instantaneous_ops_per_sec:{}",
                load(&stats.ops_per_sec)
            ));
            w(format!(
                "total_net_input_bytes:{}",
                load(&stats.net_input_bytes)
            ));
            w(format!(
                "total_net_output_bytes:{}",
                load(&stats.net_output_bytes)
            ));
            w(format!(
                "rejected_connections:{}",
                load(&stats.rejected_connections)
            ));
            w(format!(
                "expired_keys:{}",
                storage.expired_keys.load(Ordering::Relaxed)
            ));
            w(format!("keyspace_hits:{}", load(&stats.keyspace_hits)));
            w(format!("keyspace_misses:{}", load(&stats.keyspace_misses)));
            let pubsub = &state.pubsub;
            w(format!("pubsub_channels:{}", pubsub.count(Kind::Channel)));
            w(format!("pubsub_patterns:{}", pubsub.count(Kind::Pattern)));
            w(format!(
                "pubsubshard_channels:{}",
                pubsub.count(Kind::Shard)
            ));
            w(format!(
                "migrate_cached_sockets:{}",
                state.migrate_sockets.count()
            ));
            w(format!(
                "total_error_replies:{}",
                load(&stats.error_replies)
            ));
        }
        "replication" => {
            w("# Replication".into());
            w("role:master".into());
            w("connected_slaves:0".into());
            // Kiwi replicates through Raft, not Redis's stream: its offset is how far this
            // node has applied the log (always 0 on a single node), its id the run id.
            let applied = state
                .cluster
                .get()
                .and_then(|node| node.status().applied)
                .unwrap_or(0);
            w("master_failover_state:no-failover".into());
            w(format!("master_replid:{}", state.run_id));
            w(format!("master_repl_offset:{applied}"));
            w("second_repl_offset:-1".into());
            w("repl_backlog_active:0".into());
        }
        "cpu" => {
            w("# CPU".into());
            if let Some((user, system)) = crate::sys::cpu_seconds() {
                w(format!("used_cpu_sys:{system:.6}"));
                w(format!("used_cpu_user:{user:.6}"));
            }
        }
        "commandstats" => {
            w("# Commandstats".into());
            for line in super::stats::render() {
                w(line);
            }
        }
        "errorstats" => {
            w("# Errorstats".into());
            for (code, count) in stats.errors_by_code.lock().iter() {
                w(format!("errorstat_{code}:count={count}"));
            }
        }
        "keyspace" => {
            w("# Keyspace".into());
            let now = now_ms();
            for db in 0..storage.databases() {
                let keys = storage.key_count(db, now)?;
                if keys > 0 {
                    w(format!("db{db}:keys={keys}"));
                }
            }
        }
        "cluster" => {
            w("# Cluster".into());
            let enabled = u8::from(state.cluster.get().is_some());
            w(format!("cluster_enabled:{enabled}"));
        }
        "raft" => {
            w("# Raft".into());
            match state.cluster.get() {
                Some(node) => node.info_lines().into_iter().for_each(&mut w),
                None => w("raft_enabled:0".into()),
            }
        }
        "runtime" => {
            let (net, st) = (&stats.network, &stats.storage);
            let u = |c: &std::sync::atomic::AtomicUsize| c.load(Ordering::Relaxed);
            w("# Runtime".into());
            w(format!("network_threads:{}", config.network_thread_count()));
            w(format!("network_connections:{}", state.clients.count()));
            w(format!("network_pipelines_in_flight:{}", u(&net.in_flight)));
            w(format!(
                "network_commands_completed:{}",
                load(&net.completed)
            ));
            w(format!("network_errors:{}", load(&net.errors)));
            w(format!("storage_threads:{}", config.storage_thread_count()));
            w(format!("storage_queue_depth:{}", u(&st.queued)));
            w(format!(
                "storage_queue_capacity:{}",
                config.storage_queue_depth
            ));
            w(format!("storage_busy_workers:{}", u(&st.in_flight)));
            w(format!(
                "storage_commands_completed:{}",
                load(&st.completed)
            ));
            w(format!("storage_errors:{}", load(&st.errors)));
            w(format!("storage_queue_full_events:{}", load(&st.saturated)));
            let breaker = storage.breaker();
            w(format!(
                "storage_breaker:{}",
                if breaker.is_open() { "open" } else { "closed" }
            ));
            w(format!("storage_breaker_trips:{}", breaker.trips()));
            w(format!("storage_breaker_reason:{}", breaker.reason()));
        }
        _ => {}
    }
    Ok(())
}

pub fn config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is_opt(sub, "get") {
        return Ok(config_get(ctx.state, &args[2..]));
    }
    if is_opt(sub, "set") {
        return config_set(ctx.state, &args[2..]);
    }
    if is_opt(sub, "resetstat") {
        ctx.state.stats.reset();
        super::stats::reset();
        return Ok(Frame::ok());
    }
    if is_opt(sub, "rewrite") {
        return config_rewrite(ctx.state);
    }
    Ok(help_lines(&[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Print this help.",
    ]))
}

/// A HELP reply: one status line per text line, as Redis sends it.
pub(crate) fn help_lines(lines: &[&'static str]) -> Frame {
    Frame::Array(
        lines
            .iter()
            .map(|l| Frame::Simple(Bytes::from_static(l.as_bytes())))
            .collect(),
    )
}

/// CONFIG GET: an exact name answers under the name as given (any case, an alias too, hidden
/// parameters included); a glob pattern matches names and aliases. Each name once.
fn config_get(state: &ServerState, patterns: &[Bytes]) -> Frame {
    let config = state.config();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for pattern in patterns {
        let is_glob = pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
        let text = String::from_utf8_lossy(pattern).into_owned();
        if !is_glob {
            if let Some(spec) = crate::config::find_option(&text) {
                if seen.insert(text.to_ascii_lowercase()) {
                    pairs.push((text, spec.get(&config)));
                }
            }
            continue;
        }
        for (name, value) in config.matching(&[pattern]) {
            if seen.insert(name.to_string()) {
                pairs.push((name.to_string(), value));
            }
        }
    }
    Frame::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Frame::text(k), Frame::text(v)))
            .collect(),
    )
}

/// CONFIG SET of one or more pairs, all or nothing, with Redis's checks and errors.
fn config_set(state: &ServerState, args: &[Bytes]) -> CmdResult {
    // The arity check (at least one pair) is the table's; an odd count after it is Redis's
    // syntax error.
    if args.len() % 2 != 0 {
        return Err(ReplyError::Syntax);
    }
    let changes: Vec<(String, String)> = args
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).into_owned(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    state
        .update_config(&changes)
        .map_err(ReplyError::ConfigSet)?;
    Ok(Frame::ok())
}

fn config_rewrite(state: &ServerState) -> CmdResult {
    let config = state.config().clone();
    let Some(path) = config.source.clone() else {
        return Err(ReplyError::custom(
            "ERR The server is running without a config file",
        ));
    };
    let result = (|| -> std::io::Result<()> {
        let original = std::fs::read_to_string(&path).unwrap_or_default();
        let tmp = path.with_extension("conf.rewrite-tmp");
        std::fs::write(&tmp, config.rewritten(&original))?;
        std::fs::rename(&tmp, &path)
    })();
    match result {
        Ok(()) => Ok(Frame::ok()),
        Err(e) => Err(ReplyError::custom(format!(
            "ERR Rewriting config file: {e}"
        ))),
    }
}

fn status_set(items: impl IntoIterator<Item = String>) -> Frame {
    Frame::Set(
        items
            .into_iter()
            .map(|s| Frame::Simple(Bytes::from(s)))
            .collect(),
    )
}

/// A set of status strings, as Redis sends flag lists.
fn names_set<'a>(names: impl Iterator<Item = &'a str>) -> Frame {
    status_set(names.map(str::to_string))
}

fn command_info(spec: &CommandSpec) -> Frame {
    let (first, last, step) = spec.legacy_keys();
    let subcommands = spec
        .subcommands
        .iter()
        .map(|sub| {
            let (first, last, step) = super::keys::legacy_range(sub.keys);
            Frame::Array(vec![
                Frame::text(format!("{}|{}", spec.name, sub.name)),
                Frame::Integer(sub.arity as i64),
                names_set(sub.flags.names()),
                Frame::Integer(first as i64),
                Frame::Integer(last as i64),
                Frame::Integer(step as i64),
                status_set(spec.categories()),
                Frame::Array(vec![]),
                Frame::Array(vec![]),
                Frame::Array(vec![]),
            ])
        })
        .collect();
    Frame::Array(vec![
        Frame::text(spec.name),
        Frame::Integer(spec.arity as i64),
        names_set(spec.flags.names()),
        Frame::Integer(first as i64),
        Frame::Integer(last as i64),
        Frame::Integer(step as i64),
        status_set(spec.categories()),
        Frame::Array(vec![]),
        Frame::Array(vec![]),
        Frame::Array(subcommands),
    ])
}

fn command_docs(spec: &CommandSpec) -> Frame {
    Frame::Map(vec![
        (Frame::text("summary"), Frame::text(spec.summary)),
        (Frame::text("since"), Frame::text(spec.since)),
        (Frame::text("group"), Frame::text(spec.group)),
    ])
}

/// COMMAND GETKEYS and GETKEYSANDFLAGS of `call`, with Redis's checks in Redis's order: the
/// command (and subcommand) must exist, have keys at all, have a valid arity, and the call must
/// name its keys.
fn command_getkeys(call: &[Bytes], with_flags: bool) -> CmdResult {
    let invalid_command = || ReplyError::custom("ERR Invalid command specified");
    let spec = lookup(&call[0]).ok_or_else(invalid_command)?;
    let sub = match spec.subcommands.is_empty() || call.len() < 2 {
        true => None,
        false => Some(spec.subcommand(call).ok_or_else(invalid_command)?),
    };
    if !spec.has_keys(call) {
        return Err(ReplyError::custom("ERR The command has no key arguments"));
    }
    if !super::arity_ok(sub.map_or(spec.arity, |s| s.arity), call.len()) {
        return Err(ReplyError::custom(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = spec.key_refs(call);
    if keys.is_empty() && !spec.flags.contains(super::Flags::NO_MANDATORY_KEYS) {
        return Err(ReplyError::custom(
            "ERR Invalid arguments specified for command",
        ));
    }
    let key = |k: &super::KeyRef| Frame::Bulk(call[k.index].clone());
    Ok(Frame::Array(
        keys.iter()
            .map(|k| match with_flags {
                false => key(k),
                true => Frame::Array(vec![key(k), names_set(k.flags.names())]),
            })
            .collect(),
    ))
}

pub fn command(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() == 1 {
        return Ok(Frame::Array(COMMANDS.iter().map(command_info).collect()));
    }
    let sub = &args[1];
    if is_opt(sub, "count") {
        Ok(Frame::Integer(COMMANDS.len() as i64))
    } else if is_opt(sub, "info") {
        if args.len() == 2 {
            return Ok(Frame::Array(COMMANDS.iter().map(command_info).collect()));
        }
        Ok(Frame::Array(
            args[2..]
                .iter()
                .map(|n| lookup(n).map_or(Frame::Null, command_info))
                .collect(),
        ))
    } else if is_opt(sub, "docs") {
        let specs: Vec<&CommandSpec> = if args.len() == 2 {
            COMMANDS.iter().collect()
        } else {
            args[2..].iter().filter_map(|n| lookup(n)).collect()
        };
        Ok(Frame::Map(
            specs
                .into_iter()
                .map(|s| (Frame::text(s.name), command_docs(s)))
                .collect(),
        ))
    } else if is_opt(sub, "getkeys") {
        command_getkeys(&args[2..], false)
    } else if is_opt(sub, "getkeysandflags") {
        command_getkeys(&args[2..], true)
    } else if is_opt(sub, "list") {
        command_list(&args[2..])
    } else {
        Ok(help_lines(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full command.",
            "HELP",
            "    Print this help.",
        ]))
    }
}

/// COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p]: every command and, as
/// `container|sub`, every subcommand, as Redis 7.0 lists them. A subcommand is in the ACL
/// categories of its command.
fn command_list(options: &[Bytes]) -> CmdResult {
    enum Filter<'a> {
        All,
        Module,
        Category(String),
        Pattern(&'a [u8]),
    }
    let filter = match options {
        [] => Filter::All,
        [by, kind, value] if is_opt(by, "filterby") => {
            if is_opt(kind, "module") {
                Filter::Module
            } else if is_opt(kind, "aclcat") {
                Filter::Category(format!(
                    "@{}",
                    String::from_utf8_lossy(value).to_ascii_lowercase()
                ))
            } else if is_opt(kind, "pattern") {
                Filter::Pattern(value)
            } else {
                return Err(ReplyError::Syntax);
            }
        }
        _ => return Err(ReplyError::Syntax),
    };
    let mut names = Vec::new();
    for command in COMMANDS {
        let full_names = std::iter::once(command.name.to_string()).chain(
            command
                .subcommands
                .iter()
                .map(|sub| format!("{}|{}", command.name, sub.name)),
        );
        for name in full_names {
            let listed = match &filter {
                Filter::All => true,
                Filter::Module => false,
                Filter::Category(wanted) => command.categories().contains(wanted),
                Filter::Pattern(pattern) => {
                    crate::util::glob::glob_match(pattern, name.as_bytes(), true)
                }
            };
            if listed {
                names.push(Frame::text(name));
            }
        }
    }
    Ok(Frame::Array(names))
}

pub fn time(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let us = crate::util::now_us();
    Ok(Frame::Array(vec![
        Frame::text((us / 1_000_000).to_string()),
        Frame::text((us % 1_000_000).to_string()),
    ]))
}

/// SAVE: Kiwi's data is always on disk; what a save adds is making every write so far durable
/// whatever `appendfsync` says, and its table files complete.
pub fn save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    flush_to_disk(ctx, true)?;
    Ok(Frame::ok())
}

/// BGSAVE [SCHEDULE]: the same, the table files written in the background.
pub fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match args {
        [_] => {}
        [_, option] if is_opt(option, "schedule") => {}
        _ => return Err(ReplyError::Syntax),
    }
    flush_to_disk(ctx, false)?;
    Ok(Frame::Simple(Bytes::from_static(
        b"Background saving started",
    )))
}

/// Flushes to disk and records the time for LASTSAVE.
fn flush_to_disk(ctx: &Ctx<'_>, wait: bool) -> CmdResult<()> {
    ctx.store()
        .flush_to_disk(wait)
        .map_err(|err| ReplyError::custom(format!("ERR {err}")))?;
    ctx.state
        .last_save
        .store(now_ms() / 1000, Ordering::Relaxed);
    Ok(())
}

pub fn lastsave(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(
        ctx.state.last_save.load(Ordering::Relaxed) as i64
    ))
}
