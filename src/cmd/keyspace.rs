//! Keyspace commands: existence, deletion, expiry, iteration, renaming and databases.

use bytes::Bytes;

use super::{arg_db, arg_i64, is_opt, Ctx, Ev};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::collection;
use crate::storage::meta::{KeyType, Meta};
use crate::util::glob::glob_match;
use crate::util::now_ms;

pub fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let keys = &args[1..];
    let _guard = store.lock_many(keys.iter().map(|k| (ctx.db, k.as_ref())));
    let now = now_ms();
    let mut batch = store.batch();
    let mut removed = 0;
    let mut seen: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
    for key in keys {
        if !seen.insert(key) {
            continue;
        }
        if let Some(old) = store.lookup_raw(ctx.db, key, now)? {
            if !old.is_expired(now) {
                removed += 1;
                ctx.notify(Ev::GENERIC, "del", key);
            }
            batch.delete(ctx.db, key, &old);
        }
    }
    store.commit(batch)?;
    Ok(Frame::Integer(removed))
}

/// EXISTS and TOUCH: counts live keys, duplicates counted each time.
pub fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let rows = ctx.store().multi_get(ctx.db, &args[1..], now_ms())?;
    for (row, key) in rows.iter().zip(&args[1..]) {
        if row.is_none() {
            ctx.keymiss(key);
        }
    }
    Ok(Frame::Integer(
        rows.iter().filter(|r| r.is_some()).count() as i64
    ))
}

/// A read lookup (Redis's `lookupKeyRead`): a missing key is a `keymiss` event.
fn read_key(ctx: &Ctx<'_>, key: &[u8], now: u64) -> CmdResult<Option<Meta>> {
    let meta = ctx.store().get(ctx.db, key, now)?;
    if meta.is_none() {
        ctx.keymiss(key);
    }
    Ok(meta)
}

pub fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let meta = read_key(ctx, &args[1], now_ms())?;
    Ok(Frame::simple(meta.map_or("none", |m| m.kind.name())))
}

#[derive(Clone, Copy, PartialEq)]
enum TimeUnit {
    Seconds,
    Millis,
}

/// The EXPIRE family with NX/XX/GT/LT, following Redis's order of checks.
fn expire_generic(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    unit: TimeUnit,
    relative: bool,
    cmd: &str,
) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if is_opt(opt, "nx") {
            nx = true;
        } else if is_opt(opt, "xx") {
            xx = true;
        } else if is_opt(opt, "gt") {
            gt = true;
        } else if is_opt(opt, "lt") {
            lt = true;
        } else {
            return Err(ReplyError::custom(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(ReplyError::custom(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(ReplyError::custom(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    // Redis checks the options before the time argument.
    let when = arg_i64(&args[2])?;
    let invalid = || ReplyError::InvalidExpire(cmd.to_string());
    let now = now_ms();
    let mut at = when;
    if unit == TimeUnit::Seconds {
        at = at.checked_mul(1000).ok_or_else(invalid)?;
    }
    if relative {
        at = at.checked_add(now as i64).ok_or_else(invalid)?;
    }
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let Some(meta) = store.get(ctx.db, key, now)? else {
        return Ok(Frame::Integer(0));
    };
    let current = (meta.expire_at != 0).then_some(meta.expire_at as i64);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| at <= c))
        || (lt && current.is_some_and(|c| at >= c));
    if refused {
        return Ok(Frame::Integer(0));
    }
    let mut batch = store.batch();
    let event = if at <= now as i64 {
        batch.delete(ctx.db, key, &meta);
        "del"
    } else {
        // The old index entry (if any) goes stale; the sweep drops it when it comes due.
        let renewed = Meta {
            expire_at: at as u64,
            ..meta.clone()
        };
        batch.put(ctx.db, key, &renewed, Some(&meta));
        "expire"
    };
    store.commit(batch)?;
    ctx.notify(Ev::GENERIC, event, key);
    Ok(Frame::Integer(1))
}

pub fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, TimeUnit::Seconds, true, "expire")
}

pub fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, TimeUnit::Millis, true, "pexpire")
}

pub fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, TimeUnit::Seconds, false, "expireat")
}

pub fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, TimeUnit::Millis, false, "pexpireat")
}

/// Shared body of TTL/PTTL/EXPIRETIME/PEXPIRETIME: -2 missing, -1 no expiry.
fn ttl_generic(ctx: &Ctx<'_>, key: &[u8], f: impl Fn(u64, u64) -> i64) -> CmdResult {
    let now = now_ms();
    Ok(Frame::Integer(match read_key(ctx, key, now)? {
        None => -2,
        Some(m) if m.expire_at == 0 => -1,
        Some(m) => f(m.expire_at, now),
    }))
}

pub fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], |at, now| {
        ((at.saturating_sub(now) + 500) / 1000) as i64
    })
}

pub fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], |at, now| at.saturating_sub(now) as i64)
}

pub fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], |at, _| ((at + 500) / 1000) as i64)
}

pub fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], |at, _| at as i64)
}

pub fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    match store.get(ctx.db, key, now_ms())? {
        Some(meta) if meta.expire_at != 0 => {
            let mut batch = store.batch();
            let persisted = Meta {
                expire_at: 0,
                ..meta.clone()
            };
            batch.put(ctx.db, key, &persisted, Some(&meta));
            store.commit(batch)?;
            ctx.notify(Ev::GENERIC, "persist", key);
            Ok(Frame::Integer(1))
        }
        _ => Ok(Frame::Integer(0)),
    }
}

/// Rows examined per storage iteration while walking a whole database.
const WALK_CHUNK: usize = 1024;

pub fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pattern = &args[1];
    let all = pattern.as_ref() == b"*";
    let now = now_ms();
    let mut out = Vec::new();
    let mut after: Option<Bytes> = None;
    loop {
        let (rows, next) = ctx
            .store()
            .scan(ctx.db, after.as_deref(), WALK_CHUNK, now)?;
        out.extend(
            rows.into_iter()
                .filter(|(k, _)| all || glob_match(pattern, k, false))
                .map(|(k, _)| Frame::Bulk(k)),
        );
        match next {
            Some(n) => after = Some(n),
            None => return Ok(Frame::Array(out)),
        }
    }
}

/// Parses a SCAN cursor like Redis's `strtoul`: optional sign, decimal digits, `""` is 0.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() {
        return Some(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

pub fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[1]).ok_or_else(|| ReplyError::custom("ERR invalid cursor"))?;
    let mut count = 10usize;
    let mut pattern: Option<&Bytes> = None;
    let mut type_filter: Option<Option<KeyType>> = None;
    let mut j = 2;
    while j < args.len() {
        let has_value = j + 1 < args.len();
        if is_opt(&args[j], "count") && has_value {
            let n = arg_i64(&args[j + 1])?;
            if n < 1 {
                return Err(ReplyError::Syntax);
            }
            count = n.min(1 << 20) as usize;
        } else if is_opt(&args[j], "match") && has_value {
            pattern = Some(&args[j + 1]);
        } else if is_opt(&args[j], "type") && has_value {
            type_filter = Some(KeyType::from_name(&args[j + 1]));
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 2;
    }
    let start = match cursor {
        0 => None,
        n => match ctx.state.scan_cursors.resume(n, ctx.db) {
            Some(key) => Some(key),
            // An unknown or evicted cursor ends the iteration rather than restarting it.
            None => return Ok(scan_reply(0, Vec::new())),
        },
    };
    let now = now_ms();
    let mut expired = Vec::new();
    let (rows, next) =
        ctx.store()
            .scan_with_expired(ctx.db, start.as_deref(), count, now, &mut expired)?;
    // Redis's SCAN expires the keys it meets that pass the MATCH filter (a TYPE filter looks
    // them up first: a miss).
    for key in expired {
        if pattern.is_none_or(|p| glob_match(p, &key, false)) {
            ctx.store().lookup_raw(ctx.db, &key, now)?;
            if type_filter.is_some() {
                ctx.keymiss(&key);
            }
        }
    }
    let keys = rows
        .into_iter()
        .filter(|(k, m)| {
            pattern.is_none_or(|p| glob_match(p, k, false))
                && type_filter.is_none_or(|t| t == Some(m.kind))
        })
        .map(|(k, _)| Frame::Bulk(k))
        .collect();
    let next_cursor = match next {
        Some(last) => ctx.state.scan_cursors.save(ctx.db, last),
        None => 0,
    };
    Ok(scan_reply(next_cursor, keys))
}

fn scan_reply(cursor: u64, keys: Vec<Frame>) -> Frame {
    Frame::Array(vec![Frame::text(cursor.to_string()), Frame::Array(keys)])
}

pub fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    Ok(Frame::opt_bulk(ctx.store().random_key(ctx.db, now_ms())?))
}

/// What [`transfer`] does, which names its keyspace events.
#[derive(Clone, Copy, PartialEq)]
enum Transfer {
    Rename,
    Move,
    Copy,
}

/// Moves or copies `src_key` of `src_db` to `dst_key` of `dst_db` in one batch.
/// Returns `Ok(false)` when the destination exists and `replace` is false.
fn transfer(
    ctx: &Ctx<'_>,
    (src_db, src_key): (usize, &[u8]),
    (dst_db, dst_key): (usize, &[u8]),
    replace: bool,
    kind: Transfer,
) -> CmdResult<Option<bool>> {
    let store = ctx.store();
    let _guard = store.lock_many([(src_db, src_key), (dst_db, dst_key)]);
    let now = now_ms();
    let Some(meta) = store.get(src_db, src_key, now)? else {
        // COPY reads its source (a miss is announced); RENAME and MOVE look it up for writing.
        if kind == Transfer::Copy {
            ctx.keymiss(src_key);
        }
        return Ok(None);
    };
    if src_db == dst_db && src_key == dst_key {
        return Ok(Some(true));
    }
    let dst_old = store.lookup_raw(dst_db, dst_key, now)?;
    if !replace && dst_old.as_ref().is_some_and(|m| !m.is_expired(now)) {
        return Ok(Some(false));
    }
    let mut batch = store.batch();
    if let Some(old) = &dst_old {
        // Delete first so the destination's old expire-index entry and count are settled.
        batch.delete(dst_db, dst_key, old);
    }
    // A collection's members are copied under a fresh version of the destination.
    let version = store.next_version();
    collection::copy_members(
        store,
        &mut batch,
        (src_db, src_key),
        &meta,
        (dst_db, dst_key),
        version,
    )?;
    batch.put(
        dst_db,
        dst_key,
        &collection::with_version(&meta, version),
        None,
    );
    if kind != Transfer::Copy {
        batch.delete(src_db, src_key, &meta);
    }
    store.commit(batch)?;
    let (from, to) = match kind {
        Transfer::Rename => (Some("rename_from"), "rename_to"),
        Transfer::Move => (Some("move_from"), "move_to"),
        Transfer::Copy => (None, "copy_to"),
    };
    if let Some(from) = from {
        store.notify(Ev::GENERIC, from, src_db, src_key);
    }
    store.notify(Ev::GENERIC, to, dst_db, dst_key);
    Ok(Some(true))
}

pub fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match transfer(
        ctx,
        (ctx.db, &args[1]),
        (ctx.db, &args[2]),
        true,
        Transfer::Rename,
    )? {
        None => Err(ReplyError::NoSuchKey),
        Some(_) => Ok(Frame::ok()),
    }
}

pub fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args[1] == args[2] {
        return match ctx.store().get(ctx.db, &args[1], now_ms())? {
            None => Err(ReplyError::NoSuchKey),
            Some(_) => Ok(Frame::Integer(0)),
        };
    }
    match transfer(
        ctx,
        (ctx.db, &args[1]),
        (ctx.db, &args[2]),
        false,
        Transfer::Rename,
    )? {
        None => Err(ReplyError::NoSuchKey),
        Some(done) => Ok(Frame::Integer(done as i64)),
    }
}

fn same_object() -> ReplyError {
    ReplyError::custom("ERR source and destination objects are the same")
}

pub fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut dst_db = ctx.db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        if is_opt(&args[j], "replace") {
            replace = true;
        } else if is_opt(&args[j], "db") && j + 1 < args.len() {
            dst_db = arg_db(&args[j + 1], ctx.store().databases())?;
            j += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    if dst_db == ctx.db && args[1] == args[2] {
        return Err(same_object());
    }
    let done = transfer(
        ctx,
        (ctx.db, &args[1]),
        (dst_db, &args[2]),
        replace,
        Transfer::Copy,
    )?;
    Ok(Frame::Integer(done.unwrap_or(false) as i64))
}

pub fn move_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let dst_db = arg_db(&args[2], ctx.store().databases())?;
    if dst_db == ctx.db {
        return Err(same_object());
    }
    let done = transfer(
        ctx,
        (ctx.db, &args[1]),
        (dst_db, &args[1]),
        false,
        Transfer::Move,
    )?;
    Ok(Frame::Integer(done.unwrap_or(false) as i64))
}

pub fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(
        ctx.store().key_count(ctx.db, now_ms())? as i64
    ))
}

/// FLUSHDB/FLUSHALL take an optional SYNC or ASYNC; both are O(1) range deletes here.
fn check_flush_args(args: &[Bytes]) -> CmdResult<()> {
    if args.len() <= 2 && super::flush_mode_ok(args.get(1)) {
        Ok(())
    } else {
        Err(ReplyError::Syntax)
    }
}

pub fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    check_flush_args(args)?;
    ctx.store().flush_db(ctx.db)?;
    Ok(Frame::ok())
}

pub fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    check_flush_args(args)?;
    ctx.store().flush_all()?;
    Ok(Frame::ok())
}

pub fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parse = |arg: &[u8], which: &str| {
        crate::util::number::parse_i64(arg)
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| ReplyError::custom(format!("ERR invalid {which} DB index")))
    };
    let a = parse(&args[1], "first")?;
    let b = parse(&args[2], "second")?;
    let databases = ctx.store().databases() as i64;
    if a < 0 || a >= databases || b < 0 || b >= databases {
        return Err(ReplyError::DbIndexOutOfRange);
    }
    if a != b {
        ctx.store().swap_db(a as usize, b as usize)?;
    }
    Ok(Frame::ok())
}

pub fn object(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is_opt(sub, "help") {
        return Ok(Frame::Array(
            [
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Frame::Simple(Bytes::from_static(l.as_bytes())))
            .collect(),
        ));
    }
    let Some(meta) = ctx.store().get(ctx.db, &args[2], now_ms())? else {
        return Ok(Frame::Null);
    };
    if is_opt(sub, "encoding") {
        let expanded = collection::Header::of(&meta).is_some_and(|h| h.expanded);
        let encoding = match (meta.kind, expanded) {
            (KeyType::String, _) => meta.string_encoding(),
            (KeyType::List, _) => "quicklist",
            (KeyType::Hash, false) | (KeyType::ZSet, false) => "listpack",
            (KeyType::Set, false) => "intset",
            (KeyType::Hash, true) | (KeyType::Set, true) => "hashtable",
            (KeyType::ZSet, true) => "skiplist",
            (KeyType::Stream, _) => "stream",
        };
        Ok(Frame::text(encoding))
    } else if is_opt(sub, "freq") {
        if !ctx.store().lfu_policy() {
            return Err(ReplyError::custom("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        Ok(Frame::Integer(
            ctx.store().access_frequency(ctx.db, &args[2]).into(),
        ))
    } else if is_opt(sub, "idletime") {
        if ctx.store().lfu_policy() {
            return Err(ReplyError::custom("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        Ok(Frame::Integer(
            ctx.store().idle_seconds(ctx.db, &args[2]) as i64
        ))
    } else {
        Ok(Frame::Integer(1))
    }
}
