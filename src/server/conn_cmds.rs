//! Commands that read or change connection state, run on the network runtime:
//! PING ECHO SELECT AUTH HELLO QUIT RESET CLIENT SHUTDOWN (and the pub/sub family, in
//! `server::pubsub`).

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::connection::{Connection, ReplyMode};
use crate::cmd::server::REDIS_COMPAT_VERSION;
use crate::cmd::{arg_i64, is_opt};
use crate::error::ReplyError;
use crate::resp::{Frame, Protocol};

type Reply = Option<Frame>;

fn err(e: ReplyError) -> Reply {
    Some(e.into())
}

/// Parses a CLIENT LIST/KILL `TYPE` into a [`ClientHandle::kind`] name. Kiwi has no masters or
/// replicas, so those types are valid but match nobody.
///
/// [`ClientHandle::kind`]: crate::state::clients::ClientHandle::kind
fn client_type(arg: &[u8]) -> Result<&'static str, ReplyError> {
    match String::from_utf8_lossy(arg).to_ascii_lowercase().as_str() {
        "normal" => Ok("normal"),
        "pubsub" => Ok("pubsub"),
        "master" | "replica" | "slave" => Ok("replica"),
        _ => Err(ReplyError::custom(format!(
            "ERR Unknown client type '{}'",
            String::from_utf8_lossy(arg)
        ))),
    }
}

impl Connection {
    /// Runs a connection command; `None` means "send no reply" (CLIENT REPLY OFF/SKIP, SHUTDOWN).
    pub(super) fn run_connection_command(&mut self, name: &str, args: &[Bytes]) -> Reply {
        match name {
            "ping" => self.ping(args),
            "echo" => Some(Frame::Bulk(args[1].clone())),
            "select" => self.select(args),
            "auth" => self.auth(args),
            "hello" => self.hello(args),
            "quit" => {
                self.closing = true;
                Some(Frame::ok())
            }
            "reset" => self.reset(),
            "monitor" => {
                let mailbox = self.subs.mailbox();
                self.state.monitors.add(self.client.id, mailbox);
                Some(Frame::ok())
            }
            "multi" => Some(self.multi()),
            "discard" => Some(self.discard()),
            "unwatch" => {
                self.unwatch_all();
                Some(Frame::ok())
            }
            "client" => self.client_command(args),
            "acl" => self.acl_command(args),
            "cluster" => self.cluster_command(args),
            "readonly" => self.readonly_command(true),
            "readwrite" => self.readonly_command(false),
            "asking" => self.asking(),
            "shutdown" => self.shutdown(args),
            "script" => Some(self.script_command(args).unwrap_or_else(Frame::from)),
            "function" => Some(self.function_command(args).unwrap_or_else(Frame::from)),
            "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe"
            | "sunsubscribe" | "publish" | "spublish" | "pubsub" => self.pubsub_command(name, args),
            other => err(ReplyError::custom(format!(
                "ERR '{other}' is not a connection command"
            ))),
        }
    }

    /// In RESP2 pub/sub mode PING answers like a message, `["pong", <arg or "">]`, so a
    /// subscriber can tell it from the messages around it.
    fn ping(&mut self, args: &[Bytes]) -> Reply {
        if args.len() > 2 {
            return err(ReplyError::WrongArity("ping".into()));
        }
        if self.proto == Protocol::Resp2 && self.subs.active() {
            let text = args.get(1).cloned().unwrap_or_default();
            return Some(Frame::Array(vec![Frame::text("pong"), Frame::Bulk(text)]));
        }
        Some(match args.get(1) {
            Some(text) => Frame::Bulk(text.clone()),
            None => Frame::simple("PONG"),
        })
    }

    fn select(&mut self, args: &[Bytes]) -> Reply {
        let databases = self.state.storage.databases();
        match crate::cmd::arg_db(&args[1], databases) {
            Ok(db) => {
                self.db = db;
                self.client.db.store(db, Ordering::Relaxed);
                Some(Frame::ok())
            }
            Err(e) => err(e),
        }
    }

    /// Checks a username/password pair against the ACL users and, when it is good, makes this
    /// connection that user. A failure goes to ACL LOG under the command's name as typed
    /// (`command`), as in Redis.
    fn check_credentials(
        &mut self,
        command: &Bytes,
        user: &[u8],
        password: &[u8],
    ) -> Result<(), ReplyError> {
        let name = String::from_utf8_lossy(user);
        let ok = self
            .state
            .acl
            .get(&name)
            .is_some_and(|u| u.accepts(password));
        if !ok {
            let in_multi = self.multi.is_some();
            self.log_refusal("auth", command.clone(), name.into_owned(), in_multi);
            return Err(ReplyError::WrongPass);
        }
        *self.client.user.lock() = name.into_owned();
        self.authenticated = true;
        Ok(())
    }

    fn auth(&mut self, args: &[Bytes]) -> Reply {
        let (user, password) = match args.len() {
            2 => {
                if self.state.config().requirepass.is_empty() {
                    return err(ReplyError::AuthNotConfigured);
                }
                (&b"default"[..], &args[1][..])
            }
            3 => (&args[1][..], &args[2][..]),
            _ => return err(ReplyError::Syntax),
        };
        match self.check_credentials(&args[0], user, password) {
            Ok(()) => Some(Frame::ok()),
            Err(e) => {
                tracing::warn!(client = self.client.id, "failed AUTH attempt");
                err(e)
            }
        }
    }

    fn hello(&mut self, args: &[Bytes]) -> Reply {
        let mut version = None;
        if args.len() >= 2 {
            let Some(v) = crate::util::number::parse_i64(&args[1]) else {
                return err(ReplyError::custom(
                    "ERR Protocol version is not an integer or out of range",
                ));
            };
            if !(2..=3).contains(&v) {
                return err(ReplyError::NoProto);
            }
            version = Some(v);
        }
        let mut j = 2;
        while j < args.len() {
            let more = args.len() - 1 - j;
            if is_opt(&args[j], "auth") && more >= 2 {
                let (user, password) = (args[j + 1].clone(), args[j + 2].clone());
                if let Err(e) = self.check_credentials(&args[0], &user, &password) {
                    return err(e);
                }
                j += 3;
            } else if is_opt(&args[j], "setname") && more >= 1 {
                if let Err(e) = self.set_name(&args[j + 1]) {
                    return err(e);
                }
                j += 2;
            } else {
                return err(ReplyError::custom(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&args[j])
                )));
            }
        }
        if !self.authenticated {
            return err(ReplyError::custom("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
        }
        if let Some(v) = version {
            self.proto = if v == 3 {
                Protocol::Resp3
            } else {
                Protocol::Resp2
            };
            self.client.resp.store(v as usize, Ordering::Relaxed);
        }
        let proto = if self.proto == Protocol::Resp3 { 3 } else { 2 };
        Some(Frame::Map(vec![
            (Frame::text("server"), Frame::text("redis")),
            (Frame::text("version"), Frame::text(REDIS_COMPAT_VERSION)),
            (Frame::text("proto"), Frame::Integer(proto)),
            (Frame::text("id"), Frame::Integer(self.client.id as i64)),
            (Frame::text("mode"), Frame::text("standalone")),
            (Frame::text("role"), Frame::text("master")),
            (Frame::text("modules"), Frame::Array(vec![])),
        ]))
    }

    fn reset(&mut self) -> Reply {
        self.state.monitors.remove(self.client.id);
        self.abandon_multi();
        self.subs.clear();
        self.db = 0;
        self.client.db.store(0, Ordering::Relaxed);
        self.proto = Protocol::Resp2;
        self.client.resp.store(2, Ordering::Relaxed);
        self.reply_mode = ReplyMode::On;
        self.client.name.lock().clear();
        self.authenticated = self.state.config().requirepass.is_empty();
        *self.client.user.lock() = crate::state::acl::DEFAULT_USER.into();
        Some(Frame::simple("RESET"))
    }

    fn set_name(&mut self, name: &[u8]) -> Result<(), ReplyError> {
        if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
            return Err(ReplyError::custom(
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ));
        }
        *self.client.name.lock() = String::from_utf8_lossy(name).into_owned();
        Ok(())
    }

    fn client_command(&mut self, args: &[Bytes]) -> Reply {
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        let now = crate::util::now_ms();
        match sub.as_str() {
            "id" => Some(Frame::Integer(self.client.id as i64)),
            "getname" => {
                let name = self.client.name.lock().clone();
                Some(if name.is_empty() {
                    Frame::Null
                } else {
                    Frame::text(name)
                })
            }
            "setname" => match self.set_name(&args[2]) {
                Ok(()) => Some(Frame::ok()),
                Err(e) => err(e),
            },
            "info" => Some(Frame::Verbatim(Bytes::from(format!(
                "{}\n",
                self.client.describe(now)
            )))),
            "list" => self.client_list(args, now),
            "kill" => self.client_kill(args),
            "setinfo" => {
                let value = String::from_utf8_lossy(&args[3]).into_owned();
                if is_opt(&args[2], "lib-name") {
                    if value.contains(|c: char| c == ' ' || c.is_control()) {
                        return err(ReplyError::custom(
                            "ERR lib-name cannot contain spaces, newlines or special characters.",
                        ));
                    }
                    *self.client.lib_name.lock() = value;
                } else if is_opt(&args[2], "lib-ver") {
                    *self.client.lib_ver.lock() = value;
                } else {
                    return err(ReplyError::custom(format!(
                        "ERR Unrecognized option '{}'",
                        String::from_utf8_lossy(&args[2])
                    )));
                }
                Some(Frame::ok())
            }
            "reply" => {
                if is_opt(&args[2], "on") {
                    self.reply_mode = ReplyMode::On;
                    Some(Frame::ok())
                } else if is_opt(&args[2], "off") {
                    self.reply_mode = ReplyMode::Off;
                    None
                } else if is_opt(&args[2], "skip") {
                    self.reply_mode = ReplyMode::Skip;
                    None
                } else {
                    err(ReplyError::Syntax)
                }
            }
            "unblock" => self.client_unblock(args),
            "pause" => self.client_pause(args),
            "unpause" => {
                self.state.pause.unpause();
                Some(Frame::ok())
            }
            "no-evict" | "no-touch" => {
                if is_opt(&args[2], "on") || is_opt(&args[2], "off") {
                    Some(Frame::ok())
                } else {
                    err(ReplyError::Syntax)
                }
            }
            _ => Some(Frame::Array(
                [
                    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "ID",
                    "    Return the ID of the current connection.",
                    "GETNAME",
                    "    Return the name of the current connection.",
                    "SETNAME <name>",
                    "    Assign the name <name> to the current connection.",
                    "INFO",
                    "    Return information about the current client connection.",
                    "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
                    "    Return information about client connections.",
                    "KILL <ip:port>",
                    "    Kill connection made from <ip:port>.",
                    "KILL <option> <value> [<option> <value> [...]]",
                    "    Kill connections. Options are: ID, ADDR, LADDR, USER, SKIPME (yes|no).",
                    "SETINFO <LIB-NAME|LIB-VER> <value>",
                    "    Record the client library name or version.",
                    "REPLY (ON|OFF|SKIP)",
                    "    Control the replies sent to the current connection.",
                    "HELP",
                    "    Print this help.",
                ]
                .iter()
                .map(|l| Frame::Simple(Bytes::from_static(l.as_bytes())))
                .collect(),
            )),
        }
    }

    fn client_list(&mut self, args: &[Bytes], now: u64) -> Reply {
        let mut ids: Option<Vec<u64>> = None;
        let mut kind = None;
        let mut j = 2;
        while j < args.len() {
            if is_opt(&args[j], "type") && j + 1 < args.len() {
                match client_type(&args[j + 1]) {
                    Ok(k) => kind = Some(k),
                    Err(e) => return err(e),
                }
                j += 2;
            } else if is_opt(&args[j], "id") && j + 1 < args.len() {
                let mut wanted = Vec::new();
                for a in &args[j + 1..] {
                    match arg_i64(a) {
                        Ok(n) if n > 0 => wanted.push(n as u64),
                        _ => return err(ReplyError::custom("ERR Invalid client ID")),
                    }
                }
                ids = Some(wanted);
                j = args.len();
            } else {
                return err(ReplyError::Syntax);
            }
        }
        let mut text = String::new();
        for c in self.state.clients.all() {
            if ids.as_ref().is_none_or(|w| w.contains(&c.id)) && kind.is_none_or(|k| k == c.kind())
            {
                text.push_str(&c.describe(now));
                text.push('\n');
            }
        }
        Some(Frame::Verbatim(Bytes::from(text)))
    }

    /// CLIENT PAUSE timeout-ms [WRITE|ALL].
    fn client_pause(&mut self, args: &[Bytes]) -> Reply {
        let millis = match crate::cmd::arg_i64(&args[2]) {
            Ok(n) if n < 0 => return err(ReplyError::custom("ERR timeout is negative")),
            Ok(n) => n as u64,
            Err(_) => {
                return err(ReplyError::custom(
                    "ERR timeout is not an integer or out of range",
                ))
            }
        };
        let writes_only = match args.get(3) {
            None => false,
            Some(a) if is_opt(a, "all") => false,
            Some(a) if is_opt(a, "write") => true,
            Some(_) => {
                return err(ReplyError::custom(
                    "ERR CLIENT PAUSE mode must be WRITE or ALL",
                ))
            }
        };
        self.state
            .pause
            .pause(std::time::Duration::from_millis(millis), writes_only);
        Some(Frame::ok())
    }

    /// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if that client was blocked and is now released.
    fn client_unblock(&mut self, args: &[Bytes]) -> Reply {
        let id = match crate::cmd::arg_i64(&args[2]) {
            Ok(id) => id,
            Err(e) => return err(e),
        };
        let with_error = match args.get(3) {
            None => false,
            Some(a) if is_opt(a, "timeout") => false,
            Some(a) if is_opt(a, "error") => true,
            Some(_) => {
                return err(ReplyError::custom(
                    "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
                ))
            }
        };
        let target = self
            .state
            .clients
            .all()
            .into_iter()
            .find(|c| c.id as i64 == id);
        let released = match target {
            Some(c) if c.blocked.swap(false, Ordering::AcqRel) => {
                c.unblock_with_error.store(with_error, Ordering::Release);
                c.unblock.notify_one();
                true
            }
            _ => false,
        };
        Some(Frame::Integer(released as i64))
    }

    fn client_kill(&mut self, args: &[Bytes]) -> Reply {
        let clients = self.state.clients.all();
        if args.len() == 3 {
            let addr = String::from_utf8_lossy(&args[2]);
            return match clients.iter().find(|c| c.addr.to_string() == addr) {
                Some(c) => {
                    c.kill();
                    if c.id == self.client.id {
                        self.closing = true;
                    }
                    Some(Frame::ok())
                }
                None => err(ReplyError::custom("ERR No such client")),
            };
        }
        let (mut id, mut addr, mut laddr, mut user, mut skip_me) = (None, None, None, None, true);
        let mut kind = None;
        let mut j = 2;
        while j + 1 < args.len() {
            let value = String::from_utf8_lossy(&args[j + 1]).into_owned();
            let opt = String::from_utf8_lossy(&args[j]).to_ascii_lowercase();
            match opt.as_str() {
                "id" => match arg_i64(&args[j + 1]) {
                    Ok(n) if n > 0 => id = Some(n as u64),
                    _ => return err(ReplyError::custom("ERR client-id should be greater than 0")),
                },
                "addr" => addr = Some(value),
                "laddr" => laddr = Some(value),
                "user" => {
                    if self.state.acl.get(&value).is_none() {
                        return err(ReplyError::custom(format!("ERR No such user '{value}'")));
                    }
                    user = Some(value)
                }
                "type" => match client_type(&args[j + 1]) {
                    Ok(k) => kind = Some(k),
                    Err(e) => return err(e),
                },
                "skipme" => {
                    skip_me = match value.to_ascii_lowercase().as_str() {
                        "yes" => true,
                        "no" => false,
                        _ => return err(ReplyError::Syntax),
                    }
                }
                _ => return err(ReplyError::Syntax),
            }
            j += 2;
        }
        if j != args.len() {
            return err(ReplyError::Syntax);
        }
        let mut killed = 0;
        for c in clients {
            let matches = id.is_none_or(|i| i == c.id)
                && addr.as_ref().is_none_or(|a| *a == c.addr.to_string())
                && laddr
                    .as_ref()
                    .is_none_or(|a| *a == c.local_addr.to_string())
                && user.as_ref().is_none_or(|u| *u == *c.user.lock())
                && kind.is_none_or(|k| k == c.kind());
            if !matches || (skip_me && c.id == self.client.id) {
                continue;
            }
            c.kill();
            if c.id == self.client.id {
                self.closing = true;
            }
            killed += 1;
        }
        Some(Frame::Integer(killed))
    }

    fn shutdown(&mut self, args: &[Bytes]) -> Reply {
        for arg in &args[1..] {
            if is_opt(arg, "abort") {
                return err(ReplyError::custom("ERR No shutdown in progress."));
            }
            if !["nosave", "save", "now", "force"]
                .iter()
                .any(|o| is_opt(arg, o))
            {
                return err(ReplyError::Syntax);
            }
        }
        tracing::warn!(client = self.client.id, "SHUTDOWN requested by a client");
        self.state.request_shutdown();
        self.closing = true;
        None
    }
}
