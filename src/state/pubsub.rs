//! The pub/sub broker: which connections listen to which channels, patterns and shard channels,
//! and the bounded queue through which a published message reaches each listener.
//!
//! It is shared by all connections because a publisher writes straight into its subscribers'
//! queues; the subscriptions themselves are connection state (`server/pubsub.rs`) and never
//! reach the storage runtime. A subscriber that stops reading cannot grow its queue without
//! bound: past the `pubsub` class of `client-output-buffer-limit` it is disconnected and its
//! queue dropped, as Redis does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::config::BufferLimit;
use crate::resp::{Frame, Protocol};
use crate::state::clients::ClientHandle;
use crate::util::glob::glob_match;

/// The three subscription namespaces. Shard channels (SSUBSCRIBE/SPUBLISH) are separate from
/// ordinary channels and are never matched by patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    /// Position in per-kind arrays (the broker's maps, a connection's subscriptions).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Subscribers of one name, in subscription order.
type Listeners = Vec<Arc<Subscriber>>;

/// Every channel, pattern and shard channel that has at least one subscriber.
#[derive(Default)]
pub struct Broker {
    names: RwLock<[HashMap<Bytes, Listeners>; 3]>,
}

impl Broker {
    /// Adds `subscriber` to `name`; the caller knows it was not subscribed yet.
    pub fn subscribe(&self, kind: Kind, name: Bytes, subscriber: &Arc<Subscriber>) {
        self.names.write()[kind.index()]
            .entry(name)
            .or_default()
            .push(subscriber.clone());
    }

    /// Removes the subscriber with client id `id` from `name`, forgetting names nobody listens
    /// to any more so that abandoned channels cost no memory.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) {
        let mut names = self.names.write();
        let map = &mut names[kind.index()];
        if let Some(listeners) = map.get_mut(name) {
            listeners.retain(|s| s.client.id != id);
            if listeners.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Queues `message` for everyone listening to `channel` (and, unless `shard`, to a pattern
    /// matching it). Returns the number of deliveries, counting a connection once per matching
    /// subscription, like Redis's PUBLISH reply.
    pub fn publish(
        &self,
        channel: &Bytes,
        message: &Bytes,
        shard: bool,
        limit: &BufferLimit,
    ) -> usize {
        let names = self.names.read();
        let mut receivers = 0;
        let kind = if shard { Kind::Shard } else { Kind::Channel };
        if let Some(listeners) = names[kind.index()].get(channel) {
            let head = Bytes::from_static(if shard { b"smessage" } else { b"message" });
            let frame = encode_message([head, channel.clone(), message.clone()]);
            for subscriber in listeners {
                subscriber.deliver(&frame, limit);
            }
            receivers += listeners.len();
        }
        if !shard {
            for (pattern, listeners) in &names[Kind::Pattern.index()] {
                if glob_match(pattern, channel, false) {
                    let frame = encode_message([
                        Bytes::from_static(b"pmessage"),
                        pattern.clone(),
                        channel.clone(),
                        message.clone(),
                    ]);
                    for subscriber in listeners {
                        subscriber.deliver(&frame, limit);
                    }
                    receivers += listeners.len();
                }
            }
        }
        receivers
    }

    /// Names with subscribers, optionally only those matching a glob (PUBSUB CHANNELS and
    /// SHARDCHANNELS).
    pub fn active(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.names.read()[kind.index()]
            .keys()
            .filter(|name| pattern.is_none_or(|p| glob_match(p, name, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of one name (PUBSUB NUMSUB and SHARDNUMSUB).
    pub fn listeners(&self, kind: Kind, name: &[u8]) -> usize {
        self.names.read()[kind.index()]
            .get(name)
            .map_or(0, Vec::len)
    }

    /// Names with at least one subscriber (PUBSUB NUMPAT, INFO's pubsub_* fields).
    pub fn count(&self, kind: Kind) -> usize {
        self.names.read()[kind.index()].len()
    }
}

/// Encodes a message as a RESP2 array of bulk strings. The RESP3 push frame differs only in its
/// first byte (`>` instead of `*`), so one encoding serves subscribers of both protocols.
fn encode_message<const N: usize>(parts: [Bytes; N]) -> Bytes {
    let items = parts.into_iter().map(Frame::Bulk).collect();
    let mut out = BytesMut::new();
    Frame::Array(items).encode(Protocol::Resp2, &mut out);
    out.freeze()
}

/// One connection's mailbox: the broker queues messages here, the connection writes them out.
pub struct Subscriber {
    client: Arc<ClientHandle>,
    queue: Mutex<Queue>,
    ready: Notify,
}

/// Encoded messages not yet written to the socket.
#[derive(Default)]
struct Queue {
    pending: BytesMut,
    /// Bytes taken out for writing whose write has not finished; they still count against the
    /// output limits, as unwritten output does in Redis.
    in_flight: usize,
    /// Since when the queue has been at or above the soft limit.
    over_soft_since: Option<Instant>,
    /// Set once the connection was disconnected for its limits: nothing is queued any more.
    closed: bool,
}

impl Subscriber {
    /// A mailbox for the connection behind `client`.
    pub fn new(client: Arc<ClientHandle>) -> Arc<Subscriber> {
        Arc::new(Subscriber {
            client,
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
        })
    }

    /// Queues one encoded message in the connection's current protocol (a push in RESP3), then
    /// disconnects the connection if its pending output broke `limit`.
    fn deliver(&self, frame: &[u8], limit: &BufferLimit) {
        let resp3 = self.client.resp.load(std::sync::atomic::Ordering::Relaxed) == 3;
        self.enqueue(if resp3 { b'>' } else { frame[0] }, &frame[1..], limit);
    }

    /// Queues a line that is the same in both protocols (MONITOR's status lines), with the same
    /// limits as messages.
    pub fn deliver_line(&self, line: &[u8], limit: &BufferLimit) {
        if let Some((&first, rest)) = line.split_first() {
            self.enqueue(first, rest, limit);
        }
    }

    fn enqueue(&self, first: u8, rest: &[u8], limit: &BufferLimit) {
        let mut queue = self.queue.lock();
        if queue.closed {
            return;
        }
        queue.pending.reserve(rest.len() + 1);
        queue.pending.put_u8(first);
        queue.pending.put_slice(rest);
        if queue.over_limit(limit, Instant::now()) {
            queue.closed = true;
            queue.pending = BytesMut::new();
            drop(queue);
            tracing::warn!(
                client = self.client.id,
                addr = %self.client.addr,
                "closing subscriber that passed the pubsub output buffer limits"
            );
            self.client.kill();
            return;
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// Waits until messages are queued.
    pub async fn ready(&self) {
        self.ready.notified().await
    }

    /// Takes every queued message for writing; [`Subscriber::written`] must follow the write.
    pub fn take(&self) -> Option<Bytes> {
        let mut queue = self.queue.lock();
        if queue.pending.is_empty() {
            return None;
        }
        let chunk = queue.pending.split().freeze();
        queue.in_flight = chunk.len();
        Some(chunk)
    }

    /// Marks the chunk from [`Subscriber::take`] as written (or abandoned).
    pub fn written(&self) {
        self.queue.lock().in_flight = 0;
    }
}

impl Queue {
    /// Redis's `checkClientOutputBufferLimits`: at or above the hard limit at once, at or above
    /// the soft limit for longer than its seconds. Dropping below the soft limit resets the clock.
    fn over_limit(&mut self, limit: &BufferLimit, now: Instant) -> bool {
        let used = (self.pending.len() + self.in_flight) as u64;
        if limit.hard > 0 && used >= limit.hard {
            return true;
        }
        if limit.soft == 0 || used < limit.soft {
            self.over_soft_since = None;
            return false;
        }
        let since = *self.over_soft_since.get_or_insert(now);
        now.duration_since(since).as_secs_f64() > limit.soft_seconds as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limit(hard: u64, soft: u64, soft_seconds: u64) -> BufferLimit {
        BufferLimit {
            hard,
            soft,
            soft_seconds,
        }
    }

    fn queue_of(len: usize) -> Queue {
        Queue {
            pending: BytesMut::from(&vec![0u8; len][..]),
            ..Queue::default()
        }
    }

    #[test]
    fn hard_limit_trips_at_once() {
        let now = Instant::now();
        assert!(!queue_of(99).over_limit(&limit(100, 0, 0), now));
        assert!(queue_of(100).over_limit(&limit(100, 0, 0), now));
        assert!(
            !queue_of(1 << 20).over_limit(&limit(0, 0, 0), now),
            "0 is off"
        );
    }

    #[test]
    fn soft_limit_needs_time_and_resets_below() {
        let start = Instant::now();
        let soft = limit(0, 10, 1);
        let mut q = queue_of(10);
        assert!(!q.over_limit(&soft, start));
        assert!(!q.over_limit(&soft, start + Duration::from_millis(900)));
        assert!(q.over_limit(&soft, start + Duration::from_millis(1100)));
        q.pending.truncate(5);
        assert!(!q.over_limit(&soft, start + Duration::from_millis(1200)));
        assert_eq!(q.over_soft_since, None);
    }

    #[test]
    fn in_flight_bytes_count() {
        let mut q = queue_of(10);
        q.in_flight = 90;
        assert!(q.over_limit(&limit(100, 0, 0), Instant::now()));
    }
}
