//! Waiting for BLPOP and friends: the connection registers on its keys, tries a non-blocking
//! attempt on the storage runtime, and on nil waits until a write to one of the keys wakes it (then
//! tries again), the timeout passes, or the client is killed. Each attempt pops under the key
//! locks, so an element goes to exactly one client; registering before the first attempt means no
//! wake-up is missed. The storage threads never wait: a blocked client costs one parked task.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use super::connection::Connection;
use crate::cmd::blocking::timeout_and_keys;
use crate::cmd::CommandSpec;
use crate::error::ReplyError;
use crate::resp::Frame;
use crate::runtime::QueuedCommand;

impl Connection {
    /// Runs a blocking command outside MULTI until it pops something or times out.
    pub(super) async fn block(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Frame {
        let (timeout, keys) = match timeout_and_keys(spec, &args) {
            Ok(parsed) => parsed,
            Err(err) => return err.into(),
        };
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        // A CLIENT UNBLOCK that raced with the end of an earlier wait must not release this one.
        let _ = tokio::time::timeout(Duration::ZERO, self.client.unblock.notified()).await;
        self.client
            .unblock_with_error
            .store(false, Ordering::Release);
        let waiter = Arc::new(Notify::new());
        let waiters = &self.state.storage.waiters;
        waiters.register(self.db, &keys, &waiter);
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
            let reply = match self
                .storage
                .execute(vec![attempt], self.proto, &self.client)
                .await
            {
                Ok(mut replies) => replies.pop().unwrap_or(Frame::Null),
                Err(err) => break err.into(),
            };
            // A waited key that became another type keeps us waiting, as in Redis; only the
            // first attempt reports WRONGTYPE for it. A destination of the wrong type (BLMOVE,
            // BRPOPLPUSH) is an answer: Redis served the client and the move failed.
            // Without a destination, a WRONGTYPE after a wake-up can only be a waited key's: no
            // second look needed (which a write in between could fool).
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
        // Pass the turn: the next client in line may find what is left.
        for key in &keys {
            waiters.wake(self.db, key);
        }
        reply
    }

    /// Whether one of the keys a blocked command waits on now holds a type it cannot pop from.
    async fn waited_key_changed_type(&self, spec: &CommandSpec, keys: &[Bytes]) -> bool {
        let Some(type_spec) = crate::cmd::lookup(b"type") else {
            return true;
        };
        let expected: &[u8] = if spec.group == "sorted-set" {
            b"zset"
        } else {
            b"list"
        };
        let checks = keys
            .iter()
            .map(|key| QueuedCommand {
                db: self.db,
                spec: type_spec,
                args: vec![Bytes::from_static(b"TYPE"), key.clone()],
            })
            .collect();
        match self.storage.execute(checks, self.proto, &self.client).await {
            Ok(types) => types.iter().any(|t| {
                !matches!(t, Frame::Simple(name) if name.as_ref() == expected || name.as_ref() == b"none")
            }),
            Err(_) => true,
        }
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

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
