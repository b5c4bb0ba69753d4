//! The storage runtime and the channel that feeds it.
//!
//! RocksDB calls block, so commands run on a pool of plain OS threads (`storage-threads`), never on
//! the network runtime's async workers. Each connection hands over a whole pipeline's storage
//! commands as one [`StorageJob`] through a bounded MPMC channel and awaits one reply message:
//! one hand-off per pipeline rather than per command, and no timer anywhere on this path.
//!
//! Backpressure: while a connection waits for its job's replies it does not read its socket, and
//! when the channel is full the sender waits for room — so a saturated storage runtime slows
//! clients down instead of growing queues. Only a wait longer than `storage-queue-timeout` turns
//! into a `BUSY` error, and nothing is retried: a job that was queued is executed exactly once.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::cmd::CommandSpec;
use crate::error::ReplyError;
use crate::resp::{Frame, Protocol};
use crate::state::clients::ClientHandle;
use crate::state::stats::bump;
use crate::state::ServerState;
use crate::storage::watch::DirtyFlag;

/// One validated command bound for storage.
pub struct QueuedCommand {
    pub db: usize,
    pub spec: &'static CommandSpec,
    pub args: Vec<Bytes>,
}

/// A pipeline's storage commands and where to send their replies.
pub struct StorageJob {
    commands: Vec<QueuedCommand>,
    proto: Protocol,
    transaction: Option<Transaction>,
    /// Who sent them, for the slow log's client address and name.
    client: Arc<ClientHandle>,
    /// `None` when a transaction was aborted because a watched key changed.
    reply: oneshot::Sender<Option<Vec<Frame>>>,
}

/// What EXEC adds to a job: the WATCH state to check once the transaction's keys are locked.
pub struct Transaction {
    /// Set by any write to a watched key since WATCH.
    pub dirty: DirtyFlag,
    /// Watched keys that existed (unexpired) when watched: expiring since then is a change too.
    pub live_watched: Vec<(usize, Bytes)>,
    /// Cluster mode: the watched keys' fingerprints, checked where the transaction is applied.
    pub guards: Vec<crate::storage::watch::WatchGuard>,
}

/// The network side's handle on the storage runtime.
#[derive(Clone)]
pub struct StorageClient {
    tx: async_channel::Sender<StorageJob>,
    state: Arc<ServerState>,
}

impl StorageClient {
    /// Runs `client`'s `commands` in order on the storage runtime and returns one reply per
    /// command.
    pub async fn execute(
        &self,
        commands: Vec<QueuedCommand>,
        proto: Protocol,
        client: &Arc<ClientHandle>,
    ) -> Result<Vec<Frame>, ReplyError> {
        let replies = self.submit(commands, proto, client, None).await?;
        Ok(replies.unwrap_or_default())
    }

    /// Runs a transaction's commands atomically (EXEC); `None` when a watched key changed.
    pub async fn execute_transaction(
        &self,
        commands: Vec<QueuedCommand>,
        proto: Protocol,
        client: &Arc<ClientHandle>,
        transaction: Transaction,
    ) -> Result<Option<Vec<Frame>>, ReplyError> {
        self.submit(commands, proto, client, Some(transaction))
            .await
    }

    async fn submit(
        &self,
        commands: Vec<QueuedCommand>,
        proto: Protocol,
        client: &Arc<ClientHandle>,
        transaction: Option<Transaction>,
    ) -> Result<Option<Vec<Frame>>, ReplyError> {
        match self.state.cluster.get() {
            Some(node) => {
                let stale_ok = client.readonly.load(Ordering::Relaxed)
                    || self.state.config().cluster_read_mode == "stale";
                node.submit(commands, proto, client, transaction, stale_ok, None)
                    .await
            }
            None => {
                self.submit_local(commands, proto, client, transaction)
                    .await
            }
        }
    }

    /// Runs the commands on this node's storage runtime, whatever the mode (cluster mode calls
    /// it for reads once they are confirmed).
    pub async fn submit_local(
        &self,
        commands: Vec<QueuedCommand>,
        proto: Protocol,
        client: &Arc<ClientHandle>,
        transaction: Option<Transaction>,
    ) -> Result<Option<Vec<Frame>>, ReplyError> {
        let stats = &self.state.stats.storage;
        let (reply, rx) = oneshot::channel();
        let job = StorageJob {
            commands,
            proto,
            transaction,
            client: client.clone(),
            reply,
        };
        stats.queued.fetch_add(1, Ordering::Relaxed);
        let sent = match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(async_channel::TrySendError::Full(job)) => {
                bump(&stats.saturated, 1);
                let wait = Duration::from_millis(self.state.config().storage_queue_timeout);
                match tokio::time::timeout(wait, self.tx.send(job)).await {
                    Ok(result) => {
                        result.map_err(|_| ReplyError::custom("ERR server is shutting down"))
                    }
                    Err(_) => Err(ReplyError::Overloaded),
                }
            }
            Err(async_channel::TrySendError::Closed(_)) => {
                Err(ReplyError::custom("ERR server is shutting down"))
            }
        };
        if let Err(err) = sent {
            stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(err);
        }
        rx.await
            .map_err(|_| ReplyError::custom("ERR server is shutting down"))
    }
}

/// The storage runtime's threads.
pub struct StorageRuntime {
    tx: async_channel::Sender<StorageJob>,
    threads: Vec<JoinHandle<()>>,
}

impl StorageRuntime {
    /// Starts `threads` workers behind a channel of `depth` jobs.
    pub fn start(
        state: Arc<ServerState>,
        threads: usize,
        depth: usize,
    ) -> std::io::Result<(StorageRuntime, StorageClient)> {
        let (tx, rx) = async_channel::bounded::<StorageJob>(depth);
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let rx = rx.clone();
            let state = state.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("kiwi-storage-{i}"))
                    .spawn(move || worker(state, rx, threads))?,
            );
        }
        let client = StorageClient {
            tx: tx.clone(),
            state,
        };
        Ok((
            StorageRuntime {
                tx,
                threads: handles,
            },
            client,
        ))
    }

    /// Stops accepting jobs, lets the workers finish what is queued, and joins them.
    pub fn shutdown(self) {
        self.tx.close();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Most commands a worker runs as one merged job (see [`worker`]).
const MERGED_COMMANDS: usize = 1024;

impl StorageJob {
    /// Whether the job can share a commit with other connections' jobs: a transaction or a
    /// script needs its own job (its keys locked up front, or the script gate held alone).
    fn mergeable(&self) -> bool {
        self.transaction.is_none() && !runs_script(&self.commands)
    }
}

/// Whether a job runs a Lua script (it then holds the script gate alone).
fn runs_script(commands: &[QueuedCommand]) -> bool {
    commands
        .iter()
        .any(|c| c.spec.flags.contains(crate::cmd::Flags::RUNS_SCRIPT))
}

/// A storage thread: takes the next job and, with it, its share of the jobs already waiting
/// behind it (the queue divided among the threads, so that reads still run in parallel), and
/// runs them as one job — one commit (one WAL append) for all, as a longer pipeline would be,
/// and one pass over each hot key's lock instead of one hand-off per connection. Replies go
/// out after the shared commit, so nothing is acknowledged before it is written.
fn worker(state: Arc<ServerState>, rx: async_channel::Receiver<StorageJob>, threads: usize) {
    let stats = &state.stats.storage;
    let mut next: Option<StorageJob> = None;
    loop {
        let Some(first) = next.take().or_else(|| rx.recv_blocking().ok()) else {
            return;
        };
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        if !first.mergeable() {
            let replies = run_job(
                &state,
                first.commands,
                first.proto,
                &first.client,
                first.transaction.as_ref(),
            );
            stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            // The connection may have gone away meanwhile; its replies are simply dropped.
            let _ = first.reply.send(replies);
            continue;
        }
        let share = rx.len() / threads;
        let mut jobs = vec![first];
        let mut commands = jobs[0].commands.len();
        while jobs.len() <= share && commands < MERGED_COMMANDS {
            let Ok(job) = rx.try_recv() else {
                break;
            };
            if !job.mergeable() {
                // Runs next, on its own; still counted as queued until then.
                next = Some(job);
                break;
            }
            stats.queued.fetch_sub(1, Ordering::Relaxed);
            stats.in_flight.fetch_add(1, Ordering::Relaxed);
            commands += job.commands.len();
            jobs.push(job);
        }
        let replies = run_jobs(&state, &mut jobs);
        for (job, replies) in jobs.into_iter().zip(replies) {
            stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            let _ = job.reply.send(Some(replies));
        }
    }
}

/// Runs several connections' plain jobs as one: their commands in order, one commit, then each
/// job's replies (a commit error lands on the commands it concerns, whichever job they are in).
fn run_jobs(state: &ServerState, jobs: &mut [StorageJob]) -> Vec<Vec<Frame>> {
    let _gate = state.scripts.enter_job(false);
    state.storage.begin_job();
    let batches = jobs
        .iter_mut()
        .map(|job| (std::mem::take(&mut job.commands), job.proto, &*job.client));
    run_begun_job(state, batches)
}

/// Runs the commands of a job already begun (its stripes and gate settled), in order, one
/// batch per connection, then ends the job — its commit publishes the keyspace events, so
/// subscribers hear of the writes before their authors get the replies — and returns each
/// batch's replies (a commit error lands on the commands it concerns, whichever batch).
fn run_begun_job<'c>(
    state: &ServerState,
    batches: impl Iterator<Item = (Vec<QueuedCommand>, Protocol, &'c ClientHandle)>,
) -> Vec<Vec<Frame>> {
    let storage = &state.storage;
    // In a cluster only the Raft apply writes; this node's own jobs there are reads.
    if state.cluster.get().is_none() {
        storage.allow_lazy_expiry();
    }
    let mut index = 0;
    let mut replies: Vec<Vec<Frame>> = batches
        .map(|(commands, proto, client)| {
            commands
                .into_iter()
                .map(|cmd| {
                    storage.job_command(index);
                    index += 1;
                    execute_one(state, cmd, proto, client)
                })
                .collect()
        })
        .collect();
    let errors = storage.end_job();
    if !errors.is_empty() {
        let mut owners = Vec::with_capacity(index);
        for (batch, batch_replies) in replies.iter().enumerate() {
            owners.extend((0..batch_replies.len()).map(|i| (batch, i)));
        }
        for (index, error) in errors {
            bump(&state.stats.storage.errors, 1);
            let (batch, i) = owners[index];
            replies[batch][i] = Frame::Error(error);
        }
    }
    replies
}

/// Runs one job's commands on this thread, as a storage worker does (the fuzz target calls it
/// directly): all writes of the job are committed together before any reply is returned, and a
/// transaction runs with its keys locked. `None` when a transaction was aborted because a
/// watched key changed.
pub fn run_job(
    state: &ServerState,
    commands: Vec<QueuedCommand>,
    proto: Protocol,
    client: &ClientHandle,
    transaction: Option<&Transaction>,
) -> Option<Vec<Frame>> {
    let storage = &state.storage;
    // Before any key lock: a script's job waits here until no other job runs.
    let _gate = state.scripts.enter_job(runs_script(&commands));
    match transaction {
        None => storage.begin_job(),
        Some(transaction) => {
            let keys = commands.iter().flat_map(|c| {
                let indexes = c.spec.key_indexes(&c.args);
                indexes.into_iter().map(|i| (c.db, &c.args[i][..]))
            });
            let watched = transaction.live_watched.iter().map(|(db, k)| (*db, &k[..]));
            storage.begin_atomic_job(keys.chain(watched));
            // With the keys locked no other write can land; check what happened before.
            if watch_failed(state, transaction) {
                storage.end_job();
                return None;
            }
        }
    }
    run_begun_job(state, std::iter::once((commands, proto, client))).pop()
}

/// True when a watched key was written, or expired, since WATCH. (A key that was live when
/// watched and is now expired — or already removed by the expiry sweep, which flags no one — has
/// changed.)
fn watch_failed(state: &ServerState, transaction: &Transaction) -> bool {
    if transaction.dirty.load(Ordering::Acquire) {
        return true;
    }
    let now = crate::util::now_ms();
    transaction.live_watched.iter().any(|(db, key)| {
        !matches!(state.storage.get_raw(*db, key), Ok(Some(meta)) if !meta.is_expired(now))
    })
}

/// Runs one command on this thread (a storage worker, or the Raft apply thread).
pub(crate) fn execute_one(
    state: &ServerState,
    cmd: QueuedCommand,
    proto: Protocol,
    client: &ClientHandle,
) -> Frame {
    crate::cmd::execute(state, client, cmd.spec, &cmd.args, cmd.db, proto)
}
