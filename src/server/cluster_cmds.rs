//! The Redis Cluster protocol, as far as cluster-aware clients need it: one shard owns all 16384
//! slots, its master is the Raft leader and its replicas are the followers. Clients that ask for
//! the topology (CLUSTER SLOTS/SHARDS/NODES) are answered `MOVED` by followers afterwards, and so
//! follow the leader through failovers; plain clients are forwarded instead.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::connection::Connection;
use crate::admin::status::RaftStatus;
use crate::error::ReplyError;
use crate::raft::RaftNode;
use crate::resp::Frame;
use crate::util::slot::{key_slot, SLOTS};

type Reply = Option<Frame>;

/// A member as the cluster protocol shows it.
struct Member {
    id: u64,
    ip: String,
    port: u16,
    admin_port: u16,
    leader: bool,
}

/// CLUSTER HELP: the subcommands Kiwi has, in Redis's words.
const CLUSTER_HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "HELP",
    "    Print this help.",
];

/// What a non-cluster Redis answers every cluster command with.
fn cluster_disabled() -> Frame {
    ReplyError::custom("ERR This instance has cluster support disabled").into()
}

/// The 40-hex-digit node name cluster clients expect, derived from the Raft id.
pub fn node_name(id: u64) -> String {
    format!("{id:040x}")
}

fn members(node: &RaftNode) -> (Vec<Member>, RaftStatus) {
    let status = node.status();
    let split = |addr: &str| {
        let (ip, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
        (ip.to_string(), port.parse::<u16>().unwrap_or(0))
    };
    let mut list: Vec<Member> = status
        .members
        .iter()
        .map(|m| {
            let (ip, port) = split(&m.resp_addr);
            Member {
                id: m.id,
                ip,
                port,
                admin_port: split(&m.admin_addr).1,
                leader: status.leader_id == Some(m.id),
            }
        })
        .collect();
    // The master first: clients take the first entry of a slot range as its master.
    list.sort_by_key(|m| (!m.leader, m.id));
    (list, status)
}

/// Rows examined per storage read while counting a slot's keys.
const SLOT_SCAN_PAGE: usize = 1024;

/// CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT: subcommands that read the keyspace.
pub(super) fn reads_keys(args: &[Bytes]) -> bool {
    args.get(1).is_some_and(|sub| {
        sub.eq_ignore_ascii_case(b"countkeysinslot") || sub.eq_ignore_ascii_case(b"getkeysinslot")
    })
}

/// The live keys of `db` in `slot` (at most `limit` of them returned) and how many there are.
/// One shard owns every slot, so kiwi keeps no per-slot index: this walks the whole database.
fn keys_in_slot(
    storage: &crate::storage::Storage,
    db: usize,
    slot: u16,
    limit: usize,
) -> Result<(usize, Vec<Bytes>), ReplyError> {
    let now = crate::util::now_ms();
    let (mut count, mut keys) = (0, Vec::new());
    let mut after: Option<Bytes> = None;
    loop {
        let (rows, next) = storage.scan(db, after.as_deref(), SLOT_SCAN_PAGE, now)?;
        for (key, _) in rows {
            if key_slot(&key) == slot {
                count += 1;
                if keys.len() < limit {
                    keys.push(key);
                }
            }
        }
        match next {
            Some(next) => after = Some(next),
            None => return Ok((count, keys)),
        }
    }
}

impl Connection {
    /// CLUSTER COUNTKEYSINSLOT slot / GETKEYSINSLOT slot count, answered from this node's own
    /// data (as a Redis replica answers from its own), off the network threads.
    pub(super) async fn cluster_slot_keys(&self, args: &[Bytes]) -> Frame {
        if self.state.cluster.get().is_none() {
            return cluster_disabled();
        }
        let counting = args[1].eq_ignore_ascii_case(b"countkeysinslot");
        let parsed = (|| {
            let slot = crate::cmd::arg_i64(&args[2])?;
            if counting {
                return match u16::try_from(slot) {
                    Ok(slot) if slot < SLOTS => Ok((slot, 0)),
                    _ => Err(ReplyError::custom("ERR Invalid slot")),
                };
            }
            let limit = crate::cmd::arg_i64(&args[3])?;
            match (u16::try_from(slot), usize::try_from(limit)) {
                (Ok(slot), Ok(limit)) if slot < SLOTS => Ok((slot, limit)),
                _ => Err(ReplyError::custom("ERR Invalid slot or number of keys")),
            }
        })();
        let (slot, limit) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => return e.into(),
        };
        let state = self.state.clone();
        let db = self.db;
        let found =
            tokio::task::spawn_blocking(move || keys_in_slot(&state.storage, db, slot, limit))
                .await
                .unwrap_or_else(|e| Err(ReplyError::custom(format!("ERR {e}"))));
        match found {
            Ok((count, _)) if counting => Frame::Integer(count as i64),
            Ok((_, keys)) => Frame::Array(keys.into_iter().map(Frame::Bulk).collect()),
            Err(e) => e.into(),
        }
    }

    /// CLUSTER subcommands.
    pub(super) fn cluster_command(&mut self, args: &[Bytes]) -> Reply {
        let Some(node) = self.state.cluster.get().cloned() else {
            return Some(cluster_disabled());
        };
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        let reply = match sub.as_str() {
            "info" => Ok(self.cluster_info(&node)),
            "myid" => Ok(Frame::bulk(node_name(node.id))),
            "nodes" => {
                self.client.cluster_aware.store(true, Ordering::Relaxed);
                Ok(Frame::Verbatim(Bytes::from(cluster_nodes(&node))))
            }
            "slots" => {
                self.client.cluster_aware.store(true, Ordering::Relaxed);
                Ok(cluster_slots(&node))
            }
            "shards" => {
                self.client.cluster_aware.store(true, Ordering::Relaxed);
                Ok(cluster_shards(&node))
            }
            "keyslot" => Ok(Frame::Integer(key_slot(&args[2]) as i64)),
            "help" => Ok(Frame::Array(
                CLUSTER_HELP
                    .iter()
                    .map(|line| Frame::Simple(Bytes::from_static(line.as_bytes())))
                    .collect(),
            )),
            _ => Err(ReplyError::custom(format!(
                "ERR unknown subcommand '{}'. Try CLUSTER HELP.",
                String::from_utf8_lossy(&args[1])
            ))),
        };
        Some(reply.unwrap_or_else(Frame::from))
    }

    fn cluster_info(&self, node: &Arc<RaftNode>) -> Frame {
        let (list, status) = members(node);
        let term = status.term;
        let ok = list.iter().any(|m| m.leader);
        let lines = [
            "cluster_enabled:1".to_string(),
            format!("cluster_state:{}", if ok { "ok" } else { "fail" }),
            format!("cluster_slots_assigned:{SLOTS}"),
            format!("cluster_slots_ok:{}", if ok { SLOTS } else { 0 }),
            "cluster_slots_pfail:0".into(),
            format!("cluster_slots_fail:{}", if ok { 0 } else { SLOTS }),
            format!("cluster_known_nodes:{}", list.len()),
            "cluster_size:1".into(),
            format!("cluster_current_epoch:{term}"),
            format!("cluster_my_epoch:{term}"),
        ];
        Frame::Verbatim(Bytes::from(lines.join("\r\n") + "\r\n"))
    }

    /// READONLY / READWRITE: whether reads may be served from this node's own data.
    pub(super) fn readonly_command(&mut self, readonly: bool) -> Reply {
        if self.state.cluster.get().is_none() {
            return Some(cluster_disabled());
        }
        self.client.readonly.store(readonly, Ordering::Relaxed);
        Some(Frame::ok())
    }

    /// ASKING: one shard owns every slot, so there is never an ASK to honour; as in Redis it is
    /// refused without cluster mode.
    pub(super) fn asking(&self) -> Reply {
        if self.state.cluster.get().is_none() {
            return Some(cluster_disabled());
        }
        Some(Frame::ok())
    }

    /// The `MOVED` redirection for a command sent to a follower by a cluster-aware client, or
    /// `None` when the command should simply be forwarded.
    pub(super) fn moved(&self, args: &[Bytes], key_index: Option<usize>) -> Option<Frame> {
        if !self.client.cluster_aware.load(Ordering::Relaxed) {
            return None;
        }
        let node = self.state.cluster.get()?;
        let key = args.get(key_index?)?;
        let metrics = node.raft.metrics().borrow().clone();
        let leader = metrics.current_leader?;
        if leader == node.id {
            return None;
        }
        let addr = metrics
            .membership_config
            .membership()
            .get_node(&leader)?
            .resp_addr
            .clone();
        Some(ReplyError::custom(format!("MOVED {} {addr}", key_slot(key))).into())
    }
}

fn cluster_nodes(node: &RaftNode) -> String {
    let (list, status) = members(node);
    let term = status.term;
    let leader = list.iter().find(|m| m.leader).map(|m| node_name(m.id));
    let mut out = String::new();
    for m in &list {
        let mut flags = Vec::new();
        if m.id == node.id {
            flags.push("myself");
        }
        flags.push(if m.leader { "master" } else { "slave" });
        let master = if m.leader {
            "-".to_string()
        } else {
            leader.clone().unwrap_or_else(|| "-".into())
        };
        let slots = if m.leader { " 0-16383" } else { "" };
        out.push_str(&format!(
            "{} {}:{}@{} {} {master} 0 0 {term} connected{slots}\n",
            node_name(m.id),
            m.ip,
            m.port,
            m.admin_port,
            flags.join(",")
        ));
    }
    out
}

fn node_entry(m: &Member) -> Frame {
    Frame::Array(vec![
        Frame::bulk(m.ip.clone()),
        Frame::Integer(m.port as i64),
        Frame::bulk(node_name(m.id)),
        Frame::Array(vec![]),
    ])
}

fn cluster_slots(node: &RaftNode) -> Frame {
    let (list, _) = members(node);
    if !list.iter().any(|m| m.leader) {
        return Frame::Array(vec![]);
    }
    let mut range = vec![Frame::Integer(0), Frame::Integer(SLOTS as i64 - 1)];
    range.extend(list.iter().map(node_entry));
    Frame::Array(vec![Frame::Array(range)])
}

fn cluster_shards(node: &RaftNode) -> Frame {
    let (list, status) = members(node);
    let applied = status.applied.unwrap_or(0) as i64;
    let nodes = list
        .iter()
        .map(|m| {
            Frame::Map(vec![
                (Frame::bulk("id"), Frame::bulk(node_name(m.id))),
                (Frame::bulk("port"), Frame::Integer(m.port as i64)),
                (Frame::bulk("ip"), Frame::bulk(m.ip.clone())),
                (Frame::bulk("endpoint"), Frame::bulk(m.ip.clone())),
                (
                    Frame::bulk("role"),
                    Frame::bulk(if m.leader { "master" } else { "replica" }),
                ),
                (Frame::bulk("replication-offset"), Frame::Integer(applied)),
                (Frame::bulk("health"), Frame::bulk("online")),
            ])
        })
        .collect();
    Frame::Array(vec![Frame::Map(vec![
        (
            Frame::bulk("slots"),
            Frame::Array(vec![Frame::Integer(0), Frame::Integer(SLOTS as i64 - 1)]),
        ),
        (Frame::bulk("nodes"), Frame::Array(nodes)),
    ])])
}
