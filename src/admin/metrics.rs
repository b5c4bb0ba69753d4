//! `GET /metrics`: every metric Kiwi exposes to Prometheus, rendered from the same snapshot as
//! `/v1/status` plus the per-command latency histograms (the format is in [`super::exposition`]).
//!
//! Names follow Prometheus conventions (checked by `promtool check metrics` in tests/admin.rs):
//! `kiwi_` prefix, counters end in `_total`, base units in the name (`_seconds`, `_bytes`).
//! Counters are totals since start (CONFIG RESETSTAT resets the command counters, which
//! Prometheus treats as a counter reset).

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::exposition::{label, Exposition, HistogramSeries, Sample};
use super::status::{RaftStatus, Status};
use super::{Admin, ApiError};
use crate::cmd::stats;
use crate::state::ServerState;
use crate::util::histogram::{upper_bound_us, FINITE};

/// The exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn metrics(State(admin): State<Admin>) -> Result<Response, ApiError> {
    let status = admin.snapshot().await?;
    let mut e = Exposition::default();
    server(&mut e, &status);
    commands(&mut e, &admin.state);
    clients(&mut e, &status, &admin.state);
    runtimes(&mut e, &status, &admin.state);
    storage(&mut e, &status);
    if let Some(raft) = &status.raft {
        self::raft(&mut e, raft);
    }
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], e.finish()).into_response())
}

fn load(counter: &AtomicU64) -> f64 {
    counter.load(Ordering::Relaxed) as f64
}

fn server(e: &mut Exposition, status: &Status) {
    let build = vec![
        ("version", status.server.version.clone()),
        (
            "redis_version",
            crate::cmd::server::REDIS_COMPAT_VERSION.into(),
        ),
        ("mode", status.server.mode.clone()),
    ];
    e.family(
        "kiwi_build_info",
        "Version and mode; always 1.",
        &[(build, 1.0)],
    );
    let uptime = status.server.uptime_secs as f64;
    e.single(
        "kiwi_uptime_seconds",
        "Seconds since the process started.",
        uptime,
    );
    let memory = &status.memory;
    let rss = memory.rss_bytes as f64;
    e.single(
        "kiwi_process_resident_memory_bytes",
        "Resident set size.",
        rss,
    );
    let budget = memory.budget_bytes as f64;
    e.single("kiwi_memory_budget_bytes", "The memory option.", budget);
    if let Some((user, system)) = crate::sys::cpu_seconds() {
        let cpu = [
            (label("mode", "user"), user),
            (label("mode", "system"), system),
        ];
        e.family("kiwi_process_cpu_seconds_total", "CPU time used.", &cpu);
    }
}

fn commands(e: &mut Exposition, state: &ServerState) {
    let mut by_result: Vec<Sample> = Vec::new();
    let mut latency = Vec::new();
    for (spec, stat) in stats::called() {
        let (calls, failed) = (load(&stat.calls), load(&stat.failed));
        let results = [
            ("ok", (calls - failed).max(0.0)),
            ("error", failed),
            ("rejected", load(&stat.rejected)),
        ];
        for (result, value) in results {
            let labels = vec![("command", spec.name.into()), ("result", result.into())];
            by_result.push((labels, value));
        }
        let counts = stat.latency.counts();
        latency.push(HistogramSeries {
            labels: label("command", spec.name),
            buckets: (0..FINITE)
                .map(|i| (upper_bound_us(i) as f64 / 1e6, counts[i]))
                .collect(),
            overflow: counts[FINITE],
            sum: load(&stat.usec) / 1e6,
        });
    }
    let help = "Commands by name and result: ok, error (ran, answered an error), rejected (refused before running).";
    e.family("kiwi_commands_total", help, &by_result);
    let help = "Execution time of commands by name.";
    e.histogram("kiwi_command_duration_seconds", help, &latency);
    let s = &state.stats;
    let help = "Error replies sent to clients.";
    e.single("kiwi_error_replies_total", help, load(&s.error_replies));
    let help = "Key lookups that found the key.";
    e.single("kiwi_keyspace_hits_total", help, load(&s.keyspace_hits));
    let help = "Key lookups that did not find the key.";
    e.single("kiwi_keyspace_misses_total", help, load(&s.keyspace_misses));
}

fn clients(e: &mut Exposition, status: &Status, state: &ServerState) {
    let (c, s, t) = (&status.clients, &state.stats, &status.throughput);
    let help = "Client connections open now.";
    e.single("kiwi_connected_clients", help, c.connected as f64);
    let help = "Clients waiting in a blocking command.";
    e.single("kiwi_blocked_clients", help, c.blocked as f64);
    e.single("kiwi_max_clients", "The maxclients limit.", c.max as f64);
    let help = "Connections accepted.";
    e.single(
        "kiwi_connections_received_total",
        help,
        load(&s.connections_received),
    );
    let help = "Connections refused because of maxclients.";
    e.single(
        "kiwi_rejected_connections_total",
        help,
        load(&s.rejected_connections),
    );
    let help = "Bytes read from clients.";
    e.single(
        "kiwi_net_input_bytes_total",
        help,
        t.net_input_bytes_total as f64,
    );
    let help = "Bytes written to clients.";
    e.single(
        "kiwi_net_output_bytes_total",
        help,
        t.net_output_bytes_total as f64,
    );

    let keys: Vec<Sample> = (status.keys.per_db.iter())
        .map(|d| (label("db", d.db), d.keys as f64))
        .collect();
    e.family("kiwi_keys", "Live keys per database holding any.", &keys);
    let help = "Keys removed by expiry.";
    e.single(
        "kiwi_expired_keys_total",
        help,
        status.keys.expired_total as f64,
    );
    let help = "Keys evicted for memory (Kiwi does not evict: always 0).";
    e.single(
        "kiwi_evicted_keys_total",
        help,
        status.keys.evicted_total as f64,
    );
}

fn runtimes(e: &mut Exposition, status: &Status, state: &ServerState) {
    let (r, s) = (&status.runtimes, &state.stats);
    let both = |network: f64, storage: f64| {
        [
            (label("runtime", "network"), network),
            (label("runtime", "storage"), storage),
        ]
    };
    let storage_only = |value: f64| [(label("runtime", "storage"), value)];
    let threads = both(r.network_threads as f64, r.storage_threads as f64);
    e.family(
        "kiwi_runtime_threads",
        "Worker threads per runtime.",
        &threads,
    );
    let network_busy = s.network.in_flight.load(Ordering::Relaxed) as f64;
    let busy = both(network_busy, r.storage_busy_workers as f64);
    let help = "Work executing now: pipelines in flight (network), jobs running (storage).";
    e.family("kiwi_runtime_busy_workers", help, &busy);
    let depth = storage_only(r.storage_queue_depth as f64);
    e.family(
        "kiwi_runtime_queue_depth",
        "Jobs waiting for the runtime.",
        &depth,
    );
    let capacity = storage_only(r.storage_queue_capacity as f64);
    e.family(
        "kiwi_runtime_queue_capacity",
        "Capacity of its queue.",
        &capacity,
    );
    let full = storage_only(load(&s.storage.saturated));
    let help = "Times work met a full queue (backpressure engaged).";
    e.family("kiwi_runtime_queue_full_total", help, &full);
    let errors = both(load(&s.network.errors), load(&s.storage.errors));
    let help = "Commands that ended in an error reply, per runtime.";
    e.family("kiwi_runtime_errors_total", help, &errors);
    let open = if r.breaker.state == "open" { 1.0 } else { 0.0 };
    let help = "1 while the storage circuit breaker refuses writes.";
    e.single("kiwi_storage_breaker_open", help, open);
    let help = "Times the storage circuit breaker opened.";
    e.single(
        "kiwi_storage_breaker_trips_total",
        help,
        r.breaker.trips_total as f64,
    );
}

fn storage(e: &mut Exposition, status: &Status) {
    let st = &status.storage;
    let rows = [
        (
            "kiwi_rocksdb_memtable_bytes",
            "Memory used by memtables.",
            st.memtable_bytes,
        ),
        (
            "kiwi_rocksdb_block_cache_bytes",
            "Memory used by the block cache, memtables included.",
            st.block_cache_bytes,
        ),
        (
            "kiwi_rocksdb_pending_compaction_bytes",
            "Bytes compaction is estimated to still rewrite.",
            st.pending_compaction_bytes,
        ),
        (
            "kiwi_rocksdb_write_stalls_total",
            "Times RocksDB delayed or stopped writes.",
            st.write_stalls_total,
        ),
        (
            "kiwi_rocksdb_sst_bytes",
            "Size of the SST files.",
            st.sst_bytes,
        ),
        (
            "kiwi_rocksdb_wal_bytes",
            "Size of the write-ahead log.",
            st.wal_bytes,
        ),
        (
            "kiwi_disk_used_bytes",
            "Size of the data directory.",
            st.disk_used_bytes,
        ),
    ];
    for (name, help, value) in rows {
        e.single(name, help, value as f64);
    }
}

/// Raft families: cluster mode only.
fn raft(e: &mut Exposition, raft: &RaftStatus) {
    let roles = ["leader", "follower", "candidate", "learner", "shutdown"];
    let role: Vec<Sample> = (roles.iter())
        .map(|r| (label("role", r), if raft.role == *r { 1.0 } else { 0.0 }))
        .collect();
    e.family(
        "kiwi_raft_role",
        "1 for this node's current Raft role.",
        &role,
    );
    e.single("kiwi_raft_term", "Current Raft term.", raft.term as f64);
    let known = if raft.leader_id.is_some() { 1.0 } else { 0.0 };
    e.single("kiwi_raft_has_leader", "1 when a leader is known.", known);
    let indexes = [
        (
            "kiwi_raft_last_log_index",
            "Last log index.",
            raft.last_log_index,
        ),
        (
            "kiwi_raft_committed_index",
            "Highest committed index.",
            raft.committed,
        ),
        (
            "kiwi_raft_applied_index",
            "Highest applied index.",
            raft.applied,
        ),
        (
            "kiwi_raft_snapshot_index",
            "Index of the latest snapshot.",
            raft.snapshot_index,
        ),
        (
            "kiwi_raft_purged_index",
            "Highest purged index.",
            raft.purged_index,
        ),
    ];
    for (name, help, value) in indexes {
        if let Some(value) = value {
            e.single(name, help, value as f64);
        }
    }
    let help = "Elections this node started.";
    e.single(
        "kiwi_raft_elections_total",
        help,
        raft.elections_total as f64,
    );
    let help = "Snapshots built or installed.";
    e.single(
        "kiwi_raft_snapshots_total",
        help,
        raft.snapshots_total as f64,
    );
    let per_member = |f: fn(&super::status::MemberStatus) -> Option<u64>| -> Vec<Sample> {
        (raft.members.iter())
            .filter_map(|m| f(m).map(|v| (label("member", m.id), v as f64)))
            .collect()
    };
    let help = "Last log index known replicated to each member (leader only).";
    e.family(
        "kiwi_raft_member_matched_index",
        help,
        &per_member(|m| m.matched_index),
    );
    let help = "Log entries each member is behind the leader (leader only).";
    e.family("kiwi_raft_member_lag_entries", help, &per_member(|m| m.lag));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::status::MemberStatus;

    #[test]
    fn raft_families_show_role_indexes_and_member_lag() {
        let member = |id, lag: Option<u64>| MemberStatus {
            id,
            admin_addr: format!("10.0.0.{id}:7380"),
            resp_addr: format!("10.0.0.{id}:7379"),
            voter: true,
            matched_index: lag.map(|l| 100 - l),
            lag,
        };
        let status = RaftStatus {
            node_id: 1,
            role: "leader".into(),
            term: 7,
            leader_id: Some(1),
            leader_resp_addr: Some("10.0.0.1:7379".into()),
            last_log_index: Some(100),
            committed: Some(99),
            applied: Some(98),
            snapshot_index: None,
            purged_index: None,
            elections_total: 2,
            snapshots_total: 0,
            members: vec![member(1, Some(0)), member(2, Some(5)), member(3, None)],
        };
        let mut e = Exposition::default();
        raft(&mut e, &status);
        let text = e.finish();
        for line in [
            "kiwi_raft_role{role=\"leader\"} 1",
            "kiwi_raft_role{role=\"follower\"} 0",
            "kiwi_raft_term 7",
            "kiwi_raft_committed_index 99",
            "kiwi_raft_member_lag_entries{member=\"2\"} 5",
            "kiwi_raft_member_matched_index{member=\"2\"} 95",
            "# TYPE kiwi_raft_elections_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line} in:\n{text}"
            );
        }
        assert!(!text.contains("kiwi_raft_snapshot_index"));
        assert!(!text.contains("member=\"3\""));
    }
}
