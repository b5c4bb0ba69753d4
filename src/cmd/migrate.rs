//! MIGRATE: moves keys to another Kiwi or to a redis-server in Redis's DUMP format, keeping
//! the connection to each target open for the next call, as Redis does.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use super::dump::{dump, run};
use super::{arg_i64, is_opt, Ctx};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;

/// Most targets kept open at once (Redis's `MIGRATE_SOCKET_CACHE_ITEMS`).
const CACHE_ITEMS: usize = 64;
/// An unused connection is closed after this long (Redis's `MIGRATE_SOCKET_CACHE_TTL`).
const CACHE_TTL: Duration = Duration::from_secs(10);

/// One open connection to a target.
struct Target {
    stream: TcpStream,
    /// The database the last successful MIGRATE selected: SELECT is sent only when it changes.
    db: Option<i64>,
    last_use: Instant,
}

/// The connections MIGRATE keeps to its targets (INFO `migrate_cached_sockets`), so that moving
/// many keys one MIGRATE at a time does not pay a connection (and an AUTH) per key. A
/// connection in use is taken out of the cache and put back afterwards; one that failed is
/// dropped, which closes it.
#[derive(Default)]
pub struct MigrateSockets {
    open: Mutex<HashMap<String, Target>>,
}

impl MigrateSockets {
    /// Connections open now.
    pub fn count(&self) -> usize {
        self.open.lock().len()
    }

    /// Closes the connections unused for [`CACHE_TTL`] (the background thread, every second).
    pub fn close_idle(&self) {
        self.open
            .lock()
            .retain(|_, target| target.last_use.elapsed() < CACHE_TTL);
    }

    fn take(&self, name: &str) -> Option<Target> {
        self.open.lock().remove(name)
    }

    fn put_back(&self, name: String, mut target: Target) {
        let mut open = self.open.lock();
        if open.len() >= CACHE_ITEMS && !open.contains_key(&name) {
            // Full: drop any one, as Redis drops a random one.
            if let Some(victim) = open.keys().next().cloned() {
                open.remove(&victim);
            }
        }
        target.last_use = Instant::now();
        open.insert(name, target);
    }
}

fn connect_error() -> ReplyError {
    ReplyError::custom("IOERR error or timeout connecting to the client")
}

fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<Target, ReplyError> {
    let host = std::str::from_utf8(host).map_err(|_| connect_error())?;
    let port: u16 = std::str::from_utf8(port)
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or_else(connect_error)?;
    let addr = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(connect_error)?;
    let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|_| connect_error())?;
    let _ = stream.set_nodelay(true);
    Ok(Target {
        stream,
        db: None,
        last_use: Instant::now(),
    })
}

/// How an exchange with the target failed.
struct ExchangeError {
    writing: bool,
    /// Nothing came back and the connection failed rather than timed out: the target cannot
    /// have executed anything worth a reply, and a fresh connection may well work (a cached
    /// one closed by the target is the common case).
    retryable: bool,
}

impl ExchangeError {
    fn reply(&self) -> ReplyError {
        let what = if self.writing { "writing" } else { "reading" };
        ReplyError::custom(format!("IOERR error or timeout {what} to target instance"))
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// Sends `pipeline` to `target` and reads `count` replies, each step within `timeout`.
fn exchange(
    target: &mut Target,
    pipeline: &[u8],
    count: usize,
    timeout: Duration,
) -> Result<Vec<Frame>, ExchangeError> {
    let stream = &mut target.stream;
    let failed = |writing: bool, retryable: bool| ExchangeError { writing, retryable };
    stream
        .set_write_timeout(Some(timeout))
        .and_then(|()| stream.set_read_timeout(Some(timeout)))
        .map_err(|_| failed(true, false))?;
    stream
        .write_all(pipeline)
        .map_err(|e| failed(true, !timed_out(&e)))?;
    let mut buf = bytes::BytesMut::new();
    let mut replies = Vec::with_capacity(count);
    let mut chunk = [0u8; 16 * 1024];
    while replies.len() < count {
        match crate::resp::client::parse_reply(&mut buf) {
            Ok(Some(frame)) => {
                replies.push(frame);
                continue;
            }
            Ok(None) => {}
            Err(_) => return Err(failed(false, false)),
        }
        let fresh = replies.is_empty() && buf.is_empty();
        match stream.read(&mut chunk) {
            Ok(0) => return Err(failed(false, fresh)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(failed(false, fresh && !timed_out(&e))),
        }
    }
    Ok(replies)
}

fn error_text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Error(e) => Some(e.clone()),
        _ => None,
    }
}

/// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS k ...]:
/// DUMPs the keys, RESTOREs them on the target (another Kiwi or a redis-server) in one
/// pipeline, and deletes each one the target accepted (unless COPY). The storage thread waits
/// for the target, at most `timeout` ms per step, as Redis's thread does.
pub fn migrate(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut copy = false;
    let mut replace = false;
    let mut auth: Vec<Bytes> = Vec::new();
    let mut keys: Vec<Bytes> = vec![args[3].clone()];
    let mut i = 6;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is_opt(&args[i], "copy") {
            copy = true;
        } else if is_opt(&args[i], "replace") {
            replace = true;
        } else if is_opt(&args[i], "auth") && more >= 1 {
            auth = vec![Bytes::from_static(b"AUTH"), args[i + 1].clone()];
            i += 1;
        } else if is_opt(&args[i], "auth2") && more >= 2 {
            auth = vec![
                Bytes::from_static(b"AUTH"),
                args[i + 1].clone(),
                args[i + 2].clone(),
            ];
            i += 2;
        } else if is_opt(&args[i], "keys") {
            if !args[3].is_empty() {
                return Err(ReplyError::custom("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"));
            }
            keys = args[i + 1..].to_vec();
            break;
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 1;
    }
    let timeout = arg_i64(&args[5])?;
    let db = arg_i64(&args[4])?;
    if ctx.state.cluster.get().is_some() {
        // Every node applies a replicated command: each would send the keys again.
        return Err(ReplyError::custom(
            "ERR MIGRATE is not supported in cluster mode",
        ));
    }
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    // What to send: the keys that exist, with their payloads and remaining time to live.
    let mut moving = Vec::new();
    for key in keys {
        let Frame::Bulk(payload) = dump(ctx, &[Bytes::from_static(b"DUMP"), key.clone()])? else {
            continue;
        };
        let ttl = match run(ctx, &[b"PTTL", &key])? {
            Frame::Integer(ms) if ms > 0 => ms,
            _ => 0,
        };
        moving.push((key, payload, ttl));
    }
    if moving.is_empty() {
        return Ok(Frame::simple("NOKEY"));
    }
    let sockets = &ctx.state.migrate_sockets;
    let name = format!(
        "{}:{}",
        String::from_utf8_lossy(&args[1]),
        String::from_utf8_lossy(&args[2])
    );
    let mut retried = false;
    let (mut target, replies, setup) = loop {
        let mut target = match sockets.take(&name) {
            Some(target) => target,
            None => connect(&args[1], &args[2], timeout)?,
        };
        let select = target.db != Some(db);
        let mut pipeline = bytes::BytesMut::new();
        if !auth.is_empty() {
            crate::resp::client::encode_command(&auth, &mut pipeline);
        }
        if select {
            crate::resp::client::encode_command(
                &[b"SELECT".as_slice(), db.to_string().as_bytes()],
                &mut pipeline,
            );
        }
        for (key, payload, ttl) in &moving {
            let ttl = ttl.to_string();
            let mut restore: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), payload];
            if replace {
                restore.push(b"REPLACE");
            }
            crate::resp::client::encode_command(&restore, &mut pipeline);
        }
        let setup = usize::from(!auth.is_empty()) + usize::from(select);
        match exchange(&mut target, &pipeline, setup + moving.len(), timeout) {
            Ok(replies) => break (target, replies, setup),
            // The failed connection is dropped (closed); retried once on a fresh one.
            Err(e) if e.retryable && !retried => retried = true,
            Err(e) => return Err(e.reply()),
        }
    };
    // Answers: AUTH (if sent), SELECT (if sent), then one RESTORE per key.
    let (setup, restores) = replies.split_at(setup);
    let setup_failure = setup.iter().find_map(error_text);
    let mut failure = setup_failure.clone();
    for ((key, _, _), reply) in moving.iter().zip(restores) {
        match error_text(reply) {
            Some(e) => {
                failure.get_or_insert(e);
            }
            // Each key the target took is gone from here, whatever happened to the others.
            None if setup_failure.is_none() && !copy => {
                run(ctx, &[b"DEL", key])?;
            }
            None => {}
        }
    }
    // After an error, the next call selects the database again.
    target.db = failure.is_none().then_some(db);
    sockets.put_back(name, target);
    match failure {
        Some(e) => Err(ReplyError::custom(format!(
            "ERR Target instance replied with error: {e}"
        ))),
        None => Ok(Frame::ok()),
    }
}

/// MIGRATE's keys beyond the key argument (the table's `at(3)`, which COMMAND INFO shows as
/// Redis does): when that argument is empty, it is no key, and the keys are the arguments
/// after KEYS.
pub fn migrate_keys(args: &[Bytes], out: &mut Vec<super::KeyRef>) {
    use super::KeyFlags;
    if args.get(3).is_none_or(|key| !key.is_empty()) {
        return;
    }
    out.retain(|k| k.index != 3);
    let flags = KeyFlags::of(&[KeyFlags::RW, KeyFlags::ACCESS, KeyFlags::DELETE]);
    if let Some(at) = args.iter().skip(6).position(|a| is_opt(a, "keys")) {
        for index in 6 + at + 1..args.len() {
            out.push(super::KeyRef { index, flags });
        }
    }
}

/// MIGRATE's passwords (AUTH pw, AUTH2 user pw), hidden from the slow log and MONITOR.
pub fn migrate_secrets(args: &[Bytes], index: usize) -> bool {
    let mut i = 6;
    while i < args.len() {
        if is_opt(&args[i], "keys") {
            return false;
        }
        if is_opt(&args[i], "auth") {
            if index == i + 1 {
                return true;
            }
            i += 1;
        } else if is_opt(&args[i], "auth2") {
            if index == i + 1 || index == i + 2 {
                return true;
            }
            i += 2;
        }
        i += 1;
    }
    false
}
