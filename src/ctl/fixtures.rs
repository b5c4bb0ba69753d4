//! Status documents for unit tests of `cluster` and `top`: one node of a three-node cluster (or a
//! single node), with counters proportional to a time step so rates are known in advance.

use serde_json::json;

use crate::admin::status::Status;

/// A status document of node `id` (`0` = single-node) whose counters are scaled by `t`, so two
/// documents with different `t` differ by known rates.
pub fn status(id: u64, t: u64, members: &[(u64, &str, Option<u64>)]) -> Status {
    let raft = (id > 0).then(|| {
        json!({
            "node_id": id,
            "role": if id == 1 { "leader" } else { "follower" },
            "term": 3,
            "leader_id": 1,
            "leader_resp_addr": "127.0.0.1:7001",
            "last_log_index": 1000 + t * 10,
            "committed": 1000 + t * 10,
            "applied": 1000 + t * 10 - if id == 3 { 200 } else { 0 },
            "elections_total": 1,
            "snapshots_total": 0,
            "members": members.iter().map(|(mid, admin, lag)| json!({
                "id": mid,
                "admin_addr": admin,
                "resp_addr": format!("127.0.0.1:700{mid}"),
                "voter": *mid != 4,
                "matched_index": lag.map(|l| 1000 + t * 10 - l),
                "lag": lag,
            })).collect::<Vec<_>>(),
        })
    });
    let doc = json!({
        "version": 1,
        "server": {
            "version": "0.1.0", "node": format!("run-{id}"), "uptime_secs": 3725 + t,
            "mode": if id > 0 { "cluster" } else { "single-node" },
            "resp_addr": format!("127.0.0.1:700{}", id.max(1)),
            "admin_addr": format!("127.0.0.1:800{}", id.max(1)), "pid": 42,
        },
        "clients": { "connected": 12, "blocked": 1, "max": 10000 },
        "memory": { "rss_bytes": 300u64 << 20, "budget_bytes": 1u64 << 30 },
        "keys": { "per_db": [{ "db": 0, "keys": 123456 }], "total": 123456, "expired_total": 5, "evicted_total": 0 },
        "throughput": {
            "commands_total": 12000 * t, "reads_total": 8000 * t, "writes_total": 4000 * t,
            "net_input_bytes_total": 1_048_576 * t, "net_output_bytes_total": 2_097_152 * t,
        },
        "commands": [
            { "name": "get", "calls": 8000 * t, "failed": 0, "usec_total": 0, "p50_us": 45, "p99_us": 310, "p999_us": 1200 },
            { "name": "set", "calls": 3990 * t, "failed": 0, "usec_total": 0, "p50_us": 80, "p99_us": 950, "p999_us": 4100 },
            { "name": "incr", "calls": 10 * t, "failed": t, "usec_total": 0, "p50_us": 60, "p99_us": 2500, "p999_us": 2500 },
        ],
        "runtimes": {
            "network_threads": 4, "storage_threads": 4, "storage_queue_depth": 3,
            "storage_queue_capacity": 1024, "storage_busy_workers": 2,
            "breaker": { "state": "closed", "reason": null, "trips_total": 0 },
        },
        "storage": {
            "memtable_bytes": 64u64 << 20, "block_cache_bytes": 200u64 << 20,
            "pending_compaction_bytes": 0, "write_stalls_total": 0,
            "sst_bytes": 5u64 << 30, "wal_bytes": 32u64 << 20, "disk_used_bytes": 6u64 << 30,
        },
        "raft": raft,
    });
    serde_json::from_value(doc).expect("fixture matches the status schema")
}

pub const MEMBERS: [(u64, &str, Option<u64>); 3] = [
    (1, "n1:8001", Some(0)),
    (2, "n2:8002", Some(3)),
    (3, "n3:8003", Some(200)),
];
