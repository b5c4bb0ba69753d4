//! Stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID and XREAD here; consumer
//! groups in `groups.rs`, XINFO in `info.rs`. The encoding is `storage::stream`'s.
//!
//! Every reply and error follows Redis 7.0's `t_stream.c`, including its id parser (which falls
//! back to `strtoull`, so `+5-0` is an id) and its node-by-node approximate trimming.

mod groups;
mod info;

use bytes::Bytes;

pub use groups::{xack, xautoclaim, xclaim, xgroup, xpending, xreadgroup};
pub use info::xinfo;

use super::{arg_i64, is_opt, Ctx, Ev, KeyRef};
use crate::error::{CmdResult, ReplyError};
use crate::resp::{Frame, Protocol};
use crate::storage::stream::{NodeLimits, Stream, StreamId, Trim, LISTPACK_MAX_SIZE};
use crate::util::now_ms;
use crate::util::number::string2ull;

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Parses an id the way Redis's `streamGenericParseIDOrReply` does: `ms-seq`, or `ms` alone
/// (the sequence is then `missing_seq`); `-` and `+` are the extremes unless `strict`. With
/// `allow_auto_seq`, `ms-*` parses too and the second value says whether the sequence was given.
fn parse_id_with(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_auto_seq: bool,
) -> Result<(StreamId, bool), ReplyError> {
    let invalid = || ReplyError::custom(INVALID_ID);
    if arg.len() > 127 {
        return Err(invalid());
    }
    // C strings end at the first NUL.
    let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
    match arg {
        b"-" | b"+" if strict => return Err(invalid()),
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms).ok_or_else(invalid)?;
    match seq {
        Some(b"*") if allow_auto_seq => Ok((StreamId::new(ms, 0), false)),
        Some(seq) => Ok((
            StreamId::new(ms, string2ull(seq).ok_or_else(invalid)?),
            true,
        )),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

/// A complete id where `-`/`+` are not accepted (XADD's, XDEL's, XACK's ...).
pub(crate) fn parse_strict_id(arg: &[u8]) -> Result<StreamId, ReplyError> {
    parse_id_with(arg, 0, true, false).map(|(id, _)| id)
}

/// An id where `-` and `+` mean the extremes.
fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, ReplyError> {
    parse_id_with(arg, missing_seq, false, false).map(|(id, _)| id)
}

/// A range bound: `(id` is exclusive, and is moved to the next (start) or previous (end) id.
pub(crate) fn parse_bound(arg: &[u8], is_start: bool) -> Result<StreamId, ReplyError> {
    let missing_seq = if is_start { 0 } else { u64::MAX };
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_with(&arg[1..], missing_seq, true, false)?.0;
        let moved = if is_start { id.next() } else { id.prev() };
        return moved.ok_or_else(|| {
            ReplyError::custom(if is_start {
                "ERR invalid start ID for the interval"
            } else {
                "ERR invalid end ID for the interval"
            })
        });
    }
    parse_id(arg, missing_seq)
}

/// An entry as replies show it: `[id, [field, value, ...]]`.
pub(crate) fn entry_frame(id: StreamId, fields: Vec<Bytes>) -> Frame {
    Frame::Array(vec![
        Frame::Bulk(id.to_bytes()),
        Frame::Array(fields.into_iter().map(Frame::Bulk).collect()),
    ])
}

/// The node sizes in force: the Raft entry's (the leader's) while applying one, so every node
/// draws the same node boundaries; the server's own otherwise.
pub(crate) fn node_limits(ctx: &Ctx<'_>) -> NodeLimits {
    let settings =
        crate::util::entry_settings().unwrap_or_else(|| ctx.state.config().entry_settings());
    NodeLimits {
        max_bytes: settings.stream_node_max_bytes,
        max_entries: settings.stream_node_max_entries,
    }
}

/// XADD's and XTRIM's trimming options.
struct TrimArgs {
    by: Option<Trim>,
    approx: bool,
    limit: u64,
}

/// What XADD parsed before its fields.
struct AddArgs {
    trim: TrimArgs,
    /// `None` for `*`; otherwise the id, and whether its sequence was given (`ms-*` has none).
    id: Option<(StreamId, bool)>,
    no_mkstream: bool,
    /// Index of the first field.
    fields_at: usize,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`, for XADD (`xadd`) or XTRIM.
fn parse_add_or_trim(ctx: &Ctx<'_>, args: &[Bytes], xadd: bool) -> CmdResult<AddArgs> {
    let mut trim = TrimArgs {
        by: None,
        approx: false,
        limit: 0,
    };
    let mut id = None;
    let mut no_mkstream = false;
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        if xadd && opt.as_ref() == b"*" {
            break;
        } else if (is_opt(opt, "maxlen") || is_opt(opt, "minid")) && more > 0 {
            if trim.by.is_some() {
                return Err(ReplyError::custom("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"));
            }
            trim.approx = false;
            let next = &args[i + 1];
            if more >= 2 && (next.as_ref() == b"~" || next.as_ref() == b"=") {
                trim.approx = next.as_ref() == b"~";
                i += 1;
            }
            let value = &args[i + 1];
            trim.by = Some(if is_opt(opt, "maxlen") {
                let n = arg_i64(value)?;
                if n < 0 {
                    return Err(ReplyError::custom("ERR The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_strict_id(value)?)
            });
            i += 1;
        } else if is_opt(opt, "limit") && more > 0 {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return Err(ReplyError::custom("ERR The LIMIT argument must be >= 0."));
            }
            trim.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && is_opt(opt, "nomkstream") {
            no_mkstream = true;
        } else if xadd {
            id = Some(parse_id_with(opt, 0, true, true)?);
            break;
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 1;
    }
    if trim.limit != 0 && trim.by.is_none() {
        return Err(ReplyError::custom(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && trim.by.is_none() {
        return Err(ReplyError::custom(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !trim.approx {
            return Err(ReplyError::custom(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if trim.approx {
        // At most 100 nodes' worth of work, as Redis bounds it.
        trim.limit = match node_limits(ctx).max_entries.saturating_mul(100) {
            0 => 10_000,
            n => n.min(1_000_000),
        };
    } else {
        trim.limit = 0;
    }
    Ok(AddArgs {
        trim,
        id,
        no_mkstream,
        fields_at: i + 1,
    })
}

/// Trims after XADD or for XTRIM; announces `xtrim` when something went.
fn apply_trim(
    ctx: &Ctx<'_>,
    stream: &mut Stream<'_>,
    batch: &mut crate::storage::Batch<'_>,
    trim: &TrimArgs,
    key: &[u8],
) -> CmdResult<u64> {
    let Some(by) = trim.by else {
        return Ok(0);
    };
    let deleted = stream.trim(batch, by, trim.approx, trim.limit)?;
    if deleted > 0 {
        ctx.notify(Ev::STREAM, "xtrim", key);
    }
    Ok(deleted)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
pub fn xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_add_or_trim(ctx, args, true)?;
    let fields = args.get(parsed.fields_at..).unwrap_or_default();
    if fields.len() < 2 || fields.len() % 2 == 1 {
        return Err(ReplyError::WrongArity("xadd".into()));
    }
    if let Some((id, true)) = parsed.id {
        if id.is_zero() {
            return Err(ReplyError::custom(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let mut stream = store.open_stream(ctx.db, key, now_ms())?;
    if !stream.exists() && parsed.no_mkstream {
        return Ok(Frame::Null);
    }
    let last = stream.state.last_id;
    if last == StreamId::MAX {
        return Err(ReplyError::custom(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let too_large = || ReplyError::custom("ERR Elements are too large to be stored");
    let id = match parsed.id {
        Some((id, true)) => id,
        // `ms-*`: the next sequence within the same millisecond.
        Some((id, false)) if id.ms == last.ms => {
            if last.seq == u64::MAX {
                return Err(too_large());
            }
            StreamId::new(last.ms, last.seq + 1)
        }
        Some((id, false)) => id,
        None => {
            // Never backwards, even when the clock is.
            let ms = now_ms();
            if ms > last.ms {
                StreamId::new(ms, 0)
            } else {
                last.next().ok_or_else(too_large)?
            }
        }
    };
    if id <= last {
        return Err(ReplyError::custom(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        ));
    }
    if fields.iter().map(|f| f.len() as u64).sum::<u64>() > LISTPACK_MAX_SIZE {
        return Err(too_large());
    }
    let mut batch = store.batch();
    stream.append(&mut batch, id, fields, node_limits(ctx))?;
    ctx.notify(Ev::STREAM, "xadd", key);
    apply_trim(ctx, &mut stream, &mut batch, &parsed.trim, key)?;
    stream.save(&mut batch);
    store.commit(batch)?;
    Ok(Frame::Bulk(id.to_bytes()))
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub fn xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_add_or_trim(ctx, args, false)?;
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let Some(mut stream) = store.read_stream(ctx.db, key, now_ms())? else {
        return Ok(Frame::Integer(0));
    };
    let mut batch = store.batch();
    let deleted = apply_trim(ctx, &mut stream, &mut batch, &parsed.trim, key)?;
    if deleted > 0 {
        stream.save(&mut batch);
        store.commit(batch)?;
    }
    Ok(Frame::Integer(deleted as i64))
}

/// Opens a stream for reading, announcing a miss (Redis's `lookupKeyRead`).
fn lookup<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> CmdResult<Option<Stream<'a>>> {
    let found = ctx.store().read_stream(ctx.db, key, now_ms())?;
    if found.is_none() {
        ctx.keymiss(key);
    }
    Ok(found)
}

/// XRANGE and XREVRANGE (`rev`, whose bounds come end first).
fn range_command(ctx: &Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = parse_bound(start_arg, true)?;
    let end = parse_bound(end_arg, false)?;
    let mut count: Option<u64> = None;
    let mut j = 4;
    while j < args.len() {
        if is_opt(&args[j], "count") && j + 1 < args.len() {
            count = Some(arg_i64(&args[j + 1])?.max(0) as u64);
            j += 2;
        } else {
            return Err(ReplyError::Syntax);
        }
    }
    let Some(stream) = lookup(ctx, &args[1])? else {
        return Ok(Frame::Array(Vec::new()));
    };
    if count == Some(0) {
        return Ok(Frame::NullArray);
    }
    let limit = count.map_or(0, |c| c.min(usize::MAX as u64) as usize);
    let entries = stream.collect(start, end, rev, limit)?;
    Ok(Frame::Array(
        entries
            .into_iter()
            .map(|(id, fields)| entry_frame(id, fields))
            .collect(),
    ))
}

/// XRANGE key start end [COUNT n]
pub fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_command(ctx, args, false)
}

/// XREVRANGE key end start [COUNT n]
pub fn xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_command(ctx, args, true)
}

/// XLEN key: the length, from the header alone.
pub fn xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(
        lookup(ctx, &args[1])?.map_or(0, |s| s.len() as i64),
    ))
}

/// XDEL key id ...: all ids are checked before any is deleted.
pub fn xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let Some(mut stream) = store.read_stream(ctx.db, key, now_ms())? else {
        return Ok(Frame::Integer(0));
    };
    let ids = args[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut batch = store.batch();
    let mut deleted = 0;
    let mut first_deleted = false;
    for id in ids {
        if stream.delete(&mut batch, id)? {
            first_deleted |= id == stream.state.first_id;
            stream.state.max_deleted = stream.state.max_deleted.max(id);
            deleted += 1;
        }
    }
    if deleted > 0 {
        if stream.is_empty() || first_deleted {
            stream.refresh_first_id()?;
        }
        stream.save(&mut batch);
        store.commit(batch)?;
        ctx.notify(Ev::STREAM, "xdel", key);
    }
    Ok(Frame::Integer(deleted))
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
pub fn xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let id = parse_strict_id(&args[2])?;
    let mut entries_added = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is_opt(&args[i], "entriesadded") && more {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return Err(ReplyError::custom("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if is_opt(&args[i], "maxdeletedid") && more {
            max_deleted = parse_strict_id(&args[i + 1])?;
            if id < max_deleted {
                return Err(ReplyError::custom("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"));
            }
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 2;
    }
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let Some(mut stream) = store.read_stream(ctx.db, key, now_ms())? else {
        return Err(ReplyError::NoSuchKey);
    };
    if !stream.is_empty() {
        if stream.last_entry_id()?.is_some_and(|top| id < top) {
            return Err(ReplyError::custom(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| stream.len() > n) {
            return Err(ReplyError::custom("ERR The entries_added specified in XSETID is smaller than the target stream length"));
        }
    }
    stream.state.last_id = id;
    if let Some(n) = entries_added {
        stream.state.entries_added = n;
    }
    if !max_deleted.is_zero() {
        stream.state.max_deleted = max_deleted;
    }
    let mut batch = store.batch();
    stream.save_unwatched(&mut batch);
    store.commit(batch)?;
    ctx.notify(Ev::STREAM, "xsetid", key);
    Ok(Frame::ok())
}

/// What XREAD and XREADGROUP parsed.
pub(crate) struct ReadArgs {
    pub count: u64,
    /// Milliseconds to block (0 = forever), when BLOCK was given.
    pub block: Option<u64>,
    pub group: Option<(Bytes, Bytes)>,
    pub noack: bool,
    /// Index of the first key; the ids follow the keys.
    pub streams_at: usize,
    pub streams: usize,
}

/// Parses XREAD / XREADGROUP options up to STREAMS (Redis's `xreadCommand` prologue).
pub(crate) fn parse_read(args: &[Bytes], group_form: bool) -> CmdResult<ReadArgs> {
    let mut parsed = ReadArgs {
        count: 0,
        block: None,
        group: None,
        noack: false,
        streams_at: 0,
        streams: 0,
    };
    let name = String::from_utf8_lossy(&args[0]).into_owned();
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let opt = &args[i];
        if is_opt(opt, "block") && more > 0 {
            if crate::script::in_script() {
                return Err(ReplyError::custom(format!(
                    "ERR {name} command is not allowed with BLOCK option from scripts"
                )));
            }
            i += 1;
            let ms = crate::util::number::parse_i64(&args[i]).ok_or_else(|| {
                ReplyError::custom("ERR timeout is not an integer or out of range")
            })?;
            if ms < 0 {
                return Err(ReplyError::custom("ERR timeout is negative"));
            }
            if ms > i64::MAX - now_ms() as i64 {
                return Err(ReplyError::custom("ERR timeout is out of range"));
            }
            parsed.block = Some(ms as u64);
        } else if is_opt(opt, "count") && more > 0 {
            i += 1;
            parsed.count = arg_i64(&args[i])?.max(0) as u64;
        } else if is_opt(opt, "streams") && more > 0 {
            parsed.streams_at = i + 1;
            let rest = args.len() - parsed.streams_at;
            if rest % 2 != 0 {
                return Err(ReplyError::custom("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."));
            }
            parsed.streams = rest / 2;
            break;
        } else if is_opt(opt, "group") && more >= 2 {
            if !group_form {
                return Err(ReplyError::custom(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            parsed.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 2;
        } else if is_opt(opt, "noack") {
            if !group_form {
                return Err(ReplyError::custom(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            parsed.noack = true;
        } else {
            return Err(ReplyError::Syntax);
        }
        i += 1;
    }
    if parsed.streams_at == 0 {
        return Err(ReplyError::Syntax);
    }
    if group_form && parsed.group.is_none() {
        return Err(ReplyError::custom(
            "ERR Missing GROUP option for XREADGROUP",
        ));
    }
    Ok(parsed)
}

impl ReadArgs {
    /// The stream keys of the call.
    pub fn keys<'a>(&self, args: &'a [Bytes]) -> &'a [Bytes] {
        &args[self.streams_at..self.streams_at + self.streams]
    }

    /// The ids, one per key.
    pub fn ids<'a>(&self, args: &'a [Bytes]) -> &'a [Bytes] {
        &args[self.streams_at + self.streams..]
    }
}

/// The key positions of XREAD and XREADGROUP: the first half of what follows STREAMS (searched
/// from after XREADGROUP's `GROUP g c`).
pub fn read_keys(args: &[Bytes], out: &mut Vec<KeyRef>) {
    let group_form = args.first().is_some_and(|n| is_opt(n, "xreadgroup"));
    let from = if group_form { 4 } else { 1 };
    let Some(at) = (from..args.len()).find(|&i| is_opt(&args[i], "streams")) else {
        return;
    };
    let rest = args.len() - at - 1;
    // Redis declares XREADGROUP's streams read-only too (its writes are to the group).
    let flags = super::KeyFlags::of(&[super::KeyFlags::RO, super::KeyFlags::ACCESS]);
    out.extend((at + 1..at + 1 + rest / 2).map(|index| KeyRef { index, flags }));
}

/// The reply of XREAD/XREADGROUP: per stream served, its key and entries — an array of pairs in
/// RESP2, a map in RESP3; a null array when nothing was served.
pub(crate) fn read_reply(proto: Protocol, served: Vec<(Bytes, Vec<Frame>)>) -> Frame {
    if served.is_empty() {
        return Frame::NullArray;
    }
    match proto {
        Protocol::Resp3 => Frame::Map(
            served
                .into_iter()
                .map(|(key, entries)| (Frame::Bulk(key), Frame::Array(entries)))
                .collect(),
        ),
        _ => Frame::Array(
            served
                .into_iter()
                .map(|(key, entries)| Frame::Array(vec![Frame::Bulk(key), Frame::Array(entries)]))
                .collect(),
        ),
    }
}

/// XREAD [COUNT n] [BLOCK ms] STREAMS key ... id ...: one non-blocking attempt (the network
/// runtime repeats it while the client blocks, with `$` already resolved).
pub fn xread(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_read(args, false)?;
    let keys = parsed.keys(args);
    let store = ctx.store();
    let _guard = store.lock_many(keys.iter().map(|k| (ctx.db, &k[..])));
    let mut after = Vec::with_capacity(keys.len());
    let mut streams = Vec::with_capacity(keys.len());
    for (key, id) in keys.iter().zip(parsed.ids(args)) {
        let stream = lookup(ctx, key)?;
        let from = match id.as_ref() {
            b"$" => stream.as_ref().map_or(StreamId::MIN, |s| s.state.last_id),
            b">" => return Err(ReplyError::custom("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")),
            _ => parse_strict_id(id)?,
        };
        after.push(from);
        streams.push(stream);
    }
    let mut served = Vec::new();
    for ((key, stream), from) in keys.iter().zip(streams).zip(after) {
        let Some(stream) = stream else { continue };
        let Some(start) = from.next() else { continue };
        let entries = stream.collect(start, StreamId::MAX, false, parsed.count as usize)?;
        if !entries.is_empty() {
            let frames = entries
                .into_iter()
                .map(|(id, fields)| entry_frame(id, fields))
                .collect();
            served.push((key.clone(), frames));
        }
    }
    Ok(read_reply(ctx.proto, served))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_redis() {
        assert_eq!(parse_strict_id(b"5-3").unwrap(), StreamId::new(5, 3));
        assert_eq!(parse_strict_id(b"5").unwrap(), StreamId::new(5, 0));
        assert_eq!(parse_strict_id(b"+5-0").unwrap(), StreamId::new(5, 0));
        assert_eq!(parse_strict_id(b" 6").unwrap(), StreamId::new(6, 0));
        assert_eq!(parse_strict_id(b"08-01").unwrap(), StreamId::new(8, 1));
        for bad in [
            &b"10 "[..],
            b"10-",
            b"10--1",
            b"-",
            b"+",
            b"$",
            b"*-1",
            b"0x10",
        ] {
            assert!(parse_strict_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_id(b"+", 0).unwrap(), StreamId::MAX);
        assert_eq!(
            parse_bound(b"5", false).unwrap(),
            StreamId::new(5, u64::MAX)
        );
        assert_eq!(parse_bound(b"(5-0", true).unwrap(), StreamId::new(5, 1));
        assert!(parse_bound(b"(0-0", false).is_err());
        assert_eq!(
            parse_id_with(b"7-*", 0, true, true).unwrap(),
            (StreamId::new(7, 0), false)
        );
    }
}
