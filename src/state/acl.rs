//! Redis 7.0 ACL users: passwords, command permissions and key/channel patterns, and the check
//! every command passes before it runs. Users are shared by all connections; a connection names
//! its user, so ACL SETUSER changes apply to its next command, as in Redis. ACL SAVE and ACL
//! LOAD write and read them as an ACL file (`aclfile`), in ACL LIST's syntax.
//!
//! In cluster mode the users are per node, as in Redis: they are not replicated through Raft.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use crate::cmd::{is_opt, CommandSpec, Flags, COMMANDS};
use crate::error::ReplyError;
use crate::util::glob::glob_match;

/// The lowercase hex SHA-256 digest of a password: Redis stores and shows only these (`#<hash>`
/// in ACL LIST), so Kiwi must produce the very same digests.
fn hex_digest(data: &[u8]) -> String {
    crate::util::hex(&Sha256::digest(data))
}

/// Redis 7.0's categories, in the order ACL CAT lists them.
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Why a rule naming a command or category that does not exist is refused. An ACL file's error
/// for it also names the rule (nothing secret in it), as Redis's does.
const UNKNOWN: &str = "Unknown command or category name in ACL";

/// The name of the user every connection starts as.
pub const DEFAULT_USER: &str = "default";

/// A key pattern with the access it grants (`~p` both, `%R~p` read, `%W~p` write).
#[derive(Clone, PartialEq, Eq)]
struct KeyPattern {
    pattern: Vec<u8>,
    read: bool,
    write: bool,
}

/// One `+`/`-` command rule after `+@all`/`-@all`: a category (`@read`), a command (`get`), or a
/// command with a subcommand or first argument (`config|get`).
#[derive(Clone, PartialEq, Eq)]
struct Rule {
    allow: bool,
    target: String,
}

impl Rule {
    /// Whether this rule concerns a call of `spec` with `first_arg`.
    fn matches(&self, spec: &CommandSpec, first_arg: Option<&[u8]>) -> bool {
        if let Some(cat) = self.target.strip_prefix('@') {
            return spec.categories().iter().any(|c| c[1..] == *cat);
        }
        match self.target.split_once('|') {
            Some((cmd, arg)) => cmd == spec.name && first_arg.is_some_and(|a| is_opt(a, arg)),
            None => self.target == spec.name,
        }
    }

    fn describe(&self) -> String {
        format!("{}{}", if self.allow { '+' } else { '-' }, self.target)
    }
}

/// One user's rules, replaced as a whole by ACL SETUSER (which applies all its rules or none).
#[derive(Clone, Default)]
pub struct User {
    /// `on`: the user may authenticate.
    pub enabled: bool,
    /// `nopass`: any password authenticates.
    pub nopass: bool,
    /// `sanitize-payload` (true) / `skip-sanitize-payload` (false); shown only once set.
    sanitize: Option<bool>,
    /// SHA-256 hex digests of the accepted passwords, in the order they were added.
    passwords: Vec<String>,
    /// Started from `+@all` rather than `-@all`.
    all_commands: bool,
    /// Command rules applied in order after the start; the last one matching a call decides.
    rules: Vec<Rule>,
    keys: Vec<KeyPattern>,
    channels: Vec<Vec<u8>>,
}

impl User {
    /// A user as ACL SETUSER creates it: off, no password, no command, no key, and every
    /// channel only when `acl-pubsub-default` is `allchannels`.
    fn new(all_channels: bool) -> User {
        User {
            channels: if all_channels {
                vec![b"*".to_vec()]
            } else {
                Vec::new()
            },
            ..User::default()
        }
    }

    /// The `default` user of a fresh server: everything allowed, no password.
    fn superuser() -> User {
        User {
            enabled: true,
            nopass: true,
            all_commands: true,
            keys: vec![KeyPattern {
                pattern: b"*".to_vec(),
                read: true,
                write: true,
            }],
            channels: vec![b"*".to_vec()],
            ..User::default()
        }
    }

    /// Whether `password` authenticates this (enabled) user.
    pub fn accepts(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let digest = hex_digest(password);
        self.passwords.contains(&digest)
    }

    fn allows_command(&self, spec: &CommandSpec, first_arg: Option<&[u8]>) -> bool {
        self.rules
            .iter()
            .rev()
            .find(|r| r.matches(spec, first_arg))
            .map_or(self.all_commands, |r| r.allow)
    }

    fn all_keys(&self) -> bool {
        self.keys
            .iter()
            .any(|k| k.pattern == b"*" && k.read && k.write)
    }

    fn all_channels(&self) -> bool {
        self.channels.iter().any(|c| c == b"*")
    }

    /// Whether a channel may be used. A pattern (PSUBSCRIBE) must equal one of the user's
    /// patterns, as in Redis: matching a pattern against a pattern says nothing.
    fn allows_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.channels.iter().any(|c| {
            if is_pattern {
                c == channel
            } else {
                glob_match(c, channel, false)
            }
        })
    }

    fn allows_key(&self, key: &[u8], read: bool, write: bool) -> bool {
        self.keys
            .iter()
            .any(|k| (!read || k.read) && (!write || k.write) && glob_match(&k.pattern, key, false))
    }

    /// Every command and subcommand this user may run, to tell a rule that changes nothing.
    fn permission_map(&self) -> Vec<bool> {
        let mut out = Vec::new();
        for spec in COMMANDS {
            out.push(self.allows_command(spec, None));
            for sub in spec.subcommands {
                out.push(self.allows_command(spec, Some(sub.name.as_bytes())));
            }
        }
        out
    }

    /// Applies one ACL SETUSER rule, or says why it is invalid (Redis's message, without the
    /// "Error in ACL SETUSER modifier" prefix). `all_channels` is `acl-pubsub-default`, which
    /// `reset` starts from.
    fn apply(&mut self, op: &[u8], all_channels: bool) -> Result<(), &'static str> {
        let text = String::from_utf8_lossy(op);
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "sanitize-payload" => self.sanitize = Some(true),
            "skip-sanitize-payload" => self.sanitize = Some(false),
            "allkeys" => return self.add_key(b"*", true, true),
            "resetkeys" => self.keys.clear(),
            "allchannels" => return self.add_channel(b"*"),
            "resetchannels" => self.channels.clear(),
            "allcommands" | "+@all" => {
                self.all_commands = true;
                self.rules.clear();
            }
            "nocommands" | "-@all" => {
                self.all_commands = false;
                self.rules.clear();
            }
            "reset" => {
                *self = User {
                    sanitize: Some(true),
                    ..User::new(all_channels)
                }
            }
            _ => return self.apply_prefixed(op, &lower),
        }
        Ok(())
    }

    fn apply_prefixed(&mut self, op: &[u8], lower: &str) -> Result<(), &'static str> {
        let rest = &op[1..];
        match op[0] {
            b'>' => {
                let digest = hex_digest(rest);
                if !self.passwords.contains(&digest) {
                    self.passwords.push(digest);
                }
                self.nopass = false;
            }
            b'#' => {
                let digest = parse_digest(rest)?;
                if !self.passwords.contains(&digest) {
                    self.passwords.push(digest);
                }
                self.nopass = false;
            }
            b'<' | b'!' => {
                let digest = if op[0] == b'<' {
                    hex_digest(rest)
                } else {
                    parse_digest(rest)?
                };
                let before = self.passwords.len();
                self.passwords.retain(|p| *p != digest);
                if self.passwords.len() == before {
                    return Err(
                        "The password you are trying to remove from the user does not exist",
                    );
                }
            }
            b'~' => return self.add_key(rest, true, true),
            b'%' => {
                let Some(tilde) = rest.iter().position(|&c| c == b'~') else {
                    return Err("Syntax error");
                };
                let (mut read, mut write) = (false, false);
                for c in &rest[..tilde] {
                    match c.to_ascii_uppercase() {
                        b'R' => read = true,
                        b'W' => write = true,
                        _ => return Err("Syntax error"),
                    }
                }
                if !read && !write {
                    return Err("Syntax error");
                }
                return self.add_key(&rest[tilde + 1..], read, write);
            }
            b'&' => return self.add_channel(rest),
            b'+' | b'-' => return self.add_rule(op[0] == b'+', &lower[1..]),
            _ => return Err("Syntax error"),
        }
        Ok(())
    }

    fn add_key(&mut self, pattern: &[u8], read: bool, write: bool) -> Result<(), &'static str> {
        if self.all_keys() {
            return Err("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns");
        }
        if pattern == b"*" && read && write {
            self.keys.clear();
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(existing) => {
                existing.read |= read;
                existing.write |= write;
            }
            None => self.keys.push(KeyPattern {
                pattern: pattern.to_vec(),
                read,
                write,
            }),
        }
        Ok(())
    }

    fn add_channel(&mut self, pattern: &[u8]) -> Result<(), &'static str> {
        if self.all_channels() {
            return Err("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels");
        }
        if pattern == b"*" {
            self.channels.clear();
        }
        if !self.channels.iter().any(|c| c == pattern) {
            self.channels.push(pattern.to_vec());
        }
        Ok(())
    }

    /// Adds a command rule, dropping earlier rules about the same target (and, for a whole
    /// command, about its subcommands) and rules that change nothing, as Redis's description does.
    fn add_rule(&mut self, allow: bool, target: &str) -> Result<(), &'static str> {
        if let Some(cat) = target.strip_prefix('@') {
            if !CATEGORIES.contains(&cat) {
                return Err(UNKNOWN);
            }
        } else {
            let mut parts = target.split('|');
            let cmd = parts.next().unwrap_or_default();
            let spec = crate::cmd::lookup(cmd.as_bytes()).ok_or(UNKNOWN)?;
            match (parts.next(), parts.next()) {
                (None, _) => {}
                // A first-argument rule: only `+`, and only for commands without subcommands.
                (Some(arg), None) if spec.subcommands.is_empty() => {
                    if !allow || arg.is_empty() {
                        return Err(UNKNOWN);
                    }
                }
                (Some(sub), extra) => {
                    if !spec.subcommands.iter().any(|s| s.name == sub) {
                        return Err(UNKNOWN);
                    }
                    if extra.is_some() {
                        return Err("Allowing first-arg of a subcommand is not supported");
                    }
                }
            }
        }
        let prefix = format!("{target}|");
        self.rules
            .retain(|r| r.target != target && !r.target.starts_with(&prefix));
        let rule = Rule {
            allow,
            target: target.to_string(),
        };
        // First-argument rules cannot be compared through the command table; keep them.
        let first_arg = target.split_once('|').is_some_and(|(cmd, _)| {
            crate::cmd::lookup(cmd.as_bytes()).is_some_and(|s| s.subcommands.is_empty())
        });
        let mut with_rule = self.clone();
        with_rule.rules.push(rule.clone());
        if first_arg || with_rule.permission_map() != self.permission_map() {
            self.rules.push(rule);
        }
        Ok(())
    }

    /// The flags GETUSER and LIST show.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize {
            Some(true) => flags.push("sanitize-payload"),
            Some(false) => flags.push("skip-sanitize-payload"),
            None => {}
        }
        flags
    }

    /// The command rules as `+@all`/`-@all` followed by the remaining rules.
    pub fn describe_commands(&self) -> String {
        let mut out = String::from(if self.all_commands { "+@all" } else { "-@all" });
        for rule in &self.rules {
            out.push(' ');
            out.push_str(&rule.describe());
        }
        out
    }

    /// The key patterns, space separated (`~p`, `%R~p`, `%W~p`).
    pub fn describe_keys(&self) -> String {
        let parts: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                let access = match (k.read, k.write) {
                    (true, true) => "",
                    (true, false) => "%R",
                    _ => "%W",
                };
                format!("{access}~{}", String::from_utf8_lossy(&k.pattern))
            })
            .collect();
        parts.join(" ")
    }

    /// The channel patterns, space separated.
    pub fn describe_channels(&self) -> String {
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        parts.join(" ")
    }

    /// The password digests GETUSER reports.
    pub fn password_digests(&self) -> &[String] {
        &self.passwords
    }

    /// One line of ACL LIST, in Redis's config-file syntax.
    pub fn describe(&self, name: &str) -> String {
        let mut parts = vec![format!("user {name}")];
        parts.extend(self.flags().iter().map(|f| f.to_string()));
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.all_channels() {
            parts.push("&*".into());
        } else {
            parts.push("resetchannels".into());
            let channels = self.describe_channels();
            if !channels.is_empty() {
                parts.push(channels);
            }
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }
}

type Users = BTreeMap<String, Arc<User>>;

/// All users, by name.
pub struct Acl {
    users: RwLock<Users>,
    /// `acl-pubsub-default` is `allchannels`: new and `reset` users may use every channel.
    all_channels: AtomicBool,
}

impl Default for Acl {
    fn default() -> Self {
        Acl {
            users: RwLock::new(fresh_users()),
            all_channels: AtomicBool::new(false),
        }
    }
}

/// The users of a fresh server: only `default`.
fn fresh_users() -> Users {
    let mut users = BTreeMap::new();
    users.insert(DEFAULT_USER.to_string(), Arc::new(User::superuser()));
    users
}

/// Why a call was refused, with what was refused: the reasons and objects of Redis's ACL LOG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The command, named `cmd` or `cmd|sub` as Redis names it.
    Command(String),
    /// The first key the user may not use.
    Key(Bytes),
    /// The first channel the user may not use.
    Channel(Bytes),
}

impl Denial {
    /// ACL LOG's `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Denial::Command(_) => "command",
            Denial::Key(_) => "key",
            Denial::Channel(_) => "channel",
        }
    }

    /// ACL LOG's `object`: the command's name, the key or the channel.
    pub fn object(&self) -> Bytes {
        match self {
            Denial::Command(name) => Bytes::from(name.clone()),
            Denial::Key(name) | Denial::Channel(name) => name.clone(),
        }
    }

    /// The error the refused command gets.
    pub fn error(&self) -> ReplyError {
        ReplyError::custom(match self {
            Denial::Command(name) => {
                format!("NOPERM this user has no permissions to run the '{name}' command")
            }
            Denial::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .to_string()
            }
            Denial::Channel(_) => {
                "NOPERM this user has no permissions to access one of the channels used as arguments"
                    .to_string()
            }
        })
    }

    /// The error a command queued in MULTI gets when its user lost the right to run it before
    /// EXEC (Redis checks again then).
    pub fn exec_error(&self) -> ReplyError {
        let why = match self {
            Denial::Command(_) => "no permission to execute the command or subcommand",
            Denial::Key(_) => "no permission to touch the specified keys",
            Denial::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        ReplyError::custom(format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}"))
    }

    /// ACL DRYRUN's explanation, which names the key or channel.
    pub fn explain(&self) -> String {
        match self {
            Denial::Command(name) => {
                format!("This user has no permissions to run the '{name}' command")
            }
            Denial::Key(key) => format!(
                "This user has no permissions to access the '{}' key",
                String::from_utf8_lossy(key)
            ),
            Denial::Channel(channel) => format!(
                "This user has no permissions to access the '{}' channel",
                String::from_utf8_lossy(channel)
            ),
        }
    }
}

/// The command's name as Redis names it in a refusal: `cmd|sub` for a subcommand.
fn full_name(spec: &CommandSpec, first_arg: Option<&[u8]>) -> String {
    match first_arg.filter(|_| !spec.subcommands.is_empty()) {
        Some(sub) => format!(
            "{}|{}",
            spec.name,
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        ),
        None => spec.name.to_string(),
    }
}

impl Acl {
    /// A user's current rules.
    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// Every user's name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.users.read().keys().cloned().collect()
    }

    /// Follows `acl-pubsub-default`: whether users created from now on (and `reset`) may use
    /// every channel.
    pub fn set_pubsub_default(&self, all_channels: bool) {
        self.all_channels.store(all_channels, Ordering::Relaxed);
    }

    /// ACL SETUSER: creates the user if needed and applies every rule, or none if one is invalid.
    pub fn set_user(&self, name: &str, ops: &[Bytes]) -> Result<(), ReplyError> {
        let all_channels = self.all_channels.load(Ordering::Relaxed);
        let mut users = self.users.write();
        let mut user = users
            .get(name)
            .map_or_else(|| User::new(all_channels), |u| (**u).clone());
        for op in ops {
            // An empty rule changes nothing, as in Redis.
            if op.is_empty() {
                continue;
            }
            user.apply(op, all_channels)
                .map_err(|why| setuser_error(op, why))?;
        }
        users.insert(name.to_string(), Arc::new(user));
        Ok(())
    }

    /// ACL LIST: every user as one line of an ACL file, sorted by name.
    pub fn list(&self) -> Vec<String> {
        self.users
            .read()
            .iter()
            .map(|(name, user)| user.describe(name))
            .collect()
    }

    /// ACL SAVE: writes ACL LIST's lines to `path` through a temporary file renamed over it, so
    /// that a crash leaves the old file or the new one, never half of one.
    pub fn save_file(&self, path: &Path) -> std::io::Result<()> {
        let mut text = self.list().join("\n");
        text.push('\n');
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(
            ".tmp-{}-{}",
            std::process::id(),
            crate::util::now_ms()
        ));
        let tmp = std::path::PathBuf::from(tmp);
        let written = std::fs::File::create(&tmp).and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        });
        let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
        if renamed.is_err() {
            // Best effort: the temporary file is useless once the save failed.
            let _ = std::fs::remove_file(&tmp);
        }
        renamed
    }

    /// ACL LOAD (and start-up with `aclfile`): replaces every user by the file's, all or none.
    /// The error is Redis's: every bad line as `file:line: why.`, then a closing warning.
    /// Returns the names of the users replaced, whose connections Redis closes (all but
    /// `default`, which keeps its connections with its new rules).
    pub fn load_file(&self, path: &Path) -> Result<Vec<String>, String> {
        let file = path.display().to_string();
        let text = std::fs::read(path).map_err(|e| {
            format!(
                "Error loading ACLs, opening file '{file}': {}",
                os_error_text(&e)
            )
        })?;
        let loaded = self.parse_file(&String::from_utf8_lossy(&text), &file)?;
        let mut users = self.users.write();
        let replaced = users
            .keys()
            .filter(|name| *name != DEFAULT_USER)
            .cloned()
            .collect();
        *users = loaded;
        Ok(replaced)
    }

    /// The users an ACL file describes (`default` as on a fresh server unless the file has it).
    fn parse_file(&self, text: &str, file: &str) -> Result<Users, String> {
        let all_channels = self.all_channels.load(Ordering::Relaxed);
        let mut users: Users = BTreeMap::new();
        let mut errors = String::new();
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            let words: Vec<&str> = raw
                .trim_matches([' ', '\t', '\r', '\n'])
                .split(' ')
                .collect();
            if words == [""] {
                continue;
            }
            if words[0] != "user" || words.len() < 2 {
                errors.push_str(&format!(
                    "{file}:{line} should start with user keyword followed by the username. "
                ));
                continue;
            }
            let name = words[1];
            if name.bytes().any(|c| c.is_ascii_whitespace() || c == 0) {
                errors.push_str(&format!(
                    "'{file}:{line}: username '{name}' contains invalid characters. "
                ));
                continue;
            }
            if users.contains_key(name) {
                errors.push_str(&format!(
                    "WARNING: Duplicate user '{name}' found on line {line}. "
                ));
                continue;
            }
            let mut user = User::new(all_channels);
            // Beyond unknown names, only a line's first error is told: a bad rule may make the
            // next ones fail too.
            let mut told = false;
            for op in &words[2..] {
                let op = op.trim_matches(['\t', '\r', '\n']);
                if op.is_empty() {
                    continue;
                }
                match user.apply(op.as_bytes(), all_channels) {
                    Err(UNKNOWN) => errors.push_str(&format!(
                        "{file}:{line}: Error in applying operation '{op}': {UNKNOWN}. "
                    )),
                    Err(why) if !told => {
                        errors.push_str(&format!("{file}:{line}: {why}. "));
                        told = true;
                    }
                    _ => {}
                }
            }
            users.insert(name.to_string(), Arc::new(user));
        }
        if !errors.is_empty() {
            errors.push_str(
                "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
            );
            return Err(errors);
        }
        if !users.contains_key(DEFAULT_USER) {
            users.append(&mut fresh_users());
        }
        Ok(users)
    }

    /// ACL DELUSER of one user; false if there was none.
    pub fn delete(&self, name: &str) -> bool {
        self.users.write().remove(name).is_some()
    }

    /// Keeps the `default` user's password equal to `requirepass`, as Redis does: an empty one
    /// makes it `nopass`.
    pub fn set_default_password(&self, requirepass: &str) {
        let op: Bytes = if requirepass.is_empty() {
            Bytes::from_static(b"nopass")
        } else {
            Bytes::from(format!(">{requirepass}"))
        };
        // Neither rule can fail.
        let _ = self.set_user(DEFAULT_USER, &[Bytes::from_static(b"resetpass"), op]);
    }

    /// Whether `user` may run this call: its command (or subcommand), then every key it names,
    /// then every channel, in Redis's order; the refusal names the first thing refused. Real
    /// commands and ACL DRYRUN both ask this. AUTH and HELLO (`no_auth`) are always allowed, so
    /// a restricted user can switch users.
    pub fn check(&self, user: &str, spec: &CommandSpec, args: &[Bytes]) -> Result<(), Denial> {
        if spec.flags.contains(Flags::NO_AUTH) {
            return Ok(());
        }
        let first_arg = args.get(1).map(|a| &a[..]);
        let user = self
            .get(user)
            .filter(|user| user.allows_command(spec, first_arg))
            .ok_or_else(|| Denial::Command(full_name(spec, first_arg)))?;
        if !user.all_keys() {
            // Each key needs what the command does with it, as in Redis: `%R~` patterns allow
            // the keys it reads (`access`), `%W~` the ones it changes (`insert`, `delete`,
            // `update`).
            let denied = spec.key_refs(args).into_iter().find(|k| {
                !user.allows_key(&args[k.index], k.flags.needs_read(), k.flags.needs_write())
            });
            if let Some(key) = denied {
                return Err(Denial::Key(args[key.index].clone()));
            }
        }
        if !user.all_channels() {
            let channels = if spec.flags.contains(Flags::PUBLISHES) {
                args.get(1..2)
            } else if spec.flags.contains(Flags::SUBSCRIBES) {
                args.get(1..)
            } else {
                None
            };
            let is_pattern = spec.flags.contains(Flags::CHANNEL_PATTERNS);
            let denied = channels
                .unwrap_or_default()
                .iter()
                .find(|c| !user.allows_channel(c, is_pattern));
            if let Some(channel) = denied {
                return Err(Denial::Channel(channel.clone()));
            }
        }
        Ok(())
    }
}

/// An I/O error as C's `strerror` words it (Redis's texts), without Rust's "(os error N)".
fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .unwrap_or(&text)
            .to_string(),
        None => text,
    }
}

/// A `#<hash>` / `!<hash>` digest: 64 lowercase hex characters.
fn parse_digest(hex: &[u8]) -> Result<String, &'static str> {
    let valid = hex.len() == 64
        && hex
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
    if !valid {
        return Err("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters");
    }
    Ok(String::from_utf8_lossy(hex).into_owned())
}

fn setuser_error(op: &[u8], why: &str) -> ReplyError {
    ReplyError::custom(format!(
        "ERR Error in ACL SETUSER modifier '{}': {why}",
        String::from_utf8_lossy(op)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(items: &[&str]) -> Vec<Bytes> {
        items.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn password_digests_are_the_ones_redis_shows() {
        assert_eq!(
            hex_digest(b"pw"),
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        );
    }

    #[test]
    fn read_only_user_cannot_write() {
        let acl = Acl::default();
        acl.set_user("r", &args(&["on", ">pw", "~app:*", "+@read"]))
            .unwrap();
        let get = crate::cmd::lookup(b"get").unwrap();
        let set = crate::cmd::lookup(b"set").unwrap();
        assert!(acl.check("r", get, &args(&["get", "app:1"])).is_ok());
        assert_eq!(
            acl.check("r", get, &args(&["get", "other"])),
            Err(Denial::Key(Bytes::from("other")))
        );
        assert!(acl.check("r", get, &args(&["get", "other"])).is_err());
        assert!(acl.check("r", set, &args(&["set", "app:1", "x"])).is_err());
        assert!(acl.get("r").unwrap().accepts(b"pw"));
        assert_eq!(
            acl.get("r").unwrap().describe("r"),
            format!(
                "user r on #{} ~app:* resetchannels -@all +@read",
                hex_digest(b"pw")
            )
        );
    }

    #[test]
    fn channels_follow_the_pubsub_default_and_patterns_match_literally() {
        let acl = Acl::default();
        acl.set_user("closed", &args(&["+@all"])).unwrap();
        acl.set_pubsub_default(true);
        acl.set_user("open", &args(&["+@all"])).unwrap();
        let publish = crate::cmd::lookup(b"publish").unwrap();
        let psubscribe = crate::cmd::lookup(b"psubscribe").unwrap();
        let call = args(&["publish", "news", "hi"]);
        assert_eq!(
            acl.check("closed", publish, &call),
            Err(Denial::Channel(Bytes::from("news")))
        );
        assert!(acl.check("open", publish, &call).is_ok());
        acl.set_user("closed", &args(&["&n*"])).unwrap();
        assert!(acl.check("closed", publish, &call).is_ok());
        assert!(acl
            .check("closed", psubscribe, &args(&["psubscribe", "n*"]))
            .is_ok());
        assert!(acl
            .check("closed", psubscribe, &args(&["psubscribe", "ne*"]))
            .is_err());
    }

    #[test]
    fn a_bad_acl_file_changes_nothing_and_names_its_lines() {
        let acl = Acl::default();
        let bad = "user a on nopass +@all ~*\nbogus\nuser b on +nosuch\n";
        assert_eq!(
            acl.parse_file(bad, "f.acl").err().as_deref(),
            Some("f.acl:2 should start with user keyword followed by the username. f.acl:3: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
        );
        let users = acl.parse_file("user a on nopass\n\n", "f.acl").unwrap();
        assert_eq!(users.keys().collect::<Vec<_>>(), ["a", "default"]);
    }

    #[test]
    fn rules_that_change_nothing_are_dropped() {
        let acl = Acl::default();
        acl.set_user("u", &args(&["+@read", "+get", "-@read", "+@read"]))
            .unwrap();
        assert_eq!(acl.get("u").unwrap().describe_commands(), "-@all +@read");
        acl.set_user("u", &args(&["-@all", "+config|get", "+config"]))
            .unwrap();
        assert_eq!(acl.get("u").unwrap().describe_commands(), "-@all +config");
    }
}
