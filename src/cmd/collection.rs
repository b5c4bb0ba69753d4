//! What the collection families (hash, set, list, sorted set) share: opening keys, the
//! HSCAN/SSCAN/ZSCAN cursor walk, and random member picking.

use bytes::Bytes;
use rand::Rng;

use super::keyspace::parse_cursor;
use super::{arg_i64, is_opt, Ctx, Ev};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::collection::{Collection, Space};
use crate::storage::meta::KeyType;
use crate::util::glob::glob_match;
use crate::util::now_ms;

/// Opens `key` as `kind` for a command that may change it; `None` when missing.
pub fn read<'a>(ctx: &'a Ctx<'_>, key: &[u8], kind: KeyType) -> CmdResult<Option<Collection<'a>>> {
    ctx.store().read_collection(ctx.db, key, kind, now_ms())
}

/// Opens `key` as `kind` for a command that reads it (Redis's `lookupKeyRead`): a missing key
/// is announced as a `keymiss` event.
pub fn lookup<'a>(
    ctx: &'a Ctx<'_>,
    key: &[u8],
    kind: KeyType,
) -> CmdResult<Option<Collection<'a>>> {
    let found = read(ctx, key, kind)?;
    if found.is_none() {
        ctx.keymiss(key);
    }
    Ok(found)
}

/// Opens `key` for a write as `kind` (the caller holds its lock).
pub fn open<'a>(ctx: &'a Ctx<'_>, key: &[u8], kind: KeyType) -> CmdResult<Collection<'a>> {
    ctx.store().open_collection(ctx.db, key, kind, now_ms())
}

/// An empty STORE result: the destination goes, announced as `del` if it was there — even
/// expired, since Redis deletes it without looking it up first. The caller holds its lock.
pub fn delete_destination(ctx: &Ctx<'_>, key: &[u8]) -> CmdResult<()> {
    let store = ctx.store();
    if let Some(old) = store.get_raw(ctx.db, key)? {
        let mut batch = store.batch();
        batch.delete(ctx.db, key, &old);
        store.commit(batch)?;
        ctx.notify(Ev::GENERIC, "del", key);
    }
    Ok(())
}

/// Members visited per HSCAN/SSCAN/ZSCAN call at most, whatever COUNT asks.
const MAX_SCAN_COUNT: i64 = 1 << 20;

/// HSCAN/SSCAN/ZSCAN: `args` is the whole command. Compact collections (Redis's listpack and
/// intset) answer everything in one call with cursor 0, as Redis does; bigger ones walk `space`
/// in COUNT-sized steps, resuming from a remembered row. `reply` turns a row into its reply items.
pub fn scan_members(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    kind: KeyType,
    space: Space,
    reply: impl Fn(&[u8], &[u8], &mut Vec<Frame>),
    matched: impl for<'r> Fn(&'r [u8], &'r [u8]) -> &'r [u8],
) -> CmdResult {
    let cursor = parse_cursor(&args[2]).ok_or_else(|| ReplyError::custom("ERR invalid cursor"))?;
    let Some(coll) = lookup(ctx, &args[1], kind)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let mut count = 10i64;
    let mut pattern: Option<&Bytes> = None;
    let mut j = 3;
    while j < args.len() {
        if j + 1 >= args.len() {
            return Err(ReplyError::Syntax);
        }
        if is_opt(&args[j], "count") {
            count = arg_i64(&args[j + 1])?;
            if count < 1 {
                return Err(ReplyError::Syntax);
            }
        } else if is_opt(&args[j], "match") {
            pattern = Some(&args[j + 1]).filter(|p| p.as_ref() != b"*");
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 2;
    }
    let limit = if coll.header.expanded {
        count.min(MAX_SCAN_COUNT) as usize
    } else {
        usize::MAX
    };
    // The cursor table remembers `key length · key · row`, so a cursor of another key is unknown.
    let tag = |row: &[u8]| {
        let mut saved = (args[1].len() as u32).to_be_bytes().to_vec();
        saved.extend_from_slice(&args[1]);
        saved.extend_from_slice(row);
        Bytes::from(saved)
    };
    let start = match cursor {
        0 => None,
        n => {
            let prefix = tag(b"");
            match ctx.state.scan_cursors.resume(n, ctx.db) {
                Some(saved) if saved.starts_with(&prefix) => {
                    let mut from = saved[prefix.len()..].to_vec();
                    from.push(0); // strictly after the last row returned
                    Some(from)
                }
                _ => return Ok(scan_reply(0, Vec::new())),
            }
        }
    };
    let mut items = Vec::new();
    let mut seen = 0usize;
    let mut last: Option<Vec<u8>> = None;
    coll.scan(space, start.as_deref(), false, |row, value| {
        if seen == limit {
            return Ok(false);
        }
        seen += 1;
        last = Some(row.to_vec());
        if pattern.is_none_or(|p| glob_match(p, matched(row, value), false)) {
            reply(row, value, &mut items);
        }
        Ok(true)
    })?;
    let next = match last {
        Some(row) if seen == limit && (seen as u64) < coll.len() => {
            ctx.state.scan_cursors.save(ctx.db, tag(&row))
        }
        _ => 0,
    };
    Ok(scan_reply(next, items))
}

fn scan_reply(cursor: u64, items: Vec<Frame>) -> Frame {
    Frame::Array(vec![Frame::text(cursor.to_string()), Frame::Array(items)])
}

/// Pairs (field and value, member and score) as Redis sends them: each pair a two-element array
/// when `nested` (RESP3 replies, ZMPOP), or all flat.
pub fn pairs_reply(pairs: impl IntoIterator<Item = (Frame, Frame)>, nested: bool) -> Frame {
    let pairs = pairs.into_iter();
    Frame::Array(if nested {
        pairs.map(|(a, b)| Frame::Array(vec![a, b])).collect()
    } else {
        pairs.flat_map(|(a, b)| [a, b]).collect()
    })
}

/// Collections up to this size are sampled exactly, in memory.
const SAMPLE_IN_MEMORY: usize = 1024;
/// Rows read after a random seek, one of which is picked: smooths the bias of seeking into a
/// keyspace whose rows are not evenly spread.
const PICK_WINDOW: usize = 16;

/// Picks `count` random rows of `space`: distinct ones (at most the whole collection) or, with
/// `repeat`, exactly `count` rows that may repeat. Small collections, and big requests, are
/// sampled exactly; a few picks from a big collection seek to random points between its first and
/// last rows instead of reading it whole (close to uniform, not exactly).
pub fn random_rows(
    coll: &Collection<'_>,
    space: Space,
    count: usize,
    repeat: bool,
) -> CmdResult<Vec<(Bytes, Bytes)>> {
    let size = coll.len() as usize;
    let mut rng = crate::util::rng();
    if size == 0 || count == 0 {
        return Ok(Vec::new());
    }
    if !repeat && count >= size {
        return Ok(coll.collect(space, usize::MAX)?);
    }
    if size <= SAMPLE_IN_MEMORY || (!repeat && count >= size / 4) {
        let all = coll.collect(space, usize::MAX)?;
        if repeat {
            return Ok((0..count)
                .map(|_| all[rng.gen_range(0..all.len())].clone())
                .collect());
        }
        let picked = rand::seq::index::sample(&mut rng, all.len(), count);
        return Ok(picked.into_iter().map(|i| all[i].clone()).collect());
    }
    let (Some(first), Some(last)) = (edge_row(coll, space, false)?, edge_row(coll, space, true)?)
    else {
        return Ok(Vec::new());
    };
    // Probes: the first and last rows' common prefix, a byte in the range they span, random bytes.
    let shared = first.iter().zip(&last).take_while(|(a, b)| a == b).count();
    let low = first.get(shared).copied().unwrap_or(0);
    let high = last.get(shared).copied().unwrap_or(u8::MAX).max(low);
    let mut out: Vec<(Bytes, Bytes)> = Vec::with_capacity(count);
    let mut chosen = std::collections::HashSet::new();
    let mut attempts = 0usize;
    while out.len() < count {
        attempts += 1;
        if !repeat && attempts > count.saturating_mul(8) {
            // Unlucky draws: finish with one exact pass (reservoir sampling).
            return reservoir(coll, space, count);
        }
        // Each later byte within what the first and last rows hold there: random bytes outside
        // the keys' alphabet (digits, say) would land every probe on a few boundaries, where the
        // tombstones of earlier picks then pile up and every later pick steps over them.
        let mut probe = last[..shared].to_vec();
        probe.push(rng.gen_range(low..=high));
        for at in shared + 1..first.len().max(last.len()).min(shared + 24) {
            let (a, b) = (first.get(at), last.get(at));
            let lo = *a.min(b).unwrap_or(&0);
            let hi = *a.max(b).unwrap_or(&u8::MAX);
            probe.push(rng.gen_range(lo.min(hi)..=hi.max(lo)));
        }
        let window = rows_from(coll, space, &probe, PICK_WINDOW)?;
        if window.is_empty() {
            continue;
        }
        let row = window[rng.gen_range(0..window.len())].clone();
        if repeat || chosen.insert(row.0.clone()) {
            out.push(row);
        }
    }
    Ok(out)
}

/// `count` distinct rows chosen uniformly in one pass over the collection.
fn reservoir(coll: &Collection<'_>, space: Space, count: usize) -> CmdResult<Vec<(Bytes, Bytes)>> {
    let mut rng = crate::util::rng();
    let mut kept: Vec<(Bytes, Bytes)> = Vec::with_capacity(count);
    let mut seen = 0usize;
    coll.scan(space, None, false, |row, value| {
        seen += 1;
        let row = (Bytes::copy_from_slice(row), Bytes::copy_from_slice(value));
        if kept.len() < count {
            kept.push(row);
        } else {
            let slot = rng.gen_range(0..seen);
            if slot < count {
                kept[slot] = row;
            }
        }
        Ok(true)
    })?;
    Ok(kept)
}

/// The first (or, `last`, the last) row of `space`.
fn edge_row(coll: &Collection<'_>, space: Space, last: bool) -> CmdResult<Option<Bytes>> {
    let mut found = None;
    coll.scan(space, None, last, |row, _| {
        found = Some(Bytes::copy_from_slice(row));
        Ok(false)
    })?;
    Ok(found)
}

/// Up to `limit` rows from `from` on, wrapping around to the first row.
fn rows_from(
    coll: &Collection<'_>,
    space: Space,
    from: &[u8],
    limit: usize,
) -> CmdResult<Vec<(Bytes, Bytes)>> {
    let mut rows = Vec::with_capacity(limit);
    for start in [Some(from), None] {
        coll.scan(space, start, false, |row, value| {
            if rows.len() == limit || (start.is_none() && row >= from) {
                return Ok(false);
            }
            rows.push((Bytes::copy_from_slice(row), Bytes::copy_from_slice(value)));
            Ok(true)
        })?;
    }
    Ok(rows)
}

/// Most picks with repetition one reply may hold: Redis would try to build any count a client asks
/// for; Kiwi refuses counts that could not fit in memory.
const MAX_REPEATED_PICKS: u64 = 1 << 24;

/// Parses the count of HRANDFIELD/SRANDMEMBER/ZRANDMEMBER: `(count, repeat)`. A negative count
/// asks for that many picks with repetition. `paired` (WITHVALUES/WITHSCORES) halves the range,
/// as in Redis.
pub fn random_count(arg: &[u8], paired: bool) -> CmdResult<(usize, bool)> {
    let n = arg_i64(arg)?;
    if n == i64::MIN {
        return Err(ReplyError::custom(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let picks = n.unsigned_abs();
    if paired && picks > i64::MAX as u64 / 2 {
        return Err(ReplyError::custom("ERR value is out of range"));
    }
    if n >= 0 {
        return Ok((n as usize, false));
    }
    if picks > MAX_REPEATED_PICKS {
        return Err(ReplyError::custom("ERR value is out of range"));
    }
    Ok((picks as usize, true))
}
