//! The replicated state machine: committed entries run as commands on the storage engine, in log
//! order, with the leader's clock and random seed.
//!
//! The applied position (last fully applied entry, how far into a partly applied one, membership,
//! replicated clock) is one row in the data's own RocksDB, written in the same WriteBatch as the
//! data it describes — by the apply job's mark — so a restart resumes exactly where the data is:
//! no entry is applied twice and none is skipped.
//!
//! Snapshots are RocksDB checkpoints (hard links, cheap at any size) in `<dir>/raft-snapshots`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder,
    StorageError, StorageIOError,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::types::{
    Applied, LogId, Proposal, RequestId, SnapshotDir, SnapshotMeta, StoredMembership, TypeConfig,
    WatchGuard,
};
use crate::cmd::lookup;
use crate::runtime::{execute_one, QueuedCommand};
use crate::state::clients::ClientHandle;
use crate::state::ServerState;

type Entry = openraft::Entry<TypeConfig>;
type Result<T> = std::result::Result<T, StorageError<u64>>;

/// The bookkeeping row holding the applied position.
pub const APPLIED_KEY: &[u8] = b"raft:applied";
/// The file beside a checkpoint that describes it.
const META_FILE: &str = "kiwi-snapshot.meta";

/// Prefix of the rows that remember the forwarded requests already applied, with their replies:
/// `raft:done: · generation u64 · request id u128`, big-endian. The generation is the replicated
/// clock divided by [`DONE_GENERATION_MS`], so every node keeps and drops the same rows.
const DONE_PREFIX: &[u8] = b"raft:done:";
/// A request is remembered for the generation it was applied in and the next one: at least this
/// long by the replicated clock. Followers stop resending a request well before
/// (`node::MAX_RESEND_WINDOW`), so a copy of an applied request is always recognised.
pub const DONE_GENERATION_MS: u64 = 30_000;
/// Replies larger than this are not kept: a late copy of such a request learns that it was
/// applied, not what it answered.
const DONE_REPLIES_LIMIT: usize = 64 * 1024;

/// What the state machine remembers of an applied forwarded request.
#[derive(Debug, Serialize, Deserialize)]
struct Done {
    /// The entry that applied it: a replay of that same entry after a crash is not a copy.
    log_index: u64,
    replies: Kept,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Kept {
    Replies(Option<Vec<crate::resp::Frame>>),
    /// Larger than [`DONE_REPLIES_LIMIT`].
    TooLarge,
    /// Its first commands were applied before a crash; their replies went with the process.
    Lost,
}

impl Kept {
    /// The replies a copy of the request gets: the original ones, or for each command an error
    /// that says the request was applied (a definite answer, never a reason to retry).
    fn replies(self, commands: usize) -> Option<Vec<crate::resp::Frame>> {
        let why = match self {
            Kept::Replies(replies) => return replies,
            Kept::TooLarge => "its replies were too large to keep",
            Kept::Lost => "its replies were lost in a restart",
        };
        let text = format!("ERR the write was applied, but {why}");
        Some(vec![
            crate::error::ReplyError::custom(text).into();
            commands
        ])
    }
}

fn done_key(generation: u64, request: RequestId) -> Vec<u8> {
    let mut key = DONE_PREFIX.to_vec();
    key.extend_from_slice(&generation.to_be_bytes());
    key.extend_from_slice(&request.0.to_be_bytes());
    key
}

/// What an earlier entry applying `request` kept, looked up at replicated time `clock_ms` by the
/// entry at `log_index`.
fn remembered(
    shared: &Shared,
    request: RequestId,
    clock_ms: u64,
    log_index: u64,
) -> Result<Option<Kept>> {
    let generation = clock_ms / DONE_GENERATION_MS;
    for generation in [generation, generation.saturating_sub(1)] {
        let raw = shared
            .state
            .storage
            .read_bookkeeping(&done_key(generation, request))
            .map_err(|e| sm_err(ErrorVerb::Read, e))?;
        let Some(raw) = raw else { continue };
        let done: Done = postcard::from_bytes(&raw).map_err(|e| sm_err(ErrorVerb::Read, e))?;
        if done.log_index != log_index {
            return Ok(Some(done.replies));
        }
    }
    Ok(None)
}

/// How far the log has been applied to the data.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AppliedPosition {
    pub last_applied: Option<LogId>,
    /// An entry whose first `n` commands are applied (a crash interrupted its apply).
    pub partial: Option<(LogId, u32)>,
    pub membership: StoredMembership,
    /// The replicated clock: the latest leader time applied. Expired keys are swept by it, so
    /// every node removes the same keys.
    pub clock_ms: u64,
    /// Ids of nodes removed from the cluster: never reused.
    #[serde(default)]
    pub removed: Vec<u64>,
}

/// State shared between the state machine, its snapshot builder and observers.
pub struct Shared {
    pub state: Arc<ServerState>,
    snapshots: PathBuf,
    /// The applied position (as stored with the data). Held while entries are applied and while
    /// a checkpoint or an import runs, so a snapshot describes exactly the position it is
    /// labelled with.
    position: Mutex<AppliedPosition>,
    /// The replicated clock, for the expiry sweep.
    pub clock_ms: AtomicU64,
    /// Snapshots built or installed since start.
    pub snapshots_total: AtomicU64,
    /// Generations of remembered requests below this one have been deleted.
    done_swept: AtomicU64,
    /// Copies of already applied forwarded requests answered from what was kept.
    pub resends_answered: AtomicU64,
    client: Arc<ClientHandle>,
}

/// The state machine handed to Raft.
pub struct StateMachine {
    pub shared: Arc<Shared>,
}

fn io_err(subject: ErrorSubject<u64>, verb: ErrorVerb, e: impl ToString) -> StorageError<u64> {
    let e = std::io::Error::other(e.to_string());
    StorageIOError::new(subject, verb, AnyError::new(&e)).into()
}

fn sm_err(verb: ErrorVerb, e: impl ToString) -> StorageError<u64> {
    io_err(ErrorSubject::StateMachine, verb, e)
}

impl Shared {
    /// The applied position stored with the data.
    fn stored_position(&self) -> Result<AppliedPosition> {
        let raw = self
            .state
            .storage
            .read_bookkeeping(APPLIED_KEY)
            .map_err(|e| sm_err(ErrorVerb::Read, e))?;
        match raw {
            Some(raw) => postcard::from_bytes(&raw).map_err(|e| sm_err(ErrorVerb::Read, e)),
            None => Ok(AppliedPosition::default()),
        }
    }
}

impl StateMachine {
    /// A state machine over `state.storage`, keeping snapshots in `snapshots`.
    pub fn open(state: Arc<ServerState>, snapshots: &Path) -> std::io::Result<StateMachine> {
        std::fs::create_dir_all(snapshots)?;
        // Checkpoints left half-written by a crash are useless.
        for dir in std::fs::read_dir(snapshots)? {
            let path = dir?.path();
            if !path.join(META_FILE).exists() {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
        let shared = Arc::new(Shared {
            state,
            snapshots: snapshots.to_path_buf(),
            position: Mutex::new(AppliedPosition::default()),
            clock_ms: AtomicU64::new(0),
            snapshots_total: AtomicU64::new(0),
            done_swept: AtomicU64::new(0),
            resends_answered: AtomicU64::new(0),
            client: ClientHandle::detached(),
        });
        let position = shared
            .stored_position()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        shared.clock_ms.store(position.clock_ms, Ordering::Release);
        *shared.position.lock() = position;
        Ok(StateMachine { shared })
    }
}

/// One entry's share of an apply job.
struct Planned {
    log_id: LogId,
    /// Index of its first command in the job.
    first: usize,
    len: usize,
    /// Commands already applied before a crash (skipped now).
    skipped: usize,
    membership: Option<StoredMembership>,
    clock_ms: u64,
}

/// Computes the applied position once the job's first `completed` commands are done.
fn position_at(base: &AppliedPosition, plan: &[Planned], completed: usize) -> AppliedPosition {
    let mut position = base.clone();
    for p in plan {
        if p.first + p.len <= completed {
            position.last_applied = Some(p.log_id);
            position.partial = None;
            position.clock_ms = position.clock_ms.max(p.clock_ms);
            if let Some(m) = &p.membership {
                let kept: std::collections::BTreeSet<u64> =
                    m.membership().nodes().map(|(id, _)| *id).collect();
                for (id, _) in position.membership.membership().nodes() {
                    if !kept.contains(id) && !position.removed.contains(id) {
                        position.removed.push(*id);
                    }
                }
                position.membership = m.clone();
            }
        } else {
            if completed > p.first {
                position.partial = Some((p.log_id, (p.skipped + completed - p.first) as u32));
                position.clock_ms = position.clock_ms.max(p.clock_ms);
            }
            break;
        }
    }
    position
}

/// A step of an apply job — a command, or the WATCH check that opens a guarded transaction —
/// and where its reply goes.
struct Step {
    /// Index of its entry in the plan, and of its group in the entry.
    entry: usize,
    group: usize,
    clock_ms: u64,
    seed: u64,
    settings: crate::util::EntrySettings,
    proto: crate::resp::Protocol,
    /// The ACL user who sent the group (a script's calls are checked against it).
    user: Arc<str>,
    action: Action,
    /// The last step of a forwarded request's group: after it, remember the request. `complete`
    /// is false when a crash interrupted the group before, so some of its replies are gone.
    closes: Option<(RequestId, bool)>,
}

enum Action {
    /// Skip the rest of the group unless every watched key still has its fingerprint. Counted
    /// as a command of the entry, so a restart in the middle of the group does not check again
    /// against the group's own writes.
    Check(Vec<WatchGuard>),
    Run(QueuedCommand),
}

/// True when every guarded key still holds what it held when watched.
fn guards_hold(state: &ServerState, guards: &[WatchGuard], now: u64) -> Result<bool> {
    for guard in guards {
        let current = state
            .storage
            .fingerprint(guard.db as usize, &guard.key, now)
            .map_err(|e| sm_err(ErrorVerb::Read, e))?;
        if current != guard.fingerprint {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs the entries' commands as one apply job on the calling thread.
fn apply_entries(shared: &Shared, entries: Vec<Entry>) -> Result<Vec<Applied>> {
    let mut position = shared.position.lock();
    let base = position.clone();
    let mut plan = Vec::with_capacity(entries.len());
    let mut steps: Vec<Step> = Vec::new();
    let mut results: Vec<Applied> = Vec::with_capacity(entries.len());
    let mut clock = base.clock_ms;
    // Forwarded requests first met in this call, and the later copies that take their replies.
    let mut first_copy: std::collections::HashMap<RequestId, (usize, usize)> = Default::default();
    let mut copies: Vec<((usize, usize), (usize, usize))> = Vec::new();
    // Forwarded requests with no command to run (all unknown to this node): remembered at once.
    let mut unstepped: Vec<(RequestId, u64, usize)> = Vec::new();
    for entry in entries {
        let log_id = entry.log_id;
        let skip = match base.partial {
            Some((partial, done)) if partial == log_id => done as usize,
            _ => 0,
        };
        let first = steps.len();
        let mut membership = None;
        let mut applied = Applied::default();
        match entry.payload {
            EntryPayload::Blank => {}
            EntryPayload::Membership(m) => {
                membership = Some(StoredMembership::new(Some(log_id), m));
            }
            EntryPayload::Normal(Proposal {
                clock_ms,
                seed,
                settings,
                groups,
            }) => {
                // The replicated clock never goes back, even when a new leader's clock is behind.
                clock = clock.max(clock_ms);
                let mut index = 0u64;
                for (group, commands) in groups.into_iter().enumerate() {
                    if let Some(request) = commands.request {
                        // A copy of a request an earlier entry applied: answered, not run again.
                        if let Some(kept) = remembered(shared, request, clock, log_id.index)? {
                            shared.resends_answered.fetch_add(1, Ordering::Relaxed);
                            applied.replies.push(kept.replies(commands.commands.len()));
                            continue;
                        }
                        let here = (plan.len(), group);
                        if let Some(&first) = first_copy.get(&request) {
                            shared.resends_answered.fetch_add(1, Ordering::Relaxed);
                            copies.push((here, first));
                            applied.replies.push(None);
                            continue;
                        }
                        first_copy.insert(request, here);
                    }
                    applied
                        .replies
                        .push(Some(Vec::with_capacity(commands.commands.len())));
                    let group_start = steps.len();
                    let interrupted = index < skip as u64;
                    let user: Arc<str> = Arc::from(commands.user.as_str());
                    let check = (!commands.guards.is_empty()).then_some(commands.guards);
                    let actions = check.map(Action::Check).into_iter().chain(
                        commands.commands.into_iter().filter_map(|command| {
                            let spec = command.args.first().and_then(|name| lookup(name))?;
                            Some(Action::Run(QueuedCommand {
                                db: command.db as usize,
                                spec,
                                args: command.args,
                            }))
                        }),
                    );
                    for action in actions {
                        index += 1;
                        if index as usize <= skip {
                            continue;
                        }
                        steps.push(Step {
                            entry: plan.len(),
                            group,
                            clock_ms: clock,
                            seed: seed.wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                            settings,
                            proto: commands.proto,
                            user: user.clone(),
                            action,
                            closes: None,
                        });
                    }
                    // Remembered after its last step; a group a crash left fully applied was
                    // remembered then.
                    if let Some(request) = commands.request {
                        match steps[group_start..].last_mut() {
                            Some(last) => last.closes = Some((request, !interrupted)),
                            None if !interrupted => unstepped.push((request, clock, plan.len())),
                            None => {}
                        }
                    }
                }
            }
        }
        results.push(applied);
        plan.push(Planned {
            log_id,
            first,
            len: steps.len() - first,
            skipped: skip,
            membership,
            clock_ms: clock,
        });
    }

    // A script in the entries runs alone, as on a single node (`state/scripts.rs`).
    let runs_script = steps.iter().any(|step| {
        matches!(&step.action, Action::Run(c) if c.spec.flags.contains(crate::cmd::Flags::RUNS_SCRIPT))
    });
    let _gate = shared.state.scripts.enter_job(runs_script);
    let storage = &shared.state.storage;
    let plan = Arc::new(plan);
    let mark_plan = plan.clone();
    let mark_base = base.clone();
    storage.begin_apply_job(Box::new(move |completed| {
        let position = position_at(&mark_base, &mark_plan, completed);
        let value = postcard::to_allocvec(&position).unwrap_or_default();
        (APPLIED_KEY.to_vec(), value)
    }));
    // Every node applies the entry itself: its lookups may expire keys, and it announces the
    // entry's keyspace events to its own subscribers.
    storage.allow_lazy_expiry();
    forget_old_requests(shared, base.clock_ms);
    for (request, clock_ms, entry) in unstepped {
        remember(
            shared,
            request,
            clock_ms,
            &plan,
            entry,
            Kept::Replies(Some(Vec::new())),
        );
    }
    // Groups whose WATCH check failed: their remaining commands are skipped.
    let mut aborted: Vec<(usize, usize)> = Vec::new();
    for (index, step) in steps.into_iter().enumerate() {
        storage.job_command(index);
        let closing = step
            .closes
            .map(|(request, complete)| (request, complete, step.entry, step.group, step.clock_ms));
        let command = match step.action {
            _ if aborted.contains(&(step.entry, step.group)) => None,
            Action::Check(guards) => {
                match guards_hold(&shared.state, &guards, step.clock_ms) {
                    Ok(true) => {}
                    Ok(false) => {
                        aborted.push((step.entry, step.group));
                        results[step.entry].replies[step.group] = None;
                    }
                    Err(error) => {
                        storage.end_job();
                        return Err(error);
                    }
                }
                None
            }
            Action::Run(command) => Some(command),
        };
        if let Some(command) = command {
            if command.spec.flags.contains(crate::cmd::Flags::RUNS_SCRIPT) {
                *shared.client.user.lock() = step.user.to_string();
            }
            let replay = (step.clock_ms, step.seed, step.settings);
            let reply = run_step(shared, command, replay, step.proto);
            if let Some(replies) = &mut results[step.entry].replies[step.group] {
                replies.push(reply);
            }
        }
        // The group's last step has run: remember the request with its replies.
        if let Some((request, complete, entry, group, clock_ms)) = closing {
            let kept = if complete {
                Kept::Replies(results[entry].replies[group].clone())
            } else {
                Kept::Lost
            };
            remember(shared, request, clock_ms, &plan, entry, kept);
        }
    }
    // Its last commit also publishes the entries' keyspace events on this node.
    let failed = storage.end_job();
    if let Some((_, error)) = failed.first() {
        // The data and the applied position were not written: Raft must not go on.
        return Err(sm_err(ErrorVerb::Write, error));
    }
    for ((entry, group), (first_entry, first_group)) in copies {
        results[entry].replies[group] = results[first_entry].replies[first_group].clone();
    }
    let total = plan.last().map_or(0, |p| p.first + p.len);
    *position = position_at(&base, &plan, total);
    shared.clock_ms.store(position.clock_ms, Ordering::Release);
    Ok(results)
}

/// Runs one replicated command with the entry's clock, seed and settings.
fn run_step(
    shared: &Shared,
    command: QueuedCommand,
    (clock_ms, seed, settings): (u64, u64, crate::util::EntrySettings),
    proto: crate::resp::Protocol,
) -> crate::resp::Frame {
    match command.spec.name {
        // Delivered on every node to its own subscribers; the leader's count is the reply.
        name @ ("publish" | "spublish") => {
            let state = &shared.state;
            // The keyspace events of the writes before it go first, as in Redis.
            state.storage.publish_events_so_far();
            let limit = state.config().client_output_buffer_limit.pubsub;
            let args = &command.args;
            let receivers = state
                .pubsub
                .publish(&args[1], &args[2], name == "spublish", &limit);
            crate::resp::Frame::Integer(receivers as i64)
        }
        _ => crate::util::replaying_entry(clock_ms, seed, Some(settings), || {
            execute_one(&shared.state, command, proto, &shared.client)
        }),
    }
}

/// Records in the running apply job that the entry `plan[entry]` applied `request`.
fn remember(
    shared: &Shared,
    request: RequestId,
    clock_ms: u64,
    plan: &[Planned],
    entry: usize,
    kept: Kept,
) {
    let log_index = plan[entry].log_id.index;
    let encode = |replies| postcard::to_allocvec(&Done { log_index, replies }).ok();
    let value = match encode(kept) {
        Some(value) if value.len() <= DONE_REPLIES_LIMIT => value,
        _ => match encode(Kept::TooLarge) {
            Some(value) => value,
            None => return,
        },
    };
    let key = done_key(clock_ms / DONE_GENERATION_MS, request);
    shared.state.storage.job_put_bookkeeping(key, value);
}

/// Deletes, with the running apply job, the remembered requests of generations no copy can be
/// looked up in any more (older than the one before the current).
fn forget_old_requests(shared: &Shared, clock_ms: u64) {
    let keep_from = (clock_ms / DONE_GENERATION_MS).saturating_sub(1);
    if shared.done_swept.load(Ordering::Acquire) >= keep_from {
        return;
    }
    let from = done_key(0, RequestId(0));
    let to = done_key(keep_from, RequestId(0));
    shared.state.storage.job_delete_bookkeeping(from, to);
    shared.done_swept.store(keep_from, Ordering::Release);
}

/// Runs blocking storage work from the state machine's task: in place on a multi-threaded
/// runtime (other tasks move to other workers), directly otherwise.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership)> {
        let position = self.shared.position.lock();
        Ok((position.last_applied, position.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        blocking(|| apply_entries(&self.shared, entries))
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            shared: self.shared.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<SnapshotDir>> {
        Ok(Box::new(SnapshotDir {
            path: self.shared.incoming_dir(),
        }))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<SnapshotDir>,
    ) -> Result<()> {
        let shared = self.shared.clone();
        let meta = meta.clone();
        tokio::task::spawn_blocking(move || shared.install(&meta, &snapshot.path))
            .await
            .map_err(|e| sm_err(ErrorVerb::Write, e))?
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>> {
        self.shared.current_snapshot()
    }
}

/// Builds snapshots for Raft (on its own task, while entries keep being applied).
pub struct SnapshotBuilder {
    shared: Arc<Shared>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.build())
            .await
            .map_err(|e| sm_err(ErrorVerb::Write, e))?
    }
}

fn snapshot_err(verb: ErrorVerb, e: impl ToString) -> StorageError<u64> {
    io_err(ErrorSubject::Snapshot(None), verb, e)
}

impl Shared {
    /// True when `id` belonged to a node removed from the cluster.
    pub fn removed(&self, id: u64) -> bool {
        self.position.lock().removed.contains(&id)
    }

    /// A fresh directory name for a snapshot being received.
    pub fn incoming_dir(&self) -> PathBuf {
        self.snapshots
            .join(format!("incoming-{:016x}", rand::random::<u64>()))
    }

    fn build(&self) -> Result<Snapshot<TypeConfig>> {
        let tmp = self.incoming_dir();
        let position = {
            let position = self.position.lock();
            self.state
                .storage
                .checkpoint_to(&tmp)
                .map_err(|e| snapshot_err(ErrorVerb::Write, e))?;
            position.clone()
        };
        let id = match position.last_applied {
            Some(log_id) => format!(
                "{}-{}-{}",
                log_id.leader_id.term,
                log_id.index,
                crate::util::now_ms()
            ),
            None => format!("0-0-{}", crate::util::now_ms()),
        };
        let meta = SnapshotMeta {
            last_log_id: position.last_applied,
            last_membership: position.membership,
            snapshot_id: id,
        };
        let path = self.keep(&meta, &tmp)?;
        self.snapshots_total.fetch_add(1, Ordering::Relaxed);
        tracing::info!(snapshot = %meta.snapshot_id, "raft snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(SnapshotDir { path }),
        })
    }

    /// Labels the checkpoint in `dir` with `meta`, makes it the current snapshot and deletes the
    /// older ones. A checkpoint from elsewhere (another state machine's directory) is copied.
    fn keep(&self, meta: &SnapshotMeta, dir: &Path) -> Result<PathBuf> {
        let err = |e: std::io::Error| snapshot_err(ErrorVerb::Write, e);
        let target = self.snapshots.join(format!("snap-{}", meta.snapshot_id));
        if target != dir {
            if dir.parent() == Some(self.snapshots.as_path()) {
                std::fs::rename(dir, &target).map_err(err)?;
            } else {
                std::fs::create_dir_all(&target).map_err(err)?;
                for file in std::fs::read_dir(dir).map_err(err)? {
                    let file = file.map_err(err)?;
                    std::fs::copy(file.path(), target.join(file.file_name())).map_err(err)?;
                }
            }
        }
        let encoded = postcard::to_allocvec(meta).map_err(|e| snapshot_err(ErrorVerb::Write, e))?;
        std::fs::write(target.join(META_FILE), encoded).map_err(err)?;
        for old in std::fs::read_dir(&self.snapshots).map_err(err)? {
            let old = old.map_err(err)?.path();
            let name = old.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if old != target && name.starts_with("snap-") {
                let _ = std::fs::remove_dir_all(&old);
            }
        }
        Ok(target)
    }

    fn install(&self, meta: &SnapshotMeta, dir: &Path) -> Result<()> {
        {
            let mut current = self.position.lock();
            self.state
                .storage
                .import_checkpoint(dir)
                .map_err(|e| snapshot_err(ErrorVerb::Write, e))?;
            // The snapshot brought its own function libraries.
            self.state.scripts.functions_replaced_on_disk();
            let imported = self.stored_position()?;
            let position = AppliedPosition {
                last_applied: meta.last_log_id,
                partial: None,
                membership: meta.last_membership.clone(),
                clock_ms: imported.clock_ms,
                removed: imported.removed,
            };
            let encoded =
                postcard::to_allocvec(&position).map_err(|e| snapshot_err(ErrorVerb::Write, e))?;
            self.state
                .storage
                .write_bookkeeping(APPLIED_KEY, &encoded)
                .map_err(|e| snapshot_err(ErrorVerb::Write, e))?;
            self.clock_ms.store(position.clock_ms, Ordering::Release);
            *current = position;
        }
        self.keep(meta, dir)?;
        self.snapshots_total.fetch_add(1, Ordering::Relaxed);
        tracing::info!(snapshot = %meta.snapshot_id, "raft snapshot installed");
        Ok(())
    }

    fn current_snapshot(&self) -> Result<Option<Snapshot<TypeConfig>>> {
        let err = |e: std::io::Error| snapshot_err(ErrorVerb::Read, e);
        for dir in std::fs::read_dir(&self.snapshots).map_err(err)? {
            let path = dir.map_err(err)?.path();
            let Ok(raw) = std::fs::read(path.join(META_FILE)) else {
                continue;
            };
            let meta: SnapshotMeta =
                postcard::from_bytes(&raw).map_err(|e| snapshot_err(ErrorVerb::Read, e))?;
            return Ok(Some(Snapshot {
                meta,
                snapshot: Box::new(SnapshotDir { path }),
            }));
        }
        Ok(None)
    }
}
