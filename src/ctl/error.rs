//! Every way a `kiwictl` command can fail, as one clear line for the operator.
//!
//! Library errors (reqwest's, io's) print as chains of causes that bury the one thing an operator
//! needs ("is the node up? is my token right?"). Each is mapped here to a variant whose message
//! says what happened and where, and to an exit code scripts can branch on.

use std::io;

use crate::resp::client::ClientError;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Nothing answered at the address (refused, unresolvable, unroutable).
    #[error("cannot reach node at {addr}: {reason}")]
    Unreachable { addr: String, reason: String },
    /// The node accepted the connection but did not answer in time.
    #[error("node at {addr} did not answer within {secs}s")]
    Timeout { addr: String, secs: f64 },
    /// The admin port rejected the bearer token.
    #[error("node at {addr} refused the admin token (check --token / KIWI_TOKEN)")]
    Unauthorized { addr: String },
    /// A cluster command reached a follower that does not know the leader either.
    #[error("node at {addr} is not the leader and does not know one (election in progress?)")]
    NoLeader { addr: String },
    /// The node understood the request and said no.
    #[error("{addr}: {message}")]
    Refused { addr: String, message: String },
    /// The node answered something this kiwictl cannot understand (version mismatch?).
    #[error("unexpected answer from {addr}: {detail}")]
    Protocol { addr: String, detail: String },
    /// The command line or the config file is wrong.
    #[error("{0}")]
    Usage(String),
    /// The local terminal failed (top).
    #[error("terminal: {0}")]
    Terminal(String),
}

impl CtlError {
    /// Exit status: 2 when the command could not be carried out at all (usage, unreachable),
    /// 1 when a node answered with a refusal.
    pub fn exit_code(&self) -> i32 {
        match self {
            CtlError::Unreachable { .. }
            | CtlError::Timeout { .. }
            | CtlError::Usage(_)
            | CtlError::Terminal(_) => 2,
            _ => 1,
        }
    }

    /// Maps a RESP client error for the node at `addr`.
    pub fn from_resp(addr: &str, err: ClientError, timeout_secs: f64) -> CtlError {
        match err {
            ClientError::Connect { source, .. } => CtlError::Unreachable {
                addr: addr.to_string(),
                reason: describe_io(&source),
            },
            ClientError::Io(e) if e.kind() == io::ErrorKind::TimedOut => CtlError::Timeout {
                addr: addr.to_string(),
                secs: timeout_secs,
            },
            ClientError::Io(e) => CtlError::Unreachable {
                addr: addr.to_string(),
                reason: format!("connection lost: {}", describe_io(&e)),
            },
            ClientError::Closed => CtlError::Unreachable {
                addr: addr.to_string(),
                reason: "the node closed the connection".into(),
            },
            ClientError::Malformed(detail) => CtlError::Protocol {
                addr: addr.to_string(),
                detail,
            },
        }
    }

    /// Maps an HTTP client error for the admin port at `addr`.
    pub fn from_http(addr: &str, err: &reqwest::Error, timeout_secs: f64) -> CtlError {
        if err.is_timeout() {
            return CtlError::Timeout {
                addr: addr.to_string(),
                secs: timeout_secs,
            };
        }
        if err.is_decode() {
            return CtlError::Protocol {
                addr: addr.to_string(),
                detail: format!("cannot decode the reply: {}", innermost(err)),
            };
        }
        let reason = match find_io(err) {
            Some(io) => describe_io(io),
            None => innermost(err),
        };
        CtlError::Unreachable {
            addr: addr.to_string(),
            reason,
        }
    }
}

/// The io error somewhere in a cause chain, if any.
fn find_io<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cur = e.source();
    }
    None
}

/// The message of the deepest cause: usually the precise one ("Name or service not known").
fn innermost(err: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// Short lower-case wording for the io errors operators meet.
pub fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::AddrNotAvailable => "address not available".into(),
        _ => {
            // io errors carry an " (os error N)" suffix that helps nobody here.
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_nodes_read_as_one_line() {
        let err = CtlError::from_resp(
            "127.0.0.1:1",
            ClientError::Connect {
                addr: "127.0.0.1:1".into(),
                source: io::Error::from(io::ErrorKind::ConnectionRefused),
            },
            5.0,
        );
        assert_eq!(
            err.to_string(),
            "cannot reach node at 127.0.0.1:1: connection refused"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn os_error_suffixes_are_dropped() {
        let e = io::Error::other("No route to host (os error 113)");
        assert_eq!(describe_io(&e), "No route to host");
    }
}
