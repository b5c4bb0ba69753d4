//! Set commands. Each member is one member row with an empty value; SCARD reads only the header.
//! Set algebra (SINTER/SUNION/SDIFF and their STORE forms) walks the inputs in member order and
//! probes the others with batched lookups.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::collection::{
    delete_destination, lookup, open, random_count, random_rows, read, scan_members,
};
use super::{arg_at_least, is_opt, Ctx, Ev};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::collection::{Collection, Space};
use crate::storage::meta::KeyType;
use crate::storage::Batch;
use crate::util::number::parse_i64;

/// Marks the set as outgrown Redis's intset once it holds a non-integer or too many members.
fn note_encoding(ctx: &Ctx<'_>, set: &mut Collection<'_>, member: &[u8]) {
    if parse_i64(member).is_none() || set.len() > ctx.state.config().set_max_intset_entries {
        set.header.expanded = true;
    }
}

/// Adds members; returns how many were new.
fn add_members(
    ctx: &Ctx<'_>,
    set: &mut Collection<'_>,
    batch: &mut Batch<'_>,
    members: impl IntoIterator<Item = Bytes>,
) -> CmdResult<i64> {
    let mut added = 0;
    for member in members {
        if set.insert(batch, &member, Bytes::new())?.is_none() {
            added += 1;
            note_encoding(ctx, set, &member);
        }
    }
    Ok(added)
}

pub fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let _guard = store.lock(ctx.db, &args[1]);
    let mut set = open(ctx, &args[1], KeyType::Set)?;
    let mut batch = store.batch();
    let added = add_members(ctx, &mut set, &mut batch, args[2..].iter().cloned())?;
    set.save(&mut batch);
    store.commit(batch)?;
    if added > 0 {
        ctx.notify(Ev::SET, "sadd", &args[1]);
    }
    Ok(Frame::Integer(added))
}

pub fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let _guard = store.lock(ctx.db, &args[1]);
    let Some(mut set) = read(ctx, &args[1], KeyType::Set)? else {
        return Ok(Frame::Integer(0));
    };
    let mut batch = store.batch();
    let mut removed = 0;
    for member in &args[2..] {
        if set.remove(&mut batch, member)?.is_some() {
            removed += 1;
        }
    }
    let emptied = set.is_empty();
    set.save(&mut batch);
    store.commit(batch)?;
    if removed > 0 {
        ctx.notify(Ev::SET, "srem", &args[1]);
        if emptied {
            ctx.notify(Ev::GENERIC, "del", &args[1]);
        }
    }
    Ok(Frame::Integer(removed))
}

fn members_of(set: &Collection<'_>) -> CmdResult<Vec<Bytes>> {
    Ok(set
        .collect(Space::Members, usize::MAX)?
        .into_iter()
        .map(|(m, _)| m)
        .collect())
}

fn set_reply(members: impl IntoIterator<Item = Bytes>) -> Frame {
    Frame::Set(members.into_iter().map(Frame::Bulk).collect())
}

pub fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(match lookup(ctx, &args[1], KeyType::Set)? {
        Some(set) => set_reply(members_of(&set)?),
        None => Frame::Set(Vec::new()),
    })
}

pub fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let found = match lookup(ctx, &args[1], KeyType::Set)? {
        Some(set) => set.get(&args[2])?.is_some(),
        None => false,
    };
    Ok(Frame::Integer(found as i64))
}

pub fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let members = &args[2..];
    let found = match lookup(ctx, &args[1], KeyType::Set)? {
        Some(set) => set.get_many(members)?,
        None => vec![None; members.len()],
    };
    Ok(Frame::Array(
        found
            .into_iter()
            .map(|v| Frame::Integer(v.is_some() as i64))
            .collect(),
    ))
}

pub fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let len = lookup(ctx, &args[1], KeyType::Set)?.map_or(0, |s| s.len());
    Ok(Frame::Integer(len as i64))
}

pub fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => {
            Some(arg_at_least(&args[2], 0, "ERR value is out of range, must be positive")? as usize)
        }
        _ => return Err(ReplyError::Syntax),
    };
    let store = ctx.store();
    let _guard = store.lock(ctx.db, &args[1]);
    let Some(mut set) = read(ctx, &args[1], KeyType::Set)? else {
        return Ok(if count.is_some() {
            Frame::Set(Vec::new())
        } else {
            Frame::Null
        });
    };
    if count == Some(0) {
        return Ok(Frame::Set(Vec::new()));
    }
    let picked = random_rows(&set, Space::Members, count.unwrap_or(1), false)?;
    let mut batch = store.batch();
    for (member, _) in &picked {
        set.remove(&mut batch, member)?;
    }
    let emptied = set.is_empty();
    set.save(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::SET, "spop", &args[1]);
    if emptied {
        ctx.notify(Ev::GENERIC, "del", &args[1]);
    }
    let mut members = picked.into_iter().map(|(m, _)| m);
    Ok(match count {
        Some(_) => set_reply(members),
        None => Frame::opt_bulk(members.next()),
    })
}

pub fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let counted = match args.len() {
        2 => None,
        3 => Some(random_count(&args[2], false)?),
        _ => return Err(ReplyError::Syntax),
    };
    let Some(set) = lookup(ctx, &args[1], KeyType::Set)? else {
        return Ok(if counted.is_some() {
            Frame::Array(Vec::new())
        } else {
            Frame::Null
        });
    };
    let (count, repeat) = counted.unwrap_or((1, false));
    let rows = random_rows(&set, Space::Members, count, repeat)?;
    let mut members = rows.into_iter().map(|(m, _)| m);
    Ok(match counted {
        Some(_) => Frame::Array(members.map(Frame::Bulk).collect()),
        None => Frame::opt_bulk(members.next()),
    })
}

pub fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (src_key, dst_key, member) = (&args[1], &args[2], &args[3]);
    let store = ctx.store();
    let _guard = store.lock_many([(ctx.db, &src_key[..]), (ctx.db, &dst_key[..])]);
    // A missing source answers 0 before the destination's type is checked, as in Redis (which
    // has looked the destination up already: an expired one expires).
    let Some(mut src) = read(ctx, src_key, KeyType::Set)? else {
        if store.keyspace_events().any() {
            store.lookup_raw(ctx.db, dst_key, crate::util::now_ms())?;
        }
        return Ok(Frame::Integer(0));
    };
    let mut dst = open(ctx, dst_key, KeyType::Set)?;
    if src_key == dst_key {
        return Ok(Frame::Integer(src.get(member)?.is_some() as i64));
    }
    let mut batch = store.batch();
    if src.remove(&mut batch, member)?.is_none() {
        return Ok(Frame::Integer(0));
    }
    let added = add_members(ctx, &mut dst, &mut batch, [member.clone()])?;
    // Redis's order: the source's events, then the destination's `new` (its save), then `sadd`.
    let emptied = src.is_empty();
    src.save(&mut batch);
    ctx.notify(Ev::SET, "srem", src_key);
    if emptied {
        ctx.notify(Ev::GENERIC, "del", src_key);
    }
    // A member the destination has already leaves it untouched: no write, so a WATCH of it
    // holds, as in Redis.
    if added > 0 {
        dst.save(&mut batch);
    }
    store.commit(batch)?;
    if added > 0 {
        ctx.notify(Ev::SET, "sadd", dst_key);
    }
    Ok(Frame::Integer(1))
}

/// How an algebra command combines its inputs.
#[derive(Clone, Copy, PartialEq)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// Opens the inputs of a set-algebra command: any key of another type is WRONGTYPE, even after a
/// missing one; a missing key makes an intersection empty (`None`) and is skipped otherwise.
fn open_inputs<'a>(
    ctx: &'a Ctx<'_>,
    keys: &[Bytes],
    op: Algebra,
) -> CmdResult<Option<Vec<Option<Collection<'a>>>>> {
    let mut sets = Vec::with_capacity(keys.len());
    for key in keys {
        sets.push(lookup(ctx, key, KeyType::Set)?);
    }
    if op == Algebra::Inter && sets.iter().any(Option::is_none) {
        return Ok(None);
    }
    Ok(Some(sets))
}

/// Computes an algebra result, stopping once `limit` members are found (SINTERCARD LIMIT).
fn combine(sets: Vec<Option<Collection<'_>>>, op: Algebra, limit: usize) -> CmdResult<Vec<Bytes>> {
    match op {
        Algebra::Union => {
            let mut all = BTreeSet::new();
            for set in sets.iter().flatten() {
                all.extend(members_of(set)?);
            }
            Ok(all.into_iter().collect())
        }
        Algebra::Inter | Algebra::Diff => {
            let mut sets = sets.into_iter();
            let Some(Some(first)) = sets.next() else {
                return Ok(Vec::new());
            };
            let mut others: Vec<Collection<'_>> = sets.flatten().collect();
            // Intersections walk the smallest input and probe the rest.
            let mut base = first;
            if op == Algebra::Inter {
                others.push(base);
                others.sort_by_key(|s| s.len());
                base = others.remove(0);
            }
            let mut result = members_of(&base)?;
            for other in &others {
                if result.is_empty() {
                    break;
                }
                let found = other.get_many(&result)?;
                let keep_found = op == Algebra::Inter;
                result = result
                    .into_iter()
                    .zip(found)
                    .filter(|(_, f)| f.is_some() == keep_found)
                    .map(|(m, _)| m)
                    .collect();
            }
            result.truncate(limit);
            Ok(result)
        }
    }
}

fn algebra(ctx: &Ctx<'_>, keys: &[Bytes], op: Algebra) -> CmdResult {
    // All inputs at once: taking them one by one could release the first while waiting.
    let _guard = ctx
        .store()
        .lock_many(keys.iter().map(|k| (ctx.db, k.as_ref())));
    let members = match open_inputs(ctx, keys, op)? {
        Some(sets) => combine(sets, op, usize::MAX)?,
        None => Vec::new(),
    };
    Ok(set_reply(members))
}

/// The STORE forms: replaces `dst` (whatever its type) with the result; an empty result deletes it.
fn algebra_store(ctx: &Ctx<'_>, dst_key: &Bytes, keys: &[Bytes], op: Algebra) -> CmdResult {
    let store = ctx.store();
    let _guard = store.lock_many(
        keys.iter()
            .chain(std::iter::once(dst_key))
            .map(|k| (ctx.db, k.as_ref())),
    );
    let members = match open_inputs(ctx, keys, op)? {
        Some(sets) => combine(sets, op, usize::MAX)?,
        None => Vec::new(),
    };
    if members.is_empty() {
        delete_destination(ctx, dst_key)?;
        return Ok(Frame::Integer(0));
    }
    let mut batch = store.batch();
    let count = members.len() as i64;
    let mut dst = store.replace_collection(ctx.db, dst_key, KeyType::Set)?;
    add_members(ctx, &mut dst, &mut batch, members)?;
    dst.save(&mut batch);
    store.commit(batch)?;
    let event = match op {
        Algebra::Inter => "sinterstore",
        Algebra::Union => "sunionstore",
        Algebra::Diff => "sdiffstore",
    };
    ctx.notify(Ev::SET, event, dst_key);
    Ok(Frame::Integer(count))
}

pub fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra(ctx, &args[1..], Algebra::Inter)
}

pub fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra(ctx, &args[1..], Algebra::Union)
}

pub fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra(ctx, &args[1..], Algebra::Diff)
}

pub fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra_store(ctx, &args[1], &args[2..], Algebra::Inter)
}

pub fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra_store(ctx, &args[1], &args[2..], Algebra::Union)
}

pub fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    algebra_store(ctx, &args[1], &args[2..], Algebra::Diff)
}

/// Parses `numkeys key... [LIMIT n]` (SINTERCARD, ZINTERCARD): the keys and the limit (0 = none).
pub fn parse_card_args(args: &[Bytes]) -> CmdResult<(&[Bytes], usize)> {
    let numkeys = arg_at_least(&args[1], 1, "ERR numkeys should be greater than 0")?;
    let rest = &args[2..];
    if numkeys > rest.len() as u64 {
        return Err(ReplyError::custom(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let (keys, options) = rest.split_at(numkeys as usize);
    let mut limit = 0usize;
    let mut j = 0;
    while j < options.len() {
        if is_opt(&options[j], "limit") && j + 1 < options.len() {
            limit = arg_at_least(&options[j + 1], 0, "ERR LIMIT can't be negative")? as usize;
            j += 2;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    Ok((keys, limit))
}

pub fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (keys, limit) = parse_card_args(args)?;
    let _guard = ctx
        .store()
        .lock_many(keys.iter().map(|k| (ctx.db, k.as_ref())));
    let count = match open_inputs(ctx, keys, Algebra::Inter)? {
        Some(sets) => {
            let limit = if limit == 0 { usize::MAX } else { limit };
            combine(sets, Algebra::Inter, limit)?.len()
        }
        None => 0,
    };
    Ok(Frame::Integer(count as i64))
}

pub fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    scan_members(
        ctx,
        args,
        KeyType::Set,
        Space::Members,
        |member, _, out| out.push(Frame::Bulk(Bytes::copy_from_slice(member))),
        |member, _| member,
    )
}
