//! Registry of connected clients, for CLIENT LIST/INFO/KILL, INFO clients, `maxclients` and the
//! idle `timeout`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// What other connections may see or do to one connection.
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub connected_ms: u64,
    pub last_active_ms: AtomicU64,
    pub db: AtomicUsize,
    pub name: Mutex<String>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    pub last_cmd: Mutex<String>,
    /// The ACL user this connection is authenticated as (CLIENT LIST's `user`).
    pub user: Mutex<String>,
    pub resp: AtomicUsize,
    /// Pub/sub subscription counts, kept by the connection for CLIENT LIST and the idle timeout.
    pub subscriptions: SubscriptionCounts,
    /// Set by CLIENT KILL / timeout; the connection task closes when notified.
    pub killed: AtomicBool,
    pub kill_signal: Notify,
    /// Waiting in a blocking command (BLPOP, ...), so CLIENT UNBLOCK applies.
    pub blocked: AtomicBool,
    /// Commands queued since MULTI, or -1 outside a transaction (CLIENT LIST `multi=`).
    pub multi: AtomicI64,
    /// CLIENT UNBLOCK: wakes the blocked command, which answers nil — or an error when
    /// `unblock_with_error` is set.
    pub unblock: Notify,
    pub unblock_with_error: AtomicBool,
    /// READONLY: in cluster mode this connection accepts reads from this node's own data.
    pub readonly: AtomicBool,
    /// The client asked for the cluster topology: followers answer it MOVED rather than
    /// forwarding, so it learns where the leader is.
    pub cluster_aware: AtomicBool,
}

/// How many channels, patterns and shard channels a connection listens to (CLIENT LIST's `sub`,
/// `psub` and `ssub`).
#[derive(Debug, Default)]
pub struct SubscriptionCounts {
    pub channels: AtomicUsize,
    pub patterns: AtomicUsize,
    pub shard_channels: AtomicUsize,
}

impl SubscriptionCounts {
    /// True while the connection listens to anything: Redis's pub/sub mode, which puts it in the
    /// `pubsub` client type (CLIENT LIST/KILL TYPE, output limits) and exempts it from `timeout`.
    pub fn active(&self) -> bool {
        self.channels.load(Ordering::Relaxed)
            + self.patterns.load(Ordering::Relaxed)
            + self.shard_channels.load(Ordering::Relaxed)
            > 0
    }
}

impl ClientHandle {
    fn new(id: u64, addr: SocketAddr, local_addr: SocketAddr) -> ClientHandle {
        let now = crate::util::now_ms();
        ClientHandle {
            id,
            addr,
            local_addr,
            connected_ms: now,
            last_active_ms: AtomicU64::new(now),
            db: AtomicUsize::new(0),
            name: Mutex::new(String::new()),
            lib_name: Mutex::new(String::new()),
            lib_ver: Mutex::new(String::new()),
            last_cmd: Mutex::new("NULL".into()),
            user: Mutex::new(crate::state::acl::DEFAULT_USER.into()),
            resp: AtomicUsize::new(2),
            subscriptions: SubscriptionCounts::default(),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
            blocked: AtomicBool::new(false),
            multi: AtomicI64::new(-1),
            unblock: Notify::new(),
            unblock_with_error: AtomicBool::new(false),
            readonly: AtomicBool::new(false),
            cluster_aware: AtomicBool::new(false),
        }
    }

    /// A handle for commands no connection of this node sent: entries applied from the Raft log
    /// and pipelines forwarded by a follower (the slow log names them `raft`).
    pub fn detached() -> Arc<ClientHandle> {
        let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
        let handle = ClientHandle::new(0, nowhere, nowhere);
        *handle.name.lock() = "raft".into();
        Arc::new(handle)
    }

    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_signal.notify_one();
    }

    /// Redis's client type name: `pubsub` in pub/sub mode, else `normal` (CLIENT LIST/KILL TYPE).
    pub fn kind(&self) -> &'static str {
        if self.subscriptions.active() {
            "pubsub"
        } else {
            "normal"
        }
    }

    /// One line of CLIENT LIST / CLIENT INFO, with Redis's field names.
    pub fn describe(&self, now_ms: u64) -> String {
        let age = now_ms.saturating_sub(self.connected_ms) / 1000;
        let idle = now_ms.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000;
        let subs = &self.subscriptions;
        let multi = self.multi.load(Ordering::Relaxed);
        // Redis's flag letters, in its order: P pub/sub, x in MULTI, b blocked; N for none.
        let mut flags = String::new();
        for (on, letter) in [
            (subs.active(), 'P'),
            (multi >= 0, 'x'),
            (self.blocked.load(Ordering::Relaxed), 'b'),
        ] {
            if on {
                flags.push(letter);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.local_addr,
            self.name.lock(),
            age,
            idle,
            flags,
            self.db.load(Ordering::Relaxed),
            subs.channels.load(Ordering::Relaxed),
            subs.patterns.load(Ordering::Relaxed),
            subs.shard_channels.load(Ordering::Relaxed),
            multi,
            self.last_cmd.lock(),
            self.user.lock(),
            self.resp.load(Ordering::Relaxed),
            self.lib_name.lock(),
            self.lib_ver.lock(),
        )
    }
}

/// All live connections.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
}

impl ClientRegistry {
    /// Registers a connection unless `maxclients` is reached.
    pub fn register(
        &self,
        addr: SocketAddr,
        local_addr: SocketAddr,
        maxclients: usize,
    ) -> Option<Arc<ClientHandle>> {
        let mut clients = self.clients.lock();
        if clients.len() >= maxclients {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle::new(id, addr, local_addr));
        clients.insert(id, handle.clone());
        Some(handle)
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// Number of connected clients.
    pub fn count(&self) -> usize {
        self.clients.lock().len()
    }

    /// Connections waiting in a blocking command (INFO `blocked_clients`, the admin API).
    pub fn blocked_count(&self) -> usize {
        self.clients
            .lock()
            .values()
            .filter(|c| c.blocked.load(Ordering::Relaxed))
            .count()
    }

    /// A snapshot of all handles, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Closes every connection authenticated as `user` (ACL DELUSER). Returns how many.
    pub fn kill_user(&self, user: &str) -> usize {
        let mut killed = 0;
        for client in self.all() {
            if *client.user.lock() == user {
                client.kill();
                killed += 1;
            }
        }
        killed
    }

    /// Closes clients idle for longer than `timeout_secs` (0 = never), except subscribers, which
    /// are idle by nature (as in Redis). Returns how many.
    pub fn kill_idle(&self, timeout_secs: u64, now_ms: u64) -> usize {
        if timeout_secs == 0 {
            return 0;
        }
        let limit = timeout_secs * 1000;
        let mut killed = 0;
        for client in self.all() {
            let idle = now_ms.saturating_sub(client.last_active_ms.load(Ordering::Relaxed));
            if idle > limit && !client.subscriptions.active() {
                client.kill();
                killed += 1;
            }
        }
        killed
    }
}
