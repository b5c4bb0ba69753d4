//! Registry of connected clients, for CLIENT LIST/INFO/KILL, INFO clients, `maxclients` and the
//! idle `timeout`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    pub resp: AtomicUsize,
    /// Set by CLIENT KILL / timeout; the connection task closes when notified.
    pub killed: AtomicBool,
    pub kill_signal: Notify,
}

impl ClientHandle {
    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_signal.notify_one();
    }

    /// One line of CLIENT LIST / CLIENT INFO, with Redis's field names.
    pub fn describe(&self, now_ms: u64) -> String {
        let age = now_ms.saturating_sub(self.connected_ms) / 1000;
        let idle = now_ms.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000;
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags=N db={} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.local_addr,
            self.name.lock(),
            age,
            idle,
            self.db.load(Ordering::Relaxed),
            self.last_cmd.lock(),
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
        let now = crate::util::now_ms();
        let handle = Arc::new(ClientHandle {
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
            resp: AtomicUsize::new(2),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        });
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

    /// A snapshot of all handles, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Closes clients idle for longer than `timeout_secs` (0 = never). Returns how many.
    pub fn kill_idle(&self, timeout_secs: u64, now_ms: u64) -> usize {
        if timeout_secs == 0 {
            return 0;
        }
        let limit = timeout_secs * 1000;
        let mut killed = 0;
        for client in self.all() {
            if now_ms.saturating_sub(client.last_active_ms.load(Ordering::Relaxed)) > limit {
                client.kill();
                killed += 1;
            }
        }
        killed
    }
}
