//! String commands. Values live inline in the metadata row, so reads are one point lookup and
//! read-modify-writes (INCR, APPEND, SETRANGE) hold the key's stripe lock for one get and one put.

use bytes::{Bytes, BytesMut};

use super::{arg_i64, is_opt, Ctx, Ev, KeyFlags};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::state::stats::bump;
use crate::storage::meta::{KeyType, Meta, StrEncoding};
use crate::util::now_ms;
use crate::util::number::{incr_long_double, FloatIncrError};

/// Looks a key up for reading (Redis's `lookupKeyRead`: a miss is a `keymiss` event) and
/// insists it is a string (or absent).
pub(super) fn read_string(ctx: &Ctx<'_>, key: &[u8], now: u64) -> CmdResult<Option<Meta>> {
    match ctx.store().get(ctx.db, key, now)? {
        Some(m) if m.kind != KeyType::String => Err(ReplyError::WrongType),
        None => {
            ctx.keymiss(key);
            Ok(None)
        }
        other => Ok(other),
    }
}

/// Counts a read lookup in INFO's keyspace_hits/keyspace_misses, as Redis's lookupKeyRead does.
pub(super) fn count_lookup(ctx: &Ctx<'_>, hit: bool) {
    let stats = &ctx.state.stats;
    bump(
        if hit {
            &stats.keyspace_hits
        } else {
            &stats.keyspace_misses
        },
        1,
    );
}

pub fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let value = read_string(ctx, &args[1], now_ms())?;
    count_lookup(ctx, value.is_some());
    Ok(Frame::opt_bulk(value.map(|m| m.body)))
}

/// Which of SET's or GETEX's options are allowed.
#[derive(PartialEq, Clone, Copy)]
enum OptionSet {
    Set,
    GetEx,
}

/// Expiry requested by SET/GETEX options.
#[derive(Default, Clone, Copy, PartialEq)]
enum ExpireOpt {
    #[default]
    None,
    Ex,
    Px,
    ExAt,
    PxAt,
    KeepTtl,
    Persist,
}

#[derive(Default)]
struct StringOpts {
    nx: bool,
    xx: bool,
    get: bool,
    expire: ExpireOpt,
    expire_arg: Option<Bytes>,
}

/// Parses SET/GETEX options with Redis's rules: repeating a flag is fine, conflicting ones are a
/// syntax error, a value-taking option without a value is a syntax error.
fn parse_string_opts(args: &[Bytes], which: OptionSet) -> CmdResult<StringOpts> {
    let mut o = StringOpts::default();
    let mut j = 0;
    while j < args.len() {
        let opt = &args[j];
        let has_next = j + 1 < args.len();
        let timed =
            |e: ExpireOpt, o: &StringOpts| matches!(o.expire, ExpireOpt::None) || o.expire == e;
        if which == OptionSet::Set && is_opt(opt, "nx") && !o.xx {
            o.nx = true;
        } else if which == OptionSet::Set && is_opt(opt, "xx") && !o.nx {
            o.xx = true;
        } else if which == OptionSet::Set && is_opt(opt, "get") {
            o.get = true;
        } else if which == OptionSet::Set && is_opt(opt, "keepttl") && timed(ExpireOpt::KeepTtl, &o)
        {
            o.expire = ExpireOpt::KeepTtl;
        } else if which == OptionSet::GetEx
            && is_opt(opt, "persist")
            && timed(ExpireOpt::Persist, &o)
        {
            o.expire = ExpireOpt::Persist;
        } else if let Some(kind) = [
            ("ex", ExpireOpt::Ex),
            ("px", ExpireOpt::Px),
            ("exat", ExpireOpt::ExAt),
            ("pxat", ExpireOpt::PxAt),
        ]
        .iter()
        .find(|(name, kind)| is_opt(opt, name) && timed(*kind, &o) && has_next)
        .map(|(_, kind)| *kind)
        {
            o.expire = kind;
            o.expire_arg = Some(args[j + 1].clone());
            j += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Converts an EX/PX/EXAT/PXAT argument into an absolute Unix time in ms, with Redis's checks.
fn absolute_expire(kind: ExpireOpt, arg: &[u8], cmd: &str, now: u64) -> CmdResult<u64> {
    let invalid = || ReplyError::InvalidExpire(cmd.to_string());
    let n = arg_i64(arg)?;
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match kind {
        ExpireOpt::Ex | ExpireOpt::ExAt => n.checked_mul(1000).ok_or_else(invalid)?,
        _ => n,
    };
    let at = match kind {
        ExpireOpt::Ex | ExpireOpt::Px => ms.checked_add(now as i64).ok_or_else(invalid)?,
        _ => ms,
    };
    Ok(at as u64)
}

/// The core of SET and its variants. Returns the reply. `expire_at` is the expiry the command
/// sets (0 = none; KEEPTTL keeps the key's own).
fn set_generic(
    ctx: &Ctx<'_>,
    key: &[u8],
    value: Bytes,
    opts: &StringOpts,
    expire_at: u64,
    now: u64,
) -> CmdResult {
    let store = ctx.store();
    let _guard = store.lock(ctx.db, key);
    let old = store.lookup_raw(ctx.db, key, now)?;
    let live = old.as_ref().filter(|m| !m.is_expired(now));
    let old_reply = if opts.get {
        match live {
            Some(m) if m.kind != KeyType::String => return Err(ReplyError::WrongType),
            Some(m) => Frame::Bulk(m.body.clone()),
            None => {
                ctx.keymiss(key);
                Frame::Null
            }
        }
    } else {
        Frame::ok()
    };
    if (opts.nx && live.is_some()) || (opts.xx && live.is_none()) {
        return Ok(if opts.get { old_reply } else { Frame::Null });
    }
    let sets_expiry = expire_at != 0;
    let expire_at = match opts.expire {
        ExpireOpt::KeepTtl => live.map_or(0, |m| m.expire_at),
        _ => expire_at,
    };
    // An absolute time in the past is stored too: the key is gone at once for every reader,
    // and expires (`expired` event) when next looked up or swept, as in Redis.
    let mut batch = store.batch();
    batch.put(ctx.db, key, &Meta::string(value, expire_at), old.as_ref());
    store.commit(batch)?;
    ctx.notify(Ev::STRING, "set", key);
    if sets_expiry {
        ctx.notify(Ev::GENERIC, "expire", key);
    }
    Ok(old_reply)
}

/// SET's key flags, as Redis's `setGetKeys` decides them: with a GET option among the options
/// it reads the old value too.
pub fn set_key_flags(args: &[Bytes]) -> KeyFlags {
    if args.iter().skip(3).any(|a| is_opt(a, "get")) {
        KeyFlags::of(&[KeyFlags::RW, KeyFlags::ACCESS, KeyFlags::UPDATE])
    } else {
        KeyFlags::of(&[KeyFlags::OW, KeyFlags::UPDATE])
    }
}

pub fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let opts = parse_string_opts(&args[3..], OptionSet::Set)?;
    let now = now_ms();
    let expire_at = match &opts.expire_arg {
        Some(arg) => absolute_expire(opts.expire, arg, "set", now)?,
        None => 0,
    };
    set_generic(ctx, &args[1], args[2].clone(), &opts, expire_at, now)
}

pub fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let opts = StringOpts {
        nx: true,
        ..Default::default()
    };
    let reply = set_generic(ctx, &args[1], args[2].clone(), &opts, 0, now_ms())?;
    Ok(Frame::Integer(if reply == Frame::Null { 0 } else { 1 }))
}

fn set_with_ttl(ctx: &Ctx<'_>, args: &[Bytes], kind: ExpireOpt, cmd: &str) -> CmdResult {
    let now = now_ms();
    let expire_at = absolute_expire(kind, &args[2], cmd, now)?;
    set_generic(
        ctx,
        &args[1],
        args[3].clone(),
        &StringOpts::default(),
        expire_at,
        now,
    )
}

pub fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_with_ttl(ctx, args, ExpireOpt::Ex, "setex")
}

pub fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_with_ttl(ctx, args, ExpireOpt::Px, "psetex")
}

pub fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let opts = StringOpts {
        get: true,
        ..Default::default()
    };
    set_generic(ctx, &args[1], args[2].clone(), &opts, 0, now_ms())
}

pub fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let now = now_ms();
    let Some(meta) = read_string(ctx, key, now)? else {
        return Ok(Frame::Null);
    };
    let mut batch = store.batch();
    batch.delete(ctx.db, key, &meta);
    store.commit(batch)?;
    ctx.notify(Ev::GENERIC, "del", key);
    Ok(Frame::Bulk(meta.body))
}

pub fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let opts = parse_string_opts(&args[2..], OptionSet::GetEx)?;
    let store = ctx.store();
    let key = &args[1];
    let _guard = store.lock(ctx.db, key);
    let now = now_ms();
    let Some(meta) = read_string(ctx, key, now)? else {
        return Ok(Frame::Null);
    };
    let value = meta.body.clone();
    let new_expire = match (&opts.expire, &opts.expire_arg) {
        (ExpireOpt::Persist, _) => Some(0),
        (kind, Some(arg)) => Some(absolute_expire(*kind, arg, "getex", now)?),
        _ => None,
    };
    if let Some(at) = new_expire {
        let mut batch = store.batch();
        let event = if at != 0 && at <= now {
            batch.delete(ctx.db, key, &meta);
            Some("del")
        } else if at != meta.expire_at {
            let renewed = Meta {
                expire_at: at,
                ..meta.clone()
            };
            batch.put(ctx.db, key, &renewed, Some(&meta));
            Some(if at == 0 { "persist" } else { "expire" })
        } else {
            // The same expiry again is still announced; PERSIST of a key without one is not.
            (at != 0).then_some("expire")
        };
        store.commit(batch)?;
        if let Some(event) = event {
            ctx.notify(Ev::GENERIC, event, key);
        }
    }
    Ok(Frame::Bulk(value))
}

pub fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let rows = ctx.store().multi_get(ctx.db, &args[1..], now_ms())?;
    Ok(Frame::Array(
        rows.into_iter()
            .zip(&args[1..])
            .map(|(row, key)| match row {
                Some(m) if m.kind == KeyType::String => {
                    count_lookup(ctx, true);
                    Frame::Bulk(m.body)
                }
                row => {
                    count_lookup(ctx, false);
                    if row.is_none() {
                        ctx.keymiss(key);
                    }
                    Frame::Null
                }
            })
            .collect(),
    ))
}

/// MSET/MSETNX: all pairs in one WriteBatch under all the keys' locks.
fn mset_generic(ctx: &Ctx<'_>, args: &[Bytes], only_if_none: bool) -> CmdResult<bool> {
    if args.len() % 2 == 0 {
        return Err(ReplyError::WrongArity(
            String::from_utf8_lossy(&args[0]).to_ascii_lowercase(),
        ));
    }
    let store = ctx.store();
    let pairs: Vec<(&Bytes, &Bytes)> = args[1..].chunks(2).map(|p| (&p[0], &p[1])).collect();
    let _guard = store.lock_many(pairs.iter().map(|(k, _)| (ctx.db, k.as_ref())));
    let now = now_ms();
    let mut existing = Vec::with_capacity(pairs.len());
    for (key, _) in &pairs {
        let old = store.lookup_raw(ctx.db, key, now)?;
        if only_if_none && old.as_ref().is_some_and(|m| !m.is_expired(now)) {
            return Ok(false);
        }
        existing.push(old);
    }
    let mut batch = store.batch();
    let mut written: std::collections::HashMap<&[u8], Meta> = std::collections::HashMap::new();
    for ((key, value), old) in pairs.iter().zip(existing) {
        // A key repeated in one MSET replaces its own first write.
        let old = written.get(key.as_ref()).cloned().or(old);
        let meta = Meta::string((*value).clone(), 0);
        batch.put(ctx.db, key, &meta, old.as_ref());
        ctx.notify(Ev::STRING, "set", key);
        written.insert(key, meta);
    }
    store.commit(batch)?;
    Ok(true)
}

pub fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    mset_generic(ctx, args, false)?;
    Ok(Frame::ok())
}

pub fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(mset_generic(ctx, args, true)? as i64))
}

/// The configured `proto-max-bulk-len`: the largest string a command may build.
pub(super) fn max_bulk(ctx: &Ctx<'_>) -> u64 {
    ctx.state.config().proto_max_bulk_len.0
}

/// What a read-modify-write of a string decided: the value to store with its encoding hint (`None`
/// leaves the key untouched), and the reply.
pub(super) type Rewrite = (Option<(Bytes, StrEncoding)>, Frame);

/// Read-modify-write of a string under its lock: `f` gets the live value (if any) and returns the
/// new value (if it changes) and the reply. The key's TTL is kept. A change is announced as
/// `event` (class `$`).
pub(super) fn modify_string(
    ctx: &Ctx<'_>,
    key: &[u8],
    event: &'static str,
    f: impl FnOnce(Option<&Meta>) -> CmdResult<Rewrite>,
) -> CmdResult {
    modify_string_announcing(ctx, key, event, |live| {
        let (update, reply) = f(live)?;
        let announce = update.is_some();
        Ok((update, reply, announce))
    })
}

/// [`modify_string`] for commands that decide apart from the write whether to announce it
/// (SETBIT announces a changed bit, not a re-encoded value): `f` also returns that.
pub(super) fn modify_string_announcing(
    ctx: &Ctx<'_>,
    key: &[u8],
    event: &'static str,
    f: impl FnOnce(Option<&Meta>) -> CmdResult<(Option<(Bytes, StrEncoding)>, Frame, bool)>,
) -> CmdResult {
    let store = ctx.store();
    let _guard = store.lock(ctx.db, key);
    let now = now_ms();
    let old = store.lookup_raw(ctx.db, key, now)?;
    let live = old.as_ref().filter(|m| !m.is_expired(now));
    if live.is_some_and(|m| m.kind != KeyType::String) {
        return Err(ReplyError::WrongType);
    }
    let (update, reply, announce) = f(live)?;
    let Some((value, encoding)) = update else {
        return Ok(reply);
    };
    let meta = Meta {
        kind: KeyType::String,
        expire_at: live.map_or(0, |m| m.expire_at),
        encoding,
        body: value,
    };
    let mut batch = store.batch();
    batch.put(ctx.db, key, &meta, old.as_ref());
    store.commit(batch)?;
    if announce {
        ctx.notify(Ev::STRING, event, key);
    }
    Ok(reply)
}

pub fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let limit = max_bulk(ctx);
    let addition = &args[2];
    modify_string(ctx, &args[1], "append", |live| {
        let Some(m) = live else {
            let len = addition.len() as i64;
            return Ok((
                Some((addition.clone(), StrEncoding::Auto)),
                Frame::Integer(len),
            ));
        };
        if (m.body.len() + addition.len()) as u64 > limit {
            return Err(ReplyError::StringTooLong);
        }
        let mut value = BytesMut::with_capacity(m.body.len() + addition.len());
        value.extend_from_slice(&m.body);
        value.extend_from_slice(addition);
        Ok(modified_in_place(value))
    })
}

/// The result of APPEND/SETRANGE on an existing value: Redis reports such strings as `raw` and
/// replies with the new length.
fn modified_in_place(value: BytesMut) -> Rewrite {
    let len = value.len() as i64;
    (
        Some((value.freeze(), StrEncoding::Raw)),
        Frame::Integer(len),
    )
}

pub fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let value = read_string(ctx, &args[1], now_ms())?;
    Ok(Frame::Integer(value.map_or(0, |m| m.body.len() as i64)))
}

fn incr_by(ctx: &Ctx<'_>, key: &[u8], delta: i64) -> CmdResult {
    modify_string(ctx, key, "incrby", |live| {
        let current = match live {
            Some(m) => crate::util::number::parse_i64(&m.body).ok_or(ReplyError::NotInteger)?,
            None => 0,
        };
        let next = current.checked_add(delta).ok_or(ReplyError::Overflow)?;
        let mut buf = itoa::Buffer::new();
        let text = Bytes::copy_from_slice(buf.format(next).as_bytes());
        Ok((Some((text, StrEncoding::Auto)), Frame::Integer(next)))
    })
}

pub fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], 1)
}

pub fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], -1)
}

pub fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let delta = arg_i64(&args[2])?;
    incr_by(ctx, &args[1], delta)
}

pub fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let delta = arg_i64(&args[2])?;
    let delta = delta
        .checked_neg()
        .ok_or_else(|| ReplyError::custom("ERR decrement would overflow"))?;
    incr_by(ctx, &args[1], delta)
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let incr = &args[2];
    modify_string(ctx, &args[1], "incrbyfloat", |live| {
        let current = live.map_or(&b"0"[..], |m| &m.body[..]);
        let text = incr_long_double(current, incr).map_err(|e| match e {
            FloatIncrError::NotFloat => ReplyError::NotFloat,
            FloatIncrError::NanOrInfinity => ReplyError::NanOrInfinity,
        })?;
        let value = Bytes::from(text);
        Ok((
            Some((value.clone(), StrEncoding::Embstr)),
            Frame::Bulk(value),
        ))
    })
}

pub fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let end = arg_i64(&args[3])?;
    let Some(meta) = read_string(ctx, &args[1], now_ms())? else {
        return Ok(Frame::Bulk(Bytes::new()));
    };
    let value = meta.body;
    let len = value.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(Frame::Bulk(Bytes::new()));
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { (len + end).max(0) } else { end };
    let end = end.min(len - 1);
    if start > end || len == 0 {
        return Ok(Frame::Bulk(Bytes::new()));
    }
    Ok(Frame::Bulk(value.slice(start as usize..=end as usize)))
}

pub fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = arg_i64(&args[2])?;
    if offset < 0 {
        return Err(ReplyError::OffsetOutOfRange);
    }
    let patch = &args[3];
    let limit = max_bulk(ctx);
    modify_string(ctx, &args[1], "setrange", |live| {
        if patch.is_empty() {
            let len = live.map_or(0, |m| m.body.len() as i64);
            return Ok((None, Frame::Integer(len)));
        }
        if offset as u64 + patch.len() as u64 > limit {
            return Err(ReplyError::StringTooLong);
        }
        let offset = offset as usize;
        let old = live.map_or(&b""[..], |m| &m.body[..]);
        let mut value = BytesMut::from(old);
        if value.len() < offset + patch.len() {
            value.resize(offset + patch.len(), 0);
        }
        value[offset..offset + patch.len()].copy_from_slice(patch);
        Ok(modified_in_place(value))
    })
}

/// LCS with Redis's reply shapes. The DP table is bounded by `proto-max-bulk-len` so a client
/// cannot make the server allocate without limit.
pub fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let now = now_ms();
    let lookup = |key: &[u8]| -> CmdResult<Option<Meta>> {
        let row = ctx.store().get(ctx.db, key, now)?;
        if row.is_none() {
            ctx.keymiss(key);
        }
        Ok(row)
    };
    // Both keys are looked up before either's type is checked, as in Redis.
    let (a, b) = (lookup(&args[1])?, lookup(&args[2])?);
    let fetch = |row: Option<Meta>| -> CmdResult<Bytes> {
        match row {
            Some(m) if m.kind != KeyType::String => Err(ReplyError::custom(
                "ERR The specified keys must contain string values",
            )),
            Some(m) => Ok(m.body),
            None => Ok(Bytes::new()),
        }
    };
    let a = fetch(a)?;
    let b = fetch(b)?;
    let (mut get_len, mut get_idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        if is_opt(opt, "idx") {
            get_idx = true;
        } else if is_opt(opt, "len") {
            get_len = true;
        } else if is_opt(opt, "withmatchlen") {
            with_len = true;
        } else if is_opt(opt, "minmatchlen") && j + 1 < args.len() {
            min_len = arg_i64(&args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    if get_idx && get_len {
        return Err(ReplyError::custom(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > max_bulk(ctx) {
        return Err(ReplyError::custom(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let width = blen + 1;
    let mut table = vec![0u32; cells as usize];
    for i in 1..=alen {
        for k in 1..=blen {
            table[i * width + k] = if a[i - 1] == b[k - 1] {
                table[(i - 1) * width + k - 1] + 1
            } else {
                table[(i - 1) * width + k].max(table[i * width + k - 1])
            };
        }
    }
    let total = table[alen * width + blen];
    if get_len {
        return Ok(Frame::Integer(total as i64));
    }
    // Walk back from the end, collecting the subsequence and the matching ranges.
    let mut result = vec![0u8; total as usize];
    let mut remaining = total as usize;
    let mut matches = Vec::new();
    let (mut i, mut k) = (alen, blen);
    let mut range: Option<(usize, usize, usize, usize)> = None; // a_start, a_end, b_start, b_end
    let emit = |range: (usize, usize, usize, usize), matches: &mut Vec<Frame>| {
        let (a_start, a_end, b_start, b_end) = range;
        let len = (a_end - a_start + 1) as i64;
        if min_len == 0 || len >= min_len {
            let pair = |s: usize, e: usize| {
                Frame::Array(vec![Frame::Integer(s as i64), Frame::Integer(e as i64)])
            };
            let mut item = vec![pair(a_start, a_end), pair(b_start, b_end)];
            if with_len {
                item.push(Frame::Integer(len));
            }
            matches.push(Frame::Array(item));
        }
    };
    while i > 0 && k > 0 {
        let mut emit_now = false;
        if a[i - 1] == b[k - 1] {
            result[remaining - 1] = a[i - 1];
            match &mut range {
                None => range = Some((i - 1, i - 1, k - 1, k - 1)),
                Some(r) if r.0 == i && r.2 == k => {
                    r.0 -= 1;
                    r.2 -= 1;
                }
                Some(_) => emit_now = true,
            }
            if let Some(r) = range {
                if r.0 == 0 || r.2 == 0 {
                    emit_now = true;
                }
            }
            remaining -= 1;
            i -= 1;
            k -= 1;
        } else {
            if table[(i - 1) * width + k] > table[i * width + k - 1] {
                i -= 1;
            } else {
                k -= 1;
            }
            if range.is_some() {
                emit_now = true;
            }
        }
        if emit_now {
            if let Some(r) = range.take() {
                emit(r, &mut matches);
            }
        }
    }
    if !get_idx {
        return Ok(Frame::Bulk(Bytes::from(result)));
    }
    Ok(Frame::Map(vec![
        (Frame::text("matches"), Frame::Array(matches)),
        (Frame::text("len"), Frame::Integer(total as i64)),
    ]))
}
