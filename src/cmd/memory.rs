//! MEMORY USAGE/STATS/DOCTOR/MALLOC-STATS/PURGE/HELP. Redis measures its heap; Kiwi's data lives
//! in RocksDB, so USAGE reports the bytes a key's rows take there (`storage/usage.rs`) and STATS
//! reports the process and RocksDB's memory (its block cache and memtables, bounded by the
//! `memory` budget) rather than Redis's allocator internals, which Kiwi does not have.

use bytes::Bytes;

use super::server::help_lines;
use super::{arg_i64, is_opt, Ctx};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::util::now_ms;

/// Members MEMORY USAGE measures by default, as in Redis.
const DEFAULT_SAMPLES: u64 = 5;

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

pub fn memory(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is_opt(sub, "usage") {
        usage(ctx, args)
    } else if is_opt(sub, "stats") {
        Ok(stats(ctx))
    } else if is_opt(sub, "doctor") {
        Ok(Frame::Verbatim(Bytes::from(doctor(ctx))))
    } else if is_opt(sub, "malloc-stats") {
        // Kiwi runs on the system allocator, which has no report to give (Redis answers the same
        // without jemalloc).
        Ok(Frame::Bulk(Bytes::from_static(
            b"Stats not supported for the current allocator",
        )))
    } else if is_opt(sub, "purge") {
        Ok(Frame::ok())
    } else {
        Ok(help_lines(HELP))
    }
}

/// `USAGE key [SAMPLES count]`, with Redis's errors.
fn usage(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut samples = DEFAULT_SAMPLES;
    let mut rest = args[3..].iter();
    while let Some(option) = rest.next() {
        match rest.next() {
            Some(count) if is_opt(option, "samples") => {
                let count = arg_i64(count)?;
                samples = u64::try_from(count).map_err(|_| ReplyError::Syntax)?;
            }
            _ => return Err(ReplyError::Syntax),
        }
    }
    Ok(
        match ctx.store().key_usage(ctx.db, &args[2], samples, now_ms())? {
            Some(bytes) => Frame::Integer(i64::try_from(bytes).unwrap_or(i64::MAX)),
            None => Frame::Null,
        },
    )
}

/// The memory Kiwi can account for, as a map like Redis's (an array of pairs in RESP2).
fn stats(ctx: &Ctx<'_>) -> Frame {
    let storage = ctx.store();
    let now = now_ms();
    let keys: u64 = (0..storage.databases())
        .map(|db| storage.key_count(db, now).unwrap_or(0))
        .sum();
    let rss = crate::sys::rss_bytes().unwrap_or(0);
    let fields: [(&str, u64); 6] = [
        (
            "peak.allocated",
            crate::sys::peak_rss_bytes().unwrap_or(rss),
        ),
        ("total.allocated", rss),
        ("keys.count", keys),
        ("rocksdb.block-cache", storage.cache_usage() as u64),
        ("rocksdb.memtables", storage.memtable_usage() as u64),
        ("memory-budget", ctx.state.config().memory.0),
    ];
    Frame::Map(
        fields
            .into_iter()
            .map(|(name, value)| {
                (
                    Frame::Bulk(Bytes::from_static(name.as_bytes())),
                    Frame::Integer(i64::try_from(value).unwrap_or(i64::MAX)),
                )
            })
            .collect(),
    )
}

/// A short reading of the numbers STATS gives.
fn doctor(ctx: &Ctx<'_>) -> String {
    let storage = ctx.store();
    let budget = ctx.state.config().memory.0;
    let rocksdb = (storage.cache_usage() + storage.memtable_usage()) as u64;
    let rss = crate::sys::rss_bytes().unwrap_or(0);
    let mut report = format!(
        "Kiwi keeps its data in RocksDB; its memory is the block cache and the memtables, \
         {rocksdb} bytes of a {budget} byte budget (`memory`), in a process of {rss} bytes \
         resident.\n"
    );
    if budget > 0 && rss > budget.saturating_mul(2) {
        report.push_str(
            "The process holds more than twice the budget: look at client output buffers \
             (CLIENT LIST omem) and large pipelines.\n",
        );
    } else {
        report.push_str("I can't find any memory issue in this instance.\n");
    }
    report
}
