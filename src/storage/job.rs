//! Group commit per storage job.
//!
//! A pipeline of 16 SETs used to be 16 RocksDB writes, each paying for a WAL append and a trip
//! through RocksDB's write group. Inside a job, the writes of all its commands are gathered into
//! one WriteBatch and committed once, before any reply leaves the server — so durability is the
//! same (nothing is acknowledged before it is in the WAL, synced per `appendfsync`), but the cost
//! is paid once per pipeline.
//!
//! To keep read-modify-write commands correct:
//! - point reads inside the job see the job's own pending writes (an overlay of metadata rows and
//!   collection members);
//! - the key stripes of every pending write stay locked until the batch is committed, so another
//!   job cannot read a value this job is about to replace;
//! - a job never *waits* for a stripe while holding others: if a stripe is taken, it first commits
//!   what it has (releasing its stripes) and only then blocks, so jobs cannot deadlock;
//! - operations that cannot see the overlay (iteration, counting, FLUSHDB, SWAPDB) commit the
//!   pending batch first; iteration keeps the job's stripes, since the running command may hold one.
//!
//! The job state is thread-local: a job runs start to finish on one storage thread.

use std::cell::RefCell;

/// Most writes gathered before a job commits early, bounding held stripes and batch size.
pub(super) const MAX_PENDING_OPS: usize = 1024;
/// Most bytes of pending writes (keys and values) before a job commits early, so a pipeline of
/// large values cannot pile up superseded copies in memory.
pub(super) const MAX_PENDING_BYTES: usize = 16 << 20;

/// What a write does to a column family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpKind {
    Put,
    Delete,
    DeleteRange,
}

/// One recorded write.
#[derive(Debug)]
pub(super) struct Op {
    pub cf: &'static str,
    pub kind: OpKind,
    pub key: Vec<u8>,
    /// The value for `Put`, the exclusive end for `DeleteRange`.
    pub value: Vec<u8>,
}

/// Row key → (pending row, None = deleted; index of its op in `JobState::ops`).
pub(super) type PendingRows = crate::util::FastMap<Vec<u8>, (Option<Vec<u8>>, usize)>;

/// The pending state of the job running on this thread.
#[derive(Default)]
pub(super) struct JobState {
    pub ops: Vec<Op>,
    /// Key and value bytes held by `ops` (and mirrored in `overlay`).
    pub pending_bytes: usize,
    pub deltas: Vec<(u16, i64)>,
    /// Point-readable rows written by this job and not yet committed, per [`Overlay`] slot:
    /// key → (row (None = deleted), index of its op in `ops`).
    pub overlay: [PendingRows; 2],
    /// Ops before this index come before a range delete and must stay where they are.
    pub barrier: usize,
    /// Stripes held until the pending batch is committed, sorted.
    pub held: Vec<usize>,
    /// Index of the command running now.
    pub current: usize,
    /// The first command whose writes are pending: if the commit fails, it and every later
    /// command (which may have read those writes) must answer the error.
    pub window_start: Option<usize>,
    /// Commands whose writes were lost because a commit failed, with the error.
    pub failed: Vec<(usize, String)>,
    /// A transaction (EXEC): never commit early for size.
    pub atomic: bool,
    /// Applying Raft entries: given how many of the job's commands are complete, the row that
    /// records how far the log has been applied. It joins every commit of the job, so the data and
    /// the applied position can never disagree after a crash.
    pub mark: Option<ApplyMark>,
    /// Keyspace events of the job's commands, in order (`storage/notify.rs`).
    pub events: Vec<super::notify::Recorded>,
    /// Lookups may delete expired keys (lazy expiry): not in a cluster's local reads.
    pub lazy_expiry: bool,
    /// The job is committing for the last time: every event goes out with it.
    pub ending: bool,
    /// Keys the job changed: their WATCHers are flagged when its writes are committed.
    pub touched: Vec<(usize, Vec<u8>)>,
}

/// Produces the applied-position row for a number of completed commands.
pub type ApplyMark = Box<dyn FnMut(usize) -> (Vec<u8>, Vec<u8>)>;

/// Column families whose rows are read by point lookups and so need the overlay. Iteration never
/// sees the overlay: iterating operations commit the pending batch first.
#[derive(Debug, Clone, Copy)]
pub(super) enum Overlay {
    Metadata = 0,
    Members = 1,
}

impl Overlay {
    /// The overlay slot of a column family, if its rows are point-read.
    pub fn of(cf: &str) -> Option<Overlay> {
        match cf {
            super::keys::CF_METADATA => Some(Overlay::Metadata),
            super::keys::CF_SUBKEYS => Some(Overlay::Members),
            _ => None,
        }
    }
}

impl JobState {
    /// Adds a write to the pending batch. A point write to a row this job already wrote replaces
    /// that op in place — a pipeline of 16 LPUSHes to one list writes its header once, not 16
    /// times — unless a range delete was recorded after it.
    pub fn record(&mut self, op: Op) {
        self.pending_bytes += op.key.len() + op.value.len();
        let slot = match (op.kind, Overlay::of(op.cf)) {
            (OpKind::DeleteRange, _) | (_, None) => {
                if op.kind == OpKind::DeleteRange {
                    self.barrier = self.ops.len() + 1;
                }
                self.ops.push(op);
                return;
            }
            (_, Some(slot)) => slot as usize,
        };
        let row = (op.kind == OpKind::Put).then(|| op.value.clone());
        let next = self.ops.len();
        match self.overlay[slot].get_mut(&op.key) {
            Some((pending, at)) if *at >= self.barrier => {
                *pending = row;
                let earlier = &mut self.ops[*at];
                earlier.kind = op.kind;
                earlier.value = op.value;
            }
            Some((pending, at)) => {
                *pending = row;
                *at = next;
                self.ops.push(op);
            }
            None => {
                self.overlay[slot].insert(op.key.clone(), (row, next));
                self.ops.push(op);
            }
        }
    }
}

thread_local! {
    pub(super) static JOB: RefCell<Option<JobState>> = const { RefCell::new(None) };
}

/// True while a job runs on this thread.
pub(super) fn active() -> bool {
    JOB.with(|j| j.borrow().is_some())
}

/// The applied-position row as of the end of the running command, when this job applies Raft
/// entries.
pub(super) fn mark_after_current() -> Option<(Vec<u8>, Vec<u8>)> {
    JOB.with(|j| {
        let mut j = j.borrow_mut();
        let state = j.as_mut()?;
        let completed = state.current + 1;
        state.mark.as_mut().map(|mark| mark(completed))
    })
}
