//! Sorted-set commands.
//!
//! Each member has two rows: `member → score` in the member space (the f64's bits, big-endian),
//! which answers ZSCORE and tells ZADD the old score, and `score · member` in the score index
//! (scores encoded by [`encode_score`]), whose byte order is Redis's order: by score, then by
//! member bytes. Ranges are seeks into the index; ZCARD reads only the header.
//!
//! Redis keeps small sorted sets in a listpack. Where that shows — OBJECT ENCODING, a `-0` score
//! stored as `0`, ZSCAN's score format — Kiwi follows the header's `expanded` flag, set when the
//! set outgrows `zset-max-listpack-entries` / `-value` and never cleared, as in Redis.

mod algebra;
mod range;

use bytes::Bytes;

pub use algebra::{zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion, zunionstore};
pub(crate) use range::{walk_interval, ScoreRange};
pub use range::{
    zcount, zlexcount, zrange, zrangebylex, zrangebyscore, zrangestore, zremrangebylex,
    zremrangebyrank, zremrangebyscore, zrevrange, zrevrangebylex, zrevrangebyscore,
};

use super::collection::{self, random_count, random_rows, scan_members};
use super::keyspace::parse_cursor;
use super::{arg_at_least, is_opt, Ctx, Ev};
use crate::error::{CmdResult, ReplyError};
use crate::resp::{Frame, Protocol};
use crate::storage::collection::{Collection, Space};
use crate::storage::keys::{decode_score, encode_score};
use crate::storage::meta::KeyType;
use crate::storage::{Batch, StorageError};
use crate::util::number::{format_double, format_listpack_double, parse_f64};

/// A member and its score, as range reads return them.
pub(crate) type Scored = (Bytes, f64);

/// One sorted set as a command sees it: the collection plus the listpack thresholds in force.
pub(crate) struct ZSet<'a> {
    coll: Collection<'a>,
    max_entries: u64,
    max_value: u64,
}

impl<'a> ZSet<'a> {
    fn wrap(ctx: &Ctx<'_>, coll: Collection<'a>) -> ZSet<'a> {
        let config = ctx.state.config();
        ZSet {
            coll,
            max_entries: config.zset_max_listpack_entries,
            max_value: config.zset_max_listpack_value,
        }
    }

    /// Opens `key` for reading; `None` when missing, WRONGTYPE when not a sorted set.
    pub fn read(ctx: &'a Ctx<'_>, key: &[u8]) -> CmdResult<Option<ZSet<'a>>> {
        Ok(collection::read(ctx, key, KeyType::ZSet)?.map(|c| ZSet::wrap(ctx, c)))
    }

    /// Opens `key` for a command that reads it: like [`Self::read`], and a missing key is a
    /// `keymiss` event.
    pub fn lookup(ctx: &'a Ctx<'_>, key: &[u8]) -> CmdResult<Option<ZSet<'a>>> {
        Ok(collection::lookup(ctx, key, KeyType::ZSet)?.map(|c| ZSet::wrap(ctx, c)))
    }

    /// Opens `key` for a write (the caller holds its lock); a missing key opens empty.
    pub fn open(ctx: &'a Ctx<'_>, key: &[u8]) -> CmdResult<ZSet<'a>> {
        Ok(ZSet::wrap(ctx, collection::open(ctx, key, KeyType::ZSet)?))
    }

    /// A new, empty sorted set that replaces whatever `key` holds when saved (the destination of
    /// the STORE commands, which Redis builds fresh). `expanded` presets the encoding Redis picks
    /// for the result up front.
    pub fn create(ctx: &'a Ctx<'_>, key: &[u8], expanded: bool) -> CmdResult<ZSet<'a>> {
        let coll = ctx.store().replace_collection(ctx.db, key, KeyType::ZSet)?;
        let mut zset = ZSet::wrap(ctx, coll);
        zset.coll.header.expanded = expanded;
        Ok(zset)
    }

    /// True when the key existed when opened.
    pub fn exists(&self) -> bool {
        self.coll.exists()
    }

    /// Number of members.
    pub fn len(&self) -> u64 {
        self.coll.len()
    }

    /// True when Redis would hold this set as a skiplist rather than a listpack.
    pub fn expanded(&self) -> bool {
        self.coll.header.expanded
    }

    /// A member's score.
    pub fn score(&self, member: &[u8]) -> CmdResult<Option<f64>> {
        self.coll.get(member)?.map(|v| member_score(&v)).transpose()
    }

    /// Several members' scores with one batched lookup.
    pub fn scores(&self, members: &[Bytes]) -> CmdResult<Vec<Option<f64>>> {
        self.coll
            .get_many(members)?
            .into_iter()
            .map(|v| v.map(|v| member_score(&v)).transpose())
            .collect()
    }

    /// Gives `member` (whose current score is `old`, `None` when new) the score `score`: both
    /// rows, the size and the encoding flag. A listpack stores `-0` as `0`.
    pub fn set(&mut self, batch: &mut Batch<'_>, member: &[u8], old: Option<f64>, score: f64) {
        match old {
            Some(old) => self.coll.delete_score(batch, &index_key(old, member)),
            None => {
                self.coll.header.size += 1;
                if self.coll.header.size > self.max_entries || member.len() as u64 > self.max_value
                {
                    self.coll.header.expanded = true;
                }
            }
        }
        let score = if score == 0.0 && !self.expanded() {
            0.0
        } else {
            score
        };
        let bits = Bytes::copy_from_slice(&score.to_bits().to_be_bytes());
        self.coll.put(batch, member, bits);
        let sign = if score == 0.0 && score.is_sign_negative() {
            vec![1]
        } else {
            Vec::new()
        };
        self.coll.put_score(batch, &index_key(score, member), sign);
    }

    /// Removes a member whose score is `score`.
    pub fn remove(&mut self, batch: &mut Batch<'_>, member: &[u8], score: f64) {
        self.coll.header.size -= 1;
        self.coll.delete(batch, member);
        self.coll.delete_score(batch, &index_key(score, member));
    }

    /// Walks the score index up (or down, `reverse`) from the index row `from` (inclusive; `None`
    /// = from the end), calling `f(score, member)` until it returns false. Sees committed data
    /// only: commands walk before they write.
    pub fn walk(
        &self,
        from: Option<&[u8]>,
        reverse: bool,
        mut f: impl FnMut(f64, &[u8]) -> bool,
    ) -> CmdResult<()> {
        self.coll.scan(Space::Scores, from, reverse, |row, value| {
            let (score, member) = index_entry(row, value)?;
            Ok(f(score, member))
        })?;
        Ok(())
    }

    /// Up to `count` members from the low end (or the high end, `reverse`), in that order.
    pub fn take(&self, count: usize, reverse: bool) -> CmdResult<Vec<Scored>> {
        let mut out = Vec::with_capacity(count.min(self.len() as usize));
        if count > 0 {
            self.walk(None, reverse, |score, member| {
                out.push((Bytes::copy_from_slice(member), score));
                out.len() < count
            })?;
        }
        Ok(out)
    }

    /// Writes the header back, or deletes the key when it became empty.
    pub fn save(self, batch: &mut Batch<'_>) {
        self.coll.save(batch);
    }
}

/// The score-index row of a member: encoded score, then the member bytes.
pub(crate) fn index_key(score: f64, member: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + member.len());
    key.extend_from_slice(&encode_score(score));
    key.extend_from_slice(member);
    key
}

/// Splits a score-index row into (score, member); a non-empty value marks a `-0` score.
fn index_entry<'r>(row: &'r [u8], value: &[u8]) -> Result<(f64, &'r [u8]), StorageError> {
    let score = decode_score(row).ok_or(StorageError::Corrupt)?;
    Ok((if value.is_empty() { score } else { -0.0 }, &row[8..]))
}

fn member_score(value: &[u8]) -> CmdResult<f64> {
    let bits: [u8; 8] = value.try_into().map_err(|_| StorageError::Corrupt)?;
    Ok(f64::from_bits(u64::from_be_bytes(bits)))
}

/// Replaces `dst` with `entries` and commits, announced as `event` (an empty result deletes
/// it, announced as `del`); `expanded` is the encoding Redis gives the result before it is
/// filled. Returns the stored size.
pub(crate) fn store_result(
    ctx: &Ctx<'_>,
    dst: &[u8],
    entries: &[Scored],
    expanded: bool,
    event: &'static str,
) -> CmdResult<i64> {
    if entries.is_empty() {
        collection::delete_destination(ctx, dst)?;
        return Ok(0);
    }
    let store = ctx.store();
    let mut batch = store.batch();
    let mut zset = ZSet::create(ctx, dst, expanded)?;
    for (member, score) in entries {
        zset.set(&mut batch, member, None, *score);
    }
    let len = zset.len() as i64;
    zset.save(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::ZSET, event, dst);
    Ok(len)
}

/// True when a stored result of `entries` stays a skiplist: Redis builds union/intersection/
/// difference and GEO results as a skiplist and converts them to a listpack only when small.
pub(crate) fn result_expanded(ctx: &Ctx<'_>, entries: &[Scored]) -> bool {
    let config = ctx.state.config();
    entries.len() as u64 > config.zset_max_listpack_entries
        || entries
            .iter()
            .any(|(m, _)| m.len() as u64 > config.zset_max_listpack_value)
}

/// Members and, with `withscores`, their scores: a flat array in RESP2, `[member, score]` pairs
/// in RESP3 (Redis keeps the order, so no map).
pub(crate) fn scored_reply(proto: Protocol, entries: Vec<Scored>, withscores: bool) -> Frame {
    if !withscores {
        return Frame::Array(entries.into_iter().map(|(m, _)| Frame::Bulk(m)).collect());
    }
    popped_reply(entries, proto == Protocol::Resp3)
}

/// ZADD's options.
#[derive(Default, Clone, Copy)]
pub(crate) struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

impl AddFlags {
    /// Reads the flags at the start of `args[at..]`: NX XX CH, plus INCR GT LT for ZADD
    /// (`score_flags`; GEOADD has only the first three). Returns where the flags end.
    pub(crate) fn parse(&mut self, args: &[Bytes], mut at: usize, score_flags: bool) -> usize {
        while let Some(opt) = args.get(at) {
            let flag = match opt.to_ascii_lowercase().as_slice() {
                b"nx" => &mut self.nx,
                b"xx" => &mut self.xx,
                b"ch" => &mut self.ch,
                b"incr" if score_flags => &mut self.incr,
                b"gt" if score_flags => &mut self.gt,
                b"lt" if score_flags => &mut self.lt,
                _ => break,
            };
            *flag = true;
            at += 1;
        }
        at
    }
}

/// What [`add`] did.
pub(crate) struct Added {
    /// New members.
    pub added: i64,
    /// Existing members whose score changed.
    pub updated: i64,
    /// The last score written or confirmed (INCR's reply); `None` when every pair was skipped.
    pub score: Option<f64>,
}

/// ZADD's core (also ZINCRBY and GEOADD): applies score/member pairs under the key's lock.
pub(crate) fn add(
    ctx: &Ctx<'_>,
    key: &[u8],
    flags: AddFlags,
    pairs: &[(f64, &Bytes)],
) -> CmdResult<Added> {
    let store = ctx.store();
    let _guard = store.lock(ctx.db, key);
    let mut zset = ZSet::open(ctx, key)?;
    let mut done = Added {
        added: 0,
        updated: 0,
        score: None,
    };
    if !zset.exists() && flags.xx {
        return Ok(done);
    }
    let mut batch = store.batch();
    for &(score, member) in pairs {
        match zset.score(member)? {
            Some(current) => {
                if flags.nx {
                    continue;
                }
                let score = if flags.incr { score + current } else { score };
                if score.is_nan() {
                    return Err(ReplyError::custom(
                        "ERR resulting score is not a number (NaN)",
                    ));
                }
                if (flags.lt && score >= current) || (flags.gt && score <= current) {
                    continue;
                }
                done.score = Some(score);
                if score != current {
                    zset.set(&mut batch, member, Some(current), score);
                    done.updated += 1;
                }
            }
            None if flags.xx => {}
            None => {
                done.score = Some(score);
                zset.set(&mut batch, member, None, score);
                done.added += 1;
            }
        }
    }
    zset.save(&mut batch);
    store.commit(batch)?;
    if done.added + done.updated > 0 {
        ctx.notify(Ev::ZSET, if flags.incr { "zincr" } else { "zadd" }, key);
    }
    Ok(done)
}

/// ZADD and ZINCRBY (which Redis parses the same way, with INCR implied).
fn zadd_generic(ctx: &Ctx<'_>, args: &[Bytes], incr: bool) -> CmdResult {
    let mut flags = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let at = flags.parse(args, 2, true);
    let rest = &args[at..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return Err(ReplyError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(ReplyError::custom(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if ((flags.gt || flags.lt) && flags.nx) || (flags.gt && flags.lt) {
        return Err(ReplyError::custom(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && rest.len() > 2 {
        return Err(ReplyError::custom(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let pairs = rest
        .chunks(2)
        .map(|p| Ok((parse_f64(&p[0]).ok_or(ReplyError::NotFloat)?, &p[1])))
        .collect::<CmdResult<Vec<_>>>()?;
    let done = add(ctx, &args[1], flags, &pairs)?;
    Ok(if flags.incr {
        done.score.map_or(Frame::Null, Frame::Double)
    } else if flags.ch {
        Frame::Integer(done.added + done.updated)
    } else {
        Frame::Integer(done.added)
    })
}

pub fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, args, false)
}

pub fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, args, true)
}

pub fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let Some(mut zset) = ZSet::read(ctx, key)? else {
        return Ok(Frame::Integer(0));
    };
    let mut batch = store.batch();
    let mut removed = 0;
    for member in &args[2..] {
        if let Some(score) = zset.score(member)? {
            zset.remove(&mut batch, member, score);
            removed += 1;
        }
    }
    let emptied = zset.len() == 0;
    zset.save(&mut batch);
    store.commit(batch)?;
    if removed > 0 {
        ctx.notify(Ev::ZSET, "zrem", key);
        if emptied {
            ctx.notify(Ev::GENERIC, "del", key);
        }
    }
    Ok(Frame::Integer(removed))
}

pub fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let len = ZSet::lookup(ctx, &args[1])?.map_or(0, |z| z.len());
    Ok(Frame::Integer(len as i64))
}

pub fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let score = match ZSet::lookup(ctx, &args[1])? {
        Some(zset) => zset.score(&args[2])?,
        None => None,
    };
    Ok(score.map_or(Frame::Null, Frame::Double))
}

pub fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let members = &args[2..];
    let scores = match ZSet::lookup(ctx, &args[1])? {
        Some(zset) => zset.scores(members)?,
        None => vec![None; members.len()],
    };
    Ok(Frame::Array(
        scores
            .into_iter()
            .map(|s| s.map_or(Frame::Null, Frame::Double))
            .collect(),
    ))
}

/// ZRANK/ZREVRANK: counts the index rows before the member's from the chosen end.
fn rank(ctx: &Ctx<'_>, args: &[Bytes], reverse: bool) -> CmdResult {
    let Some(zset) = ZSet::lookup(ctx, &args[1])? else {
        return Ok(Frame::Null);
    };
    let member = &args[2][..];
    if zset.score(member)?.is_none() {
        return Ok(Frame::Null);
    }
    let mut before = 0i64;
    zset.walk(None, reverse, |_, m| {
        if m == member {
            return false;
        }
        before += 1;
        true
    })?;
    Ok(Frame::Integer(before))
}

pub fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, false)
}

pub fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, true)
}

/// Pops from the first key of `keys` that holds a sorted set (WRONGTYPE stops the search): the
/// key and what was popped, `None` when no key exists.
fn pop(
    ctx: &Ctx<'_>,
    keys: &[Bytes],
    count: usize,
    max: bool,
) -> CmdResult<Option<(Bytes, Vec<Scored>)>> {
    let store = ctx.store();
    let _guard = store.lock_many(keys.iter().map(|k| (ctx.db, &k[..])));
    for key in keys {
        let Some(mut zset) = ZSet::read(ctx, key)? else {
            continue;
        };
        let popped = zset.take(count, max)?;
        if popped.is_empty() {
            return Ok(Some((key.clone(), popped)));
        }
        let mut batch = store.batch();
        for (member, score) in &popped {
            zset.remove(&mut batch, member, *score);
        }
        // Every score row up to the last one popped is gone now: later pops start past them.
        if let Some((member, score)) = popped.last() {
            let last = index_key(*score, member);
            match max {
                true => zset.coll.lower_score_ceiling(&last),
                false => zset.coll.raise_score_floor(&last),
            }
        }
        let emptied = zset.len() == 0;
        zset.save(&mut batch);
        store.commit(batch)?;
        ctx.notify(Ev::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        if emptied {
            ctx.notify(Ev::GENERIC, "del", key);
        }
        return Ok(Some((key.clone(), popped)));
    }
    Ok(None)
}

/// Popped pairs: flat, or as `[member, score]` pairs when `nested`.
fn popped_reply(entries: Vec<Scored>, nested: bool) -> Frame {
    let pairs = entries
        .into_iter()
        .map(|(m, s)| (Frame::Bulk(m), Frame::Double(s)));
    collection::pairs_reply(pairs, nested)
}

/// ZPOPMIN/ZPOPMAX: without a count one flat pair; with one, pairs nested in RESP3.
fn zpop(ctx: &Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(ReplyError::Syntax);
    }
    let count = match args.get(2) {
        Some(arg) => {
            Some(arg_at_least(arg, 0, "ERR value is out of range, must be positive")? as usize)
        }
        None => None,
    };
    let nested = ctx.proto == Protocol::Resp3 && count.is_some();
    Ok(match pop(ctx, &args[1..2], count.unwrap_or(1), max)? {
        Some((_, popped)) => popped_reply(popped, nested),
        None => Frame::Array(Vec::new()),
    })
}

pub fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, false)
}

pub fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, true)
}

pub fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let numkeys = arg_at_least(&args[1], 1, "ERR numkeys should be greater than 0")? as usize;
    let where_at = numkeys.saturating_add(2);
    let Some(side) = args.get(where_at) else {
        return Err(ReplyError::Syntax);
    };
    let max = if is_opt(side, "min") {
        false
    } else if is_opt(side, "max") {
        true
    } else {
        return Err(ReplyError::Syntax);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && is_opt(&args[j], "count") && j + 1 < args.len() {
            count =
                Some(arg_at_least(&args[j + 1], 1, "ERR count should be greater than 0")? as usize);
            j += 2;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    Ok(
        match pop(ctx, &args[2..where_at], count.unwrap_or(1), max)? {
            Some((key, popped)) => Frame::Array(vec![Frame::Bulk(key), popped_reply(popped, true)]),
            None => Frame::NullArray,
        },
    )
}

pub fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() == 2 {
        let Some(zset) = ZSet::lookup(ctx, &args[1])? else {
            return Ok(Frame::Null);
        };
        let picked = random_rows(&zset.coll, Space::Members, 1, false)?;
        return Ok(Frame::opt_bulk(picked.into_iter().next().map(|(m, _)| m)));
    }
    let (count, repeat) = random_count(&args[2], false)?;
    let withscores = match args.len() {
        3 => false,
        4 if is_opt(&args[3], "withscores") => true,
        _ => return Err(ReplyError::Syntax),
    };
    if withscores {
        random_count(&args[2], true)?;
        if !repeat && count as u64 > i64::MAX as u64 / 2 {
            return Err(ReplyError::custom("ERR value is out of range"));
        }
    }
    let Some(zset) = ZSet::lookup(ctx, &args[1])? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let entries = if !repeat && count as u64 >= zset.len() {
        // Redis answers "the whole set" from the top down.
        zset.take(usize::MAX, true)?
    } else {
        random_rows(&zset.coll, Space::Members, count, repeat)?
            .into_iter()
            .map(|(m, s)| Ok((m, member_score(&s)?)))
            .collect::<CmdResult<Vec<_>>>()?
    };
    Ok(scored_reply(ctx.proto, entries, withscores))
}

pub fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // A small set's scores come out as its listpack stores them; the cursor and type errors are
    // left to `scan_members`, which reports them in Redis's order.
    let listpack = parse_cursor(&args[2]).is_some()
        && matches!(ZSet::read(ctx, &args[1]), Ok(Some(z)) if !z.expanded());
    scan_members(
        ctx,
        args,
        KeyType::ZSet,
        Space::Scores,
        |row, value, out| {
            let Ok((score, member)) = index_entry(row, value) else {
                return;
            };
            let text = if listpack {
                format_listpack_double(score)
            } else {
                format_double(score)
            };
            out.push(Frame::Bulk(Bytes::copy_from_slice(member)));
            out.push(Frame::text(text));
        },
        |row, _| row.get(8..).unwrap_or_default(),
    )
}
