//! ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD.
//!
//! Plain sets are valid inputs, each member scored 1. Like Redis, union and intersection take
//! the inputs smallest first (a stable sort by size), which also fixes the order scores are
//! added in; a NaN score (`inf * 0`, `inf + -inf`) counts as 0.

use std::collections::HashMap;

use bytes::Bytes;

use super::{result_expanded, scored_reply, store_result, Scored, ZSet};
use crate::cmd::collection;
use crate::cmd::{arg_i64, is_opt, Ctx};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::collection::{Collection, Space};
use crate::storage::meta::KeyType;
use crate::util::number::parse_f64;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

/// How scores of the same member in several inputs combine.
#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: a NaN sum is 0; a NaN operand never wins MIN or MAX.
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// One input key: a sorted set, a plain set, or nothing.
enum Input<'a> {
    Missing,
    ZSet(ZSet<'a>),
    Set(Collection<'a>),
}

impl<'a> Input<'a> {
    fn open(ctx: &'a Ctx<'_>, key: &[u8]) -> CmdResult<Input<'a>> {
        match ZSet::lookup(ctx, key) {
            Ok(Some(zset)) => Ok(Input::ZSet(zset)),
            Ok(None) => Ok(Input::Missing),
            Err(ReplyError::WrongType) => {
                Ok(collection::read(ctx, key, KeyType::Set)?.map_or(Input::Missing, Input::Set))
            }
            Err(e) => Err(e),
        }
    }

    fn len(&self) -> u64 {
        match self {
            Input::Missing => 0,
            Input::ZSet(z) => z.len(),
            Input::Set(s) => s.len(),
        }
    }

    fn entries(&self) -> CmdResult<Vec<Scored>> {
        Ok(match self {
            Input::Missing => Vec::new(),
            Input::ZSet(z) => z.take(usize::MAX, false)?,
            Input::Set(s) => s
                .collect(Space::Members, usize::MAX)?
                .into_iter()
                .map(|(m, _)| (m, 1.0))
                .collect(),
        })
    }

    fn lookup(&self, members: &[Bytes]) -> CmdResult<Vec<Option<f64>>> {
        Ok(match self {
            Input::Missing => vec![None; members.len()],
            Input::ZSet(z) => z.scores(members)?,
            Input::Set(s) => s
                .get_many(members)?
                .into_iter()
                .map(|v| v.map(|_| 1.0))
                .collect(),
        })
    }
}

/// What the caller wants back.
#[derive(Clone, Copy, PartialEq)]
enum Output {
    Reply,
    Store,
    Cardinality,
}

fn generic(ctx: &Ctx<'_>, args: &[Bytes], name: &str, op: Op, output: Output) -> CmdResult {
    let numkeys_at = if output == Output::Store { 2 } else { 1 };
    let n = arg_i64(&args[numkeys_at])?;
    if n < 1 {
        return Err(ReplyError::custom(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let first = numkeys_at + 1;
    if n as u64 > (args.len() - first) as u64 {
        return Err(ReplyError::Syntax);
    }
    let keys = &args[first..first + n as usize];
    let store = ctx.store();
    // Every key at once (readers lock too): taking them one by one could give up the first while
    // waiting for the next.
    let destination = (output == Output::Store).then(|| &args[1]);
    let _guard = store.lock_many(keys.iter().chain(destination).map(|k| (ctx.db, &k[..])));
    // Redis reads (and type-checks) every input before it looks at the options.
    let inputs = keys
        .iter()
        .map(|k| Input::open(ctx, k))
        .collect::<CmdResult<Vec<_>>>()?;
    let mut weights = vec![1.0; keys.len()];
    let (mut aggregate, mut withscores, mut limit) = (Aggregate::Sum, false, 0usize);
    let scored = op != Op::Diff && output != Output::Cardinality;
    let mut j = first + keys.len();
    while j < args.len() {
        let remaining = args.len() - j;
        if scored && remaining > keys.len() && is_opt(&args[j], "weights") {
            for (w, arg) in weights.iter_mut().zip(&args[j + 1..]) {
                *w = parse_f64(arg)
                    .ok_or_else(|| ReplyError::custom("ERR weight value is not a float"))?;
            }
            j += 1 + keys.len();
        } else if scored && remaining >= 2 && is_opt(&args[j], "aggregate") {
            let how = &args[j + 1];
            aggregate = if is_opt(how, "sum") {
                Aggregate::Sum
            } else if is_opt(how, "min") {
                Aggregate::Min
            } else if is_opt(how, "max") {
                Aggregate::Max
            } else {
                return Err(ReplyError::Syntax);
            };
            j += 2;
        } else if output == Output::Reply && is_opt(&args[j], "withscores") {
            withscores = true;
            j += 1;
        } else if output == Output::Cardinality && remaining >= 2 && is_opt(&args[j], "limit") {
            limit = arg_i64(&args[j + 1])
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| ReplyError::custom("ERR LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    let mut inputs: Vec<(Input<'_>, f64)> = inputs.into_iter().zip(weights).collect();
    if op != Op::Diff {
        inputs.sort_by_key(|(input, _)| input.len());
    }
    let mut result = match op {
        Op::Union => union(&inputs, aggregate)?,
        Op::Inter => inter(&inputs, aggregate)?,
        Op::Diff => diff(&inputs)?,
    };
    match output {
        Output::Cardinality => {
            let count = if limit > 0 {
                result.len().min(limit)
            } else {
                result.len()
            };
            Ok(Frame::Integer(count as i64))
        }
        Output::Store => {
            sort(&mut result);
            let expanded = result_expanded(ctx, &result);
            let event = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            let stored = store_result(ctx, &args[1], &result, expanded, event)?;
            Ok(Frame::Integer(stored))
        }
        Output::Reply => {
            sort(&mut result);
            Ok(scored_reply(ctx.proto, result, withscores))
        }
    }
}

/// Redis's order: by score, then by member bytes (`-0` ties with `0`).
fn sort(entries: &mut [Scored]) {
    entries.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
}

/// A weighted score, with NaN (`inf * 0`) counted as 0.
fn weighted(weight: f64, score: f64) -> f64 {
    let value = weight * score;
    if value.is_nan() {
        0.0
    } else {
        value
    }
}

fn union(inputs: &[(Input<'_>, f64)], aggregate: Aggregate) -> CmdResult<Vec<Scored>> {
    let mut acc: HashMap<Bytes, f64> = HashMap::new();
    for (input, weight) in inputs {
        for (member, score) in input.entries()? {
            let score = weighted(*weight, score);
            acc.entry(member)
                .and_modify(|cur| aggregate.apply(cur, score))
                .or_insert(score);
        }
    }
    Ok(acc.into_iter().collect())
}

/// Walks the smallest input and probes the others with batched lookups.
fn inter(inputs: &[(Input<'_>, f64)], aggregate: Aggregate) -> CmdResult<Vec<Scored>> {
    let Some(((base, base_weight), others)) = inputs.split_first() else {
        return Ok(Vec::new());
    };
    let mut result: Vec<Scored> = base
        .entries()?
        .into_iter()
        .map(|(m, s)| (m, weighted(*base_weight, s)))
        .collect();
    for (input, weight) in others {
        if result.is_empty() {
            break;
        }
        let members: Vec<Bytes> = result.iter().map(|(m, _)| m.clone()).collect();
        let found = input.lookup(&members)?;
        result = result
            .into_iter()
            .zip(found)
            .filter_map(|((member, mut score), other)| {
                // Unlike the first input's, these products are not NaN-checked (Redis).
                aggregate.apply(&mut score, other? * weight);
                Some((member, score))
            })
            .collect();
    }
    Ok(result)
}

fn diff(inputs: &[(Input<'_>, f64)]) -> CmdResult<Vec<Scored>> {
    let Some(((base, _), others)) = inputs.split_first() else {
        return Ok(Vec::new());
    };
    let mut result = base.entries()?;
    for (input, _) in others {
        if result.is_empty() {
            break;
        }
        let members: Vec<Bytes> = result.iter().map(|(m, _)| m.clone()).collect();
        let found = input.lookup(&members)?;
        result = result
            .into_iter()
            .zip(found)
            .filter(|(_, other)| other.is_none())
            .map(|(entry, _)| entry)
            .collect();
    }
    Ok(result)
}

pub fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    generic(ctx, args, "zunion", Op::Union, Output::Reply)
}

pub fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    generic(ctx, args, "zinter", Op::Inter, Output::Reply)
}

pub fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    generic(ctx, args, "zdiff", Op::Diff, Output::Reply)
}

pub fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    generic(ctx, args, "zunionstore", Op::Union, Output::Store)
}

pub fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    generic(ctx, args, "zinterstore", Op::Inter, Output::Store)
}

pub fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    generic(ctx, args, "zdiffstore", Op::Diff, Output::Store)
}

pub fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    generic(ctx, args, "zintercard", Op::Inter, Output::Cardinality)
}
