//! What travels through the Raft log and between nodes.

use std::fmt;
use std::path::PathBuf;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::resp::{Frame, Protocol};
pub use crate::storage::watch::WatchGuard;

openraft::declare_raft_types!(
    /// Kiwi's Raft: commands in the log, RocksDB checkpoints as snapshots.
    pub TypeConfig:
        D = Proposal,
        R = Applied,
        NodeId = u64,
        Node = NodeAddr,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = SnapshotDir,
        Responder = openraft::impls::OneshotResponder<TypeConfig>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The id of a log entry.
pub type LogId = openraft::LogId<u64>;
/// Membership as recorded by the state machine.
pub type StoredMembership = openraft::StoredMembership<u64, NodeAddr>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::SnapshotMeta<u64, NodeAddr>;
/// The Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;

/// Where a member listens: its admin port (Raft RPC, cluster control) and its RESP port (what
/// clients are redirected to).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddr {
    pub admin_addr: String,
    pub resp_addr: String,
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "admin={} resp={}", self.admin_addr, self.resp_addr)
    }
}

/// One client command in a log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicatedCommand {
    pub db: u32,
    pub args: Vec<Bytes>,
}

impl ReplicatedCommand {
    /// Bytes the command takes in a log entry, framing included (an estimate that never
    /// undercounts by much: what the entry-size limits compare against).
    pub fn size(&self) -> usize {
        self.args.iter().map(|a| a.len() + 16).sum::<usize>() + 8
    }
}

/// One log entry's payload: the pipelines (or whole MULTI/EXECs) of every client whose writes
/// were waiting when the entry was proposed — group commit — with the leader's clock and a random
/// seed so that every node applies them identically.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Proposal {
    pub clock_ms: u64,
    pub seed: u64,
    /// The leader's settings that shape what commands write (stream node sizes).
    pub settings: crate::util::EntrySettings,
    pub groups: Vec<ClientGroup>,
}

/// Names a forwarded pipeline across resends. A follower that lost its connection to the leader
/// sends the pipeline again under the same id; the state machine runs an id once and answers a
/// later copy with the replies it kept, so a resend can never apply a write twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u128);

impl RequestId {
    /// A fresh random id (128 bits: collisions are out of the question).
    pub fn random() -> RequestId {
        RequestId(rand::random())
    }
}

/// One client's pipeline within an entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientGroup {
    /// Set for pipelines forwarded by a follower, which may be sent more than once; `None` for
    /// the leader's own clients, whose pipelines are proposed once (openraft refuses, and never
    /// applies, an entry it answers `ForwardToLeader` for).
    pub request: Option<RequestId>,
    /// The client's protocol, so the leader's apply produces the replies the client expects.
    pub proto: Protocol,
    pub commands: Vec<ReplicatedCommand>,
    /// A transaction's WATCHed keys: the group is skipped (EXEC answers nil) unless they all
    /// still hold what they held when watched.
    pub guards: Vec<WatchGuard>,
    /// The ACL user who sent it: the commands a script calls are checked against this user
    /// where the script runs, at apply.
    pub user: String,
}

impl ClientGroup {
    /// Bytes the group takes in a log entry.
    pub fn size(&self) -> usize {
        self.commands.iter().map(ReplicatedCommand::size).sum()
    }
}

/// The replies each group's commands produced when the leader applied the entry; `None` for a
/// transaction skipped because a watched key had changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Applied {
    pub replies: Vec<Option<Vec<Frame>>>,
}

/// A snapshot on disk: a directory holding a RocksDB checkpoint.
#[derive(Debug, Clone, Default)]
pub struct SnapshotDir {
    pub path: PathBuf,
}

/// A pipeline a follower hands to the leader (plain clients talk to any node).
#[derive(Debug, Serialize, Deserialize)]
pub struct ForwardRequest {
    /// The same for every resend of this pipeline.
    pub request: RequestId,
    pub proto: Protocol,
    /// EXEC: run the commands as one transaction.
    pub transaction: bool,
    pub commands: Vec<ReplicatedCommand>,
    /// The transaction's WATCHed keys.
    pub guards: Vec<WatchGuard>,
    /// The ACL user of the client that sent it.
    pub user: String,
}

/// The leader's answer to a forwarded pipeline: its replies (`None` when a transaction aborted),
/// or an error for every command, which says whether the pipeline was certainly not applied.
#[derive(Debug, Serialize, Deserialize)]
pub enum ForwardReply {
    Replies(Option<Vec<Frame>>),
    /// Not applied (no leader, queue full, too large...): the text is the client's error.
    Refused(String),
    /// Perhaps applied: the follower may send the same request again to learn the outcome.
    Unknown(String),
}
