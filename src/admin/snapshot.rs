//! Gathers the [`Status`] document from the shared state. `/v1/status` serves it as JSON and
//! `/metrics` renders the same snapshot, so the two can never disagree about a number.
//!
//! Gathering reads RocksDB (key counts, properties) and the data directory, so it runs on the
//! admin runtime's blocking threads — never on the storage runtime, whose queue may be full.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::extract::State;
use axum::Json;

use super::status::*;
use super::{Admin, ApiError};
use crate::cmd::{stats, Flags};
use crate::state::ServerState;
use crate::util::histogram::quantile_us;

/// `GET /v1/status`.
pub async fn status(State(admin): State<Admin>) -> Result<Json<Status>, ApiError> {
    Ok(Json(admin.snapshot().await?))
}

impl Admin {
    /// A fresh status document, gathered off the async workers.
    pub(super) async fn snapshot(&self) -> Result<Status, ApiError> {
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || collect(&state))
            .await
            .map_err(|e| ApiError::internal(format!("gathering status failed: {e}")))?
    }
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn load_usize(counter: &AtomicUsize) -> u64 {
    counter.load(Ordering::Relaxed) as u64
}

/// Builds the status document (blocking: reads RocksDB and the data directory).
pub(crate) fn collect(state: &ServerState) -> Result<Status, ApiError> {
    let config = state.config().clone();
    let storage = &state.storage;
    let now = crate::util::now_ms();
    let mut per_db = Vec::new();
    for db in 0..storage.databases() {
        let keys = storage
            .key_count(db, now)
            .map_err(|e| ApiError::internal(format!("counting keys of db {db}: {e}")))?;
        if keys > 0 {
            per_db.push(DbKeys {
                db: db as u32,
                keys,
            });
        }
    }
    let (mut reads, mut writes) = (0, 0);
    let mut commands = Vec::new();
    for (spec, stat) in stats::called() {
        let calls = load(&stat.calls);
        if spec.is_write() {
            writes += calls;
        } else if spec.flags.contains(Flags::READONLY) {
            reads += calls;
        }
        let latency = stat.latency.counts();
        commands.push(CommandStatus {
            name: spec.name.to_string(),
            calls,
            failed: load(&stat.failed),
            usec_total: load(&stat.usec),
            p50_us: quantile_us(&latency, 0.5),
            p99_us: quantile_us(&latency, 0.99),
            p999_us: quantile_us(&latency, 0.999),
        });
    }
    let breaker = storage.breaker();
    let run = &state.stats.storage;
    let raft = state
        .cluster
        .get()
        .map(|c| super::ClusterView::raft_status(c.as_ref()));
    Ok(Status {
        version: SCHEMA_VERSION,
        server: ServerInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            node: state.run_id.clone(),
            uptime_secs: state.uptime_secs(),
            mode: if raft.is_some() {
                "cluster"
            } else {
                "single-node"
            }
            .to_string(),
            resp_addr: resp_addr(&config.bind, state.port),
            admin_addr: state
                .admin_addr
                .get()
                .map(SocketAddr::to_string)
                .unwrap_or_default(),
            pid: std::process::id(),
        },
        clients: ClientsStatus {
            connected: state.clients.count() as u64,
            blocked: state.clients.blocked_count() as u64,
            max: config.maxclients as u64,
        },
        memory: MemoryStatus {
            rss_bytes: crate::sys::rss_bytes().unwrap_or(0),
            budget_bytes: config.memory.0,
        },
        keys: KeysStatus {
            total: per_db.iter().map(|d| d.keys).sum(),
            per_db,
            expired_total: load(&storage.expired_keys),
            evicted_total: 0,
        },
        throughput: Throughput {
            commands_total: load(&state.stats.commands_processed),
            reads_total: reads,
            writes_total: writes,
            net_input_bytes_total: load(&state.stats.net_input_bytes),
            net_output_bytes_total: load(&state.stats.net_output_bytes),
        },
        commands,
        runtimes: RuntimesStatus {
            network_threads: config.network_thread_count() as u64,
            storage_threads: config.storage_thread_count() as u64,
            storage_queue_depth: load_usize(&run.queued),
            storage_queue_capacity: config.storage_queue_depth as u64,
            storage_busy_workers: load_usize(&run.in_flight),
            breaker: BreakerStatus {
                state: if breaker.is_open() { "open" } else { "closed" }.to_string(),
                reason: Some(breaker.reason()).filter(|r| !r.is_empty()),
                trips_total: breaker.trips(),
            },
        },
        storage: StorageStatus {
            memtable_bytes: storage.memtable_usage() as u64,
            block_cache_bytes: storage.cache_usage() as u64,
            pending_compaction_bytes: storage
                .property_sum("rocksdb.estimate-pending-compaction-bytes"),
            write_stalls_total: storage.write_stalls(),
            sst_bytes: storage.property_sum("rocksdb.total-sst-files-size"),
            wal_bytes: storage.wal_bytes(),
            disk_used_bytes: storage.disk_used_bytes(),
        },
        raft,
    })
}

/// `ip:port` of the first RESP listen address (the one clients are usually given).
fn resp_addr(bind: &str, port: u16) -> String {
    let first = bind.split_whitespace().next().unwrap_or("127.0.0.1");
    let host = first.trim_start_matches('-');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port).to_string(),
        Err(_) => format!("{host}:{port}"),
    }
}
