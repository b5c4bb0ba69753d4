//! XINFO STREAM [FULL [COUNT n]] | GROUPS | CONSUMERS | HELP.

use bytes::Bytes;

use super::entry_frame;
use super::groups::no_group;
use crate::cmd::server::help_lines;
use crate::cmd::{arg_i64, is_opt, Ctx};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::storage::stream::{Group, Stream, StreamId};
use crate::util::now_ms;

fn field(name: &'static str) -> Frame {
    Frame::Bulk(Bytes::from_static(name.as_bytes()))
}

fn id_frame(id: StreamId) -> Frame {
    Frame::Bulk(id.to_bytes())
}

fn opt_int(value: Option<i64>) -> Frame {
    value.map_or(Frame::Null, Frame::Integer)
}

pub fn xinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is_opt(sub, "help") {
        return Ok(help_lines(&[
            "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
            "HELP",
            "    Print this help.",
        ]));
    }
    let key = &args[2];
    let Some(stream) = ctx.store().read_stream(ctx.db, key, now_ms())? else {
        ctx.keymiss(key);
        return Err(ReplyError::NoSuchKey);
    };
    if is_opt(sub, "consumers") {
        let group_name = &args[3];
        if stream.group(group_name)?.is_none() {
            return Err(no_group(key, group_name));
        }
        let now = now_ms() as i64;
        let consumers = stream.consumers(group_name)?;
        return Ok(Frame::Array(
            consumers
                .into_iter()
                .map(|(name, c)| {
                    Frame::Map(vec![
                        (field("name"), Frame::Bulk(name)),
                        (field("pending"), Frame::Integer(c.pending as i64)),
                        (
                            field("idle"),
                            Frame::Integer((now - c.seen_time as i64).max(0)),
                        ),
                    ])
                })
                .collect(),
        ));
    }
    if is_opt(sub, "groups") {
        let len = stream.len();
        return Ok(Frame::Array(
            stream
                .groups()?
                .into_iter()
                .map(|(name, g)| {
                    Frame::Map(vec![
                        (field("name"), Frame::Bulk(name)),
                        (field("consumers"), Frame::Integer(g.consumers as i64)),
                        (field("pending"), Frame::Integer(g.pending as i64)),
                        (field("last-delivered-id"), id_frame(g.last_id)),
                        (
                            field("entries-read"),
                            opt_int(g.entries_read.map(|n| n as i64)),
                        ),
                        (field("lag"), opt_int(stream.state.lag(len, &g))),
                    ])
                })
                .collect(),
        ));
    }
    stream_info(&stream, sub, &args[3..])
}

/// XINFO STREAM key [FULL [COUNT n]]
fn stream_info(stream: &Stream<'_>, sub: &[u8], opts: &[Bytes]) -> CmdResult {
    let full = match opts {
        [] => None,
        [f] if is_opt(f, "full") => Some(10),
        [f, c, n] if is_opt(f, "full") && is_opt(c, "count") => {
            let n = arg_i64(n)?;
            Some(if n < 0 { 10 } else { n as usize })
        }
        _ => return Err(ReplyError::subcommand_syntax(sub, "xinfo")),
    };
    let state = &stream.state;
    let nodes = state.nodes;
    // Kiwi keeps no radix tree: its inner-node count is Redis's for a small tree.
    let rax_nodes = if nodes == 0 { 1 } else { nodes * 2 };
    let mut map = vec![
        (field("length"), Frame::Integer(stream.len() as i64)),
        (field("radix-tree-keys"), Frame::Integer(nodes as i64)),
        (field("radix-tree-nodes"), Frame::Integer(rax_nodes as i64)),
        (field("last-generated-id"), id_frame(state.last_id)),
        (field("max-deleted-entry-id"), id_frame(state.max_deleted)),
        (
            field("entries-added"),
            Frame::Integer(state.entries_added as i64),
        ),
        (field("recorded-first-entry-id"), id_frame(state.first_id)),
    ];
    let Some(count) = full else {
        let edge = |rev: bool| -> CmdResult<Frame> {
            Ok(stream
                .collect(StreamId::MIN, StreamId::MAX, rev, 1)?
                .pop()
                .map_or(Frame::Null, |(id, fields)| entry_frame(id, fields)))
        };
        map.push((field("groups"), Frame::Integer(state.groups as i64)));
        map.push((field("first-entry"), edge(false)?));
        map.push((field("last-entry"), edge(true)?));
        return Ok(Frame::Map(map));
    };
    let entries = stream.collect(StreamId::MIN, StreamId::MAX, false, count)?;
    map.push((
        field("entries"),
        Frame::Array(
            entries
                .into_iter()
                .map(|(id, fields)| entry_frame(id, fields))
                .collect(),
        ),
    ));
    let mut groups = Vec::new();
    for (name, group) in stream.groups()? {
        groups.push(group_full(stream, &name, &group, count)?);
    }
    map.push((field("groups"), Frame::Array(groups)));
    Ok(Frame::Map(map))
}

/// One group of XINFO STREAM FULL, with its pending entries and consumers (`count` of each).
fn group_full(stream: &Stream<'_>, name: &Bytes, group: &Group, count: usize) -> CmdResult<Frame> {
    let pending = stream
        .pending(name, StreamId::MIN, StreamId::MAX, count)?
        .into_iter()
        .map(|(id, nack)| {
            Frame::Array(vec![
                id_frame(id),
                Frame::Bulk(nack.consumer),
                Frame::Integer(nack.delivery_time as i64),
                Frame::Integer(nack.delivery_count as i64),
            ])
        })
        .collect();
    let mut consumers = Vec::new();
    for (consumer_name, consumer) in stream.consumers(name)? {
        let mut owned = Vec::new();
        for id in stream.owned(name, &consumer_name, StreamId::MIN, StreamId::MAX, count)? {
            if let Some(nack) = stream.nack(name, id)? {
                owned.push(Frame::Array(vec![
                    id_frame(id),
                    Frame::Integer(nack.delivery_time as i64),
                    Frame::Integer(nack.delivery_count as i64),
                ]));
            }
        }
        consumers.push(Frame::Map(vec![
            (field("name"), Frame::Bulk(consumer_name)),
            (
                field("seen-time"),
                Frame::Integer(consumer.seen_time as i64),
            ),
            (field("pel-count"), Frame::Integer(consumer.pending as i64)),
            (field("pending"), Frame::Array(owned)),
        ]));
    }
    Ok(Frame::Map(vec![
        (field("name"), Frame::Bulk(name.clone())),
        (field("last-delivered-id"), id_frame(group.last_id)),
        (
            field("entries-read"),
            opt_int(group.entries_read.map(|n| n as i64)),
        ),
        (field("lag"), opt_int(stream.state.lag(stream.len(), group))),
        (field("pel-count"), Frame::Integer(group.pending as i64)),
        (field("pending"), Frame::Array(pending)),
        (field("consumers"), Frame::Array(consumers)),
    ]))
}
