//! The ACL command. It runs on the network runtime because WHOAMI reads the connection's user
//! and DELUSER disconnects the deleted users' connections; the users themselves live in
//! `state::acl`.

use bytes::Bytes;

use super::connection::Connection;
use crate::cmd::server::help_lines;
use crate::cmd::{CommandSpec, COMMANDS};
use crate::error::ReplyError;
use crate::resp::Frame;
use crate::state::acl::{User, CATEGORIES, DEFAULT_USER};

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

impl Connection {
    /// Why this connection's user may not run this call, if it may not. A refused EXEC discards
    /// the transaction and says so, as Redis does.
    pub(super) fn acl_refusal(&mut self, spec: &CommandSpec, args: &[Bytes]) -> Option<ReplyError> {
        let refusal = {
            let user = self.client.user.lock();
            self.state.acl.check(&user, spec, args).err()?
        };
        if spec.name != "exec" {
            return Some(refusal);
        }
        self.abandon_multi();
        Some(ReplyError::custom(format!(
            "EXECABORT Transaction discarded because of: {refusal}"
        )))
    }

    /// ACL CAT, DELUSER, GETUSER, HELP, LIST, SETUSER, USERS and WHOAMI (the subcommand was
    /// checked against the table before this runs).
    pub(super) fn acl_command(&mut self, args: &[Bytes]) -> Option<Frame> {
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        let acl = &self.state.acl;
        let reply = match sub.as_str() {
            "whoami" => Ok(text(self.client.user.lock().clone())),
            "users" => Ok(Frame::Array(acl.names().into_iter().map(text).collect())),
            "list" => Ok(Frame::Array(
                acl.all()
                    .iter()
                    .map(|(name, user)| text(user.describe(name)))
                    .collect(),
            )),
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
            _ => Err(ReplyError::unknown_subcommand(&args[1], "acl")),
        };
        Some(reply.unwrap_or_else(Frame::from))
    }

    /// ACL DELUSER: removes the users and closes their connections (this one after its reply).
    fn delete_users(&mut self, names: &[Bytes]) -> Frame {
        if names.iter().any(|n| &n[..] == DEFAULT_USER.as_bytes()) {
            return ReplyError::custom("ERR The 'default' user cannot be removed").into();
        }
        let mut deleted = 0;
        for name in names {
            let name = String::from_utf8_lossy(name);
            if self.state.acl.delete(&name) {
                deleted += 1;
                if *self.client.user.lock() == name {
                    self.closing = true;
                }
                self.state.clients.kill_user(&name);
            }
        }
        Frame::Integer(deleted)
    }
}
