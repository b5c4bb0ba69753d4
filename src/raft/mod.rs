//! Cluster mode: one Raft group (openraft) replicating the whole keyspace.
//!
//! - [`log_store`]: the Raft log, vote and commit index in their own RocksDB, group-fsynced;
//! - [`state_machine`]: committed entries applied as commands to the data, with the applied
//!   position in the same WriteBatch; snapshots are RocksDB checkpoints;
//! - [`network`] / [`http`]: Raft RPC over the admin port, snapshots streamed in chunks;
//! - [`node`]: the request path — proposals, ReadIndex reads, forwarding from followers.

// openraft's traits fix the error type (`StorageError`, ~224 bytes) for every storage function.
#![allow(clippy::result_large_err)]

pub mod archive;
pub mod http;
pub mod log_store;
pub mod network;
pub mod node;
pub mod state_machine;
pub mod types;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::state::ServerState;
pub use node::RaftNode;
use types::{NodeAddr, Raft};

/// How this node joins the cluster at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// `--init-cluster`: become a one-node cluster unless this node already has Raft state.
    Initialize,
    /// Wait to be added by the leader (or resume as a member after a restart).
    Join,
}

/// This node's addresses as other nodes and clients should use them.
pub fn own_address(state: &ServerState, admin_port: u16) -> NodeAddr {
    let config = state.config();
    let admin_port = match config.cluster_announce_admin_port {
        0 => admin_port,
        announced => announced,
    };
    NodeAddr {
        admin_addr: format!("{}:{admin_port}", config.cluster_announce_ip),
        resp_addr: format!("{}:{}", config.cluster_announce_ip, state.port),
    }
}

/// Opens the Raft log and state machine under `dir` and starts Raft on the current runtime.
pub async fn start(
    state: Arc<ServerState>,
    id: u64,
    me: NodeAddr,
    bootstrap: Bootstrap,
) -> anyhow::Result<Arc<RaftNode>> {
    let (config, secret, dir, max_entry) = {
        let c = state.config();
        let config = openraft::Config {
            cluster_name: "kiwi".into(),
            heartbeat_interval: c.raft_heartbeat_interval,
            election_timeout_min: c.raft_election_timeout,
            // openraft 0.9 adds a leader lease as long as the longest timeout before a follower
            // may campaign: a narrow range keeps failover near 2.5–3 election timeouts.
            election_timeout_max: c.raft_election_timeout + c.raft_election_timeout / 2,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(c.raft_snapshot_logs),
            max_in_snapshot_log_to_keep: c.raft_logs_kept,
            // Entries carry whole pipelines; keep each append RPC to a sane size.
            max_payload_entries: 256,
            install_snapshot_timeout: 10 * c.raft_election_timeout,
            purge_batch_size: 256,
            ..Default::default()
        };
        let max_entry = usize::try_from(c.raft_max_entry_size.0).unwrap_or(usize::MAX);
        (config, c.cluster_secret.clone(), c.dir.clone(), max_entry)
    };
    if secret.is_empty() {
        anyhow::bail!("cluster mode needs `cluster-secret` (the same on every node)");
    }
    let config = Arc::new(config.validate().context("raft configuration")?);
    let dir = Path::new(&dir);
    let log = log_store::LogStore::open(&dir.join("raft-log")).context("open the raft log")?;
    let machine = state_machine::StateMachine::open(state.clone(), &dir.join("raft-snapshots"))
        .context("open the raft state machine")?;
    let shared = machine.shared.clone();
    let network = network::Network::new(secret, max_entry);
    let raft = Raft::new(id, config, network.clone(), log, machine)
        .await
        .context("start raft")?;
    if bootstrap == Bootstrap::Initialize {
        // Idempotent: a node that already holds a log or a vote keeps its state.
        if raft.is_initialized().await.context("raft state")? {
            tracing::info!(id, "raft state found; --init-cluster leaves it as it is");
        } else {
            raft.initialize(BTreeMap::from([(id, me.clone())]))
                .await
                .context("initialize the cluster")?;
            tracing::info!(id, addr = %me, "initialized a new one-node cluster");
        }
    }
    Ok(RaftNode::new(id, raft, shared, network))
}
