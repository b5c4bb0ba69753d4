//! Waiting for BLPOP and friends, and for XREAD/XREADGROUP with BLOCK: the connection registers
//! on its keys, tries a non-blocking attempt on the storage runtime, and on nil waits until a
//! write to one of the keys wakes it (then tries again), the timeout passes, or the client is
//! killed. Each attempt pops under the key
//! locks, so an element goes to exactly one client; registering before the first attempt means no
//! wake-up is missed. The storage threads never wait: a blocked client costs one parked task.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::Notify;

use super::connection::Connection;
use crate::cmd::blocking::{reads_streams, timeout_and_keys};
use crate::cmd::stream::parse_read;
use crate::cmd::CommandSpec;
use crate::error::ReplyError;
use crate::resp::Frame;
use crate::runtime::QueuedCommand;

impl Connection {
    /// Runs a blocking command outside MULTI until it pops something or times out.
    pub(super) async fn block(
        &mut self,
        spec: &'static CommandSpec,
        mut args: Vec<Bytes>,
    ) -> Frame {
        let (timeout, keys) = match timeout_and_keys(spec, &args) {
            Ok(parsed) => parsed,
            Err(err) => return err.into(),
        };
        let reader = reads_streams(spec);
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        // A CLIENT UNBLOCK that raced with the end of an earlier wait must not release this one.
        let _ = self.client.unblock.notified().now_or_never();
        self.client
            .unblock_with_error
            .store(false, Ordering::Release);
        let waiter = Arc::new(Notify::new());
        let waiters = &self.state.storage.waiters;
        waiters.register(self.db, &keys, &waiter, reader);
        // `$` means "what is added from now on": resolved in the job of the first attempt (which
        // reads the same last ids), after registering, so no entry added later is missed.
        let mut last_ids = if reader {
            self.last_id_queries(spec, &args)
        } else {
            None
        };
        let mut shutdown = self.state.shutdown.subscribe();
        // SAFETY: `serve` owns the client's stream and awaits this command, so it is open.
        let peer = unsafe { self.socket.duplicate() }.ok();
        let mut first = true;
        let reply = loop {
            let attempt = QueuedCommand {
                db: self.db,
                spec,
                args: args.clone(),
            };
            let (positions, mut job) = last_ids.take().unwrap_or_default();
            job.push(attempt);
            let reply = match self.storage.execute(job, self.proto, &self.client).await {
                Ok(mut replies) => {
                    let reply = replies.pop().unwrap_or(Frame::Null);
                    resolve_last_ids(&mut args, &positions, replies);
                    if !first {
                        crate::cmd::stats::retract(spec, false);
                    }
                    reply
                }
                Err(err) => break err.into(),
            };
            // A waited key that became another type keeps us waiting, as in Redis; only the
            // first attempt reports WRONGTYPE for it. A destination of the wrong type (BLMOVE,
            // BRPOPLPUSH) is an answer: Redis served the client and the move failed.
            // Without a destination, a WRONGTYPE after a wake-up can only be a waited key's: no
            // second look needed (which a write in between could fool).
            if spec.name == "xreadgroup" && !first && reply.is_error() {
                break self.readgroup_unblocked(&keys).await;
            }
            let wrong_type = reply == Frame::from(ReplyError::WrongType);
            let nothing = matches!(reply, Frame::Null | Frame::NullArray);
            let has_destination = matches!(spec.name, "blmove" | "brpoplpush");
            let keep_waiting = nothing
                || (wrong_type
                    && !first
                    && (!has_destination || self.waited_key_changed_type(spec, &keys).await));
            if !keep_waiting {
                break reply;
            }
            if first && reader {
                args = with_blocked_count(args);
            }
            first = false;
            self.client.blocked.store(true, Ordering::Release);
            let woken = tokio::select! {
                _ = waiter.notified() => true,
                _ = self.client.unblock.notified() => {
                    if self.client.unblock_with_error.swap(false, Ordering::AcqRel) {
                        self.client.blocked.store(false, Ordering::Release);
                        break ReplyError::custom("UNBLOCKED client unblocked via CLIENT UNBLOCK").into();
                    }
                    false
                }
                _ = sleep_until(deadline) => false,
                _ = self.client.kill_signal.notified() => {
                    self.closing = true;
                    false
                }
                // A client that hangs up while blocked is gone at once, as in Redis: no
                // blocked task, waiter or CLIENT LIST entry is left behind.
                _ = hung_up(peer.as_ref()) => {
                    self.closing = true;
                    false
                }
                _ = shutdown.wait_for(|stop| *stop) => false,
            };
            self.client.blocked.store(false, Ordering::Release);
            if !woken {
                break Frame::NullArray;
            }
        };
        waiters.unregister(self.db, &keys, &waiter);
        if !reader {
            // Pass the turn: the next client in line may find what is left.
            for key in &keys {
                waiters.wake(self.db, key);
            }
        }
        reply
    }

    /// For each `$` id of an XREAD: its position in the call, and an XINFO STREAM that reads the
    /// stream's last id.
    fn last_id_queries(
        &self,
        spec: &'static CommandSpec,
        args: &[Bytes],
    ) -> Option<(Vec<usize>, Vec<QueuedCommand>)> {
        let parsed = parse_read(args, spec.name == "xreadgroup").ok()?;
        let xinfo = crate::cmd::lookup(b"xinfo")?;
        let ids_at = parsed.streams_at + parsed.streams;
        let (positions, queries) = (0..parsed.streams)
            .filter(|i| args[ids_at + i].as_ref() == b"$")
            .map(|i| {
                let query = QueuedCommand {
                    db: self.db,
                    spec: xinfo,
                    args: vec![
                        Bytes::from_static(b"XINFO"),
                        Bytes::from_static(b"STREAM"),
                        args[parsed.streams_at + i].clone(),
                    ],
                };
                (ids_at + i, query)
            })
            .unzip();
        Some((positions, queries))
    }

    /// The error a blocked XREADGROUP gets when a retry fails: its group was destroyed, or its
    /// stream deleted or replaced by another type.
    async fn readgroup_unblocked(&self, keys: &[Bytes]) -> Frame {
        let streams_left = self
            .key_types(keys)
            .await
            .is_some_and(|types| types.iter().all(|t| t.as_ref() == b"stream"));
        if streams_left {
            ReplyError::custom(
                "NOGROUP the consumer group this client was blocked on no longer exists",
            )
        } else {
            ReplyError::custom("UNBLOCKED the stream key no longer exists")
        }
        .into()
    }

    /// Whether one of the keys a blocked command waits on now holds a type it cannot pop from.
    async fn waited_key_changed_type(&self, spec: &CommandSpec, keys: &[Bytes]) -> bool {
        let expected: &[u8] = match spec.group {
            "sorted-set" => b"zset",
            "stream" => b"stream",
            _ => b"list",
        };
        self.key_types(keys).await.is_none_or(|types| {
            types
                .iter()
                .any(|t| t.as_ref() != expected && t.as_ref() != b"none")
        })
    }

    /// The TYPE of each key, looked up for the blocking loop's own use (not counted as calls).
    async fn key_types(&self, keys: &[Bytes]) -> Option<Vec<Bytes>> {
        let type_spec = crate::cmd::lookup(b"type")?;
        let checks = keys
            .iter()
            .map(|key| QueuedCommand {
                db: self.db,
                spec: type_spec,
                args: vec![Bytes::from_static(b"TYPE"), key.clone()],
            })
            .collect();
        let types = self
            .storage
            .execute(checks, self.proto, &self.client)
            .await
            .ok()?;
        Some(
            types
                .into_iter()
                .map(|t| {
                    crate::cmd::stats::retract(type_spec, false);
                    match t {
                        Frame::Simple(name) => name,
                        _ => Bytes::new(),
                    }
                })
                .collect(),
        )
    }
}

/// Returns when the client closes its end of the connection. Bytes it sent after the blocking
/// command (a pipeline) hide a later hang-up: the connection's own read sees it once the command
/// is done.
async fn hung_up(peer: Option<&tokio::net::TcpStream>) {
    let Some(peer) = peer else {
        return std::future::pending().await;
    };
    let mut byte = [0u8; 1];
    match peer.peek(&mut byte).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

/// Writes the last ids XINFO STREAM reported over the `$` ids at `positions` (0-0 for a missing
/// key; a key of another type keeps `$`, and the attempt reports it).
fn resolve_last_ids(args: &mut [Bytes], positions: &[usize], replies: Vec<Frame>) {
    for (&at, reply) in positions.iter().zip(replies) {
        if let Some(xinfo) = crate::cmd::lookup(b"xinfo") {
            crate::cmd::stats::retract(xinfo, reply.is_error());
        }
        let last = match reply {
            Frame::Map(fields) => {
                fields
                    .into_iter()
                    .find_map(|(name, value)| match (name, value) {
                        (Frame::Bulk(name), Frame::Bulk(id))
                            if name.as_ref() == b"last-generated-id" =>
                        {
                            Some(id)
                        }
                        _ => None,
                    })
            }
            Frame::Error(e) if e.starts_with("ERR no such key") => Some(Bytes::from_static(b"0-0")),
            _ => None,
        };
        if let Some(id) = last {
            args[at] = id;
        }
    }
}

/// A blocked stream read without COUNT is served at most 1000 entries, as in Redis: a low id must
/// not turn one wake-up into an unbounded reply.
fn with_blocked_count(mut args: Vec<Bytes>) -> Vec<Bytes> {
    let group_form = args
        .first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"xreadgroup"));
    if parse_read(&args, group_form).is_ok_and(|parsed| parsed.count == 0) {
        args.splice(
            1..1,
            [Bytes::from_static(b"COUNT"), Bytes::from_static(b"1000")],
        );
    }
    args
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
