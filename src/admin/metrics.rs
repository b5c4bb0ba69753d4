//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4), written by hand — the
//! format is small, and this keeps every metric's name, type and help in one readable list.
//!
//! Conventions (checked by `promtool check metrics` in tests/admin.rs): every name starts with
//! `kiwi_`, counters end in `_total`, units are base units in the name (`_seconds`, `_bytes`),
//! and a family is only written when it has samples. Numbers come from the same snapshot as
//! `/v1/status`, plus the per-command latency histograms.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::status::Status;
use super::{Admin, ApiError};
use crate::cmd::stats;
use crate::state::ServerState;
use crate::util::histogram::{upper_bound_us, FINITE};

/// The exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn metrics(State(admin): State<Admin>) -> Result<Response, ApiError> {
    let status = admin.snapshot().await?;
    let text = render(&status, &admin.state);
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

/// The text being written, one metric family after another.
#[derive(Default)]
struct Exposition {
    out: String,
}

/// One sample: label pairs and value.
type Sample<'a> = (Vec<(&'a str, String)>, f64);

impl Exposition {
    /// Writes a family with its HELP and TYPE lines, unless it has no samples.
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[Sample<'_>]) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.sample(name, labels, *value);
        }
    }

    /// A family of one unlabelled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help, &[(Vec::new(), value)]);
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Integers print without a fraction; `+Inf` as the format spells it.
fn number(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

fn label<'a>(key: &'a str, value: impl ToString) -> Vec<(&'a str, String)> {
    vec![(key, value.to_string())]
}

/// Renders every family.
fn render(status: &Status, state: &ServerState) -> String {
    let mut e = Exposition::default();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed) as f64;
    let s = &state.stats;

    let build = vec![
        ("version", status.server.version.clone()),
        (
            "redis_version",
            crate::cmd::server::REDIS_COMPAT_VERSION.to_string(),
        ),
        ("mode", status.server.mode.clone()),
    ];
    e.family("kiwi_build_info", "gauge", "Kiwi version and mode; always 1.", &[(build, 1.0)]);
    e.single("kiwi_uptime_seconds", "gauge", "Seconds since the process started.", status.server.uptime_secs as f64);

    // Commands.
    let mut by_result = Vec::new();
    let mut histograms = Vec::new();
    for (spec, stat) in stats::called() {
        let calls = load(&stat.calls);
        let failed = load(&stat.failed);
        for (result, value) in [("ok", (calls - failed).max(0.0)), ("error", failed), ("rejected", load(&stat.rejected))] {
            by_result.push((vec![("command", spec.name.to_string()), ("result", result.to_string())], value));
        }
        histograms.push((spec.name, stat.latency.counts(), load(&stat.usec) / 1e6));
    }
    e.family("kiwi_commands_total", "counter", "Commands by name and result: ok, error (executed, answered with an error) or rejected (refused before running).", &by_result);
    if !histograms.is_empty() {
        let name = "kiwi_command_duration_seconds";
        let _ = writeln!(e.out, "# HELP {name} Execution time of commands by name.");
        let _ = writeln!(e.out, "# TYPE {name} histogram");
        for (command, counts, sum) in histograms {
            let mut cumulative = 0u64;
            for (i, count) in counts.iter().enumerate().take(FINITE) {
                cumulative += count;
                let le = upper_bound_us(i) as f64 / 1e6;
                let labels = vec![("command", command.to_string()), ("le", number(le))];
                e.sample(&format!("{name}_bucket"), &labels, cumulative as f64);
            }
            cumulative += counts[FINITE];
            let labels = vec![("command", command.to_string()), ("le", "+Inf".to_string())];
            e.sample(&format!("{name}_bucket"), &labels, cumulative as f64);
            e.sample(&format!("{name}_sum"), &label("command", command), sum);
            e.sample(&format!("{name}_count"), &label("command", command), cumulative as f64);
        }
    }
    e.single("kiwi_error_replies_total", "counter", "Error replies sent to clients.", load(&s.error_replies));
    e.single("kiwi_keyspace_hits_total", "counter", "Key lookups that found the key.", load(&s.keyspace_hits));
    e.single("kiwi_keyspace_misses_total", "counter", "Key lookups that did not find the key.", load(&s.keyspace_misses));

    // Clients and network.
    e.single("kiwi_connected_clients", "gauge", "Client connections open now.", status.clients.connected as f64);
    e.single("kiwi_blocked_clients", "gauge", "Clients waiting in a blocking command.", status.clients.blocked as f64);
    e.single("kiwi_max_clients", "gauge", "The maxclients limit.", status.clients.max as f64);
    e.single("kiwi_connections_received_total", "counter", "Connections accepted.", load(&s.connections_received));
    e.single("kiwi_rejected_connections_total", "counter", "Connections refused because of maxclients.", load(&s.rejected_connections));
    e.single("kiwi_net_input_bytes_total", "counter", "Bytes read from clients.", status.throughput.net_input_bytes_total as f64);
    e.single("kiwi_net_output_bytes_total", "counter", "Bytes written to clients.", status.throughput.net_output_bytes_total as f64);

    // Keys.
    let keys: Vec<Sample> = status.keys.per_db.iter().map(|d| (label("db", d.db), d.keys as f64)).collect();
    e.family("kiwi_keys", "gauge", "Live keys per database (databases holding keys).", &keys);
    e.single("kiwi_expired_keys_total", "counter", "Keys removed by expiry.", status.keys.expired_total as f64);
    e.single("kiwi_evicted_keys_total", "counter", "Keys evicted for memory (Kiwi does not evict: always 0).", status.keys.evicted_total as f64);

    // Runtimes.
    let r = &status.runtimes;
    let runtime = |v: f64, w: f64| vec![(label("runtime", "network"), v), (label("runtime", "storage"), w)];
    e.family("kiwi_runtime_threads", "gauge", "Worker threads per runtime.", &runtime(r.network_threads as f64, r.storage_threads as f64));
    let net_busy = s.network.in_flight.load(Ordering::Relaxed) as f64;
    e.family("kiwi_runtime_busy_workers", "gauge", "Work being executed now: pipelines in flight (network), jobs running (storage).", &runtime(net_busy, r.storage_busy_workers as f64));
    e.family("kiwi_runtime_queue_depth", "gauge", "Jobs waiting for the runtime.", &[(label("runtime", "storage"), r.storage_queue_depth as f64)]);
    e.family("kiwi_runtime_queue_capacity", "gauge", "Capacity of the runtime's queue.", &[(label("runtime", "storage"), r.storage_queue_capacity as f64)]);
    e.family("kiwi_runtime_queue_full_total", "counter", "Times work arrived at a full queue (backpressure engaged).", &[(label("runtime", "storage"), load(&s.storage.saturated))]);
    e.family("kiwi_runtime_errors_total", "counter", "Commands that ended in an error reply, per runtime.", &runtime(load(&s.network.errors), load(&s.storage.errors)));
    e.single("kiwi_storage_breaker_open", "gauge", "1 while the storage circuit breaker refuses writes.", if r.breaker.state == "open" { 1.0 } else { 0.0 });
    e.single("kiwi_storage_breaker_trips_total", "counter", "Times the storage circuit breaker opened.", r.breaker.trips_total as f64);

    // RocksDB and the process.
    let st = &status.storage;
    e.single("kiwi_rocksdb_memtable_bytes", "gauge", "Memory used by memtables.", st.memtable_bytes as f64);
    e.single("kiwi_rocksdb_block_cache_bytes", "gauge", "Memory used by the block cache (memtables are charged to it).", st.block_cache_bytes as f64);
    e.single("kiwi_rocksdb_pending_compaction_bytes", "gauge", "Estimated bytes compaction still has to rewrite.", st.pending_compaction_bytes as f64);
    e.single("kiwi_rocksdb_write_stalls_total", "counter", "Times RocksDB delayed or stopped writes.", st.write_stalls_total as f64);
    e.single("kiwi_rocksdb_sst_bytes", "gauge", "Size of the SST files.", st.sst_bytes as f64);
    e.single("kiwi_rocksdb_wal_bytes", "gauge", "Size of the write-ahead log files.", st.wal_bytes as f64);
    e.single("kiwi_disk_used_bytes", "gauge", "Size of everything in the data directory.", st.disk_used_bytes as f64);
    e.single("kiwi_memory_budget_bytes", "gauge", "The memory option: budget of block cache and memtables.", status.memory.budget_bytes as f64);
    e.single("kiwi_process_resident_memory_bytes", "gauge", "Resident set size of the process.", status.memory.rss_bytes as f64);
    if let Some((user, system)) = crate::sys::cpu_seconds() {
        e.family("kiwi_process_cpu_seconds_total", "counter", "CPU time used by the process.", &[(label("mode", "user"), user), (label("mode", "system"), system)]);
    }

    if let Some(raft) = &status.raft {
        render_raft(&mut e, raft);
    }
    e.out
}

/// Raft families, present only in cluster mode.
fn render_raft(e: &mut Exposition, raft: &super::status::RaftStatus) {
    let roles = ["leader", "follower", "candidate", "learner", "shutdown"];
    let role: Vec<Sample> = roles
        .iter()
        .map(|r| (label("role", r), if raft.role == *r { 1.0 } else { 0.0 }))
        .collect();
    e.family("kiwi_raft_role", "gauge", "1 for this node's current Raft role.", &role);
    e.single("kiwi_raft_term", "gauge", "Current Raft term.", raft.term as f64);
    e.single("kiwi_raft_has_leader", "gauge", "1 when this node knows a leader.", if raft.leader_id.is_some() { 1.0 } else { 0.0 });
    for (name, help, value) in [
        ("kiwi_raft_last_log_index", "Index of the last Raft log entry.", raft.last_log_index),
        ("kiwi_raft_committed_index", "Highest Raft log index known committed.", raft.committed),
        ("kiwi_raft_applied_index", "Highest Raft log index applied to the state machine.", raft.applied),
        ("kiwi_raft_snapshot_index", "Raft log index of the latest snapshot.", raft.snapshot_index),
        ("kiwi_raft_purged_index", "Highest Raft log index purged.", raft.purged_index),
    ] {
        if let Some(v) = value {
            e.single(name, "gauge", help, v as f64);
        }
    }
    e.single("kiwi_raft_elections_total", "counter", "Elections this node started.", raft.elections_total as f64);
    e.single("kiwi_raft_snapshots_total", "counter", "Snapshots built or installed.", raft.snapshots_total as f64);
    let member = |m: &super::status::MemberStatus| label("member", m.id);
    let matched: Vec<Sample> = raft.members.iter().filter_map(|m| m.matched_index.map(|v| (member(m), v as f64))).collect();
    e.family("kiwi_raft_member_matched_index", "gauge", "Last log index known replicated to each member (leader only).", &matched);
    let lag: Vec<Sample> = raft.members.iter().filter_map(|m| m.lag.map(|v| (member(m), v as f64))).collect();
    e.family("kiwi_raft_member_lag_entries", "gauge", "Log entries each member is behind the leader (leader only).", &lag);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_labels_follow_the_text_format() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.000001), "0.000001");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut e = Exposition::default();
        e.family("kiwi_x_total", "counter", "X.", &[]);
        assert_eq!(e.out, "");
        e.family("kiwi_x_total", "counter", "X.", &[(label("db", 0), 2.0)]);
        assert_eq!(e.out, "# HELP kiwi_x_total X.\n# TYPE kiwi_x_total counter\nkiwi_x_total{db=\"0\"} 2\n");
    }
}
