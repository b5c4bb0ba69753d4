//! A cluster member's request path: writes become proposals on the leader, reads are confirmed by
//! the leader (ReadIndex), and a follower hands whole pipelines to the leader.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::network::{CallError, Network};
use super::state_machine::Shared;
use super::types::{
    ClientGroup, ForwardReply, ForwardRequest, NodeAddr, Proposal, Raft, ReplicatedCommand,
    RequestId, WatchGuard,
};
use crate::admin::status::{MemberStatus, RaftStatus};
use crate::error::ReplyError;
use crate::resp::{Frame, Protocol};
use crate::runtime::{QueuedCommand, StorageClient, Transaction};
use crate::state::clients::ClientHandle;
use crate::storage::disk::DiskFullRestart;

/// One member of the cluster, as the rest of the server sees it.
pub struct RaftNode {
    pub id: u64,
    pub raft: Raft,
    pub machine: Arc<Shared>,
    pub network: Network,
    /// Runs reads (and forwarded pipelines) on this node's storage runtime; set once it starts.
    pub local: OnceLock<StorageClient>,
    /// Pipelines waiting for the next log entry (bounded: beyond it writes fail fast).
    queue: mpsc::Sender<Pending>,
    /// Read barrier: arrivals counted, and the highest arrival a leadership check has covered.
    reads_requested: AtomicU64,
    reads_confirmed: AtomicU64,
    read_round: tokio::sync::Mutex<()>,
    /// The client that pipelines forwarded by followers run as (`raft` in the slow log).
    pub forwarded: Arc<ClientHandle>,
    /// Elections this node has seen (term changes).
    pub elections_total: AtomicU64,
    /// `raft-max-entry-size`: the most bytes of writes one log entry carries.
    entry_limit: usize,
}

/// Where a command must go.
enum Route {
    Leader,
    Forward(NodeAddr),
}

impl RaftNode {
    /// Wraps a started Raft instance.
    pub fn new(id: u64, raft: Raft, machine: Arc<Shared>, network: Network) -> Arc<RaftNode> {
        let (pending, entry_limit) = {
            let config = machine.state.config();
            let limit = usize::try_from(config.raft_max_entry_size.0).unwrap_or(usize::MAX);
            (config.raft_max_pending_proposals, limit)
        };
        let (queue, waiting) = mpsc::channel(pending);
        let node = Arc::new(RaftNode {
            id,
            raft,
            machine,
            network,
            local: OnceLock::new(),
            queue,
            reads_requested: AtomicU64::new(0),
            reads_confirmed: AtomicU64::new(0),
            read_round: tokio::sync::Mutex::new(()),
            forwarded: ClientHandle::detached(),
            elections_total: AtomicU64::new(0),
            entry_limit,
        });
        let watcher = node.clone();
        tokio::spawn(async move { watcher.count_elections().await });
        tokio::spawn(restart_when_the_disk_has_room(
            node.raft.clone(),
            node.machine.clone(),
        ));
        tokio::spawn(propose_batches(Arc::downgrade(&node), waiting, entry_limit));
        node
    }

    async fn count_elections(self: Arc<Self>) {
        let mut metrics = self.raft.metrics();
        let mut term = metrics.borrow().current_term;
        while metrics.changed().await.is_ok() {
            let now = metrics.borrow().current_term;
            if now != term {
                term = now;
                self.elections_total.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn local(&self) -> Result<&StorageClient, ReplyError> {
        self.local
            .get()
            .ok_or_else(|| ReplyError::custom("ERR server is starting"))
    }

    /// The current leader, waiting up to two election timeouts for one to be elected.
    async fn route(&self) -> Result<Route, ReplyError> {
        let timeout = Duration::from_millis(2 * self.machine.state.config().raft_election_timeout);
        let mut metrics = self.raft.metrics();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let leader = named_leader(&metrics.borrow());
            match leader {
                Some((id, _)) if id == self.id => return Ok(Route::Leader),
                Some((_, Some(node))) => return Ok(Route::Forward(node)),
                _ => {}
            }
            if tokio::time::timeout_at(deadline, metrics.changed())
                .await
                .is_err()
            {
                return Err(no_leader());
            }
        }
    }

    /// Runs a pipeline (or a transaction) in cluster mode; `None` when a transaction aborted.
    /// `request` names a pipeline that may arrive more than once (forwarded by a follower): its
    /// writes are proposed under it, and the state machine runs it once.
    pub async fn submit(
        &self,
        commands: Vec<QueuedCommand>,
        proto: Protocol,
        client: &Arc<ClientHandle>,
        transaction: Option<Transaction>,
        stale_ok: bool,
        request: Option<RequestId>,
    ) -> Result<Option<Vec<Frame>>, ReplyError> {
        let writes = transaction.is_some() || commands.iter().any(|c| c.spec.is_replicated());
        // Introspection (INFO, CONFIG, SLOWLOG ...) describes this node, wherever it is sent.
        let about_this_node = commands.iter().all(|c| c.spec.describes_node(&c.args));
        if !writes && (stale_ok || about_this_node) {
            return self
                .local()?
                .submit_local(commands, proto, client, None)
                .await;
        }
        if let Some(transaction) = &transaction {
            // A watched key already written here aborts at once; the guards catch the writes
            // this node has not applied yet, where the transaction is applied.
            if transaction.dirty.load(Ordering::Acquire) {
                return Ok(None);
            }
        }
        let guards = transaction.map(|t| t.guards);
        let user = client.user.lock().clone();
        match self.route().await? {
            Route::Leader if writes => self.propose(commands, proto, guards, request, user).await,
            Route::Leader => {
                self.read_barrier().await?;
                self.local()?
                    .submit_local(commands, proto, client, None)
                    .await
            }
            Route::Forward(leader) => {
                let request = request.unwrap_or_else(RequestId::random);
                self.forward(leader, commands, proto, guards, request, user)
                    .await
            }
        }
    }

    /// Proposes a pipeline (or a transaction) and returns the replies of the leader's own apply.
    /// A transaction is one entry; a pipeline too large for one entry goes, in order, as several,
    /// and a single command larger than an entry is refused: an entry must be able to reach a
    /// follower within openraft's append deadline.
    /// `transaction` holds a transaction's WATCH guards; `None` for a plain pipeline. `request`
    /// names a forwarded pipeline (each part of a split one gets its own id, derived from it).
    async fn propose(
        &self,
        commands: Vec<QueuedCommand>,
        proto: Protocol,
        transaction: Option<Vec<WatchGuard>>,
        request: Option<RequestId>,
        user: String,
    ) -> Result<Option<Vec<Frame>>, ReplyError> {
        let is_transaction = transaction.is_some();
        let group = ClientGroup {
            request,
            proto,
            commands: commands.iter().map(replicated).collect(),
            guards: transaction.unwrap_or_default(),
            user,
        };
        let total = group.size();
        if total <= self.entry_limit {
            return self.propose_group(commands, group, is_transaction).await;
        }
        if is_transaction {
            return Err(too_large("transaction", total, self.entry_limit));
        }
        let mut replies = Vec::with_capacity(commands.len());
        let mut failed: Option<ReplyError> = None;
        for (n, part) in split_pipeline(commands, group, self.entry_limit)
            .into_iter()
            .enumerate()
        {
            let count = part.len();
            let outcome = match (&failed, part) {
                (Some(err), _) => Err(err.clone()),
                (None, Part::Oversized(size)) => {
                    replies.push(too_large("command", size, self.entry_limit).into());
                    continue;
                }
                (None, Part::Entry(commands, mut group)) => {
                    group.request = request.map(|r| RequestId(r.0.wrapping_add(n as u128)));
                    self.propose_group(commands, group, false).await
                }
            };
            match outcome {
                Ok(part_replies) => replies.extend(part_replies.unwrap_or_default()),
                // Later parts are not proposed: the client learns which commands ran.
                Err(err) => {
                    replies.extend((0..count).map(|_| Frame::from(err.clone())));
                    failed = Some(err);
                }
            }
        }
        Ok(Some(replies))
    }

    /// Queues one group for the next log entry and returns its replies (`None`: a transaction
    /// whose watched keys had changed).
    async fn propose_group(
        &self,
        commands: Vec<QueuedCommand>,
        group: ClientGroup,
        transaction: bool,
    ) -> Result<Option<Vec<Frame>>, ReplyError> {
        let (reply, answer) = oneshot::channel();
        let proto = group.proto;
        let request = group.request;
        let guards = transaction.then(|| group.guards.clone());
        let user = group.user.clone();
        if self.queue.try_send(Pending { group, reply }).is_err() {
            return Err(ReplyError::custom(
                "BUSY too many writes waiting for the Raft log (raft-max-pending-proposals)",
            ));
        }
        // The deadline covers the wait in the queue too; past it the outcome is unknown (the
        // pipeline may still be proposed), and the client is told so.
        let timeout = Duration::from_millis(self.machine.state.config().raft_proposal_timeout);
        let Ok(answer) = tokio::time::timeout(timeout, answer).await else {
            return Err(unconfirmed());
        };
        match answer {
            Ok(Ok(replies)) => Ok(replies),
            // Refused by openraft, or removed from the log before it committed: never applied
            // here, so safe to hand to the leader (under the same id, if it has one).
            Ok(Err(Rejected::Forward(leader))) => {
                let request = request.unwrap_or_else(RequestId::random);
                Box::pin(self.forward(leader, commands, proto, guards, request, user)).await
            }
            Ok(Err(Rejected::Failed(err))) => Err(err),
            Err(_) => Err(ReplyError::OutcomeUnknown(
                "the server shut down while the write was proposed".into(),
            )),
        }
    }

    /// Waits until this leader has confirmed its leadership after the caller arrived, and has
    /// applied everything committed before: then a local read is linearizable. Concurrent
    /// readers share one confirmation round.
    async fn read_barrier(&self) -> Result<(), ReplyError> {
        let ticket = self.reads_requested.fetch_add(1, Ordering::AcqRel) + 1;
        let _round = self.read_round.lock().await;
        if self.reads_confirmed.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        let covers = self.reads_requested.load(Ordering::Acquire);
        self.raft
            .ensure_linearizable()
            .await
            .map_err(|e| ReplyError::ClusterDown(format!("read not confirmed by a quorum: {e}")))?;
        self.reads_confirmed.fetch_max(covers, Ordering::AcqRel);
        Ok(())
    }

    /// Hands a pipeline (or a transaction, with its WATCH guards) to the leader's admin port and
    /// returns its replies.
    ///
    /// When the leader is lost after the pipeline may have reached it (the connection broke, the
    /// answer is late, leadership moved), the outcome is unknown — so the pipeline is sent again,
    /// under the same request id, to whichever node leads now. The state machine runs an id once
    /// and answers later copies with the first one's replies, so a resend turns an unknown
    /// outcome into the definite one. Only when no leader answers within `raft-proposal-timeout`
    /// is the client told the outcome is unknown.
    async fn forward(
        &self,
        leader: NodeAddr,
        commands: Vec<QueuedCommand>,
        proto: Protocol,
        transaction: Option<Vec<WatchGuard>>,
        request: RequestId,
        user: String,
    ) -> Result<Option<Vec<Frame>>, ReplyError> {
        let body = ForwardRequest {
            request,
            proto,
            transaction: transaction.is_some(),
            commands: commands.iter().map(replicated).collect(),
            guards: transaction.clone().unwrap_or_default(),
            user: user.clone(),
        };
        let window = Duration::from_millis(self.machine.state.config().raft_proposal_timeout)
            .min(MAX_RESEND_WINDOW);
        let deadline = tokio::time::Instant::now() + window;
        let mut leader = leader;
        // Set once an attempt may have reached a leader: why the outcome is not known.
        let mut maybe_sent: Option<String> = None;
        let mut pause = RESEND_PAUSE;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                break;
            }
            let call =
                self.network
                    .call(&leader.admin_addr, "/raft/forward", &body, Some(remaining));
            let answer = tokio::select! {
                answer = call => Some(answer),
                _ = self.leadership_leaves(&leader) => None,
            };
            match answer {
                Some(Ok(ForwardReply::Replies(replies))) => return Ok(replies),
                // Certainly not applied; but if an earlier attempt may have been, only a later
                // answer can tell.
                Some(Ok(ForwardReply::Refused(text))) if maybe_sent.is_none() => {
                    return Err(ReplyError::custom(text))
                }
                Some(Ok(ForwardReply::Refused(_))) => {}
                Some(Ok(ForwardReply::Unknown(text))) => maybe_sent = Some(text),
                // Never sent: the connection could not be made.
                Some(Err(CallError::Unreachable(_))) => {}
                Some(Err(err)) => {
                    maybe_sent = Some(format!("forwarding to the leader failed ({err})"))
                }
                None => maybe_sent = Some("leadership moved while the write was forwarded".into()),
            }
            tokio::time::sleep(pause.min(remaining)).await;
            pause = (pause * 2).min(MAX_RESEND_PAUSE);
            match self.route().await {
                Ok(Route::Forward(next)) => leader = next,
                // This node leads now: it proposes the pipeline itself, under the same id.
                Ok(Route::Leader) => {
                    let proposed =
                        Box::pin(self.propose(commands, proto, transaction, Some(request), user));
                    return match (proposed.await, maybe_sent) {
                        (Err(err), Some(why)) if !matches!(err, ReplyError::OutcomeUnknown(_)) => {
                            Err(ReplyError::OutcomeUnknown(why))
                        }
                        (outcome, _) => outcome,
                    };
                }
                Err(no_leader) if maybe_sent.is_none() => return Err(no_leader),
                Err(_) => {}
            }
        }
        Err(match maybe_sent {
            Some(why) => ReplyError::OutcomeUnknown(why),
            None => ReplyError::ClusterDown("the leader is unreachable from this node".into()),
        })
    }

    /// Resolves once this node knows of a leader other than `leader`: an answer from `leader`
    /// may then never come (it is paused or cut off), and the new leader can give it.
    async fn leadership_leaves(&self, leader: &NodeAddr) {
        let mut metrics = self.raft.metrics();
        loop {
            let current = named_leader(&metrics.borrow_and_update()).and_then(|(_, node)| node);
            if current.is_some_and(|current| current != *leader) {
                return;
            }
            if metrics.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Executes a pipeline a follower forwarded (this node should be the leader).
    pub async fn serve_forwarded(&self, request: ForwardRequest) -> ForwardReply {
        let mut commands = Vec::with_capacity(request.commands.len());
        for command in request.commands {
            let Some(spec) = command.args.first().and_then(|n| crate::cmd::lookup(n)) else {
                return ForwardReply::Refused("ERR unknown command in forwarded pipeline".into());
            };
            commands.push(QueuedCommand {
                db: command.db as usize,
                spec,
                args: command.args,
            });
        }
        let guards = request.guards;
        let transaction = request.transaction.then(|| Transaction {
            dirty: Default::default(),
            live_watched: Vec::new(),
            guards,
        });
        // The pipeline runs as its sender's ACL user (scripts check their calls against it).
        let client = if request.user == self.forwarded.user.lock().as_str() {
            self.forwarded.clone()
        } else {
            let client = ClientHandle::detached();
            *client.user.lock() = request.user;
            client
        };
        let submitted = self.submit(
            commands,
            request.proto,
            &client,
            transaction,
            false,
            Some(request.request),
        );
        match submitted.await {
            Ok(replies) => ForwardReply::Replies(replies),
            Err(err @ ReplyError::OutcomeUnknown(_)) => ForwardReply::Unknown(err.to_string()),
            Err(err) => ForwardReply::Refused(err.to_string()),
        }
    }
}

/// Longest a follower keeps resending a forwarded pipeline whose outcome is unknown (bounded
/// also by `raft-proposal-timeout`): well inside the time the state machine remembers applied
/// requests, so a late copy is always recognised.
const MAX_RESEND_WINDOW: Duration =
    Duration::from_millis(super::state_machine::DONE_GENERATION_MS * 2 / 3);
/// First pause before a resend; it doubles up to [`MAX_RESEND_PAUSE`].
const RESEND_PAUSE: Duration = Duration::from_millis(20);
const MAX_RESEND_PAUSE: Duration = Duration::from_millis(500);

/// A write whose fate is unknown: it may still commit. Never retried by the server.
fn unconfirmed() -> ReplyError {
    ReplyError::OutcomeUnknown("not confirmed within raft-proposal-timeout".into())
}

/// Refused before anything reached the log.
fn no_leader() -> ReplyError {
    ReplyError::ClusterDown("The cluster has no leader".into())
}

fn replicated(command: &QueuedCommand) -> ReplicatedCommand {
    ReplicatedCommand {
        db: command.db as u32,
        args: command.args.clone(),
    }
}

/// Entries proposed and not yet applied at once: more pipelines then wait and ride together in
/// the next entry, so the log, the network and the apply work in large steps under load.
const ENTRIES_IN_FLIGHT: usize = 4;

/// A slice of a pipeline too large for one entry.
enum Part {
    /// Commands that fit one entry together, with their replicated form.
    Entry(Vec<QueuedCommand>, ClientGroup),
    /// One command larger than an entry (its size): refused.
    Oversized(usize),
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Entry(commands, _) => commands.len(),
            Part::Oversized(_) => 1,
        }
    }
}

/// Cuts a pipeline into parts of at most `limit` bytes, in order.
fn split_pipeline(commands: Vec<QueuedCommand>, group: ClientGroup, limit: usize) -> Vec<Part> {
    let proto = group.proto;
    let user = group.user.clone();
    let mut parts = Vec::new();
    let mut current: (Vec<QueuedCommand>, Vec<ReplicatedCommand>, usize) = Default::default();
    let close = |current: &mut (Vec<QueuedCommand>, Vec<ReplicatedCommand>, usize),
                 parts: &mut Vec<Part>| {
        if !current.0.is_empty() {
            let (commands, replicated, _) = std::mem::take(current);
            let group = ClientGroup {
                request: None,
                proto,
                commands: replicated,
                guards: Vec::new(),
                user: user.clone(),
            };
            parts.push(Part::Entry(commands, group));
        }
    };
    for (command, replicated) in commands.into_iter().zip(group.commands) {
        let size = replicated.size();
        if current.2 + size > limit {
            close(&mut current, &mut parts);
        }
        if size > limit {
            parts.push(Part::Oversized(size));
            continue;
        }
        current.0.push(command);
        current.1.push(replicated);
        current.2 += size;
    }
    close(&mut current, &mut parts);
    parts
}

/// The refusal of a write that cannot fit one log entry.
fn too_large(what: &str, size: usize, limit: usize) -> ReplyError {
    ReplyError::custom(format!(
        "ERR {what} of {size} bytes exceeds raft-max-entry-size ({limit} bytes), the most one Raft log entry carries"
    ))
}

/// A pipeline waiting for the log.
struct Pending {
    group: ClientGroup,
    reply: oneshot::Sender<Result<Option<Vec<Frame>>, Rejected>>,
}

/// Why a pipeline was not applied.
#[derive(Clone)]
enum Rejected {
    /// This node is not the leader; nothing was appended.
    Forward(NodeAddr),
    Failed(ReplyError),
}

/// Group commit: takes every pipeline already waiting (never waits for more) into one entry of
/// at most `limit` bytes.
async fn propose_batches(
    node: std::sync::Weak<RaftNode>,
    mut waiting: mpsc::Receiver<Pending>,
    limit: usize,
) {
    let in_flight = Arc::new(Semaphore::new(ENTRIES_IN_FLIGHT));
    let mut carry: Option<Pending> = None;
    loop {
        let first = match carry.take() {
            Some(p) => p,
            None => match waiting.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let Some(node) = node.upgrade() else {
            return;
        };
        let mut bytes = first.group.size();
        let mut batch = vec![first];
        while bytes < limit {
            match waiting.try_recv() {
                Ok(next) => {
                    bytes += next.group.size();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        if bytes > limit && batch.len() > 1 {
            carry = batch.pop();
        }
        tokio::spawn(async move {
            let _permit = permit;
            node.write_entry(batch).await;
        });
    }
}

impl RaftNode {
    /// Proposes one entry holding `batch` and hands each pipeline its replies.
    async fn write_entry(&self, batch: Vec<Pending>) {
        let (groups, replies): (Vec<ClientGroup>, Vec<_>) =
            batch.into_iter().map(|p| (p.group, p.reply)).unzip();
        let proposal = Proposal {
            clock_ms: crate::util::now_ms(),
            seed: rand::random(),
            settings: self.machine.state.config().entry_settings(),
            groups,
        };
        let timeout = Duration::from_millis(self.machine.state.config().raft_proposal_timeout);
        let written = tokio::time::timeout(timeout, self.raft.client_write(proposal)).await;
        let rejected = match written {
            Ok(Ok(response)) => {
                let mut applied = response.data.replies.into_iter();
                for reply in replies {
                    let _ = reply.send(Ok(applied.next().unwrap_or(Some(Vec::new()))));
                }
                return;
            }
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward)))) => {
                match forward.leader_node {
                    Some(leader) => Rejected::Forward(leader),
                    None => Rejected::Failed(no_leader()),
                }
            }
            // A fatal Raft error (storage failed, Raft stopped): the entry may be in the log.
            Ok(Err(err)) => Rejected::Failed(ReplyError::OutcomeUnknown(format!("raft: {err}"))),
            // Never retried: the entry may still commit.
            Err(_) => Rejected::Failed(unconfirmed()),
        };
        for reply in replies {
            let _ = reply.send(Err(rejected.clone()));
        }
    }
}

impl RaftNode {
    /// This node's view of the log and of every member's replication: the one source of `INFO
    /// raft`, `/v1/status`, `/v1/cluster/members` and the CLUSTER commands.
    pub fn status(&self) -> RaftStatus {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voters: Vec<u64> = membership.voter_ids().collect();
        let last = m.last_log_index;
        let members = membership
            .nodes()
            .map(|(id, node)| {
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(id).cloned().flatten())
                    .map(|l| l.index);
                MemberStatus {
                    id: *id,
                    admin_addr: node.admin_addr.clone(),
                    resp_addr: node.resp_addr.clone(),
                    voter: voters.contains(id),
                    matched_index: matched,
                    lag: matched
                        .zip(last)
                        .map(|(matched, last)| last.saturating_sub(matched)),
                }
            })
            .collect();
        RaftStatus {
            node_id: self.id,
            role: format!("{:?}", m.state).to_ascii_lowercase(),
            term: m.current_term,
            leader_id: m.current_leader,
            leader_resp_addr: m
                .current_leader
                .and_then(|id| membership.get_node(&id).map(|n| n.resp_addr.clone())),
            last_log_index: last,
            committed: m.last_applied.map(|l| l.index),
            applied: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            elections_total: self.elections_total.load(Ordering::Relaxed),
            snapshots_total: self.machine.snapshots_total.load(Ordering::Relaxed),
            members,
        }
    }

    /// `INFO raft` lines.
    pub fn info_lines(&self) -> Vec<String> {
        let s = self.status();
        let text = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
        let mut lines = vec![
            "raft_enabled:1".to_string(),
            format!("raft_node_id:{}", s.node_id),
            format!("raft_role:{}", s.role),
            format!("raft_term:{}", s.term),
            format!("raft_leader_id:{}", s.leader_id.unwrap_or(0)),
            format!(
                "raft_leader_addr:{}",
                s.leader_resp_addr.unwrap_or_default()
            ),
            format!("raft_last_log_index:{}", s.last_log_index.unwrap_or(0)),
            format!("raft_applied_index:{}", s.applied.unwrap_or(0)),
            format!("raft_snapshot_index:{}", s.snapshot_index.unwrap_or(0)),
            format!("raft_purged_index:{}", s.purged_index.unwrap_or(0)),
            format!("raft_elections:{}", s.elections_total),
            format!("raft_snapshots:{}", s.snapshots_total),
            format!(
                "raft_resends_answered:{}",
                self.machine.resends_answered.load(Ordering::Relaxed)
            ),
        ];
        lines.extend(s.members.iter().map(|m| {
            format!(
                "raft_member_{}:resp={},admin={},voter={},matched={},lag={}",
                m.id,
                m.resp_addr,
                m.admin_addr,
                u8::from(m.voter),
                text(m.matched_index),
                text(m.lag),
            )
        }));
        lines
    }
}

/// The leader these metrics name, with its addresses when the membership has them.
fn named_leader(m: &openraft::RaftMetrics<u64, NodeAddr>) -> Option<(u64, Option<NodeAddr>)> {
    m.current_leader.map(|id| {
        let node = m.membership_config.membership().get_node(&id).cloned();
        (id, node)
    })
}

/// Recovers a node whose disk filled: a failed log write stops openraft's core for good, so the
/// node waits for room and restarts itself in place (see [`DiskFullRestart`]), then catches up
/// from the leader. A storage error that is not a full disk is left to the operator.
async fn restart_when_the_disk_has_room(raft: Raft, machine: Arc<Shared>) {
    let mut metrics = raft.metrics();
    let fatal = loop {
        if let Err(fatal) = &metrics.borrow().running_state {
            break fatal.clone();
        }
        if metrics.changed().await.is_err() {
            match &metrics.borrow().running_state {
                Err(fatal) => break fatal.clone(),
                Ok(()) => return,
            }
        }
    };
    let openraft::error::Fatal::StorageError(err) = &fatal else {
        return;
    };
    if !err.to_string().contains("No space left on device") {
        tracing::error!(%err, "Raft stopped on a storage error; restart the node once it is fixed");
        return;
    }
    tracing::error!(%err, "Raft stopped");
    let state = &machine.state;
    let restart = {
        let config = state.config();
        DiskFullRestart::new(&config.dir, config.disk_reserve.0, state.uptime_secs())
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while !restart.due() {
        tick.tick().await;
    }
    restart.restart()
}

impl crate::admin::ClusterView for RaftNode {
    fn raft_status(&self) -> RaftStatus {
        self.status()
    }

    fn ready(&self) -> Result<(), String> {
        let m = self.raft.metrics().borrow().clone();
        if let Err(fatal) = &m.running_state {
            return Err(format!("Raft stopped: {fatal}"));
        }
        let Some(leader) = m.current_leader else {
            return Err("no Raft leader known".into());
        };
        if leader != self.id && m.millis_since_quorum_ack.is_none() {
            let applied = m.last_applied.map_or(0, |l| l.index);
            let last = m.last_log_index.unwrap_or(0);
            if last.saturating_sub(applied) > self.machine.state.config().raft_logs_kept {
                return Err(format!(
                    "catching up: applied {applied} of {last} log entries"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn set(value_len: usize) -> QueuedCommand {
        QueuedCommand {
            db: 0,
            spec: crate::cmd::lookup(b"set").expect("SET is in the command table"),
            args: vec![
                Bytes::from_static(b"SET"),
                Bytes::from_static(b"k"),
                Bytes::from(vec![b'v'; value_len]),
            ],
        }
    }

    #[test]
    fn a_pipeline_is_cut_in_order_and_oversized_commands_stand_alone() {
        let commands: Vec<QueuedCommand> = [100, 100, 5000, 600, 600].map(set).into();
        let group = ClientGroup {
            request: None,
            proto: Protocol::Resp2,
            commands: commands.iter().map(replicated).collect(),
            guards: Vec::new(),
            user: "default".into(),
        };
        let shape: Vec<String> = split_pipeline(commands, group, 1000)
            .into_iter()
            .map(|part| match part {
                Part::Entry(commands, group) => {
                    assert_eq!(commands.len(), group.commands.len());
                    assert!(group.size() <= 1000);
                    let lens: Vec<usize> = commands.iter().map(|c| c.args[2].len()).collect();
                    format!("entry{lens:?}")
                }
                Part::Oversized(size) => format!("oversized({size})"),
            })
            .collect();
        let oversized = set(5000);
        let size = replicated(&oversized).size();
        assert_eq!(
            shape,
            [
                "entry[100, 100]".to_string(),
                format!("oversized({size})"),
                "entry[600]".to_string(),
                "entry[600]".to_string(),
            ]
        );
    }
}
