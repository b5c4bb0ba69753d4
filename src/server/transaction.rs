//! MULTI/EXEC/DISCARD/WATCH/UNWATCH: the connection queues commands after MULTI and sends them
//! at EXEC as one atomic storage job, which locks every key the commands name, checks the WATCH
//! state under those locks, and commits the writes in one WriteBatch.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::connection::Connection;
use crate::cmd::{self, CommandSpec, Handler};
use crate::error::ReplyError;
use crate::resp::Frame;
use crate::runtime::{QueuedCommand, Transaction};
use crate::storage::watch::WatchGuard;

/// A command queued between MULTI and EXEC.
pub(super) struct Queued {
    pub spec: &'static CommandSpec,
    pub args: Vec<Bytes>,
}

impl Connection {
    pub(super) fn multi(&mut self) -> Frame {
        if self.multi.is_some() {
            return ReplyError::custom("ERR MULTI calls can not be nested").into();
        }
        self.multi = Some(Vec::new());
        self.multi_failed = false;
        self.client.multi.store(0, Ordering::Relaxed);
        Frame::ok()
    }

    /// Queues a validated command inside MULTI.
    pub(super) fn queue(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Frame {
        if let Some(queue) = self.multi.as_mut() {
            queue.push(Queued { spec, args });
            self.client
                .multi
                .store(queue.len() as i64, Ordering::Relaxed);
        }
        Frame::simple("QUEUED")
    }

    /// Marks the transaction as failed: a command was refused while queueing (EXECABORT).
    pub(super) fn fail_multi(&mut self) {
        if self.multi.is_some() {
            self.multi_failed = true;
        }
    }

    /// EXEC refused before it ran (past `maxmemory`, while a script is busy): the transaction
    /// ends, and the error says why, as Redis's `execCommandAbort` words it.
    pub(super) fn abort_exec(&mut self, err: ReplyError) -> ReplyError {
        self.abandon_multi();
        ReplyError::custom(format!("EXECABORT Transaction discarded because of: {err}"))
    }

    pub(super) fn discard(&mut self) -> Frame {
        if self.multi.is_none() {
            return ReplyError::custom("ERR DISCARD without MULTI").into();
        }
        self.abandon_multi();
        Frame::ok()
    }

    /// Drops the transaction (if any) and every watched key: DISCARD, RESET, a refused EXEC.
    pub(super) fn abandon_multi(&mut self) {
        self.multi = None;
        self.client.multi.store(-1, Ordering::Relaxed);
        self.unwatch_all();
    }

    /// Forgets every watched key and clears the dirty flag.
    pub(super) fn unwatch_all(&mut self) {
        let watched = std::mem::take(&mut self.watched);
        self.state
            .storage
            .watches
            .unwatch(&watched, &self.watch_dirty);
        self.live_watched.clear();
        self.watch_guards.clear();
        self.watch_dirty.store(false, Ordering::Release);
    }

    pub(super) async fn watch(&mut self, args: &[Bytes]) -> Frame {
        if self.multi.is_some() {
            return ReplyError::custom("ERR WATCH inside MULTI is not allowed").into();
        }
        let exists = cmd::lookup(b"exists").filter(|s| matches!(s.handler, Handler::Storage(_)));
        let Some(exists) = exists else {
            return ReplyError::custom("ERR EXISTS is missing from the command table").into();
        };
        // Register first: a write from now on flags the transaction, even before the lookup.
        let keys: Vec<Bytes> = args[1..].to_vec();
        for key in &keys {
            self.state
                .storage
                .watches
                .watch(self.db, key.clone(), &self.watch_dirty);
            self.watched.push((self.db, key.clone()));
        }
        if self.state.cluster.get().is_some() {
            return self.watch_in_cluster(keys).await;
        }
        let lookups = keys
            .iter()
            .map(|key| QueuedCommand {
                db: self.db,
                spec: exists,
                args: vec![Bytes::from_static(b"EXISTS"), key.clone()],
            })
            .collect();
        match self
            .storage
            .execute(lookups, self.proto, &self.client)
            .await
        {
            Ok(replies) => {
                for (key, reply) in keys.into_iter().zip(replies) {
                    if reply == Frame::Integer(1) {
                        self.live_watched.push((self.db, key));
                    }
                }
                Frame::ok()
            }
            Err(err) => err.into(),
        }
    }

    /// Cluster mode: writes already in the log but not yet applied here could slip between a
    /// check on this node and the transaction, so the keys' fingerprints as this node holds them
    /// now travel with the transaction and are compared where it is applied, at its place in the
    /// log. (A change and its undoing in between go unnoticed; Redis would abort.)
    async fn watch_in_cluster(&mut self, keys: Vec<Bytes>) -> Frame {
        let state = self.state.clone();
        let db = self.db;
        // The clock reads on this node use: a key expiring in between fails the check, as in
        // Redis an expired watched key aborts the transaction.
        let now = crate::util::now_ms();
        let taken = tokio::task::spawn_blocking(move || {
            keys.into_iter()
                .map(|key| {
                    let fingerprint = state.storage.fingerprint(db, &key, now)?;
                    Ok(WatchGuard {
                        db: db as u32,
                        key,
                        fingerprint,
                    })
                })
                .collect::<Result<Vec<_>, ReplyError>>()
        })
        .await
        .unwrap_or_else(|e| Err(ReplyError::custom(format!("ERR {e}"))));
        match taken {
            Ok(guards) => {
                self.watch_guards.extend(guards);
                Frame::ok()
            }
            Err(err) => err.into(),
        }
    }

    pub(super) async fn exec(&mut self) -> Frame {
        let Some(queue) = self.multi.take() else {
            return ReplyError::custom("ERR EXEC without MULTI").into();
        };
        if self.multi_failed {
            self.client.multi.store(-1, Ordering::Relaxed);
            self.unwatch_all();
            return ReplyError::custom(
                "EXECABORT Transaction discarded because of previous errors.",
            )
            .into();
        }
        // Storage commands go as one job, each with the database it will run in: SELECT inside
        // the transaction is followed here and applied for real once the job has run.
        let mut db = self.db;
        let mut storage_commands = Vec::new();
        let mut connection_commands = Vec::new();
        // Rules may have changed since the commands were queued: a command its user may no
        // longer run is answered with an error in its slot, and the others run, as in Redis.
        let mut refused = Vec::new();
        for (slot, queued) in queue.into_iter().enumerate() {
            if let Some(refusal) = self.exec_refusal(queued.spec, &queued.args) {
                refused.push((slot, refusal));
                continue;
            }
            match queued.spec.handler {
                Handler::Storage(_) => storage_commands.push(QueuedCommand {
                    db,
                    spec: queued.spec,
                    args: queued.args,
                }),
                Handler::Connection => {
                    if queued.spec.name == "select" {
                        let databases = self.state.storage.databases();
                        if let Ok(selected) = cmd::arg_db(&queued.args[1], databases) {
                            db = selected;
                        }
                    }
                    connection_commands.push((slot, queued));
                }
            }
        }
        let transaction = Transaction {
            dirty: self.watch_dirty.clone(),
            live_watched: std::mem::take(&mut self.live_watched),
            guards: std::mem::take(&mut self.watch_guards),
        };
        let result = self
            .storage
            .execute_transaction(storage_commands, self.proto, &self.client, transaction)
            .await;
        self.unwatch_all();
        let storage_replies = match result {
            Ok(Some(replies)) => replies,
            Ok(None) => {
                self.client.multi.store(-1, Ordering::Relaxed);
                return Frame::NullArray;
            }
            Err(err) => {
                self.client.multi.store(-1, Ordering::Relaxed);
                return err.into();
            }
        };
        let total = storage_replies.len() + connection_commands.len() + refused.len();
        let mut replies: Vec<Option<Frame>> = (0..total).map(|_| None).collect();
        for (slot, refusal) in refused {
            replies[slot] = Some(refusal);
        }
        for (slot, queued) in connection_commands {
            self.captured_notifications = Some(Vec::new());
            let reply = self.run_connection_command(queued.spec.name, &queued.args);
            let mut captured = self.captured_notifications.take().unwrap_or_default();
            // A SUBSCRIBE of one channel answers one confirmation; of several, an array of them.
            let entry = match (reply, captured.len()) {
                (Some(reply), _) => reply,
                (None, 1) => captured.remove(0),
                (None, 0) => Frame::Null,
                (None, _) => Frame::Array(captured),
            };
            replies[slot] = Some(entry);
        }
        self.client.multi.store(-1, Ordering::Relaxed);
        let mut storage_replies = storage_replies.into_iter();
        Frame::Array(
            replies
                .into_iter()
                .map(|r| r.or_else(|| storage_replies.next()).unwrap_or(Frame::Null))
                .collect(),
        )
    }
}
