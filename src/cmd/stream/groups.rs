//! Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM and XAUTOCLAIM.
//!
//! A group's pending entries list (PEL) is one row per delivered, unacknowledged entry, plus an
//! index row under its owner, so "what does this consumer own" is a seek, not a scan of the group.

use bytes::Bytes;

use super::{entry_frame, parse_bound, parse_id, parse_read, parse_strict_id, read_reply};
use crate::cmd::server::help_lines;
use crate::cmd::{arg_i64, is_opt, Ctx, Ev};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::stream::{Consumer, Group, Nack, Stream, StreamId};
use crate::storage::Batch;
use crate::util::now_ms;

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// `NOGROUP No such key 'k' or consumer group 'g'` (XPENDING, XCLAIM, XAUTOCLAIM).
fn no_key_or_group(key: &[u8], group: &[u8]) -> ReplyError {
    ReplyError::custom(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    ))
}

/// `NOGROUP No such consumer group 'g' for key name 'k'` (XGROUP, XINFO CONSUMERS).
pub(super) fn no_group(key: &[u8], group: &[u8]) -> ReplyError {
    ReplyError::custom(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        lossy(group),
        lossy(key)
    ))
}

/// Parses an integer option with Redis's per-option error text.
fn int_or(arg: &[u8], message: &str) -> CmdResult<i64> {
    crate::util::number::parse_i64(arg).ok_or_else(|| ReplyError::custom(message))
}

/// One command's work on one consumer group: the stream, the batch its writes go to, the
/// group's row and the consumer it serves (looked up or created on first use), written back
/// together by [`GroupEdit::finish`].
struct GroupEdit<'s> {
    stream: Stream<'s>,
    batch: Batch<'s>,
    name: Bytes,
    group: Group,
    consumer_name: Bytes,
    consumer: Option<Consumer>,
    changed: bool,
}

impl<'s> GroupEdit<'s> {
    fn new(
        stream: Stream<'s>,
        batch: Batch<'s>,
        name: &Bytes,
        group: Group,
        consumer: &Bytes,
    ) -> Self {
        GroupEdit {
            stream,
            batch,
            name: name.clone(),
            group,
            consumer_name: consumer.clone(),
            consumer: None,
            changed: false,
        }
    }

    /// The served consumer, refreshed as Redis's `streamLookupConsumer` does, or created
    /// (announced as `xgroup-createconsumer`).
    fn consumer(&mut self, ctx: &Ctx<'_>, key: &[u8], now: u64) -> CmdResult<&mut Consumer> {
        if self.consumer.is_none() {
            let found = match self.stream.consumer(&self.name, &self.consumer_name)? {
                Some(found) => found,
                None => {
                    self.group.consumers += 1;
                    ctx.notify(Ev::STREAM, "xgroup-createconsumer", key);
                    Consumer {
                        seen_time: now,
                        pending: 0,
                    }
                }
            };
            self.consumer = Some(Consumer {
                seen_time: now,
                ..found
            });
            self.changed = true;
        }
        Ok(self.consumer.as_mut().expect("set above"))
    }

    /// Lowers the pending count of a consumer that lost an entry (acknowledged, claimed away,
    /// or deleted from the stream).
    fn release(&mut self, owner: &[u8]) -> CmdResult<()> {
        if let Some(c) = self
            .consumer
            .as_mut()
            .filter(|_| self.consumer_name.as_ref() == owner)
        {
            c.pending = c.pending.saturating_sub(1);
            return Ok(());
        }
        if let Some(mut c) = self.stream.consumer(&self.name, owner)? {
            c.pending = c.pending.saturating_sub(1);
            self.stream
                .put_consumer(&mut self.batch, &self.name, owner, &c);
        }
        Ok(())
    }

    /// Makes `id` pending for the served consumer with `nack`'s times and count, taking it from
    /// `previous` (its owner, if it was pending).
    fn assign(&mut self, id: StreamId, mut nack: Nack, previous: Option<Bytes>) -> CmdResult<()> {
        match &previous {
            Some(owner) if *owner == self.consumer_name => {}
            Some(owner) => self.release(owner)?,
            None => self.group.pending += 1,
        }
        if previous.as_ref() != Some(&self.consumer_name) {
            if let Some(c) = self.consumer.as_mut() {
                c.pending += 1;
            }
        }
        nack.consumer = self.consumer_name.clone();
        self.stream
            .put_nack(&mut self.batch, &self.name, id, &nack, previous.as_deref());
        self.changed = true;
        Ok(())
    }

    /// Drops a pending entry that was acknowledged, or whose stream entry is gone.
    fn forget(&mut self, id: StreamId, nack: &Nack) -> CmdResult<()> {
        self.stream
            .delete_nack(&mut self.batch, &self.name, id, nack);
        self.group.pending = self.group.pending.saturating_sub(1);
        self.changed = true;
        self.release(&nack.consumer)
    }

    /// Writes the group and the served consumer back and commits, if anything changed.
    fn finish(mut self, ctx: &Ctx<'_>) -> CmdResult<()> {
        if !self.changed {
            return Ok(());
        }
        if let Some(consumer) = &self.consumer {
            self.stream
                .put_consumer(&mut self.batch, &self.name, &self.consumer_name, consumer);
        }
        self.stream
            .put_group(&mut self.batch, &self.name, &self.group);
        ctx.store().commit(self.batch)?;
        Ok(())
    }
}

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP
pub fn xgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is_opt(sub, "help") {
        return Ok(help_lines(&[
            "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
            "HELP",
            "    Print this help.",
        ]));
    }
    let create = is_opt(sub, "create");
    let setid = is_opt(sub, "setid");
    let mut mkstream = false;
    let mut entries_read: Option<u64> = None;
    let mut i = 5;
    while i < args.len() {
        if create && is_opt(&args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is_opt(&args[i], "entriesread") && i + 1 < args.len() {
            let n = arg_i64(&args[i + 1])?;
            if n < -1 {
                return Err(ReplyError::custom(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            entries_read = u64::try_from(n).ok();
            i += 2;
        } else {
            return Err(ReplyError::subcommand_syntax(sub, "xgroup"));
        }
    }
    let store = ctx.store();
    let (key, group_name) = (&args[2], &args[3]);
    let _guard = store.lock(ctx.db, key);
    let mut stream = store.open_stream(ctx.db, key, now_ms())?;
    let group = stream.group(group_name)?;
    if !mkstream {
        if !stream.exists() {
            return Err(ReplyError::custom("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."));
        }
        if group.is_none() && !create && !is_opt(sub, "destroy") {
            return Err(no_group(key, group_name));
        }
    }
    // Redis checks the argument count when it dispatches, after the key and group checks.
    let arity_ok = match () {
        _ if create => (5..=8).contains(&args.len()),
        _ if setid => args.len() == 5 || args.len() == 7,
        _ => true,
    };
    if !arity_ok {
        return Err(ReplyError::subcommand_syntax(sub, "xgroup"));
    }
    let mut batch = store.batch();
    let reply = if create {
        let id = match args[4].as_ref() {
            b"$" => stream.state.last_id,
            _ => parse_strict_id(&args[4])?,
        };
        if !stream.create_group(&mut batch, group_name, &Group::new(id, entries_read))? {
            return Err(ReplyError::custom(
                "BUSYGROUP Consumer Group name already exists",
            ));
        }
        // Creating the stream (MKSTREAM) modifies the key; adding a group to one does not.
        if stream.exists() {
            stream.save_unwatched(&mut batch);
        } else {
            stream.save(&mut batch);
        }
        ctx.notify(Ev::STREAM, "xgroup-create", key);
        Frame::ok()
    } else if setid {
        let id = match args[4].as_ref() {
            b"$" => stream.state.last_id,
            _ => parse_id(&args[4], 0)?,
        };
        let mut group = group.ok_or_else(|| no_group(key, group_name))?;
        group.last_id = id;
        group.entries_read = entries_read;
        stream.put_group(&mut batch, group_name, &group);
        ctx.notify(Ev::STREAM, "xgroup-setid", key);
        Frame::ok()
    } else if is_opt(sub, "destroy") {
        if !stream.destroy_group(&mut batch, group_name)? {
            return Ok(Frame::Integer(0));
        }
        // Saving the stream wakes the XREADGROUP clients blocked on this group.
        stream.save_unwatched(&mut batch);
        ctx.notify(Ev::STREAM, "xgroup-destroy", key);
        Frame::Integer(1)
    } else if is_opt(sub, "createconsumer") {
        let mut group = group.ok_or_else(|| no_group(key, group_name))?;
        if stream.consumer(group_name, &args[4])?.is_some() {
            return Ok(Frame::Integer(0));
        }
        let consumer = Consumer {
            seen_time: now_ms(),
            pending: 0,
        };
        stream.put_consumer(&mut batch, group_name, &args[4], &consumer);
        group.consumers += 1;
        stream.put_group(&mut batch, group_name, &group);
        ctx.notify(Ev::STREAM, "xgroup-createconsumer", key);
        Frame::Integer(1)
    } else if is_opt(sub, "delconsumer") {
        let mut group = group.ok_or_else(|| no_group(key, group_name))?;
        let Some(pending) = stream.delete_consumer(&mut batch, group_name, &args[4])? else {
            return Ok(Frame::Integer(0));
        };
        group.consumers -= 1;
        group.pending = group.pending.saturating_sub(pending);
        stream.put_group(&mut batch, group_name, &group);
        ctx.notify(Ev::STREAM, "xgroup-delconsumer", key);
        Frame::Integer(pending as i64)
    } else {
        return Err(ReplyError::subcommand_syntax(sub, "xgroup"));
    };
    store.commit(batch)?;
    Ok(reply)
}

/// XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key ... id ...: `>` delivers new
/// entries (and records them as pending), any other id re-reads the consumer's own pending
/// entries after it. One non-blocking attempt; the network runtime repeats it while blocked.
pub fn xreadgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_read(args, true)?;
    let (group_name, consumer_name) = parsed.group.clone().expect("checked by parse_read");
    let keys = parsed.keys(args);
    let store = ctx.store();
    let _guard = store.lock_many(keys.iter().map(|k| (ctx.db, &k[..])));
    let now = now_ms();
    // Check every key, group and id before serving any.
    let mut plan = Vec::with_capacity(keys.len());
    for (key, id) in keys.iter().zip(parsed.ids(args)) {
        let stream = store.read_stream(ctx.db, key, now)?;
        let has_group = match &stream {
            Some(stream) => stream.group(&group_name)?.is_some(),
            None => false,
        };
        if !has_group {
            return Err(ReplyError::custom(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                lossy(key),
                lossy(&group_name)
            )));
        }
        let from = match id.as_ref() {
            b"$" => return Err(ReplyError::custom("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")),
            b">" => None,
            // Redis marks `>` with the maximum id, so that id reads new entries too.
            _ => Some(parse_strict_id(id)?).filter(|id| *id != StreamId::MAX),
        };
        plan.push((key, from));
    }
    let mut served = Vec::new();
    for (key, from) in plan {
        let stream = store.open_stream(ctx.db, key, now)?;
        let group = stream.group(&group_name)?.ok_or(ReplyError::WrongType)?;
        let mut edit = GroupEdit::new(stream, store.batch(), &group_name, group, &consumer_name);
        let mut frames = Vec::new();
        match from {
            Some(after) => {
                // History: the consumer's own pending entries after `after`.
                edit.consumer(ctx, key, now)?;
                let ids = match after.next() {
                    Some(start) => edit.stream.owned(
                        &group_name,
                        &consumer_name,
                        start,
                        StreamId::MAX,
                        parsed.count as usize,
                    )?,
                    None => Vec::new(),
                };
                for id in ids {
                    let Some(fields) = edit.stream.entry(id)? else {
                        let deleted = vec![Frame::Bulk(id.to_bytes()), Frame::NullArray];
                        frames.push(Frame::Array(deleted));
                        continue;
                    };
                    frames.push(entry_frame(id, fields));
                    if let Some(mut nack) = edit.stream.nack(&group_name, id)? {
                        nack.delivery_time = now;
                        nack.delivery_count += 1;
                        let owner = Some(nack.consumer.clone());
                        edit.assign(id, nack, owner)?;
                    }
                }
            }
            None => {
                let Some(start) = edit.group.last_id.next() else {
                    continue;
                };
                let count = parsed.count as usize;
                let entries = edit.stream.collect(start, StreamId::MAX, false, count)?;
                if entries.is_empty() {
                    continue;
                }
                edit.consumer(ctx, key, now)?;
                let len = edit.stream.len();
                for (id, fields) in entries {
                    edit.stream.state.advance(len, &mut edit.group, id);
                    edit.changed = true;
                    if !parsed.noack {
                        // A new pending entry, or one taken over from whoever had it (an admin
                        // may have moved the group back with XGROUP SETID).
                        let previous = edit.stream.nack(&group_name, id)?.map(|n| n.consumer);
                        let nack = Nack {
                            delivery_time: now,
                            delivery_count: 1,
                            consumer: Bytes::new(),
                        };
                        edit.assign(id, nack, previous)?;
                    }
                    frames.push(entry_frame(id, fields));
                }
            }
        }
        edit.finish(ctx)?;
        served.push((key.clone(), frames));
    }
    Ok(read_reply(ctx.proto, served))
}

/// XACK key group id ...: the number of ids that were pending.
pub fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let (key, group_name) = (&args[1], &args[2]);
    let _guard = store.lock(ctx.db, key);
    let Some(stream) = store.read_stream(ctx.db, key, now_ms())? else {
        return Ok(Frame::Integer(0));
    };
    let Some(group) = stream.group(group_name)? else {
        return Ok(Frame::Integer(0));
    };
    let ids = args[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut edit = GroupEdit::new(stream, store.batch(), group_name, group, &Bytes::new());
    let mut acknowledged = 0;
    for id in ids {
        if let Some(nack) = edit.stream.nack(group_name, id)? {
            edit.forget(id, &nack)?;
            acknowledged += 1;
        }
    }
    edit.finish(ctx)?;
    Ok(Frame::Integer(acknowledged))
}

/// Opens the stream and group a command works on, or NOGROUP.
fn open_group<'a>(
    ctx: &'a Ctx<'_>,
    key: &[u8],
    group_name: &[u8],
) -> CmdResult<(Stream<'a>, Group)> {
    let stream = ctx.store().read_stream(ctx.db, key, now_ms())?;
    let Some(stream) = stream else {
        return Err(no_key_or_group(key, group_name));
    };
    let group = stream
        .group(group_name)?
        .ok_or_else(|| no_key_or_group(key, group_name))?;
    Ok((stream, group))
}

/// XPENDING key group [[IDLE ms] start end count [consumer]]
pub fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(ReplyError::Syntax);
    }
    let mut range = None;
    let mut min_idle = 0i64;
    let mut consumer_name = None;
    if argc >= 6 {
        let mut at = 3;
        if is_opt(&args[3], "idle") {
            min_idle = arg_i64(&args[4])?;
            if argc < 8 {
                return Err(ReplyError::Syntax);
            }
            at += 2;
        }
        let count = arg_i64(&args[at + 2])?.max(0) as u64;
        let start = parse_bound(&args[at], true)?;
        let end = parse_bound(&args[at + 1], false)?;
        consumer_name = args.get(at + 3);
        range = Some((start, end, count));
    }
    let (key, group_name) = (&args[1], &args[2]);
    let _guard = ctx.store().lock(ctx.db, key);
    let (stream, group) = open_group(ctx, key, group_name)?;
    let Some((start, end, count)) = range else {
        if group.pending == 0 {
            return Ok(Frame::Array(vec![
                Frame::Integer(0),
                Frame::Null,
                Frame::Null,
                Frame::NullArray,
            ]));
        }
        let first = stream.pending_edge(group_name, false)?;
        let last = stream.pending_edge(group_name, true)?;
        let owners = stream
            .consumers(group_name)?
            .into_iter()
            .filter(|(_, c)| c.pending > 0)
            .map(|(name, c)| {
                Frame::Array(vec![
                    Frame::Bulk(name),
                    Frame::Bulk(Bytes::from(c.pending.to_string())),
                ])
            })
            .collect();
        return Ok(Frame::Array(vec![
            Frame::Integer(group.pending as i64),
            Frame::opt_bulk(first.map(StreamId::to_bytes)),
            Frame::opt_bulk(last.map(StreamId::to_bytes)),
            Frame::Array(owners),
        ]));
    };
    let now = now_ms() as i64;
    let mut rows = Vec::new();
    if count == 0 {
        return Ok(Frame::Array(rows));
    }
    let nacks: Vec<(StreamId, Nack)> = match consumer_name {
        Some(name) => {
            if stream.consumer(group_name, name)?.is_none() {
                return Ok(Frame::Array(rows));
            }
            let ids = stream.owned(group_name, name, start, end, 0)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(nack) = stream.nack(group_name, id)? {
                    out.push((id, nack));
                }
            }
            out
        }
        None => stream.pending(group_name, start, end, 0)?,
    };
    for (id, nack) in nacks {
        let idle = now - nack.delivery_time as i64;
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        rows.push(Frame::Array(vec![
            Frame::Bulk(id.to_bytes()),
            Frame::Bulk(nack.consumer),
            Frame::Integer(idle.max(0)),
            Frame::Integer(nack.delivery_count as i64),
        ]));
        if rows.len() as u64 == count {
            break;
        }
    }
    Ok(Frame::Array(rows))
}

/// XCLAIM key group consumer min-idle-time id ... [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE]
/// [JUSTID] [LASTID id]
pub fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let store = ctx.store();
    let (key, group_name, consumer_name) = (&args[1], &args[2], &args[3]);
    let _guard = store.lock(ctx.db, key);
    let (stream, group) = open_group(ctx, key, group_name)?;
    let min_idle = int_or(&args[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_strict_id(&args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = now_ms() as i64;
    let (mut force, mut justid) = (false, false);
    let mut retry_count: Option<u64> = None;
    let mut delivery_time: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = j + 1 < args.len();
        let opt = &args[j];
        if is_opt(opt, "force") {
            force = true;
        } else if is_opt(opt, "justid") {
            justid = true;
        } else if is_opt(opt, "idle") && more {
            j += 1;
            let idle = int_or(&args[j], "ERR Invalid IDLE option argument for XCLAIM")?;
            delivery_time = Some(now.wrapping_sub(idle));
        } else if is_opt(opt, "time") && more {
            j += 1;
            delivery_time = Some(int_or(
                &args[j],
                "ERR Invalid TIME option argument for XCLAIM",
            )?);
        } else if is_opt(opt, "retrycount") && more {
            j += 1;
            let n = int_or(
                &args[j],
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?;
            retry_count = u64::try_from(n).ok();
        } else if is_opt(opt, "lastid") && more {
            j += 1;
            last_id = parse_strict_id(&args[j])?;
        } else {
            return Err(ReplyError::custom(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                lossy(opt)
            )));
        }
        j += 1;
    }
    let mut edit = GroupEdit::new(stream, store.batch(), group_name, group, consumer_name);
    if last_id > edit.group.last_id {
        edit.group.last_id = last_id;
        edit.changed = true;
    }
    // A bogus time (negative, or in the future) means now.
    let delivery_time = delivery_time
        .filter(|t| (0..=now).contains(t))
        .unwrap_or(now) as u64;
    let mut claimed = Vec::new();
    for id in ids {
        let nack = edit.stream.nack(group_name, id)?;
        let Some(fields) = edit.stream.entry(id)? else {
            if let Some(nack) = nack {
                edit.forget(id, &nack)?;
            }
            continue;
        };
        let (mut nack, owner) = match nack {
            Some(nack) => {
                let owner = Some(nack.consumer.clone());
                (nack, owner)
            }
            // FORCE makes an entry pending that was not (its owner is the claimer).
            None if force => {
                let nack = Nack {
                    delivery_time: now as u64,
                    delivery_count: 1,
                    consumer: Bytes::new(),
                };
                (nack, None)
            }
            None => continue,
        };
        if owner.is_some() && min_idle != 0 && now - (nack.delivery_time as i64) < min_idle {
            continue;
        }
        edit.consumer(ctx, key, now as u64)?;
        nack.delivery_time = delivery_time;
        match retry_count {
            Some(n) => nack.delivery_count = n,
            None if !justid => nack.delivery_count += 1,
            None => {}
        }
        edit.assign(id, nack, owner)?;
        claimed.push(if justid {
            Frame::Bulk(id.to_bytes())
        } else {
            entry_frame(id, fields)
        });
    }
    edit.finish(ctx)?;
    Ok(Frame::Array(claimed))
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID]: claims idle pending
/// entries from `start` on; replies the cursor to continue from, the claimed entries, and the
/// ids it dropped because their entries no longer exist.
pub fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let min_idle = int_or(
        &args[4],
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0);
    let start = parse_bound(&args[5], true)?;
    let mut count: u64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        if is_opt(&args[j], "count") && j + 1 < args.len() {
            count = crate::util::number::parse_i64(&args[j + 1])
                .filter(|n| (1..=i64::MAX / 16).contains(n))
                .ok_or_else(|| ReplyError::custom("ERR COUNT must be > 0"))?
                as u64;
            j += 1;
        } else if is_opt(&args[j], "justid") {
            justid = true;
        } else {
            return Err(ReplyError::Syntax);
        }
        j += 1;
    }
    let store = ctx.store();
    let (key, group_name, consumer_name) = (&args[1], &args[2], &args[3]);
    let _guard = store.lock(ctx.db, key);
    let (stream, group) = open_group(ctx, key, group_name)?;
    let now = now_ms();
    let mut attempts = count * 10;
    let rows = stream.pending(group_name, start, StreamId::MAX, (attempts + 1) as usize)?;
    let mut edit = GroupEdit::new(stream, store.batch(), group_name, group, consumer_name);
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut used = 0;
    for (id, nack) in &rows {
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        used += 1;
        let Some(fields) = edit.stream.entry(*id)? else {
            edit.forget(*id, nack)?;
            deleted.push(Frame::Bulk(id.to_bytes()));
            count -= 1;
            continue;
        };
        if min_idle != 0 && (now as i64 - nack.delivery_time as i64) < min_idle {
            continue;
        }
        edit.consumer(ctx, key, now)?;
        let mut moved = nack.clone();
        moved.delivery_time = now;
        if !justid {
            moved.delivery_count += 1;
        }
        edit.assign(*id, moved, Some(nack.consumer.clone()))?;
        claimed.push(if justid {
            Frame::Bulk(id.to_bytes())
        } else {
            entry_frame(*id, fields)
        });
        count -= 1;
    }
    let cursor = rows.get(used).map_or(StreamId::MIN, |(id, _)| *id);
    edit.finish(ctx)?;
    Ok(Frame::Array(vec![
        Frame::Bulk(cursor.to_bytes()),
        Frame::Array(claimed),
        Frame::Array(deleted),
    ]))
}
