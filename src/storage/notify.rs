//! Keyspace notifications, the storage side: events are gathered by the running job, in the
//! order commands produce them, and handed to the publisher (`state/notify.rs`, through an
//! [`EventSink`]) by the commit that makes their writes durable — after the WriteBatch is
//! written, before the key stripes are released. So a subscriber never hears of a write that
//! was not applied, and the events of one key come out in the order of its writes, whichever
//! storage threads made them (a blocked client popping what a push just added announces after
//! the push).
//!
//! Three kinds of event start here rather than in a command: `new` (any metadata row written
//! where no live key was, see [`super::Batch::put`]), `expired` from the expiry sweep, and
//! `expired` from *lazy* expiry. Redis deletes an expired key the moment a command looks it up
//! and announces it then; Kiwi hides expired keys without deleting them, so while notifications
//! are on, a command's lookup of an expired key deletes it in the job and records `expired` at
//! that point ([`Storage::lookup_raw`]), and the sweep later finds nothing to announce twice.
//!
//! With `notify-keyspace-events` empty (the default) every entry point is one relaxed atomic
//! load: no allocation and no extra read.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::job::{JobState, JOB};
use super::meta::Meta;
use super::{Storage, StorageResult};
use crate::config::KeyspaceEvents;

/// One keyspace event: published on `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its class, a [`KeyspaceEvents`] bit.
    pub class: u32,
    pub name: &'static str,
    /// The logical database.
    pub db: usize,
    pub key: Bytes,
}

/// An event recorded by the running job.
pub(super) struct Recorded {
    /// Index of the command that produced it (its writes may fail to commit).
    command: usize,
    /// A lazy expiry: its delete joined the job's batch, so the event stays even when the
    /// command that looked the key up fails afterwards.
    kept: bool,
    event: Event,
}

impl Storage {
    /// Applies `notify-keyspace-events` (at start and on CONFIG SET).
    pub fn set_keyspace_events(&self, flags: KeyspaceEvents) {
        self.notify.store(flags.0, Ordering::Relaxed);
    }

    /// The notification classes in force.
    pub fn keyspace_events(&self) -> KeyspaceEvents {
        KeyspaceEvents(self.notify.load(Ordering::Relaxed))
    }

    /// Records an event of `class` for the running job's command, if that class is published.
    pub fn notify(&self, class: u32, name: &'static str, db: usize, key: &[u8]) {
        if self.keyspace_events().wants(class) {
            self.record(class, name, db, key, false);
        }
    }

    fn record(&self, class: u32, name: &'static str, db: usize, key: &[u8], kept: bool) {
        JOB.with(|j| {
            if let Some(state) = j.borrow_mut().as_mut() {
                let event = Event {
                    class,
                    name,
                    db,
                    key: Bytes::copy_from_slice(key),
                };
                state.events.push(Recorded {
                    command: state.current,
                    kept,
                    event,
                });
            }
        });
    }

    /// How many events the running job holds: taken before a command runs, so that the events
    /// of a command that fails can be dropped with [`Self::discard_events`].
    pub fn events_mark(&self) -> usize {
        if !self.keyspace_events().any() {
            return 0;
        }
        JOB.with(|j| j.borrow().as_ref().map_or(0, |s| s.events.len()))
    }

    /// Drops the events recorded since `mark` (the command answered an error), except lazy
    /// expiries, whose deletes stay in the job.
    pub fn discard_events(&self, mark: usize) {
        JOB.with(|j| {
            if let Some(state) = j.borrow_mut().as_mut() {
                if state.events.len() > mark {
                    let mut index = 0;
                    state.events.retain(|r| {
                        index += 1;
                        index <= mark || r.kept
                    });
                }
            }
        });
    }

    /// Lets commands of the running job expire keys lazily (see the module comment). Off for
    /// jobs whose writes would not reach the other nodes of a cluster: local reads.
    pub fn allow_lazy_expiry(&self) {
        JOB.with(|j| {
            if let Some(state) = j.borrow_mut().as_mut() {
                state.lazy_expiry = true;
            }
        });
    }

    /// Connects the events to their publisher (once, when the shared state is built).
    pub fn set_event_sink(&self, sink: EventSink) {
        let _ = self.event_sink.set(sink);
    }

    /// Hands events to the publisher.
    pub(super) fn publish(&self, events: Vec<Event>) {
        if let Some(sink) = self.event_sink.get() {
            sink(events);
        }
    }

    /// Publishes the events a commit of the job took, except those of the commands whose writes
    /// it lost. Called before the commit releases its stripes, so that the events of one key
    /// come out in the order its writes were committed.
    pub(super) fn announce(&self, events: Vec<Recorded>, lost: Option<std::ops::Range<usize>>) {
        if events.is_empty() {
            return;
        }
        let events = events
            .into_iter()
            .filter(|r| !lost.as_ref().is_some_and(|l| l.contains(&r.command)))
            .map(|r| r.event)
            .collect();
        self.publish(events);
    }

    /// Commits what the running job has written so far, which publishes the events of the
    /// commands before the current one: the Raft apply calls it before a PUBLISH, so that the
    /// message follows the events of the writes before it, as in Redis. Nothing to do (and no
    /// commit) when no event waits.
    pub fn publish_events_so_far(&self) {
        let waiting = JOB.with(|j| j.borrow().as_ref().is_some_and(|s| !s.events.is_empty()));
        if waiting {
            self.commit_pending(false, false);
        }
    }

    /// True when a lookup by the running command may delete an expired key.
    pub(super) fn expires_lazily(&self) -> bool {
        self.keyspace_events().any()
            && !self.breaker.is_open()
            && JOB.with(|j| j.borrow().as_ref().is_some_and(|s| s.lazy_expiry))
    }

    /// A command's lookup of a key's row: like [`Self::get_raw`], but while notifications are on
    /// (and the job may write) an expired key is deleted on the spot, announced as `expired`,
    /// and reported missing — Redis's lazy expiry. Otherwise an expired row comes back as it
    /// is, for the caller to treat as missing.
    pub fn lookup_raw(&self, db: usize, key: &[u8], now: u64) -> StorageResult<Option<Meta>> {
        let row = self.get_raw(db, key)?;
        match row {
            Some(meta) if meta.is_expired(now) && self.expires_lazily() => {
                self.expire_lazily(db, key, now, meta)
            }
            other => Ok(other),
        }
    }

    /// Deletes the expired key `key` (whose row was `seen`) in the running job and records the
    /// `expired` event. Takes the key's lock only if that needs no wait: a busy key is left to
    /// the sweep. Returns the row now at the key.
    pub(super) fn expire_lazily(
        &self,
        db: usize,
        key: &[u8],
        now: u64,
        seen: Meta,
    ) -> StorageResult<Option<Meta>> {
        if !self.try_lock_in_job(db, key) {
            return Ok(Some(seen));
        }
        // Under the lock: another job may have replaced the row meanwhile.
        let Some(meta) = self.get_raw(db, key)? else {
            return Ok(None);
        };
        if !meta.is_expired(now) {
            return Ok(Some(meta));
        }
        let mut batch = self.batch();
        batch.delete_expired(db, key, &meta);
        self.commit(batch)?;
        self.expired_keys.fetch_add(1, Ordering::Relaxed);
        if self.keyspace_events().wants(KeyspaceEvents::EXPIRED) {
            self.record(KeyspaceEvents::EXPIRED, "expired", db, key, true);
        }
        Ok(None)
    }
}

/// The events a commit of the job publishes: those of the commands before the current one, or
/// all of them when the job ends.
pub(super) fn take_announced(state: &mut JobState) -> Vec<Recorded> {
    if state.ending {
        return std::mem::take(&mut state.events);
    }
    let done = state.events.partition_point(|r| r.command < state.current);
    state.events.drain(..done).collect()
}

/// Receives committed events in order.
pub type EventSink = Box<dyn Fn(Vec<Event>) + Send + Sync>;
