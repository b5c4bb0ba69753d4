//! State shared by both runtimes: configuration, the storage engine, counters, the client
//! registry and the pub/sub broker. The network side owns connections; the storage side executes
//! commands; both read this, which is why it lives in neither.

pub mod acl;
pub mod acllog;
pub mod clients;
pub mod cursors;
pub mod functions;
pub mod latency;
pub mod monitor;
mod notify;
pub mod pause;
pub mod pubsub;
pub mod scripts;
pub mod slowlog;
pub mod stats;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::RwLock;
use tokio::sync::watch;

use crate::config::Config;
use crate::storage::Storage;
use clients::ClientRegistry;
use stats::Stats;

/// Everything a command may need beyond its own connection.
pub struct ServerState {
    config: RwLock<Config>,
    pub storage: Storage,
    pub stats: Stats,
    pub clients: ClientRegistry,
    pub scan_cursors: cursors::ScanCursors,
    /// SLOWLOG's entries, fed by both runtimes.
    pub slowlog: slowlog::SlowLog,
    /// LATENCY's events, fed by both runtimes and the background thread.
    pub latency: latency::LatencyMonitor,
    /// Pub/sub subscriptions of every connection (shared: a publisher feeds other connections).
    pub pubsub: Arc<pubsub::Broker>,
    /// Connections in MONITOR mode.
    pub monitors: monitor::Monitors,
    /// CLIENT PAUSE in force.
    pub pause: pause::ClientPause,
    /// ACL users; the `default` user's password follows `requirepass`.
    pub acl: acl::Acl,
    /// ACL LOG's refusals.
    pub acl_log: acllog::AclLog,
    /// Lua scripts: cache, interpreter, and the running script's status.
    pub scripts: scripts::Scripts,
    pub started: Instant,
    /// The actual RESP port (differs from `port` when it was 0).
    pub port: u16,
    /// Set to true to start a graceful shutdown.
    pub shutdown: watch::Sender<bool>,
    /// Unix time in seconds of the last flush to disk (LASTSAVE).
    pub last_save: std::sync::atomic::AtomicU64,
    /// Random 40-hex-char id of this process (INFO run_id).
    pub run_id: String,
    /// Where the admin HTTP API listens, once it does (reported in its status document).
    pub admin_addr: OnceLock<SocketAddr>,
    /// This node's Raft member, in cluster mode (unset: single node, no `raft` status).
    pub cluster: OnceLock<Arc<crate::raft::RaftNode>>,
    /// Connections MIGRATE keeps open to its targets.
    pub migrate_sockets: crate::cmd::migrate::MigrateSockets,
}

impl ServerState {
    /// Builds the shared state around an opened storage engine.
    pub fn new(config: Config, storage: Storage, port: u16) -> Arc<ServerState> {
        let (shutdown, _) = watch::channel(false);
        let run_id: String = (0..40)
            .map(|_| std::char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
            .collect();
        let slowlog = slowlog::SlowLog::default();
        let latency = latency::LatencyMonitor::default();
        apply_monitoring(&config, &slowlog, &latency);
        let acl = acl::Acl::default();
        acl.set_default_password(&config.requirepass);
        acl.set_pubsub_default(config.acl_pubsub_default == "allchannels");
        let state = Arc::new(ServerState {
            config: RwLock::new(config),
            storage,
            stats: Stats::default(),
            clients: ClientRegistry::default(),
            scan_cursors: Default::default(),
            slowlog,
            latency,
            pubsub: Default::default(),
            monitors: Default::default(),
            pause: Default::default(),
            acl,
            acl_log: Default::default(),
            scripts: Default::default(),
            started: Instant::now(),
            port,
            shutdown,
            last_save: std::sync::atomic::AtomicU64::new(crate::util::now_ms() / 1000),
            run_id,
            admin_addr: OnceLock::new(),
            cluster: OnceLock::new(),
            migrate_sockets: Default::default(),
        });
        // Committed keyspace events reach this node's subscribers (`state/notify.rs`).
        let weak = Arc::downgrade(&state);
        state.storage.set_event_sink(Box::new(move |events| {
            if let Some(state) = weak.upgrade() {
                state.publish_events(events);
            }
        }));
        state
    }

    /// A snapshot of the configuration.
    pub fn config(&self) -> parking_lot::RwLockReadGuard<'_, Config> {
        self.config.read()
    }

    /// Changes options (CONFIG SET) atomically: all or none, checked as Redis checks them (see
    /// [`Config::with_changes`]), then applies side effects.
    pub fn update_config(
        &self,
        changes: &[(String, String)],
    ) -> Result<(), crate::config::SetError> {
        let mut guard = self.config.write();
        let next = guard.with_changes(changes)?;
        self.storage
            .apply_config(&next)
            .map_err(|e| crate::config::SetError::Failed {
                key: "rocksdb".to_string(),
                message: e.to_string(),
            })?;
        crate::logging::set_level(next.loglevel);
        apply_monitoring(&next, &self.slowlog, &self.latency);
        if next.requirepass != guard.requirepass {
            self.acl.set_default_password(&next.requirepass);
        }
        self.acl
            .set_pubsub_default(next.acl_pubsub_default == "allchannels");
        // A new limit holds from the next command, not the next background tick.
        self.storage
            .check_quota(next.max_db_size.0, next.maxmemory.0);
        *guard = next;
        Ok(())
    }

    /// Asks the server to shut down gracefully.
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// The clock expiry is judged by outside commands: in cluster mode the replicated clock
    /// (the latest leader time applied), so every node sweeps the same keys.
    pub fn expiry_clock_ms(&self) -> u64 {
        match self.cluster.get() {
            Some(node) => node
                .machine
                .clock_ms
                .load(std::sync::atomic::Ordering::Acquire),
            None => crate::util::now_ms(),
        }
    }

    /// Seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// Copies the slow log's and latency monitor's options into their lock-free limits.
fn apply_monitoring(
    config: &Config,
    slowlog: &slowlog::SlowLog,
    latency: &latency::LatencyMonitor,
) {
    slowlog.configure(config.slowlog_log_slower_than, config.slowlog_max_len);
    latency.configure(config.latency_monitor_threshold);
}
