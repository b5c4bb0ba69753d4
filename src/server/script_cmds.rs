//! SCRIPT, and FUNCTION STATS and KILL: managed on the network runtime. SCRIPT KILL must be answered while
//! a script keeps the storage runtime busy, and LOAD, EXISTS and FLUSH need no data, so none of
//! them waits for a storage job. LOAD compiles the body in a scratch interpreter to report
//! syntax errors as Redis does; the storage side compiles it again on first use.

use bytes::Bytes;

use super::connection::Connection;
use crate::cmd::server::help_lines;
use crate::cmd::{is_opt, CommandSpec};
use crate::error::ReplyError;
use crate::resp::Frame;
use crate::script;

const HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

impl Connection {
    /// In cluster mode EVALSHA (and EVALSHA_RO) travel as EVAL with the script's body: SCRIPT
    /// LOAD caches a script on one node only, as in Redis, and the nodes that apply the call
    /// may not have it. NOSCRIPT is answered here, before anything is proposed.
    pub(super) fn script_by_body(
        &self,
        spec: &'static CommandSpec,
        mut args: Vec<Bytes>,
    ) -> Result<(&'static CommandSpec, Vec<Bytes>), ReplyError> {
        let by_body = match spec.name {
            "evalsha" => "eval",
            "evalsha_ro" => "eval_ro",
            _ => return Ok((spec, args)),
        };
        if self.state.cluster.get().is_none() {
            return Ok((spec, args));
        }
        let body =
            self.state.scripts.body(&args[1]).ok_or_else(|| {
                ReplyError::custom("NOSCRIPT No matching script. Please use EVAL.")
            })?;
        let spec = crate::cmd::lookup(by_body.as_bytes())
            .ok_or_else(|| ReplyError::custom("ERR EVAL is missing from the command table"))?;
        args[0] = Bytes::from_static(by_body.as_bytes());
        args[1] = body;
        Ok((spec, args))
    }

    /// SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP (the arity was checked against the table).
    pub(super) fn script_command(&mut self, args: &[Bytes]) -> Result<Frame, ReplyError> {
        let scripts = &self.state.scripts;
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        match sub.as_str() {
            "load" => {
                let body = &args[2];
                let shebang = script::parse_shebang(body)
                    .map_err(|e| ReplyError::custom(format!("ERR {e}")))?;
                script::check_syntax(&body[shebang.len..]).map_err(ReplyError::custom)?;
                let sha = script::sha1_hex(body);
                scripts.remember(&sha, body);
                Ok(Frame::Bulk(Bytes::from(sha)))
            }
            "exists" => Ok(Frame::Array(
                args[2..]
                    .iter()
                    .map(|sha| Frame::Integer(i64::from(scripts.exists(sha))))
                    .collect(),
            )),
            "flush" => {
                if args.len() > 3 || !crate::cmd::flush_mode_ok(args.get(2)) {
                    return Err(ReplyError::custom(
                        "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
                    ));
                }
                scripts.flush();
                Ok(Frame::ok())
            }
            "kill" => scripts.kill(true).map(|()| Frame::ok()),
            _ => Ok(help_lines(HELP)),
        }
    }

    /// FUNCTION STATS and KILL (the other subcommands run on storage, `cmd/functions.rs`).
    pub(super) fn function_command(&mut self, args: &[Bytes]) -> Result<Frame, ReplyError> {
        let scripts = &self.state.scripts;
        if is_opt(&args[1], "kill") {
            return scripts.kill(false).map(|()| Frame::ok());
        }
        let text = |s: &str| Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()));
        let running = match scripts.running_script() {
            None => Frame::Null,
            Some(script) => Frame::Map(vec![
                (text("name"), text(&script.name)),
                (
                    text("command"),
                    Frame::Array(script.command.into_iter().map(Frame::Bulk).collect()),
                ),
                (
                    text("duration_ms"),
                    Frame::Integer(script.duration_ms as i64),
                ),
            ]),
        };
        let (libraries, functions) = scripts.function_counts();
        let lua = Frame::Map(vec![
            (text("libraries_count"), Frame::Integer(libraries as i64)),
            (text("functions_count"), Frame::Integer(functions as i64)),
        ]);
        Ok(Frame::Map(vec![
            (text("running_script"), running),
            (text("engines"), Frame::Map(vec![(text("LUA"), lua)])),
        ]))
    }
}
