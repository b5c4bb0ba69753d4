//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL and FCALL_RO: Lua scripts and functions run on
//! the storage runtime, inside the job that carries them, with the job's context.
//!
//! The job holds the script gate exclusively (`state/scripts.rs`), so no other command runs
//! while the script does; its `redis.call`s go through [`super::execute`] like any storage
//! command — their writes join the job's batch, their reads see the job's pending writes, and
//! they are counted in INFO commandstats. Redis's checks come first: shebang flags, `*_RO`, OOM,
//! then per call arity, `noscript`, ACL, and writes from read-only scripts. The clock is frozen
//! for the script's duration, as Redis does, so a key cannot expire halfway through it.

use bytes::Bytes;

use super::{execute, lookup, Ctx, Flags, Handler};
use crate::error::{CmdResult, ReplyError};
use crate::resp::{Frame, Protocol};
use crate::script::{self, Host, RunOptions, ScriptFlags};
use crate::state::acllog::LogEntry;

/// EVAL script numkeys key... arg...
pub fn eval(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run(ctx, args, Source::Body, false)
}

/// EVALSHA sha1 numkeys key... arg...
pub fn evalsha(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run(ctx, args, Source::Sha, false)
}

/// EVAL_RO: EVAL that refuses scripts which may write.
pub fn eval_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run(ctx, args, Source::Body, true)
}

/// EVALSHA_RO: EVALSHA that refuses scripts which may write.
pub fn evalsha_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run(ctx, args, Source::Sha, true)
}

/// Whether the script comes as its body or as the SHA1 of a cached one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Body,
    Sha,
}

fn run(ctx: &mut Ctx<'_>, args: &[Bytes], source: Source, ro_command: bool) -> CmdResult {
    let numkeys = numkeys(args, ReplyError::NotInteger)?;
    let scripts = &ctx.state.scripts;
    let (sha, body) = match source {
        Source::Body => (script::sha1_hex(&args[1]), args[1].clone()),
        Source::Sha => {
            let body = scripts.body(&args[1]).ok_or_else(|| {
                ReplyError::custom("NOSCRIPT No matching script. Please use EVAL.")
            })?;
            (String::from_utf8_lossy(&args[1]).to_ascii_lowercase(), body)
        }
    };
    let shebang =
        script::parse_shebang(&body).map_err(|e| ReplyError::custom(format!("ERR {e}")))?;
    check_flags(ctx, shebang.flags, ro_command)?;
    let limits = Limits::of(ctx);
    let mut vm = scripts.vm(limits.memory, super::server::REDIS_COMPAT_VERSION)?;
    vm.set_memory_limit(limits.memory);
    vm.compile(&sha, &body[shebang.len..])
        .map_err(ReplyError::custom)?;
    if source == Source::Body {
        scripts.remember(&sha, &body);
    }
    let (keys, argv) = args[3..].split_at(numkeys);
    if crate::util::is_replaying() {
        // Every node that applies the entry must draw the same numbers.
        vm.seed_random(rand::Rng::gen(&mut crate::util::rng()));
    }
    let script = Script {
        name: &sha,
        eval: true,
        flags: shebang.flags,
        read_only: ro_command || shebang.flags.no_writes,
    };
    Ok(script.run(ctx, args, limits, |host, options| {
        let reply = vm.run(host, &sha, keys, argv, options);
        (reply, vm.error_counted())
    }))
}

/// FCALL function numkeys key... arg...
pub fn fcall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run_function(ctx, args, false)
}

/// FCALL_RO: FCALL of a function flagged `no-writes`.
pub fn fcall_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run_function(ctx, args, true)
}

fn run_function(ctx: &mut Ctx<'_>, args: &[Bytes], ro_command: bool) -> CmdResult {
    let limits = Limits::of(ctx);
    let mut functions = super::functions::libraries(ctx, limits.memory)?;
    let name = String::from_utf8_lossy(&args[1]).into_owned();
    let flags = functions
        .function(&name)
        .ok_or_else(|| ReplyError::custom("ERR Function not found"))?
        .flags;
    let numkeys = numkeys(args, ReplyError::custom("ERR Bad number of keys provided"))?;
    check_flags(ctx, flags, ro_command)?;
    let vm = functions
        .vm(limits.memory, super::server::REDIS_COMPAT_VERSION)
        .map_err(ReplyError::custom)?;
    if crate::util::is_replaying() {
        vm.seed_random(rand::Rng::gen(&mut crate::util::rng()));
    }
    let (keys, argv) = args[3..].split_at(numkeys);
    let script = Script {
        name: &name,
        eval: false,
        flags,
        read_only: ro_command || flags.no_writes,
    };
    Ok(script.run(ctx, args, limits, |host, options| {
        let reply = vm.call_function(host, &name, keys, argv, options);
        (reply, vm.error_counted())
    }))
}

/// The `numkeys` argument of EVAL and FCALL, checked as Redis does (`not_integer` is the error
/// for a non-number, which differs between the two).
fn numkeys(args: &[Bytes], not_integer: ReplyError) -> Result<usize, ReplyError> {
    let numkeys = crate::util::number::parse_i64(&args[2]).ok_or(not_integer)?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(ReplyError::custom(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(ReplyError::custom("ERR Number of keys can't be negative"));
    }
    Ok(numkeys as usize)
}

/// The configuration a script runs under.
#[derive(Clone, Copy)]
struct Limits {
    memory: usize,
    busy_threshold_ms: u64,
}

impl Limits {
    fn of(ctx: &Ctx<'_>) -> Limits {
        let config = ctx.state.config();
        Limits {
            memory: config.lua_memory_limit.0 as usize,
            busy_threshold_ms: config.busy_reply_threshold.max(0) as u64,
        }
    }
}

/// A script or function about to run.
struct Script<'n> {
    /// Its SHA1 or function name (errors and FUNCTION STATS name it so).
    name: &'n str,
    eval: bool,
    flags: ScriptFlags,
    read_only: bool,
}

impl Script<'_> {
    /// Runs it alone (the job holds the gate), with the clock frozen as Redis freezes it, so
    /// that no key expires halfway through.
    fn run(
        self,
        ctx: &Ctx<'_>,
        command: &[Bytes],
        limits: Limits,
        body: impl FnOnce(&mut ScriptHost<'_, '_>, RunOptions) -> (Frame, bool),
    ) -> Frame {
        let scripts = &ctx.state.scripts;
        let mut host = ScriptHost {
            ctx,
            db: ctx.db,
            read_only: self.read_only,
            flags: self.flags,
            wrote: false,
            busy_threshold: limits.busy_threshold_ms,
        };
        scripts.begin_run(crate::util::is_replaying(), self.eval, self.name, command);
        let clock = crate::util::now_ms();
        let seed = rand::Rng::gen(&mut crate::util::rng());
        let options = RunOptions {
            watch: limits.busy_threshold_ms > 0,
        };
        let (reply, counted) = crate::util::replaying(clock, seed, || body(&mut host, options));
        scripts.end_run();
        if let (Frame::Error(text), true) = (&reply, counted) {
            // The client is about to be told this error, which was counted when the command
            // that raised it failed.
            ctx.state.stats.uncount_error(text);
        }
        reply
    }
}

/// The checks Redis makes on a script's declared flags before running it
/// (`scriptPrepareForRun`); a script without a shebang skips them.
fn check_flags(ctx: &Ctx<'_>, flags: ScriptFlags, ro_command: bool) -> Result<(), ReplyError> {
    if flags.compat {
        return Ok(());
    }
    if flags.no_cluster && ctx.state.cluster.get().is_some() {
        return Err(ReplyError::custom(
            "ERR Can not run script on cluster, 'no-cluster' flag is set.",
        ));
    }
    if !flags.no_writes {
        let breaker = ctx.store().breaker();
        if breaker.is_open() {
            return Err(ReplyError::custom(format!(
                "MISCONF Errors writing to disk: {}. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.",
                breaker.reason()
            )));
        }
        if ro_command {
            return Err(ReplyError::custom(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        if !flags.allow_oom && ctx.store().over_quota().is_some() {
            return Err(ReplyError::custom("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'"));
        }
    }
    Ok(())
}

/// The running script's view of the server: its own database (SELECT inside a script does not
/// change the caller's), its read-only state, and whether it wrote yet.
struct ScriptHost<'c, 'a> {
    ctx: &'c Ctx<'a>,
    db: usize,
    read_only: bool,
    flags: ScriptFlags,
    wrote: bool,
    busy_threshold: u64,
}

impl ScriptHost<'_, '_> {
    /// Redis's checks on one `redis.call`, in Redis's order (`scriptCall`).
    fn admit(&mut self, args: &[Bytes]) -> Result<&'static super::CommandSpec, String> {
        let spec = lookup(&args[0]).ok_or("Unknown Redis command called from script")?;
        if let Err(err) = super::check_arity(spec, args) {
            return Err(match err {
                ReplyError::WrongArity(_) => {
                    "Wrong number of args calling Redis command from script"
                }
                _ => "Unknown Redis command called from script",
            }
            .into());
        }
        let flags = spec.call_flags(args);
        if flags.contains(Flags::NOSCRIPT) {
            return Err("This Redis command is not allowed from script".into());
        }
        let state = self.ctx.state;
        let user = self.ctx.client.user.lock().clone();
        if let Err(denial) = state.acl.check(&user, spec, args) {
            self.log_denial(&denial, user);
            let why = match denial {
                crate::state::acl::Denial::Command(_) => "can't run this command or subcommand",
                crate::state::acl::Denial::Key(_) => {
                    "can't access at least one of the keys mentioned in the command arguments"
                }
                crate::state::acl::Denial::Channel(_) => {
                    "can't publish to the channel mentioned in the command"
                }
            };
            return Err(format!("The user executing the script {why}"));
        }
        let writes = flags.intersects(Flags::WRITE | Flags::MAY_REPLICATE | Flags::REPLICATED);
        if self.read_only && writes {
            return Err("Write commands are not allowed from read-only scripts.".into());
        }
        if flags.contains(Flags::WRITE) {
            let quota = self.ctx.store().over_quota();
            if let Some(quota) = quota
                .filter(|_| !self.wrote && !self.flags.allow_oom && flags.contains(Flags::DENYOOM))
            {
                // The refusal carries its own code (`-OOM ...`), as Redis's does.
                return Err(format!("-{}", ReplyError::from(quota)));
            }
            self.wrote = true;
            state.scripts.note_write();
        }
        Ok(spec)
    }

    fn log_denial(&self, denial: &crate::state::acl::Denial, username: String) {
        let now_ms = crate::util::now_ms();
        let entry = LogEntry {
            count: 1,
            reason: denial.reason(),
            context: "lua",
            object: denial.object(),
            username,
            updated_ms: now_ms,
            client_info: self.ctx.client.describe(now_ms),
        };
        let max_len = self.ctx.state.config().acllog_max_len;
        self.ctx
            .state
            .acl_log
            .record(entry, usize::try_from(max_len).unwrap_or(0));
    }

    /// The few connection commands a script may call, answered here.
    fn connection_command(&mut self, name: &str, args: &[Bytes]) -> Result<Frame, String> {
        Ok(match name {
            "ping" => match args.get(1) {
                Some(message) => Frame::Bulk(message.clone()),
                None => Frame::simple("PONG"),
            },
            "echo" => Frame::Bulk(args[1].clone()),
            "select" => {
                let databases = self.ctx.state.config().databases;
                match super::arg_db(&args[1], databases) {
                    Ok(db) => {
                        self.db = db;
                        Frame::ok()
                    }
                    Err(err) => err.into(),
                }
            }
            "publish" | "spublish" => {
                let limit = self.ctx.state.config().client_output_buffer_limit.pubsub;
                let shard = name == "spublish";
                let receivers = self
                    .ctx
                    .state
                    .pubsub
                    .publish(&args[1], &args[2], shard, &limit);
                Frame::Integer(receivers as i64)
            }
            _ => return Err("This Redis command is not allowed from script".into()),
        })
    }
}

impl Host for ScriptHost<'_, '_> {
    fn call(&mut self, args: Vec<Bytes>, resp3: bool) -> Result<Frame, String> {
        let stats = &self.ctx.state.stats;
        let spec = self.admit(&args).inspect_err(|refusal| {
            // Counted as Redis counts a refusal inside a script: an error reply of its own
            // code, and a rejected call of the command.
            match refusal.strip_prefix('-') {
                Some(coded) => stats.count_error(coded),
                None => stats.count_error(&format!("ERR {refusal}")),
            }
            if let Some(spec) = lookup(&args[0]) {
                super::stats::reject(spec);
            }
        })?;
        let proto = if resp3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        let monitors = &self.ctx.state.monitors;
        if monitors.active()
            && !spec
                .call_flags(&args)
                .intersects(Flags::ADMIN | Flags::SKIP_MONITOR)
        {
            let limit = self.ctx.state.config().client_output_buffer_limit.pubsub;
            monitors.feed_from("lua", self.db, &args, |i| spec.is_secret(&args, i), &limit);
        }
        let reply = match spec.handler {
            Handler::Storage(_) => {
                execute(self.ctx.state, self.ctx.client, spec, &args, self.db, proto)
            }
            Handler::Connection => {
                let started = std::time::Instant::now();
                let reply = self.connection_command(spec.name, &args)?;
                let (state, client) = (self.ctx.state, self.ctx.client);
                let elapsed = started.elapsed();
                super::stats::finished(state, client, spec, &args, elapsed, reply.is_error());
                reply
            }
        };
        if let Frame::Error(text) = &reply {
            stats.count_error(text);
        }
        Ok(reply)
    }

    fn acl_check(&mut self, args: &[Bytes]) -> Result<bool, String> {
        let spec = lookup(&args[0])
            .filter(|spec| super::check_arity(spec, args).is_ok())
            .ok_or("Invalid command passed to redis.acl_check_cmd()")?;
        let user = self.ctx.client.user.lock().clone();
        Ok(self.ctx.state.acl.check(&user, spec, args).is_ok())
    }

    fn tick(&mut self) -> Result<bool, String> {
        self.ctx.state.scripts.tick(self.busy_threshold)
    }

    fn log(&mut self, level: i32, message: &str) {
        match level {
            0 => tracing::debug!(target: "kiwi::script", "{message}"),
            1 | 2 => tracing::info!(target: "kiwi::script", "{message}"),
            _ => tracing::warn!(target: "kiwi::script", "{message}"),
        }
    }
}
