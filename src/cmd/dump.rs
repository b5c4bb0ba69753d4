//! DUMP and RESTORE in Redis 7.0's payload format (RDB version 10, CRC-64 trailer), so values
//! move between Kiwi and redis-server in both directions.
//!
//! DUMP reads the value through the families' own read commands and writes one plain encoding
//! per type (`util/rdb.rs`), which every Redis since 2.6 restores. RESTORE reads every encoding
//! redis-server 7.0 writes (listpacks, intsets, quicklists) or still loads (ziplists), decodes
//! the whole payload before it touches the key — a malformed payload changes nothing — and then
//! builds the key with the families' own write commands, in the command's job, so the key
//! appears with all its members in one commit.

use bytes::Bytes;

use super::{arg_i64, is_opt, lookup, Ctx, Ev, Handler};
use crate::error::{CmdResult, ReplyError};
use crate::resp::{Frame, Protocol};
use crate::util::rdb::{self, Value};

/// Runs another command's handler in this command's context (RESP2 replies, whatever the
/// client speaks), without counting it as a call of its own.
fn run(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let name = args[0];
    let Some(spec) = lookup(name) else {
        return Err(ReplyError::custom("ERR command missing from the table"));
    };
    let Handler::Storage(handler) = spec.handler else {
        return Err(ReplyError::custom("ERR not a storage command"));
    };
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let mut inner = Ctx {
        state: ctx.state,
        client: ctx.client,
        db: ctx.db,
        proto: Protocol::Resp2,
    };
    handler(&mut inner, &args)
}

/// The elements of a read command's reply, flattened: arrays, sets and maps (of any RESP
/// version the handler chose) become one list of byte strings, scores as text.
fn flatten(frame: Frame, out: &mut Vec<Vec<u8>>) {
    match frame {
        Frame::Bulk(b) | Frame::Simple(b) | Frame::DoubleText(b) => out.push(b.to_vec()),
        Frame::Integer(n) => out.push(n.to_string().into_bytes()),
        Frame::Double(d) => out.push(crate::util::number::format_double(d).into_bytes()),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            for item in items {
                flatten(item, out);
            }
        }
        Frame::Map(pairs) => {
            for (k, v) in pairs {
                flatten(k, out);
                flatten(v, out);
            }
        }
        _ => {}
    }
}

fn bulks(frame: Frame) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    flatten(frame, &mut out);
    out
}

/// The (field, value) or (member, score) pairs of a flat HGETALL or ZRANGE WITHSCORES reply.
fn pairs(flat: Vec<Vec<u8>>) -> Result<rdb::Pairs, ReplyError> {
    rdb::pairs(flat).ok_or_else(|| ReplyError::custom("ERR odd number of elements in a pair reply"))
}

/// DUMP key: the serialized value, or nil.
pub fn dump(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1][..];
    let Frame::Simple(kind) = run(ctx, &[b"TYPE", key])? else {
        return Ok(Frame::Null);
    };
    let value = match &kind[..] {
        b"none" => return Ok(Frame::Null),
        b"string" => match run(ctx, &[b"GET", key])? {
            Frame::Bulk(data) => Value::String(data.to_vec()),
            _ => return Ok(Frame::Null),
        },
        b"list" => Value::List(bulks(run(ctx, &[b"LRANGE", key, b"0", b"-1"])?)),
        b"set" => Value::Set(bulks(run(ctx, &[b"SMEMBERS", key])?)),
        b"hash" => Value::Hash(pairs(bulks(run(ctx, &[b"HGETALL", key])?))?),
        b"zset" => {
            let flat = bulks(run(ctx, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])?);
            let members = pairs(flat)?
                .into_iter()
                .map(|(member, score)| {
                    let score = crate::util::number::parse_f64(&score).unwrap_or(f64::NAN);
                    (member, score)
                })
                .collect();
            Value::ZSet(members)
        }
        b"stream" => match ctx
            .store()
            .read_stream(ctx.db, key, crate::util::now_ms())?
        {
            Some(stream) => Value::Stream(Box::new(stream.export()?)),
            None => return Ok(Frame::Null),
        },
        other => {
            return Err(ReplyError::custom(format!(
                "ERR DUMP of a {} is not supported",
                String::from_utf8_lossy(other)
            )))
        }
    };
    let mut payload = Vec::new();
    rdb::write_value(&mut payload, &value);
    rdb::finish_payload(&mut payload);
    Ok(Frame::Bulk(Bytes::from(payload)))
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency].
pub fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = args[1].clone();
    let mut replace = false;
    let mut absolute = false;
    let (mut idle_given, mut freq_given) = (false, false);
    let mut i = 4;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is_opt(&args[i], "replace") {
            replace = true;
        } else if is_opt(&args[i], "absttl") {
            absolute = true;
        } else if is_opt(&args[i], "idletime") && more && !freq_given {
            // Kiwi keeps no access times: the value is checked, as in Redis, and not used.
            if arg_i64(&args[i + 1])? < 0 {
                return Err(ReplyError::custom(
                    "ERR Invalid IDLETIME value, must be >= 0",
                ));
            }
            idle_given = true;
            i += 1;
        } else if is_opt(&args[i], "freq") && more && !idle_given {
            let freq = arg_i64(&args[i + 1])?;
            if !(0..=255).contains(&freq) {
                return Err(ReplyError::custom(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq_given = true;
            i += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 1;
    }
    let exists = matches!(run(ctx, &[b"EXISTS", &key])?, Frame::Integer(n) if n > 0);
    if exists && !replace {
        return Err(ReplyError::custom(
            "BUSYKEY Target key name already exists.",
        ));
    }
    let ttl = arg_i64(&args[2])?;
    if ttl < 0 {
        return Err(ReplyError::custom("ERR Invalid TTL value, must be >= 0"));
    }
    let body = rdb::verify_payload(&args[3])
        .ok_or_else(|| ReplyError::custom("ERR DUMP payload version or checksum are wrong"))?;
    let value = rdb::read_value(body)
        .filter(|value| !value.is_empty_collection())
        .ok_or_else(|| ReplyError::custom("ERR Bad data format"))?;
    let expire_at = match (ttl, absolute) {
        (0, _) => None,
        (ttl, true) => Some(ttl),
        (ttl, false) => Some(crate::util::now_ms() as i64 + ttl),
    };
    // The key is built with the families' commands; only RESTORE's own event is announced.
    let events = ctx.store().events_mark();
    if exists {
        run(ctx, &[b"DEL", &key])?;
    }
    if expire_at.is_some_and(|at| at <= crate::util::now_ms() as i64) {
        // Already expired: nothing is created (a replaced key is just deleted).
        ctx.store().discard_events(events);
        if exists {
            ctx.notify(Ev::GENERIC, "del", &key);
        }
        return Ok(Frame::ok());
    }
    build(ctx, &key, value)?;
    if let Some(at) = expire_at {
        run(ctx, &[b"PEXPIREAT", &key, at.to_string().as_bytes()])?;
    }
    ctx.store().discard_events(events);
    ctx.notify(Ev::GENERIC, "restore", &key);
    Ok(Frame::ok())
}

/// Most members one internal write command carries (its arguments are copied once more).
const CHUNK: usize = 512;

/// Creates `key` holding `value` (the key does not exist).
fn build(ctx: &mut Ctx<'_>, key: &[u8], value: Value) -> Result<(), ReplyError> {
    let mut write = |command: &[u8], items: Vec<Vec<u8>>| -> Result<(), ReplyError> {
        let mut args: Vec<&[u8]> = vec![command, key];
        args.extend(items.iter().map(Vec::as_slice));
        run(ctx, &args).map(|_| ())
    };
    match value {
        Value::String(data) => write(b"SET", vec![data]),
        Value::List(items) => chunked(items, CHUNK, |part| write(b"RPUSH", part)),
        Value::Set(items) => chunked(items, CHUNK, |part| write(b"SADD", part)),
        Value::Hash(fields) => {
            let flat = fields.into_iter().flat_map(|(f, v)| [f, v]).collect();
            chunked(flat, 2 * CHUNK, |part| write(b"HSET", part))
        }
        Value::ZSet(members) => {
            let flat = members
                .into_iter()
                .flat_map(|(m, s)| [crate::util::number::format_double(s).into_bytes(), m])
                .collect();
            chunked(flat, 2 * CHUNK, |part| write(b"ZADD", part))
        }
        Value::Stream(stream) => {
            let store = ctx.store();
            let _guard = store.lock(ctx.db, key);
            let mut target = store.open_stream(ctx.db, key, crate::util::now_ms())?;
            let mut batch = store.batch();
            let limits = super::stream::node_limits(ctx);
            if target.import(&mut batch, &stream, limits)?.is_none() {
                return Err(ReplyError::custom("ERR Bad data format"));
            }
            target.save(&mut batch);
            store.commit(batch)?;
            Ok(())
        }
    }
}

fn chunked(
    items: Vec<Vec<u8>>,
    size: usize,
    mut write: impl FnMut(Vec<Vec<u8>>) -> Result<(), ReplyError>,
) -> Result<(), ReplyError> {
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        write(items.by_ref().take(size).collect())?;
    }
    Ok(())
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
    let timeout =
        std::time::Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
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
    let mut pipeline = bytes::BytesMut::new();
    let mut expected = moving.len() + 1;
    if !auth.is_empty() {
        crate::resp::client::encode_command(&auth, &mut pipeline);
        expected += 1;
    }
    crate::resp::client::encode_command(
        &[b"SELECT".as_slice(), db.to_string().as_bytes()],
        &mut pipeline,
    );
    for (key, payload, ttl) in &moving {
        let ttl = ttl.to_string();
        let mut restore: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), payload];
        if replace {
            restore.push(b"REPLACE");
        }
        crate::resp::client::encode_command(&restore, &mut pipeline);
    }
    let replies = exchange(&args[1], &args[2], &pipeline, expected, timeout)?;
    // Answers: AUTH (if sent), SELECT, then one RESTORE per key.
    let (setup, restores) = replies.split_at(expected - moving.len());
    let mut failure = setup.iter().find_map(error_text);
    for ((key, _, _), reply) in moving.iter().zip(restores) {
        match error_text(reply) {
            Some(e) => {
                failure.get_or_insert(e);
            }
            None if failure.is_none() && !copy => {
                run(ctx, &[b"DEL", key])?;
            }
            None => {}
        }
    }
    match failure {
        Some(e) => Err(ReplyError::custom(format!(
            "ERR Target instance replied with error: {e}"
        ))),
        None => Ok(Frame::ok()),
    }
}

fn error_text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Error(e) => Some(e.clone()),
        _ => None,
    }
}

/// Sends `pipeline` to `host:port` and reads `count` replies, each step within `timeout`.
fn exchange(
    host: &[u8],
    port: &[u8],
    pipeline: &[u8],
    count: usize,
    timeout: std::time::Duration,
) -> Result<Vec<Frame>, ReplyError> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let connect_error = || ReplyError::custom("IOERR error or timeout connecting to the client");
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
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|_| connect_error())?;
    let io_error = |what: &str| {
        ReplyError::custom(format!("IOERR error or timeout {what} to target instance"))
    };
    stream
        .set_write_timeout(Some(timeout))
        .and_then(|()| stream.set_read_timeout(Some(timeout)))
        .map_err(|_| io_error("writing"))?;
    stream
        .write_all(pipeline)
        .map_err(|_| io_error("writing"))?;
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
            Err(_) => return Err(io_error("reading")),
        }
        let n = stream.read(&mut chunk).map_err(|_| io_error("reading"))?;
        if n == 0 {
            return Err(io_error("reading"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(replies)
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
