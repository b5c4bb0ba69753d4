//! Range reads and deletes of sorted sets: by rank, by score interval, by member bytes (lex).
//!
//! Intervals are walked the way Redis walks a listpack: find the first member past the start
//! bound, skip the LIMIT offset, then take members while they are inside the end bound. For lex
//! intervals over members with different scores this is what Redis does for small sets (its
//! skiplist answer then depends on random node levels), so it is the deterministic choice.

use bytes::Bytes;

use super::{index_key, scored_reply, store_result, Scored, ZSet};
use crate::cmd::{arg_i64, is_opt, Ctx, Ev};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::keys::encode_score;
use crate::util::number::parse_range_f64;

/// A score interval (`(` makes a bound exclusive).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    /// Parses `min max` as ZRANGEBYSCORE does.
    pub fn parse(min: &[u8], max: &[u8]) -> CmdResult<ScoreRange> {
        let bound = |arg: &[u8]| match arg.strip_prefix(b"(") {
            Some(rest) => parse_range_f64(rest).map(|v| (v, true)),
            None => parse_range_f64(arg).map(|v| (v, false)),
        };
        match (bound(min), bound(max)) {
            (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
                min,
                max,
                minex,
                maxex,
            }),
            _ => Err(ReplyError::custom("ERR min or max is not a float")),
        }
    }
}

/// A bound of a lex interval: `-`, `+`, or a member.
#[derive(Debug, Clone, PartialEq)]
enum LexValue {
    Min,
    Max,
    Member(Bytes),
}

/// Redis's `sdscmplex`: `-` is below and `+` above every member.
fn cmp_lex(a: &LexValue, b: &LexValue) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    use LexValue::*;
    match (a, b) {
        (Min, Min) | (Max, Max) => Equal,
        (Min, _) | (_, Max) => Less,
        (Max, _) | (_, Min) => Greater,
        (Member(a), Member(b)) => a.cmp(b),
    }
}

/// A lex interval (`[` inclusive, `(` exclusive, `-`/`+` open ends).
#[derive(Debug, Clone)]
pub(crate) struct LexRange {
    min: LexValue,
    minex: bool,
    max: LexValue,
    maxex: bool,
}

impl LexRange {
    /// Parses `min max` as ZRANGEBYLEX does.
    pub fn parse(min: &[u8], max: &[u8]) -> CmdResult<LexRange> {
        // Redis checks for `+`/`-` by looking at the second byte of a C string, so a NUL there
        // ends the bound too.
        let item = |arg: &[u8]| match arg.first() {
            Some(b'+') if arg.get(1).is_none_or(|&c| c == 0) => Some((LexValue::Max, true)),
            Some(b'-') if arg.get(1).is_none_or(|&c| c == 0) => Some((LexValue::Min, true)),
            Some(b'(') => Some((LexValue::Member(Bytes::copy_from_slice(&arg[1..])), true)),
            Some(b'[') => Some((LexValue::Member(Bytes::copy_from_slice(&arg[1..])), false)),
            _ => None,
        };
        match (item(min), item(max)) {
            (Some((min, minex)), Some((max, maxex))) => Ok(LexRange {
                min,
                minex,
                max,
                maxex,
            }),
            _ => Err(ReplyError::custom(
                "ERR min or max not valid string range item",
            )),
        }
    }

    fn bytes(value: &LexValue) -> Option<&[u8]> {
        match value {
            LexValue::Member(m) => Some(m),
            _ => None,
        }
    }
}

/// Where a walk over an interval starts: an index row to seek to (`None`: from the end).
type Start = Option<Vec<u8>>;

/// What walking an interval needs to know about it.
pub(crate) trait Interval {
    /// True when `(score, member)` is at or past the low bound.
    fn above_min(&self, score: f64, member: &[u8]) -> bool;
    /// True when `(score, member)` is at or before the high bound.
    fn below_max(&self, score: f64, member: &[u8]) -> bool;
    /// Where to start walking up (or down), or `None` when nothing can be in the interval.
    fn start(&self, zset: &ZSet<'_>, reverse: bool) -> CmdResult<Option<Start>>;
}

impl Interval for ScoreRange {
    fn above_min(&self, score: f64, _: &[u8]) -> bool {
        if self.minex {
            score > self.min
        } else {
            score >= self.min
        }
    }

    fn below_max(&self, score: f64, _: &[u8]) -> bool {
        if self.maxex {
            score < self.max
        } else {
            score <= self.max
        }
    }

    fn start(&self, _: &ZSet<'_>, reverse: bool) -> CmdResult<Option<Start>> {
        if self.min > self.max || (self.min == self.max && (self.minex || self.maxex)) {
            return Ok(None);
        }
        Ok(Some(Some(if reverse {
            // Past every row scored `max`: the next encoded score, with no member.
            let next = u64::from_be_bytes(encode_score(self.max)).saturating_add(1);
            next.to_be_bytes().to_vec()
        } else {
            encode_score(self.min).to_vec()
        })))
    }
}

impl Interval for LexRange {
    fn above_min(&self, _: f64, member: &[u8]) -> bool {
        let value = LexValue::Member(Bytes::copy_from_slice(member));
        let ord = cmp_lex(&value, &self.min);
        if self.minex {
            ord.is_gt()
        } else {
            ord.is_ge()
        }
    }

    fn below_max(&self, _: f64, member: &[u8]) -> bool {
        let value = LexValue::Member(Bytes::copy_from_slice(member));
        let ord = cmp_lex(&value, &self.max);
        if self.maxex {
            ord.is_lt()
        } else {
            ord.is_le()
        }
    }

    fn start(&self, zset: &ZSet<'_>, reverse: bool) -> CmdResult<Option<Start>> {
        let ord = cmp_lex(&self.min, &self.max);
        if ord.is_gt() || (ord.is_eq() && (self.minex || self.maxex)) {
            return Ok(None);
        }
        // Redis first checks the interval against the first and last members (in score order).
        let (Some(first), Some(last)) = (zset.take(1, false)?.pop(), zset.take(1, true)?.pop())
        else {
            return Ok(None);
        };
        if !self.above_min(last.1, &last.0) || !self.below_max(first.1, &first.0) {
            return Ok(None);
        }
        // With a single score, member order is index order: seek straight to the bound.
        if encode_score(first.1) != encode_score(last.1) {
            return Ok(Some(None));
        }
        let bound = if reverse { &self.max } else { &self.min };
        Ok(Some(LexRange::bytes(bound).map(|b| index_key(first.1, b))))
    }
}

/// Walks the members of `range` up (or down), skipping `offset` of them and passing at most
/// `limit` (negative: all) to `emit` — which returns false to stop early — in Redis's listpack
/// order of checks.
pub(crate) fn walk_interval(
    zset: &ZSet<'_>,
    range: &impl Interval,
    reverse: bool,
    offset: i64,
    limit: i64,
    mut emit: impl FnMut(f64, &[u8]) -> bool,
) -> CmdResult<()> {
    if offset < 0 || limit == 0 {
        // Redis skips a negative offset's worth of members: all of them.
        return Ok(());
    }
    let Some(start) = range.start(zset, reverse)? else {
        return Ok(());
    };
    let past_start = |s: f64, m: &[u8]| {
        if reverse {
            range.below_max(s, m)
        } else {
            range.above_min(s, m)
        }
    };
    let before_end = |s: f64, m: &[u8]| {
        if reverse {
            range.above_min(s, m)
        } else {
            range.below_max(s, m)
        }
    };
    let (mut found, mut skip, mut left) = (false, offset, limit);
    zset.walk(start.as_deref(), reverse, |score, member| {
        if !found {
            if !past_start(score, member) {
                return true;
            }
            // The first member past the start must also be inside the end, even if skipped.
            if !before_end(score, member) {
                return false;
            }
            found = true;
        }
        if skip > 0 {
            skip -= 1;
            return true;
        }
        if !before_end(score, member) {
            return false;
        }
        left -= 1;
        emit(score, member) && left != 0
    })
}

/// The members of `range` (see [`walk_interval`]).
fn collect_interval(
    zset: &ZSet<'_>,
    range: &impl Interval,
    reverse: bool,
    offset: i64,
    limit: i64,
) -> CmdResult<Vec<Scored>> {
    let mut out = Vec::new();
    walk_interval(zset, range, reverse, offset, limit, |score, member| {
        out.push((Bytes::copy_from_slice(member), score));
        true
    })?;
    Ok(out)
}

/// Redis's rank clamping: `(start, end)` within `0..len`, or `None` for an empty range.
fn clamp_ranks(start: i64, end: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as u64, end.min(len - 1) as u64))
}

/// The members at ranks `start..=end` counted from the low end (or the high end, `reverse`), in
/// that direction. Walks from whichever end of the set is closer.
fn by_rank(zset: &ZSet<'_>, start: u64, end: u64, reverse: bool) -> CmdResult<Vec<Scored>> {
    let len = zset.len();
    let count = (end - start + 1) as usize;
    let (near, far) = (start, len - 1 - end);
    let walk_reverse = if near <= far { reverse } else { !reverse };
    let skip = near.min(far);
    let mut out = Vec::with_capacity(count);
    let mut seen = 0u64;
    zset.walk(None, walk_reverse, |score, member| {
        seen += 1;
        if seen > skip {
            out.push((Bytes::copy_from_slice(member), score));
        }
        out.len() < count
    })?;
    if walk_reverse != reverse {
        out.reverse();
    }
    Ok(out)
}

/// How a range command selects members.
enum Select {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// A parsed ZRANGE-family request.
struct Query {
    select: Select,
    reverse: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

#[derive(Clone, Copy, PartialEq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// Parses a range request starting at the key `args[key_at]`. `by` and `reverse` are fixed by
/// the legacy commands (ZREVRANGE, ZRANGEBYSCORE...) and chosen by options in ZRANGE.
fn parse_query(
    args: &[Bytes],
    key_at: usize,
    store: bool,
    mut by: Option<By>,
    mut reverse: Option<bool>,
) -> CmdResult<Query> {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = key_at + 3;
    while j < args.len() {
        let arg = &args[j];
        if !store && is_opt(arg, "withscores") {
            withscores = true;
        } else if is_opt(arg, "limit") && j + 2 < args.len() {
            offset = arg_i64(&args[j + 1])?;
            limit = arg_i64(&args[j + 2])?;
            j += 2;
        } else if reverse.is_none() && is_opt(arg, "rev") {
            reverse = Some(true);
        } else if by.is_none() && is_opt(arg, "bylex") {
            by = Some(By::Lex);
        } else if by.is_none() && is_opt(arg, "byscore") {
            by = Some(By::Score);
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    let reverse = reverse.unwrap_or(false);
    let by = by.unwrap_or(By::Rank);
    if limit != -1 && by == By::Rank {
        return Err(ReplyError::custom(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(ReplyError::custom(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut lo, mut hi) = (&args[key_at + 1], &args[key_at + 2]);
    if reverse && by != By::Rank {
        // Reversed score and lex ranges are written high bound first.
        std::mem::swap(&mut lo, &mut hi);
    }
    let select = match by {
        By::Rank => Select::Rank(arg_i64(lo)?, arg_i64(hi)?),
        By::Score => Select::Score(ScoreRange::parse(lo, hi)?),
        By::Lex => Select::Lex(LexRange::parse(lo, hi)?),
    };
    Ok(Query {
        select,
        reverse,
        withscores,
        offset,
        limit,
    })
}

/// Runs a range request against a set.
fn run_query(zset: &ZSet<'_>, q: &Query) -> CmdResult<Vec<Scored>> {
    match &q.select {
        Select::Rank(start, end) => match clamp_ranks(*start, *end, zset.len()) {
            Some((start, end)) => by_rank(zset, start, end, q.reverse),
            None => Ok(Vec::new()),
        },
        Select::Score(range) => collect_interval(zset, range, q.reverse, q.offset, q.limit),
        Select::Lex(range) => collect_interval(zset, range, q.reverse, q.offset, q.limit),
    }
}

fn range_generic(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    by: Option<By>,
    reverse: Option<bool>,
) -> CmdResult {
    let q = parse_query(args, 1, false, by, reverse)?;
    let entries = match ZSet::lookup(ctx, &args[1])? {
        Some(zset) => run_query(&zset, &q)?,
        None => Vec::new(),
    };
    Ok(scored_reply(ctx.proto, entries, q.withscores))
}

pub fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, None, None)
}

pub fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, Some(By::Rank), Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, Some(By::Score), Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, Some(By::Score), Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, Some(By::Lex), Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, Some(By::Lex), Some(true))
}

pub fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let q = parse_query(args, 2, true, None, None)?;
    let store = ctx.store();
    let (dst, src) = (&args[1], &args[2]);
    let _guard = store.lock_many([(ctx.db, &dst[..]), (ctx.db, &src[..])]);
    let entries = match ZSet::lookup(ctx, src)? {
        Some(zset) => run_query(&zset, &q)?,
        None => Vec::new(),
    };
    // Redis sizes the destination up front only for rank ranges, whose length it knows.
    let expanded = matches!(q.select, Select::Rank(..))
        && entries.len() as u64 > ctx.state.config().zset_max_listpack_entries;
    let stored = store_result(ctx, dst, &entries, expanded, "zrangestore")?;
    Ok(Frame::Integer(stored))
}

/// Counts the members of an interval, parsed after nothing else, before the key is read.
fn count_interval(ctx: &Ctx<'_>, key: &[u8], range: &impl Interval) -> CmdResult {
    let mut count = 0i64;
    if let Some(zset) = ZSet::lookup(ctx, key)? {
        walk_interval(&zset, range, false, 0, -1, |_, _| {
            count += 1;
            true
        })?;
    }
    Ok(Frame::Integer(count))
}

pub fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    count_interval(ctx, &args[1], &ScoreRange::parse(&args[2], &args[3])?)
}

pub fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    count_interval(ctx, &args[1], &LexRange::parse(&args[2], &args[3])?)
}

/// ZREMRANGEBY*: the range is parsed before the key is read; `select` picks the victims.
fn remove_range(
    ctx: &Ctx<'_>,
    key: &[u8],
    event: &'static str,
    select: impl FnOnce(&ZSet<'_>) -> CmdResult<Vec<Scored>>,
) -> CmdResult {
    let store = ctx.store();
    let _guard = store.lock(ctx.db, key);
    let Some(mut zset) = ZSet::read(ctx, key)? else {
        return Ok(Frame::Integer(0));
    };
    let victims = select(&zset)?;
    if victims.is_empty() {
        return Ok(Frame::Integer(0));
    }
    let mut batch = store.batch();
    for (member, score) in &victims {
        zset.remove(&mut batch, member, *score);
    }
    let emptied = zset.len() == 0;
    zset.save(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::ZSET, event, key);
    if emptied {
        ctx.notify(Ev::GENERIC, "del", key);
    }
    Ok(Frame::Integer(victims.len() as i64))
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, end) = (arg_i64(&args[2])?, arg_i64(&args[3])?);
    remove_range(ctx, &args[1], "zremrangebyrank", |zset| {
        match clamp_ranks(start, end, zset.len()) {
            Some((start, end)) => by_rank(zset, start, end, false),
            None => Ok(Vec::new()),
        }
    })
}

pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let range = ScoreRange::parse(&args[2], &args[3])?;
    remove_range(ctx, &args[1], "zremrangebyscore", |zset| {
        collect_interval(zset, &range, false, 0, -1)
    })
}

pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let range = LexRange::parse(&args[2], &args[3])?;
    remove_range(ctx, &args[1], "zremrangebylex", |zset| {
        collect_interval(zset, &range, false, 0, -1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_clamp_like_redis() {
        assert_eq!(clamp_ranks(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_ranks(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_ranks(3, 1, 5), None);
        assert_eq!(clamp_ranks(5, 10, 5), None);
        assert_eq!(clamp_ranks(-2, -1, 5), Some((3, 4)));
        assert_eq!(clamp_ranks(0, -1, 0), None);
        assert_eq!(clamp_ranks(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }

    #[test]
    fn lex_bounds_order_like_sdscmplex() {
        let m = |s: &'static [u8]| LexValue::Member(Bytes::from_static(s));
        assert!(cmp_lex(&LexValue::Min, &m(b"")).is_lt());
        assert!(cmp_lex(&LexValue::Max, &m(b"\xff")).is_gt());
        assert!(cmp_lex(&LexValue::Min, &LexValue::Min).is_eq());
        assert!(cmp_lex(&m(b"a"), &m(b"ab")).is_lt());
        assert!(LexRange::parse(b"a", b"+").is_err());
        assert!(LexRange::parse(b"", b"+").is_err());
        assert!(LexRange::parse(b"-a", b"+").is_err());
        assert!(LexRange::parse(b"[", b"(").is_ok());
    }

    #[test]
    fn score_bounds_parse_like_zslparserange() {
        let r = ScoreRange::parse(b"(1.5", b"+inf").unwrap();
        assert!(r.minex && !r.maxex && r.min == 1.5 && r.max == f64::INFINITY);
        assert!(ScoreRange::parse(b"((1", b"2").is_err());
        assert!(ScoreRange::parse(b"nan", b"2").is_err());
        assert_eq!(ScoreRange::parse(b"(", b"").unwrap().min, 0.0);
    }
}
