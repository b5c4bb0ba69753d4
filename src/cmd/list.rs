//! List commands. Each element is one member row keyed by its big-endian u64 index, so rows sort
//! in list order. The header's `head` is the index of the first element and `tail` one past the
//! last: pushes and pops at either end are one row write, LINDEX/LSET one point access, LRANGE a
//! seek and a bounded walk, and LLEN reads only the header (`size` is always `tail - head`).
//! LREM and LINSERT keep the indexes dense by shifting whichever side of the change is shorter.

use bytes::Bytes;

use super::collection::{lookup, open, read};
use super::{arg_at_least, arg_i64, is_opt, Ctx, Ev};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::collection::{Collection, Space};
use crate::storage::meta::KeyType;
use crate::storage::Batch;

/// An end of a list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

impl End {
    /// The keyspace event of a push at this end.
    fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    /// The keyspace event of a pop from this end.
    fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }
}

/// Announces elements popped from `key` (and the key's deletion if they were its last), as
/// Redis's `listElementsRemoved` does.
fn announce_pop(ctx: &Ctx<'_>, key: &[u8], end: End, emptied: bool) {
    ctx.notify(Ev::LIST, end.pop_event(), key);
    if emptied {
        ctx.notify(Ev::GENERIC, "del", key);
    }
}

/// Parses LEFT/RIGHT (LMOVE, LMPOP).
fn parse_end(arg: &[u8]) -> CmdResult<End> {
    if is_opt(arg, "left") {
        Ok(End::Left)
    } else if is_opt(arg, "right") {
        Ok(End::Right)
    } else {
        Err(ReplyError::Syntax)
    }
}

/// The member row name of the element at absolute index `index`.
fn field(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The absolute index a member row name encodes.
fn index_of(field: &[u8]) -> Option<u64> {
    field.try_into().ok().map(u64::from_be_bytes)
}

/// Moves the list's bounds, keeping the size equal to `tail - head`.
fn set_bounds(list: &mut Collection<'_>, head: u64, tail: u64) {
    list.header.head = head;
    list.header.tail = tail;
    list.header.size = tail - head;
}

/// The position (from the head) an index names, negative ones counting from the tail; `None`
/// when it falls outside a list of `len` elements.
fn position(len: u64, index: i64) -> Option<u64> {
    let at = if index < 0 {
        len as i128 + index as i128
    } else {
        index as i128
    };
    (0..len as i128).contains(&at).then_some(at as u64)
}

/// Redis's clamping of an inclusive `start..=end` index pair (LRANGE, LTRIM) to the half-open
/// range of positions it covers; `None` when that is empty.
fn clamp_range(len: u64, start: i64, end: i64) -> Option<(u64, u64)> {
    let len = len as i128;
    let from_tail = |i: i64| if i < 0 { len + i as i128 } else { i as i128 };
    let start = from_tail(start).max(0);
    let end = from_tail(end);
    if start > end || start >= len {
        return None;
    }
    Some((start as u64, end.min(len - 1) as u64 + 1))
}

/// Ranges up to this many rows are read with one batched point lookup rather than an iterator.
const POINT_READ_ROWS: u64 = 32;

/// The elements at absolute indexes `from..to`, with their indexes. Must run before the command
/// writes to the list (an iterator sees committed rows only).
fn read_rows(list: &Collection<'_>, from: u64, to: u64) -> CmdResult<Vec<(u64, Bytes)>> {
    if to <= from {
        return Ok(Vec::new());
    }
    if to - from <= POINT_READ_ROWS {
        let fields: Vec<Bytes> = (from..to)
            .map(|i| Bytes::copy_from_slice(&field(i)))
            .collect();
        let values = list.get_many(&fields)?;
        return Ok((from..to)
            .zip(values)
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .collect());
    }
    let mut out = Vec::with_capacity((to - from).min(1 << 16) as usize);
    list.scan(
        Space::Members,
        Some(&field(from)),
        false,
        |row, value| match index_of(row).filter(|&i| i < to) {
            Some(i) => {
                out.push((i, Bytes::copy_from_slice(value)));
                Ok(true)
            }
            None => Ok(false),
        },
    )?;
    Ok(out)
}

/// Walks the elements from the head (from the tail when `reverse`), passing each one's position
/// from the head; `f` returns false to stop.
fn walk(
    list: &Collection<'_>,
    reverse: bool,
    mut f: impl FnMut(u64, &[u8]) -> bool,
) -> CmdResult<()> {
    let (head, tail) = (list.header.head, list.header.tail);
    if head == tail {
        return Ok(());
    }
    let start = if reverse { tail - 1 } else { head };
    list.scan(
        Space::Members,
        Some(&field(start)),
        reverse,
        |row, value| {
            Ok(match index_of(row).filter(|i| (head..tail).contains(i)) {
                Some(i) => f(i - head, value),
                None => false,
            })
        },
    )?;
    Ok(())
}

/// Trims smaller than this delete row by row; bigger ones write one range tombstone, which costs
/// the same whatever its width but slows reads a little while it lives in the memtable.
const RANGE_DELETE_ROWS: u64 = 128;

/// Deletes the rows at absolute indexes `from..to`.
fn drop_rows(list: &mut Collection<'_>, batch: &mut Batch<'_>, from: u64, to: u64) {
    if to.saturating_sub(from) >= RANGE_DELETE_ROWS {
        list.delete_range(batch, &field(from), &field(to));
    } else {
        for i in from..to {
            list.delete(batch, &field(i));
        }
    }
}

/// Pushes one element at an end.
fn push(list: &mut Collection<'_>, batch: &mut Batch<'_>, end: End, value: Bytes) {
    let (head, tail) = (list.header.head, list.header.tail);
    match end {
        End::Left => {
            list.put(batch, &field(head - 1), value);
            set_bounds(list, head - 1, tail);
        }
        End::Right => {
            list.put(batch, &field(tail), value);
            set_bounds(list, head, tail + 1);
        }
    }
}

/// Pops up to `count` elements from an end, in pop order.
fn pop(
    list: &mut Collection<'_>,
    batch: &mut Batch<'_>,
    end: End,
    count: u64,
) -> CmdResult<Vec<Bytes>> {
    let (head, tail) = (list.header.head, list.header.tail);
    let n = count.min(list.len());
    let (from, to) = match end {
        End::Left => (head, head + n),
        End::Right => (tail - n, tail),
    };
    let rows = read_rows(list, from, to)?;
    drop_rows(list, batch, from, to);
    match end {
        End::Left => set_bounds(list, to, tail),
        End::Right => set_bounds(list, head, from),
    }
    let mut values: Vec<Bytes> = rows.into_iter().map(|(_, v)| v).collect();
    if end == End::Right {
        values.reverse();
    }
    Ok(values)
}

/// Inserts `value` so that it becomes the element at position `at`, shifting the shorter side:
/// the elements before it one index down, or the ones from it on one index up.
fn insert_at(
    list: &mut Collection<'_>,
    batch: &mut Batch<'_>,
    at: u64,
    value: Bytes,
) -> CmdResult<()> {
    let (head, tail) = (list.header.head, list.header.tail);
    let gap = head + at;
    if at <= list.len() - at {
        for (i, v) in read_rows(list, head, gap)? {
            list.put(batch, &field(i - 1), v);
        }
        list.put(batch, &field(gap - 1), value);
        set_bounds(list, head - 1, tail);
    } else {
        for (i, v) in read_rows(list, gap, tail)? {
            list.put(batch, &field(i + 1), v);
        }
        list.put(batch, &field(gap), value);
        set_bounds(list, head, tail + 1);
    }
    Ok(())
}

/// Removes the elements at `positions` (ascending, from the head). The gaps before a split point
/// are closed by shifting the elements before them up, the ones after it by shifting the elements
/// after them down; the split is chosen to move the fewest elements.
fn remove_positions(
    list: &mut Collection<'_>,
    batch: &mut Batch<'_>,
    positions: &[u64],
) -> CmdResult<()> {
    let (head, tail, len) = (list.header.head, list.header.tail, list.len());
    let k = positions.len();
    // Elements moved when the first `j` gaps close from the head side and the rest from the tail.
    let cost = |j: usize| {
        let before = if j > 0 {
            positions[j - 1] - (j as u64 - 1)
        } else {
            0
        };
        let after = if j < k {
            (len - 1 - positions[j]) - (k - 1 - j) as u64
        } else {
            0
        };
        before + after
    };
    let split = (0..=k).min_by_key(|&j| cost(j)).unwrap_or(0);
    let (up, down) = positions.split_at(split);
    let before = match up.last() {
        Some(&last) => read_rows(list, head, head + last)?,
        None => Vec::new(),
    };
    let after = match down.first() {
        Some(&first) => read_rows(list, head + first + 1, tail)?,
        None => Vec::new(),
    };
    for (i, v) in before {
        let p = i - head;
        let below = up.partition_point(|&r| r < p);
        if up.get(below) != Some(&p) {
            list.put(batch, &field(i + (up.len() - below) as u64), v);
        }
    }
    for (i, v) in after {
        let p = i - head;
        let below = down.partition_point(|&r| r < p);
        if down.get(below) != Some(&p) {
            list.put(batch, &field(i - below as u64), v);
        }
    }
    let (new_head, new_tail) = (head + up.len() as u64, tail - down.len() as u64);
    drop_rows(list, batch, head, new_head);
    drop_rows(list, batch, new_tail, tail);
    set_bounds(list, new_head, new_tail);
    Ok(())
}

/// LPUSH/RPUSH/LPUSHX/RPUSHX: `only_existing` for the X forms, which never create the list.
fn push_command(ctx: &Ctx<'_>, args: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let mut list = if only_existing {
        match read(ctx, key, KeyType::List)? {
            Some(list) => list,
            None => return Ok(Frame::Integer(0)),
        }
    } else {
        open(ctx, key, KeyType::List)?
    };
    let mut batch = store.batch();
    for value in &args[2..] {
        push(&mut list, &mut batch, end, value.clone());
    }
    let len = list.len();
    list.save(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::LIST, end.push_event(), key);
    Ok(Frame::Integer(len as i64))
}

pub fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push_command(ctx, args, End::Left, false)
}

pub fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push_command(ctx, args, End::Right, false)
}

pub fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push_command(ctx, args, End::Left, true)
}

pub fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push_command(ctx, args, End::Right, true)
}

/// LPOP/RPOP: one element as a bulk string, or with a count an array of up to that many.
fn pop_command(ctx: &Ctx<'_>, args: &[Bytes], end: End, name: &str) -> CmdResult {
    if args.len() > 3 {
        return Err(ReplyError::WrongArity(name.to_string()));
    }
    let count = match args.get(2) {
        Some(arg) => Some(arg_at_least(
            arg,
            0,
            "ERR value is out of range, must be positive",
        )?),
        None => None,
    };
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let Some(mut list) = read(ctx, key, KeyType::List)? else {
        return Ok(match count {
            Some(_) => Frame::NullArray,
            None => Frame::Null,
        });
    };
    if count == Some(0) {
        return Ok(Frame::Array(Vec::new()));
    }
    let mut batch = store.batch();
    let values = pop(&mut list, &mut batch, end, count.unwrap_or(1))?;
    let emptied = list.is_empty();
    list.save(&mut batch);
    store.commit(batch)?;
    announce_pop(ctx, key, end, emptied);
    Ok(match count {
        Some(_) => Frame::Array(values.into_iter().map(Frame::Bulk).collect()),
        None => Frame::opt_bulk(values.into_iter().next()),
    })
}

pub fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop_command(ctx, args, End::Left, "lpop")
}

pub fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop_command(ctx, args, End::Right, "rpop")
}

pub fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let len = lookup(ctx, &args[1], KeyType::List)?.map_or(0, |l| l.len());
    Ok(Frame::Integer(len as i64))
}

pub fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(list) = lookup(ctx, &args[1], KeyType::List)? else {
        return Ok(Frame::Null);
    };
    let index = arg_i64(&args[2])?;
    Ok(match position(list.len(), index) {
        Some(at) => Frame::opt_bulk(list.get(&field(list.header.head + at))?),
        None => Frame::Null,
    })
}

pub fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let mut list = read(ctx, key, KeyType::List)?.ok_or(ReplyError::NoSuchKey)?;
    let index = arg_i64(&args[2])?;
    let at =
        position(list.len(), index).ok_or_else(|| ReplyError::custom("ERR index out of range"))?;
    let mut batch = store.batch();
    let row = field(list.header.head + at);
    list.put(&mut batch, &row, args[3].clone());
    list.save(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::LIST, "lset", key);
    Ok(Frame::ok())
}

pub fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let end = arg_i64(&args[3])?;
    let Some(list) = lookup(ctx, &args[1], KeyType::List)? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let Some((from, to)) = clamp_range(list.len(), start, end) else {
        return Ok(Frame::Array(Vec::new()));
    };
    let head = list.header.head;
    let rows = read_rows(&list, head + from, head + to)?;
    Ok(Frame::Array(
        rows.into_iter().map(|(_, v)| Frame::Bulk(v)).collect(),
    ))
}

pub fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let end = arg_i64(&args[3])?;
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let Some(mut list) = read(ctx, key, KeyType::List)? else {
        return Ok(Frame::ok());
    };
    let (head, tail) = (list.header.head, list.header.tail);
    // An empty range keeps nothing: the key goes away.
    let (keep_from, keep_to) = match clamp_range(list.len(), start, end) {
        Some((from, to)) => (head + from, head + to),
        None => (tail, tail),
    };
    // Redis announces LTRIM even when it keeps everything.
    if (keep_from, keep_to) == (head, tail) {
        ctx.notify(Ev::LIST, "ltrim", key);
        return Ok(Frame::ok());
    }
    let mut batch = store.batch();
    drop_rows(&mut list, &mut batch, head, keep_from);
    drop_rows(&mut list, &mut batch, keep_to, tail);
    set_bounds(&mut list, keep_from, keep_to);
    let emptied = list.is_empty();
    list.save(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::LIST, "ltrim", key);
    if emptied {
        ctx.notify(Ev::GENERIC, "del", key);
    }
    Ok(Frame::ok())
}

pub fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = arg_i64(&args[2])?;
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let Some(mut list) = read(ctx, key, KeyType::List)? else {
        return Ok(Frame::Integer(0));
    };
    // A positive count removes from the head, a negative one from the tail, zero every match.
    let limit = count.unsigned_abs();
    let mut positions = Vec::new();
    walk(&list, count < 0, |at, value| {
        if value == args[3].as_ref() {
            positions.push(at);
        }
        limit == 0 || (positions.len() as u64) < limit
    })?;
    if positions.is_empty() {
        return Ok(Frame::Integer(0));
    }
    if count < 0 {
        positions.reverse();
    }
    let mut batch = store.batch();
    remove_positions(&mut list, &mut batch, &positions)?;
    let emptied = list.is_empty();
    list.save(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::LIST, "lrem", key);
    if emptied {
        ctx.notify(Ev::GENERIC, "del", key);
    }
    Ok(Frame::Integer(positions.len() as i64))
}

pub fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let after = if is_opt(&args[2], "after") {
        true
    } else if is_opt(&args[2], "before") {
        false
    } else {
        return Err(ReplyError::Syntax);
    };
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let Some(mut list) = read(ctx, key, KeyType::List)? else {
        return Ok(Frame::Integer(0));
    };
    let mut pivot = None;
    walk(&list, false, |at, value| {
        if value == args[3].as_ref() {
            pivot = Some(at);
        }
        pivot.is_none()
    })?;
    let Some(at) = pivot else {
        return Ok(Frame::Integer(-1));
    };
    let mut batch = store.batch();
    insert_at(&mut list, &mut batch, at + after as u64, args[4].clone())?;
    let len = list.len();
    list.save(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::LIST, "linsert", key);
    Ok(Frame::Integer(len as i64))
}

pub fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut rank = 1i64;
    let mut count: Option<u64> = None;
    let mut maxlen = 0u64;
    let mut j = 3;
    while j < args.len() {
        let (opt, value) = (&args[j], args.get(j + 1));
        match value {
            Some(value) if is_opt(opt, "rank") => {
                rank = arg_i64(value)?;
                if rank == 0 {
                    return Err(ReplyError::custom(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                         second ... or use negative to start from the end of the list",
                    ));
                }
            }
            Some(value) if is_opt(opt, "count") => {
                count = Some(arg_at_least(value, 0, "ERR COUNT can't be negative")?);
            }
            Some(value) if is_opt(opt, "maxlen") => {
                maxlen = arg_at_least(value, 0, "ERR MAXLEN can't be negative")?;
            }
            _ => return Err(ReplyError::Syntax),
        }
        j += 2;
    }
    let reverse = rank < 0;
    // Redis negates a C long: RANK -9223372036854775808 stays negative, so every match counts.
    let rank = if reverse { rank.wrapping_neg() } else { rank };
    let Some(list) = lookup(ctx, &args[1], KeyType::List)? else {
        return Ok(match count {
            Some(_) => Frame::Array(Vec::new()),
            None => Frame::Null,
        });
    };
    let mut found = Vec::new();
    let (mut matches, mut seen) = (0i64, 0u64);
    walk(&list, reverse, |at, value| {
        if maxlen != 0 && seen == maxlen {
            return false;
        }
        seen += 1;
        if value != args[2].as_ref() {
            return true;
        }
        matches += 1;
        if matches < rank {
            return true;
        }
        found.push(at as i64);
        // Without COUNT the first qualifying match answers; COUNT 0 asks for all of them.
        match count {
            None => false,
            Some(0) => true,
            Some(n) => (found.len() as u64) < n,
        }
    })?;
    Ok(match count {
        Some(_) => Frame::Array(found.into_iter().map(Frame::Integer).collect()),
        None => found.first().map_or(Frame::Null, |&at| Frame::Integer(at)),
    })
}

/// LMOVE/RPOPLPUSH: pops from `src` and pushes onto `dst` atomically, both keys locked and both
/// saved in one batch. The same key rotates its elements.
fn move_element(ctx: &Ctx<'_>, src: &Bytes, dst: &Bytes, from: End, to: End) -> CmdResult {
    let store = ctx.store();
    let _guard = store.lock_many([(ctx.db, src.as_ref()), (ctx.db, dst.as_ref())]);
    let Some(mut source) = read(ctx, src, KeyType::List)? else {
        return Ok(Frame::Null);
    };
    let mut dest = if src == dst {
        None
    } else {
        Some(open(ctx, dst, KeyType::List)?)
    };
    let mut batch = store.batch();
    let Some(value) = pop(&mut source, &mut batch, from, 1)?.pop() else {
        return Ok(Frame::Null);
    };
    push(
        dest.as_mut().unwrap_or(&mut source),
        &mut batch,
        to,
        value.clone(),
    );
    let emptied = source.is_empty();
    source.save(&mut batch);
    if let Some(dest) = dest {
        dest.save(&mut batch);
    }
    store.commit(batch)?;
    // As Redis: the push (after the destination's `new`), then the pop.
    ctx.notify(Ev::LIST, to.push_event(), dst);
    announce_pop(ctx, src, from, emptied);
    Ok(Frame::Bulk(value))
}

pub fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let from = parse_end(&args[3])?;
    let to = parse_end(&args[4])?;
    move_element(ctx, &args[1], &args[2], from, to)
}

pub fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    move_element(ctx, &args[1], &args[2], End::Right, End::Left)
}

pub fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let numkeys = arg_at_least(&args[1], 1, "ERR numkeys should be greater than 0")?;
    // The direction must follow the keys.
    if numkeys > (args.len() - 3) as u64 {
        return Err(ReplyError::Syntax);
    }
    let keys = &args[2..2 + numkeys as usize];
    let end = parse_end(&args[2 + keys.len()])?;
    let mut count = None;
    let mut j = 3 + keys.len();
    while j < args.len() {
        match args.get(j + 1) {
            Some(value) if count.is_none() && is_opt(&args[j], "count") => {
                count = Some(arg_at_least(
                    value,
                    1,
                    "ERR count should be greater than 0",
                )?);
            }
            _ => return Err(ReplyError::Syntax),
        }
        j += 2;
    }
    let store = ctx.store();
    let _guard = store.lock_many(keys.iter().map(|k| (ctx.db, k.as_ref())));
    for key in keys {
        let Some(mut list) = read(ctx, key, KeyType::List)? else {
            continue;
        };
        let mut batch = store.batch();
        let values = pop(&mut list, &mut batch, end, count.unwrap_or(1))?;
        let emptied = list.is_empty();
        list.save(&mut batch);
        store.commit(batch)?;
        announce_pop(ctx, key, end, emptied);
        return Ok(Frame::Array(vec![
            Frame::Bulk(key.clone()),
            Frame::Array(values.into_iter().map(Frame::Bulk).collect()),
        ]));
    }
    Ok(Frame::NullArray)
}
