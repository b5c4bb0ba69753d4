//! Every error a client can see, in one place.
//!
//! The text of each variant is exactly what Redis 7.0 sends for the same situation, because clients
//! and our differential tests compare it byte for byte. Storage-side failures that Redis has no
//! equivalent for use the `MISCONF`/`BUSY` families Redis uses for persistence and overload trouble,
//! so existing client error handling treats them sensibly.

use thiserror::Error;

/// An error reply. `Display` is the full RESP error line without the leading `-`.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum ReplyError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    /// A string used as a HyperLogLog lacks its header, magic or exact dense length.
    #[error("WRONGTYPE Key is not a valid HyperLogLog string value.")]
    NotHll,
    /// A HyperLogLog whose sparse registers do not add up.
    #[error("INVALIDOBJ Corrupted HLL object detected")]
    InvalidHll,
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(String),
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    #[error("ERR offset is out of range")]
    OffsetOutOfRange,
    /// SETBIT/GETBIT/BITFIELD offsets: not an integer, negative, or past `proto-max-bulk-len`.
    #[error("ERR bit offset is not an integer or out of range")]
    BitOffset,
    /// SETBIT's value is not 0 or 1.
    #[error("ERR bit is not an integer or out of range")]
    BitValue,
    #[error("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")]
    BitfieldType,
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand { name: String, args: String },
    #[error("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")]
    UnknownSubcommand { sub: String, cmd: String },
    /// A subcommand whose argument count does not fit (PUBSUB CHANNELS a b).
    #[error("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP.")]
    SubcommandSyntax { sub: String, cmd: String },
    /// A RESP2 connection in pub/sub mode ran something other than (P|S)(UN)SUBSCRIBE, PING, QUIT
    /// or RESET; the command's full name (`client|list`) is shown.
    #[error("ERR Can't execute '{0}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")]
    SubscribedContext(String),
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    #[error("WRONGPASS invalid username-password pair or user is disabled.")]
    WrongPass,
    #[error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")]
    AuthNotConfigured,
    #[error("NOPROTO unsupported protocol version")]
    NoProto,
    #[error("ERR Protocol error: {0}")]
    Protocol(String),
    #[error("ERR max number of clients reached")]
    MaxClients,
    /// The storage engine reported a persistent failure; the circuit breaker refuses writes until a
    /// probe write succeeds again.
    #[error("MISCONF Kiwi is unable to persist to disk ({0}); writes are refused until the storage engine recovers, reads still work")]
    StorageUnavailable(String),
    /// The data reached `max-db-size`: commands that grow it are refused, like Redis past
    /// `maxmemory`.
    #[error("OOM command not allowed when the data size > 'max-db-size'.")]
    OverQuota,
    /// The data reached `maxmemory` (measured as `max-db-size` measures it): Redis's reply.
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    OverMaxmemory,
    /// The storage runtime's queue stayed full past `storage-queue-timeout`.
    #[error("BUSY Kiwi storage runtime is overloaded, try again later")]
    Overloaded,
    /// A single storage operation failed (I/O, corruption) — reported verbatim.
    #[error("ERR storage error: {0}")]
    Storage(String),
    /// Cluster mode: the command was refused before it could reach the Raft log (no leader, the
    /// leader unreachable). Cluster clients retry it, so it is only ever sent when the command
    /// was certainly not executed.
    #[error("CLUSTERDOWN {0}")]
    ClusterDown(String),
    /// Cluster mode: the write may or may not have been applied (the leader was lost after it was
    /// sent and no answer could be had within the retry window). Deliberately an `ERR`: clients
    /// surface it to the caller instead of retrying, which could apply the write twice.
    #[error("ERR outcome unknown: {0}; the write may or may not have been applied")]
    OutcomeUnknown(String),
    /// CONFIG SET refused a change (unknown, immutable, duplicate, bad value, ...).
    #[error("ERR {0}")]
    ConfigSet(crate::config::SetError),
    /// Anything with a one-off text; prefer a named variant when the text recurs.
    #[error("{0}")]
    Custom(String),
}

impl ReplyError {
    /// Builds the unknown-command error with Redis's quoting of the first arguments.
    pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> Self {
        let mut shown = String::new();
        // Redis shows at most 128 chars of arguments in total, each wrapped in quotes.
        for arg in args {
            let remaining = 128usize.saturating_sub(shown.len());
            if remaining == 0 {
                break;
            }
            let cut = &arg[..arg.len().min(remaining)];
            shown.push('\'');
            shown.push_str(&String::from_utf8_lossy(cut));
            shown.push_str("' ");
        }
        ReplyError::UnknownCommand {
            name: String::from_utf8_lossy(&name[..name.len().min(128)]).into_owned(),
            args: shown,
        }
    }

    /// Unknown subcommand of a container command (CONFIG, CLIENT, OBJECT, COMMAND).
    pub fn unknown_subcommand(sub: &[u8], cmd: &str) -> Self {
        ReplyError::UnknownSubcommand {
            sub: String::from_utf8_lossy(sub).into_owned(),
            cmd: cmd.to_ascii_uppercase(),
        }
    }

    /// A subcommand's arguments its handler rejects as a whole; Redis shows at most 128 bytes of
    /// the subcommand name as typed.
    pub fn subcommand_syntax(sub: &[u8], cmd: &str) -> Self {
        ReplyError::SubcommandSyntax {
            sub: String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned(),
            cmd: cmd.to_ascii_uppercase(),
        }
    }

    /// Shorthand for an error whose text is built at the call site.
    pub fn custom(text: impl Into<String>) -> Self {
        ReplyError::Custom(text.into())
    }
}

/// Result of a command handler.
pub type CmdResult<T = crate::resp::Frame> = Result<T, ReplyError>;

impl From<crate::storage::disk::Quota> for ReplyError {
    /// The refusal of a command that would grow the data past a limit.
    fn from(quota: crate::storage::disk::Quota) -> Self {
        match quota {
            crate::storage::disk::Quota::MaxDbSize => ReplyError::OverQuota,
            crate::storage::disk::Quota::Maxmemory => ReplyError::OverMaxmemory,
        }
    }
}
