//! The `/v1/status` document: one JSON snapshot of everything `kiwictl top` shows.
//!
//! These types are a contract between a node and the tools that read it (kiwictl, dashboards),
//! possibly of different versions. Field names never change once released; new fields are only
//! added, with `#[serde(default)]` so a newer reader still accepts an older node's document.
//! Counters are monotonic totals since start: readers compute rates from two samples, so a
//! reader's polling interval never distorts what it shows.

use serde::{Deserialize, Serialize};

/// Version of this document's schema; bumped only for an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole status document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    /// Schema version ([`SCHEMA_VERSION`]), so a reader can refuse what it cannot understand.
    pub version: u32,
    pub server: ServerInfo,
    pub clients: ClientsStatus,
    pub memory: MemoryStatus,
    pub keys: KeysStatus,
    pub throughput: Throughput,
    /// Commands called at least once since start, in command-table order.
    #[serde(default)]
    pub commands: Vec<CommandStatus>,
    pub runtimes: RuntimesStatus,
    pub storage: StorageStatus,
    /// Raft state; `None` (JSON `null`) in single-node mode.
    #[serde(default)]
    pub raft: Option<RaftStatus>,
}

/// Identity and addresses of the node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Kiwi's version (the crate version), not the Redis compatibility version.
    pub version: String,
    /// Run id of this process (INFO `run_id`): changes on every restart.
    pub node: String,
    pub uptime_secs: u64,
    /// `single-node` or `cluster`.
    pub mode: String,
    /// `host:port` of the RESP listener.
    pub resp_addr: String,
    /// `host:port` of the admin HTTP listener.
    pub admin_addr: String,
    pub pid: u32,
}

/// Client connections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientsStatus {
    pub connected: u64,
    /// Waiting in a blocking command (BLPOP and friends).
    pub blocked: u64,
    /// `maxclients`.
    pub max: u64,
}

/// Process memory against the configured budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryStatus {
    pub rss_bytes: u64,
    /// The `memory` option: what block cache and memtables may use together.
    pub budget_bytes: u64,
}

/// Key counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeysStatus {
    /// Databases holding at least one key.
    #[serde(default)]
    pub per_db: Vec<DbKeys>,
    pub total: u64,
    pub expired_total: u64,
    /// Always 0 today (Kiwi does not evict), kept so dashboards need no special case later.
    pub evicted_total: u64,
}

/// Key count of one database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DbKeys {
    pub db: u32,
    pub keys: u64,
}

/// Work done since start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Throughput {
    pub commands_total: u64,
    /// Calls of read-only commands.
    pub reads_total: u64,
    /// Calls of commands flagged `write`.
    pub writes_total: u64,
    pub net_input_bytes_total: u64,
    pub net_output_bytes_total: u64,
}

/// Counters and latency of one command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandStatus {
    /// Lower-case command name, as in `INFO commandstats`.
    pub name: String,
    pub calls: u64,
    /// Calls answered with an error.
    pub failed: u64,
    /// Microseconds spent executing, summed over all calls.
    pub usec_total: u64,
    /// Latency quantiles estimated from histogram buckets (upper bound of the bucket).
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
}

/// The two runtimes and the channel between them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimesStatus {
    pub network_threads: u64,
    pub storage_threads: u64,
    /// Jobs waiting in the channel right now.
    pub storage_queue_depth: u64,
    pub storage_queue_capacity: u64,
    /// Storage threads executing a job right now.
    pub storage_busy_workers: u64,
    pub breaker: BreakerStatus,
}

/// The storage circuit breaker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BreakerStatus {
    /// `closed` or `open`.
    pub state: String,
    /// Why it opened; `None` while closed.
    #[serde(default)]
    pub reason: Option<String>,
    pub trips_total: u64,
}

/// RocksDB's view of its memory and disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageStatus {
    pub memtable_bytes: u64,
    pub block_cache_bytes: u64,
    pub pending_compaction_bytes: u64,
    /// Times writes were stopped or slowed by RocksDB since start.
    pub write_stalls_total: u64,
    pub sst_bytes: u64,
    pub wal_bytes: u64,
    /// Everything under the data directory.
    pub disk_used_bytes: u64,
}

/// Raft state of this node (cluster mode only); filled by the Raft layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RaftStatus {
    pub node_id: u64,
    /// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub role: String,
    pub term: u64,
    #[serde(default)]
    pub leader_id: Option<u64>,
    #[serde(default)]
    pub leader_resp_addr: Option<String>,
    #[serde(default)]
    pub last_log_index: Option<u64>,
    #[serde(default)]
    pub committed: Option<u64>,
    #[serde(default)]
    pub applied: Option<u64>,
    #[serde(default)]
    pub snapshot_index: Option<u64>,
    #[serde(default)]
    pub purged_index: Option<u64>,
    pub elections_total: u64,
    pub snapshots_total: u64,
    #[serde(default)]
    pub members: Vec<MemberStatus>,
}

/// One member of the Raft group as this node sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberStatus {
    pub id: u64,
    pub admin_addr: String,
    pub resp_addr: String,
    /// False for a learner.
    pub voter: bool,
    /// Last log index known replicated to it (known on the leader only).
    #[serde(default)]
    pub matched_index: Option<u64>,
    /// How many entries it is behind the leader's last log index (leader only).
    #[serde(default)]
    pub lag: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document without the optional parts, as an older or minimal node may send it.
    const MINIMAL: &str = r#"{
        "version": 1,
        "server": {"version": "0.1.0", "node": "n", "uptime_secs": 1, "mode": "single-node",
                   "resp_addr": "127.0.0.1:7379", "admin_addr": "127.0.0.1:7380", "pid": 1},
        "clients": {"connected": 0, "blocked": 0, "max": 1},
        "memory": {"rss_bytes": 0, "budget_bytes": 0},
        "keys": {"total": 0, "expired_total": 0, "evicted_total": 0},
        "throughput": {"commands_total": 0, "reads_total": 0, "writes_total": 0,
                       "net_input_bytes_total": 0, "net_output_bytes_total": 0},
        "runtimes": {"network_threads": 1, "storage_threads": 1, "storage_queue_depth": 0,
                     "storage_queue_capacity": 1, "storage_busy_workers": 0,
                     "breaker": {"state": "closed", "trips_total": 0}},
        "storage": {"memtable_bytes": 0, "block_cache_bytes": 0, "pending_compaction_bytes": 0,
                    "write_stalls_total": 0, "sst_bytes": 0, "wal_bytes": 0,
                    "disk_used_bytes": 0},
        "a_field_from_the_future": true
    }"#;

    #[test]
    fn optional_parts_default_and_unknown_fields_are_ignored() {
        let status: Status = serde_json::from_str(MINIMAL).expect("minimal document");
        assert!(status.commands.is_empty() && status.keys.per_db.is_empty());
        assert!(status.raft.is_none() && status.runtimes.breaker.reason.is_none());
    }

    #[test]
    fn raft_part_round_trips() {
        let mut status: Status = serde_json::from_str(MINIMAL).expect("minimal document");
        status.raft = Some(RaftStatus {
            node_id: 1,
            role: "follower".into(),
            term: 3,
            leader_id: Some(2),
            leader_resp_addr: Some("10.0.0.2:7379".into()),
            last_log_index: Some(10),
            committed: Some(10),
            applied: Some(9),
            snapshot_index: None,
            purged_index: None,
            elections_total: 0,
            snapshots_total: 1,
            members: vec![MemberStatus {
                id: 2,
                admin_addr: "10.0.0.2:7380".into(),
                resp_addr: "10.0.0.2:7379".into(),
                voter: true,
                matched_index: None,
                lag: None,
            }],
        });
        let text = serde_json::to_string(&status).expect("serialize");
        let back: Status = serde_json::from_str(&text).expect("deserialize");
        let raft = back.raft.expect("raft part");
        assert_eq!((raft.role.as_str(), raft.leader_id), ("follower", Some(2)));
        assert_eq!(raft.members[0].admin_addr, "10.0.0.2:7380");
    }
}
