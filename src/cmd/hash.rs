//! Hash commands. Each field is one member row (`field → value`); HLEN reads only the header.

use bytes::Bytes;

use super::collection::{lookup, open, pairs_reply, random_count, random_rows, read, scan_members};
use super::{arg_i64, is_opt, Ctx, Ev};
use crate::error::{CmdResult, ReplyError};
use crate::resp::{Frame, Protocol};
use crate::storage::collection::{Collection, Space};
use crate::storage::meta::KeyType;
use crate::util::number::{incr_long_double, is_long_double, parse_i64, FloatIncrError};

/// Marks the hash as outgrown Redis's listpack when a field or value is too long or there are too
/// many fields, so OBJECT ENCODING agrees with Redis.
fn note_encoding(ctx: &Ctx<'_>, hash: &mut Collection<'_>, longest: usize) {
    let config = ctx.state.config();
    if longest as u64 > config.hash_max_listpack_value
        || hash.len() > config.hash_max_listpack_entries
    {
        hash.header.expanded = true;
    }
}

/// Writes field/value pairs; returns how many fields are new.
fn set_fields(ctx: &Ctx<'_>, key: &[u8], pairs: &[Bytes], only_new: bool) -> CmdResult<i64> {
    let store = ctx.store();
    let _guard = store.lock(ctx.db, key);
    let mut hash = open(ctx, key, KeyType::Hash)?;
    let mut batch = store.batch();
    let mut added = 0;
    for pair in pairs.chunks(2) {
        if only_new && hash.get(&pair[0])?.is_some() {
            continue;
        }
        if hash
            .insert(&mut batch, &pair[0], pair[1].clone())?
            .is_none()
        {
            added += 1;
        }
    }
    let longest = pairs.iter().map(|p| p.len()).max().unwrap_or(0);
    note_encoding(ctx, &mut hash, longest);
    hash.save(&mut batch);
    store.commit(batch)?;
    // HSET announces even when no field changed; HSETNX only a field it set.
    if !only_new || added > 0 {
        ctx.notify(Ev::HASH, "hset", key);
    }
    Ok(added)
}

fn check_pairs(args: &[Bytes], name: &str) -> CmdResult<()> {
    if args.len() % 2 == 1 {
        return Err(ReplyError::WrongArity(name.to_string()));
    }
    Ok(())
}

pub fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    check_pairs(args, "hset")?;
    Ok(Frame::Integer(set_fields(
        ctx,
        &args[1],
        &args[2..],
        false,
    )?))
}

pub fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    check_pairs(args, "hmset")?;
    set_fields(ctx, &args[1], &args[2..], false)?;
    Ok(Frame::ok())
}

pub fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(set_fields(
        ctx,
        &args[1],
        &args[2..4],
        true,
    )?))
}

pub fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(hash) = lookup(ctx, &args[1], KeyType::Hash)? else {
        return Ok(Frame::Null);
    };
    Ok(Frame::opt_bulk(hash.get(&args[2])?))
}

pub fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let fields = &args[2..];
    let values = match lookup(ctx, &args[1], KeyType::Hash)? {
        Some(hash) => hash.get_many(fields)?,
        None => vec![None; fields.len()],
    };
    Ok(Frame::Array(
        values.into_iter().map(Frame::opt_bulk).collect(),
    ))
}

pub fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let Some(mut hash) = read(ctx, key, KeyType::Hash)? else {
        return Ok(Frame::Integer(0));
    };
    let mut batch = store.batch();
    let mut removed = 0;
    for field in &args[2..] {
        if hash.remove(&mut batch, field)?.is_some() {
            removed += 1;
        }
    }
    let emptied = hash.is_empty();
    hash.save(&mut batch);
    store.commit(batch)?;
    if removed > 0 {
        ctx.notify(Ev::HASH, "hdel", key);
        if emptied {
            ctx.notify(Ev::GENERIC, "del", key);
        }
    }
    Ok(Frame::Integer(removed))
}

pub fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let len = lookup(ctx, &args[1], KeyType::Hash)?.map_or(0, |h| h.len());
    Ok(Frame::Integer(len as i64))
}

pub fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let found = match lookup(ctx, &args[1], KeyType::Hash)? {
        Some(hash) => hash.get(&args[2])?.is_some(),
        None => false,
    };
    Ok(Frame::Integer(found as i64))
}

pub fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let len = match lookup(ctx, &args[1], KeyType::Hash)? {
        Some(hash) => hash.get(&args[2])?.map_or(0, |v| v.len()),
        None => 0,
    };
    Ok(Frame::Integer(len as i64))
}

/// Every field and value, in field order.
fn all_fields(ctx: &Ctx<'_>, key: &[u8]) -> CmdResult<Vec<(Bytes, Bytes)>> {
    Ok(match lookup(ctx, key, KeyType::Hash)? {
        Some(hash) => hash.collect(Space::Members, usize::MAX)?,
        None => Vec::new(),
    })
}

pub fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pairs = all_fields(ctx, &args[1])?;
    Ok(Frame::Map(
        pairs
            .into_iter()
            .map(|(f, v)| (Frame::Bulk(f), Frame::Bulk(v)))
            .collect(),
    ))
}

pub fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pairs = all_fields(ctx, &args[1])?;
    Ok(Frame::Array(
        pairs.into_iter().map(|(f, _)| Frame::Bulk(f)).collect(),
    ))
}

pub fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pairs = all_fields(ctx, &args[1])?;
    Ok(Frame::Array(
        pairs.into_iter().map(|(_, v)| Frame::Bulk(v)).collect(),
    ))
}

/// Read-modify-write of one field under the key's lock: `f` maps the current value to the new one
/// and the reply.
fn modify_field(
    ctx: &Ctx<'_>,
    key: &[u8],
    field: &Bytes,
    event: &'static str,
    f: impl FnOnce(Option<&Bytes>) -> CmdResult<(Bytes, Frame)>,
) -> CmdResult {
    let store = ctx.store();
    let _guard = store.lock(ctx.db, key);
    let mut hash = open(ctx, key, KeyType::Hash)?;
    let current = hash.get(field)?;
    let (value, reply) = f(current.as_ref())?;
    let mut batch = store.batch();
    let longest = field.len().max(value.len());
    hash.insert(&mut batch, field, value)?;
    note_encoding(ctx, &mut hash, longest);
    hash.save(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::HASH, event, key);
    Ok(reply)
}

pub fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let incr = arg_i64(&args[3])?;
    modify_field(ctx, &args[1], &args[2], "hincrby", |current| {
        let value = match current {
            Some(v) => parse_i64(v)
                .ok_or_else(|| ReplyError::custom("ERR hash value is not an integer"))?,
            None => 0,
        };
        let sum = value.checked_add(incr).ok_or(ReplyError::Overflow)?;
        Ok((Bytes::from(sum.to_string()), Frame::Integer(sum)))
    })
}

pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let incr = &args[3];
    if !is_long_double(incr) {
        return Err(ReplyError::NotFloat);
    }
    if incr_long_double(b"0", incr) == Err(FloatIncrError::NanOrInfinity) {
        return Err(ReplyError::custom("ERR value is NaN or Infinity"));
    }
    modify_field(ctx, &args[1], &args[2], "hincrbyfloat", |current| {
        let current = current.map_or(&b"0"[..], |v| &v[..]);
        let text = incr_long_double(current, incr).map_err(|e| match e {
            FloatIncrError::NotFloat => ReplyError::custom("ERR hash value is not a float"),
            FloatIncrError::NanOrInfinity => ReplyError::NanOrInfinity,
        })?;
        let value = Bytes::from(text);
        Ok((value.clone(), Frame::Bulk(value)))
    })
}

pub fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let with_values = match args.len() {
        2 | 3 => false,
        4 if is_opt(&args[3], "withvalues") => true,
        _ => return Err(ReplyError::Syntax),
    };
    let counted = args.len() > 2;
    let (count, repeat) = if counted {
        random_count(&args[2], with_values)?
    } else {
        (1, false)
    };
    let Some(hash) = lookup(ctx, &args[1], KeyType::Hash)? else {
        return Ok(if counted {
            Frame::Array(Vec::new())
        } else {
            Frame::Null
        });
    };
    let rows = random_rows(&hash, Space::Members, count, repeat)?;
    if !counted {
        return Ok(Frame::opt_bulk(rows.into_iter().next().map(|(f, _)| f)));
    }
    if !with_values {
        return Ok(Frame::Array(
            rows.into_iter().map(|(f, _)| Frame::Bulk(f)).collect(),
        ));
    }
    let pairs = rows
        .into_iter()
        .map(|(f, v)| (Frame::Bulk(f), Frame::Bulk(v)));
    Ok(pairs_reply(pairs, ctx.proto == Protocol::Resp3))
}

pub fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    scan_members(
        ctx,
        args,
        KeyType::Hash,
        Space::Members,
        |field, value, out| {
            out.push(Frame::Bulk(Bytes::copy_from_slice(field)));
            out.push(Frame::Bulk(Bytes::copy_from_slice(value)));
        },
        |field, _| field,
    )
}
