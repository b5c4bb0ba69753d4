//! The ACL command. It runs on the network runtime because WHOAMI reads the connection's user,
//! DELUSER and LOAD disconnect the removed users' connections and LOG describes the refused
//! client; the users themselves live in `state::acl`, the log in `state::acllog`.

use std::path::Path;

use bytes::Bytes;
use rand::RngCore as _;

use super::connection::Connection;
use crate::cmd::server::help_lines;
use crate::cmd::{is_opt, CommandSpec, COMMANDS};
use crate::error::ReplyError;
use crate::resp::Frame;
use crate::state::acl::{User, CATEGORIES, DEFAULT_USER};
use crate::state::acllog::LogEntry;

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

/// ACL LOG's entries shown without a count, as in Redis.
const LOG_DEFAULT_COUNT: usize = 10;

/// Redis's bounds for ACL GENPASS's bits.
const GENPASS_MAX_BITS: i64 = 4096;
const GENPASS_DEFAULT_BITS: i64 = 256;

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn text(s: impl Into<String>) -> Frame {
    Frame::Bulk(Bytes::from(s.into()))
}

/// ACL GETUSER's reply: a map (an array of pairs in RESP2) of the user's rules; the flags are
/// a set.
fn describe_user(user: &User) -> Frame {
    let flags = user.flags().into_iter().map(text).collect();
    let passwords = user
        .password_digests()
        .iter()
        .map(|p| text(p.clone()))
        .collect();
    Frame::Map(vec![
        (text("flags"), Frame::Set(flags)),
        (text("passwords"), Frame::Array(passwords)),
        (text("commands"), text(user.describe_commands())),
        (text("keys"), text(user.describe_keys())),
        (text("channels"), text(user.describe_channels())),
        (text("selectors"), Frame::Array(Vec::new())),
    ])
}

/// ACL CAT <category>: every command (and subcommand, as `cmd|sub`) in it.
fn category_commands(category: &[u8]) -> Result<Frame, ReplyError> {
    let wanted = String::from_utf8_lossy(category).to_ascii_lowercase();
    if !CATEGORIES.contains(&wanted.as_str()) {
        return Err(ReplyError::custom(format!(
            "ERR Unknown category '{}'",
            String::from_utf8_lossy(category)
        )));
    }
    let mut names = Vec::new();
    for spec in COMMANDS {
        if !spec.categories().iter().any(|c| c[1..] == wanted) {
            continue;
        }
        names.push(text(spec.name));
        for sub in spec.subcommands {
            names.push(text(format!("{}|{}", spec.name, sub.name)));
        }
    }
    Ok(Frame::Array(names))
}

/// ACL GENPASS: `bits` random bits (rounded up to whole hex digits) from the operating system's
/// secure generator, as lowercase hex.
fn generate_password(bits: Option<&Bytes>) -> Result<Frame, ReplyError> {
    let bits = match bits {
        Some(arg) => crate::util::number::parse_i64(arg).ok_or(ReplyError::NotInteger)?,
        None => GENPASS_DEFAULT_BITS,
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(ReplyError::custom("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"));
    }
    // Both bounded by the check above.
    let digits = (bits as usize).div_ceil(4);
    let mut bytes = vec![0u8; digits.div_ceil(2)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut hex = crate::util::hex(&bytes);
    hex.truncate(digits);
    Ok(text(hex))
}

/// One ACL LOG entry: a map (an array of pairs in RESP2) of Redis 7.0's seven fields.
fn describe_log_entry(entry: LogEntry, now_ms: u64) -> Frame {
    let age = now_ms.saturating_sub(entry.updated_ms) as f64 / 1000.0;
    Frame::Map(vec![
        (text("count"), Frame::Integer(entry.count as i64)),
        (text("reason"), text(entry.reason)),
        (text("context"), text(entry.context)),
        (text("object"), Frame::Bulk(entry.object)),
        (text("username"), text(entry.username)),
        (text("age-seconds"), Frame::Double(age)),
        (text("client-info"), text(entry.client_info)),
    ])
}

impl Connection {
    /// Why this connection's user may not run this call, if it may not; a refusal goes to ACL
    /// LOG. A refused EXEC discards the transaction and says so, as Redis does.
    pub(super) fn acl_refusal(&mut self, spec: &CommandSpec, args: &[Bytes]) -> Option<ReplyError> {
        let user = self.client.user.lock().clone();
        let denial = self.state.acl.check(&user, spec, args).err()?;
        self.log_refusal(denial.reason(), denial.object(), user, self.multi.is_some());
        let refusal = denial.error();
        if spec.name != "exec" {
            return Some(refusal);
        }
        self.abandon_multi();
        Some(ReplyError::custom(format!(
            "EXECABORT Transaction discarded because of: {refusal}"
        )))
    }

    /// A queued command's refusal at EXEC, when its user's rules changed since it was queued:
    /// logged in the `multi` context, answered in the command's slot, as Redis does.
    pub(super) fn exec_refusal(&self, spec: &CommandSpec, args: &[Bytes]) -> Option<Frame> {
        let user = self.client.user.lock().clone();
        let denial = self.state.acl.check(&user, spec, args).err()?;
        self.log_refusal(denial.reason(), denial.object(), user, true);
        Some(denial.exec_error().into())
    }

    /// Adds a refusal to ACL LOG (`reason` as Redis names it), with this client's CLIENT LIST
    /// line, in the `multi` context when `in_multi`.
    pub(super) fn log_refusal(
        &self,
        reason: &'static str,
        object: Bytes,
        username: String,
        in_multi: bool,
    ) {
        let now_ms = crate::util::now_ms();
        let max_len = self.state.config().acllog_max_len;
        let entry = LogEntry {
            count: 1,
            reason,
            context: if in_multi { "multi" } else { "toplevel" },
            object,
            username,
            updated_ms: now_ms,
            client_info: self.client.describe(now_ms),
        };
        // A negative limit cannot pass CONFIG SET's check; it would mean none.
        self.state
            .acl_log
            .record(entry, usize::try_from(max_len).unwrap_or(0));
    }

    /// The ACL subcommands (the subcommand and its arity were checked against the table before
    /// this runs).
    pub(super) fn acl_command(&mut self, args: &[Bytes]) -> Option<Frame> {
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        let acl = &self.state.acl;
        let reply = match sub.as_str() {
            "whoami" => Ok(text(self.client.user.lock().clone())),
            "users" => Ok(Frame::Array(acl.names().into_iter().map(text).collect())),
            "list" => Ok(Frame::Array(acl.list().into_iter().map(text).collect())),
            "genpass" if args.len() <= 3 => generate_password(args.get(2)),
            "dryrun" => self.dry_run(&args[2..]),
            "log" if args.len() <= 3 => self.acl_log(args.get(2)),
            "save" => self.save_acl_file(),
            "load" => self.load_acl_file(),
            "getuser" => Ok(acl
                .get(&String::from_utf8_lossy(&args[2]))
                .map_or(Frame::Null, |u| describe_user(&u))),
            "setuser" => acl
                .set_user(&String::from_utf8_lossy(&args[2]), &args[3..])
                .map(|()| Frame::ok()),
            "deluser" => Ok(self.delete_users(&args[2..])),
            "cat" => match args.get(2) {
                Some(category) => category_commands(category),
                None => Ok(Frame::Array(CATEGORIES.iter().map(|c| text(*c)).collect())),
            },
            "help" => Ok(help_lines(HELP)),
            "genpass" | "log" => Err(ReplyError::SubcommandSyntax {
                sub: String::from_utf8_lossy(&args[1]).into_owned(),
                cmd: "ACL".into(),
            }),
            _ => Err(ReplyError::unknown_subcommand(&args[1], "acl")),
        };
        Some(reply.unwrap_or_else(Frame::from))
    }

    /// ACL DRYRUN user command [arg ...]: the check a real call of the command passes, without
    /// running it. A denial is a bulk string naming what was refused, as in Redis.
    fn dry_run(&self, args: &[Bytes]) -> Result<Frame, ReplyError> {
        let user = String::from_utf8_lossy(&args[0]);
        if self.state.acl.get(&user).is_none() {
            return Err(ReplyError::custom(format!("ERR User '{user}' not found")));
        }
        let call = &args[1..];
        // Redis looks a subcommand up with its command: an unknown one is an unknown command.
        let spec = crate::cmd::lookup(&call[0])
            .filter(|spec| {
                spec.subcommands.is_empty()
                    || call
                        .get(1)
                        .is_none_or(|sub| spec.subcommands.iter().any(|s| is_opt(sub, s.name)))
            })
            .ok_or_else(|| {
                ReplyError::custom(format!(
                    "ERR Command '{}' not found",
                    String::from_utf8_lossy(&call[0])
                ))
            })?;
        if call.len() == 1 && !spec.subcommands.is_empty() {
            // The container alone: Redis checks it against the container's own arity.
            return Err(ReplyError::WrongArity(spec.name.to_string()));
        }
        crate::cmd::check_arity(spec, call)?;
        Ok(match self.state.acl.check(&user, spec, call) {
            Ok(()) => Frame::ok(),
            Err(denial) => text(denial.explain()),
        })
    }

    /// ACL LOG [count | RESET].
    fn acl_log(&self, arg: Option<&Bytes>) -> Result<Frame, ReplyError> {
        let count = match arg {
            Some(arg) if is_opt(arg, "reset") => {
                self.state.acl_log.reset();
                return Ok(Frame::ok());
            }
            // A negative count shows nothing, as in Redis.
            Some(arg) => crate::util::number::parse_i64(arg)
                .ok_or(ReplyError::NotInteger)?
                .max(0) as usize,
            None => LOG_DEFAULT_COUNT,
        };
        let now_ms = crate::util::now_ms();
        let entries = self.state.acl_log.newest(count);
        Ok(Frame::Array(
            entries
                .into_iter()
                .map(|e| describe_log_entry(e, now_ms))
                .collect(),
        ))
    }

    /// The `aclfile` option, or Redis's error when there is none.
    fn acl_file(&self) -> Result<String, ReplyError> {
        let file = self.state.config().aclfile.clone();
        if file.is_empty() {
            return Err(ReplyError::custom(NO_ACL_FILE));
        }
        Ok(file)
    }

    /// ACL SAVE. The reason of a failure goes to the server log; the client gets Redis's text.
    fn save_acl_file(&self) -> Result<Frame, ReplyError> {
        let file = self.acl_file()?;
        if let Err(e) = self.state.acl.save_file(Path::new(&file)) {
            tracing::warn!(file, error = %e, "ACL SAVE failed");
            return Err(ReplyError::custom("ERR There was an error trying to save the ACLs. Please check the server logs for more information"));
        }
        Ok(Frame::ok())
    }

    /// ACL LOAD: on success the replaced users' connections close, this one after its reply,
    /// as in Redis; `default`'s connections stay.
    fn load_acl_file(&mut self) -> Result<Frame, ReplyError> {
        let file = self.acl_file()?;
        let replaced = self
            .state
            .acl
            .load_file(Path::new(&file))
            .map_err(|e| ReplyError::custom(format!("ERR {e}")))?;
        self.disconnect_users(&replaced);
        Ok(Frame::ok())
    }

    /// ACL DELUSER: removes the users and closes their connections (this one after its reply).
    fn delete_users(&mut self, names: &[Bytes]) -> Frame {
        if names.iter().any(|n| &n[..] == DEFAULT_USER.as_bytes()) {
            return ReplyError::custom("ERR The 'default' user cannot be removed").into();
        }
        let mut deleted = Vec::new();
        for name in names {
            let name = String::from_utf8_lossy(name).into_owned();
            if self.state.acl.delete(&name) {
                deleted.push(name);
            }
        }
        self.disconnect_users(&deleted);
        Frame::Integer(deleted.len() as i64)
    }

    /// Closes the connections of users that are gone or replaced, this one after its reply.
    fn disconnect_users(&mut self, names: &[String]) {
        for name in names {
            if *self.client.user.lock() == *name {
                self.closing = true;
            }
            self.state.clients.kill_user(name);
        }
    }
}
