//! DEBUG, with the subcommands that inspect data: DIGEST (one content hash of every database)
//! and DIGEST-VALUE (one per key), as Redis's test suite and operators use them to compare two
//! servers or the nodes of a cluster; and SET-ACTIVE-EXPIRE, which pauses this node's expiry
//! sweep (tests of lazy expiry). The digests are computed by `storage::digest`; their bytes
//! differ from Redis's, their meaning does not: the same data gives the same digest.
//!
//! DEBUG describes the node that runs it (the command table gives it no `readonly` flag, as in
//! Redis), so in cluster mode each node answers from its own data, without a read barrier or
//! forwarding: comparing the nodes' digests is the point.

use bytes::Bytes;

use super::server::help_lines;
use super::{is_opt, Ctx};
use crate::error::{CmdResult, ReplyError};
use crate::resp::Frame;
use crate::util::now_ms;

pub fn debug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is_opt(sub, "digest") && args.len() == 2 {
        let digest = ctx.store().dataset_digest(now_ms())?;
        Ok(Frame::Simple(hex(&digest)))
    } else if is_opt(sub, "digest-value") {
        let now = now_ms();
        let digests = args[2..]
            .iter()
            .map(|key| {
                let digest = ctx.store().debug_value_digest(ctx.db, key, now)?;
                Ok(Frame::Simple(hex(&digest)))
            })
            .collect::<CmdResult<Vec<Frame>>>()?;
        Ok(Frame::Array(digests))
    } else if is_opt(sub, "set-active-expire") && args.len() == 3 {
        // Redis reads the flag with atoi: anything not starting with a non-zero number is 0.
        let on = crate::util::number::parse_i64(&args[2]).is_some_and(|n| n != 0);
        ctx.store().set_active_expire(on);
        Ok(Frame::ok())
    } else if is_opt(sub, "help") && args.len() == 2 {
        Ok(help_lines(&[
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "HELP",
            "    Prints this help.",
        ]))
    } else {
        // Redis answers this for every subcommand it does not know or whose arguments are off.
        Err(ReplyError::subcommand_syntax(sub, "debug"))
    }
}

/// Lowercase hex, as Redis prints digests.
fn hex(bytes: &[u8]) -> Bytes {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]])
        .collect::<Vec<u8>>()
        .into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_and_two_digits_per_byte() {
        assert_eq!(&super::hex(&[0, 0x0f, 0xa0, 0xff])[..], b"000fa0ff");
    }
}
