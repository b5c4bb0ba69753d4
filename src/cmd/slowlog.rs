//! SLOWLOG GET/LEN/RESET/HELP over the shared slow log, and which arguments the log (and MONITOR)
//! must never show: the passwords of AUTH, HELLO and CONFIG SET, whose table entries point here.

use bytes::Bytes;

use super::server::help_lines;
use super::{is_opt, Ctx};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::state::slowlog::SlowEntry;

/// Entries SLOWLOG GET returns without a count.
const DEFAULT_COUNT: usize = 10;

pub fn slowlog(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let log = &ctx.state.slowlog;
    let sub = &args[1];
    if is_opt(sub, "get") && args.len() <= 3 {
        let count = match args.get(2) {
            None => DEFAULT_COUNT,
            Some(arg) => match crate::util::number::parse_i64(arg) {
                Some(-1) => usize::MAX,
                Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => {
                    return Err(ReplyError::custom(
                        "ERR count should be greater than or equal to -1",
                    ))
                }
            },
        };
        Ok(Frame::Array(
            log.newest(count).into_iter().map(entry_frame).collect(),
        ))
    } else if is_opt(sub, "len") {
        Ok(Frame::Integer(log.entry_count() as i64))
    } else if is_opt(sub, "reset") {
        log.reset();
        Ok(Frame::ok())
    } else if is_opt(sub, "help") {
        Ok(help_lines(&[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ]))
    } else {
        Err(ReplyError::subcommand_syntax(sub, "slowlog"))
    }
}

/// `[id, unix time, microseconds, [args...], "ip:port", name]`, Redis's entry shape.
fn entry_frame(entry: SlowEntry) -> Frame {
    Frame::Array(vec![
        Frame::Integer(entry.id as i64),
        Frame::Integer(entry.unix_secs as i64),
        Frame::Integer(entry.micros as i64),
        Frame::Array(entry.args.into_iter().map(Frame::Bulk).collect()),
        Frame::Bulk(Bytes::from(entry.addr)),
        Frame::Bulk(Bytes::from(entry.name)),
    ])
}

/// AUTH's secrets, as Redis redacts them: every argument when the call has AUTH's shape.
pub fn auth_secrets(args: &[Bytes], index: usize) -> bool {
    args.len() <= 3 && index >= 1
}

/// HELLO's secrets: the AUTH username and password (options parsed before a bad one included).
pub fn hello_secrets(args: &[Bytes], index: usize) -> bool {
    hello_secret_positions(args).any(|at| at == index)
}

/// CONFIG's secrets: the values of sensitive parameters (`requirepass`, `masterauth`, ...) in a
/// well-formed CONFIG SET, even when another option in it is unknown.
pub fn config_secrets(args: &[Bytes], index: usize) -> bool {
    is_opt(&args[1], "set")
        && args.len() >= 4
        && args.len() % 2 == 0
        && index >= 3
        && index % 2 == 1
        && std::str::from_utf8(&args[index - 1])
            .ok()
            .and_then(crate::config::find_option)
            .is_some_and(|spec| spec.flags & crate::config::SENSITIVE != 0)
}

/// Positions of the credentials in `HELLO <version> [AUTH user pass] [SETNAME name]`, walking
/// the options as HELLO does and stopping at the first it would reject.
fn hello_secret_positions(args: &[Bytes]) -> impl Iterator<Item = usize> + '_ {
    let version_ok = args
        .get(1)
        .and_then(|v| crate::util::number::parse_i64(v))
        .is_some_and(|v| (2..=3).contains(&v));
    let mut at = if version_ok { 2 } else { args.len() };
    std::iter::from_fn(move || {
        while at < args.len() {
            let more = args.len() - 1 - at;
            if is_opt(&args[at], "auth") && more >= 2 {
                at += 3;
                return Some([at - 2, at - 1]);
            } else if is_opt(&args[at], "setname") && more >= 1 {
                at += 2;
            } else {
                break;
            }
        }
        at = args.len();
        None
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(words: &str) -> Vec<Bytes> {
        words
            .split_whitespace()
            .map(|w| Bytes::from(w.to_string()))
            .collect()
    }

    fn secrets(words: &str) -> Vec<usize> {
        let args = call(words);
        let spec = super::super::lookup(&args[0]).unwrap();
        (0..args.len())
            .filter(|&i| spec.is_secret(&args, i))
            .collect()
    }

    #[test]
    fn passwords_are_found_where_redis_redacts_them() {
        assert_eq!(secrets("auth pw"), [1]);
        assert_eq!(secrets("auth user pw"), [1, 2]);
        assert!(secrets("auth a b c").is_empty());
        assert_eq!(secrets("hello 3 auth u p setname x"), [3, 4]);
        assert_eq!(secrets("hello 3 setname x AUTH u p foo"), [5, 6]);
        assert!(secrets("hello 9 auth u p").is_empty());
        assert!(secrets("hello 3 setname x auth u").is_empty());
        assert_eq!(secrets("config set foo 1 REQUIREPASS p"), [5]);
        assert!(secrets("config set requirepass p foo").is_empty());
        assert!(secrets("config get requirepass").is_empty());
        assert!(secrets("get requirepass").is_empty());
    }
}
