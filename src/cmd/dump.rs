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
pub(super) fn run(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
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
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut i = 4;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is_opt(&args[i], "replace") {
            replace = true;
        } else if is_opt(&args[i], "absttl") {
            absolute = true;
        } else if is_opt(&args[i], "idletime") && more && freq.is_none() {
            let seconds = u64::try_from(arg_i64(&args[i + 1])?)
                .map_err(|_| ReplyError::custom("ERR Invalid IDLETIME value, must be >= 0"))?;
            idle = Some(seconds);
            i += 1;
        } else if is_opt(&args[i], "freq") && more && idle.is_none() {
            let counter = u8::try_from(arg_i64(&args[i + 1])?).map_err(|_| {
                ReplyError::custom("ERR Invalid FREQ value, must be >= 0 and <= 255")
            })?;
            freq = Some(counter);
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
    ctx.store().restore_access(ctx.db, &key, idle, freq);
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
