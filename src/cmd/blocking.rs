//! The blocking pops — BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP — and what
//! the network side needs to know to block XREAD and XREADGROUP.
//!
//! On the storage side each one is a single non-blocking attempt, built on its non-blocking
//! sibling (LMPOP, LMOVE, ZMPOP): it pops if it can and answers nil otherwise — which is also
//! exactly what these commands do inside MULTI. The waiting happens on the network side
//! (`server/blocking.rs`), which repeats the attempt whenever a write wakes it.

use std::time::Duration;

use bytes::Bytes;

use super::{list, stream, zset, CommandSpec, Ctx, KeyFlags};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::util::number::{is_long_double, parse_f64};

/// Index of the timeout argument: last for the classic forms, first for BLMPOP/BZMPOP.
fn timeout_index(name: &str, args: &[Bytes]) -> usize {
    match name {
        "blmpop" | "bzmpop" => 1,
        _ => args.len() - 1,
    }
}

/// Parses a blocking timeout in seconds (fractions allowed, 0 = forever) as Redis 7.0 does: any
/// `long double`, where a value too big for a millisecond count wraps negative in Redis's
/// conversion and is reported as negative.
pub fn parse_timeout(arg: &[u8]) -> CmdResult<Option<Duration>> {
    if !is_long_double(arg) {
        return Err(ReplyError::custom(
            "ERR timeout is not a float or out of range",
        ));
    }
    // Beyond the double range (`1e400`) only the sign matters.
    let seconds = parse_f64(arg).unwrap_or(if arg.starts_with(b"-") {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    });
    let millis = (seconds * 1000.0).ceil();
    if !(0.0..=i64::MAX as f64).contains(&millis) {
        return Err(ReplyError::custom("ERR timeout is negative"));
    }
    Ok((millis > 0.0).then(|| Duration::from_millis(millis as u64)))
}

/// Whether the stream readers (XREAD, XREADGROUP), which block only with a BLOCK option.
pub fn reads_streams(spec: &CommandSpec) -> bool {
    spec.group == "stream"
}

/// Whether this call of a blocking command may wait: always for the pops, only with BLOCK for
/// the stream readers.
pub fn blocks(spec: &CommandSpec, args: &[Bytes]) -> bool {
    if !reads_streams(spec) {
        return true;
    }
    let group_form = spec.name == "xreadgroup";
    stream::parse_read(args, group_form).is_ok_and(|parsed| parsed.block.is_some())
}

/// The timeout and the keys a blocked client waits on: the keys it pops from, which its table
/// entry flags `delete` (BLMOVE waits on its source, not its destination), or the streams it
/// reads.
pub fn timeout_and_keys(
    spec: &CommandSpec,
    args: &[Bytes],
) -> CmdResult<(Option<Duration>, Vec<Bytes>)> {
    if reads_streams(spec) {
        let parsed = stream::parse_read(args, spec.name == "xreadgroup")?;
        let timeout = parsed.block.filter(|&ms| ms > 0).map(Duration::from_millis);
        return Ok((timeout, parsed.keys(args).to_vec()));
    }
    let timeout = parse_timeout(&args[timeout_index(spec.name, args)])?;
    let keys = spec
        .key_refs(args)
        .into_iter()
        .filter(|k| k.flags.contains(KeyFlags::DELETE))
        .map(|k| args[k.index].clone())
        .collect();
    Ok((timeout, keys))
}

/// `args` without the timeout, renamed to the non-blocking sibling.
fn sibling(args: &[Bytes], name: &'static str, timeout_at: usize) -> Vec<Bytes> {
    let mut out = vec![Bytes::from_static(name.as_bytes())];
    out.extend(
        args.iter()
            .enumerate()
            .skip(1)
            .filter(|(i, _)| *i != timeout_at)
            .map(|(_, a)| a.clone()),
    );
    out
}

/// BLPOP/BRPOP/BZPOPMIN/BZPOPMAX through LMPOP/ZMPOP: `numkeys keys... DIRECTION`.
fn first_of(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    direction: &'static str,
    run: fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult,
) -> CmdResult {
    parse_timeout(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    let mut call = vec![Bytes::new(), Bytes::from(keys.len().to_string())];
    call.extend(keys.iter().cloned());
    call.push(Bytes::from_static(direction.as_bytes()));
    // `[key, [popped]]` becomes `[key, popped...]`.
    Ok(match run(ctx, &call)? {
        Frame::Array(mut parts) if parts.len() == 2 => {
            let popped = parts.pop();
            let mut flat = parts;
            if let Some(Frame::Array(items)) = popped {
                for item in items {
                    match item {
                        Frame::Array(pair) => flat.extend(pair),
                        single => flat.push(single),
                    }
                }
            }
            Frame::Array(flat)
        }
        other => other,
    })
}

pub fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    first_of(ctx, args, "LEFT", list::lmpop)
}

pub fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    first_of(ctx, args, "RIGHT", list::lmpop)
}

pub fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    first_of(ctx, args, "MIN", zset::zmpop)
}

pub fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    first_of(ctx, args, "MAX", zset::zmpop)
}

pub fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    parse_timeout(&args[5])?;
    list::lmove(ctx, &sibling(args, "LMOVE", 5))
}

pub fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    parse_timeout(&args[3])?;
    list::rpoplpush(ctx, &sibling(args, "RPOPLPUSH", 3))
}

pub fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    parse_timeout(&args[1])?;
    list::lmpop(ctx, &sibling(args, "LMPOP", 1))
}

pub fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    parse_timeout(&args[1])?;
    zset::zmpop(ctx, &sibling(args, "ZMPOP", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_redis() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(
            parse_timeout(b"0.0001").unwrap(),
            Some(Duration::from_millis(1))
        );
        assert_eq!(
            parse_timeout(b"1.5").unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert!(parse_timeout(b"-1").is_err());
        assert!(parse_timeout(b"abc").is_err());
        assert!(parse_timeout(b"1e400").is_err());
    }
}
