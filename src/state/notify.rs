//! Keyspace notifications, the publishing side: each event the storage side gathered (see
//! `storage/notify.rs`) becomes a pub/sub message on `__keyspace@<db>__:<key>` (message: the
//! event) when `K` is set and on `__keyevent@<db>__:<event>` (message: the key) when `E` is
//! set, in that order, as Redis's `notifyKeyspaceEvent` sends them.

use bytes::{BufMut, Bytes, BytesMut};

use super::ServerState;
use crate::config::KeyspaceEvents;
use crate::storage::notify::Event;

impl ServerState {
    /// Publishes `events` in order to this node's subscribers: the storage's event sink, called
    /// by each commit of a storage job or Raft apply and by the expiry sweep.
    pub fn publish_events(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let (flags, limit) = {
            let config = self.config();
            (
                config.keyspace_events().0,
                config.client_output_buffer_limit.pubsub,
            )
        };
        for event in events {
            let name = Bytes::from_static(event.name.as_bytes());
            if flags & KeyspaceEvents::KEYSPACE != 0 {
                let channel = channel("__keyspace@", event.db, &event.key);
                self.pubsub.publish(&channel, &name, false, &limit);
            }
            if flags & KeyspaceEvents::KEYEVENT != 0 {
                let channel = channel("__keyevent@", event.db, &name);
                self.pubsub.publish(&channel, &event.key, false, &limit);
            }
        }
    }
}

/// `<prefix><db>__:<suffix>`.
fn channel(prefix: &str, db: usize, suffix: &[u8]) -> Bytes {
    let mut digits = itoa::Buffer::new();
    let db = digits.format(db);
    let mut out = BytesMut::with_capacity(prefix.len() + db.len() + 3 + suffix.len());
    out.put_slice(prefix.as_bytes());
    out.put_slice(db.as_bytes());
    out.put_slice(b"__:");
    out.put_slice(suffix);
    out.freeze()
}
