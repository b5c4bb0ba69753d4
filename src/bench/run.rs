//! Driving the load: worker threads, each with its own single-threaded tokio runtime, each
//! running its share of the connections, in closed loop or open loop (`--rate`).
//!
//! Why per-thread runtimes: a connection never moves between threads, its counters are its own,
//! and nothing on the request path takes a lock or touches a shared atomic. Threads meet twice:
//! at a start barrier once every connection is up, and when their counters are merged.

use std::collections::VecDeque;
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;

use super::conn::{Conn, Handshake};
use super::keys::{KeyGen, KeyPattern, Rng};
use super::progress::Progress;
use super::scan::{self, ErrorKind, Reply};
use super::stats::{new_histogram, TestStats};
use super::workload::{Fill, Test, ValueSpec};

/// When a run stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// This many measured requests in total (split evenly over connections).
    Requests(u64),
    /// Measure for this long.
    Duration(Duration),
}

/// How the load is shaped: the settings every test against every target shares, resolved once
/// from flags and profile ([`super::args::Config`]) and carried by each [`Plan`].
#[derive(Clone)]
pub struct Load {
    pub handshake: Handshake,
    /// Follow `MOVED` redirections instead of counting them as errors.
    pub cluster: bool,
    pub threads: usize,
    pub clients: usize,
    pub pipeline: usize,
    pub limit: Limit,
    /// Load before measuring, not reported.
    pub warmup: Duration,
    /// Open loop: total requests per second, scheduled whether or not replies are back.
    pub rate: Option<f64>,
    pub keys: KeyPattern,
    pub keyspace: u64,
    pub values: Arc<ValueSpec>,
    pub seed: u64,
}

/// Everything one run of one test against one server needs.
#[derive(Clone)]
pub struct Plan {
    pub addr: String,
    pub test: Arc<Test>,
    pub load: Load,
    /// Check every bulk reply against the value `--verify` wrote for its key.
    pub check_values: bool,
    pub progress: Option<Arc<Progress>>,
}

/// The shared time line of one run.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// Replies to requests sent (closed loop) or due (open loop) before this are warm-up.
    record_from: Instant,
    /// No new requests after this (duration runs).
    end: Option<Instant>,
}

/// Runs `plan` to completion and returns the merged counters.
pub fn run(plan: &Plan) -> anyhow::Result<TestStats> {
    let clients = plan.load.clients.max(1);
    let threads = plan.load.threads.clamp(1, clients);
    let barrier = Arc::new(Barrier::new(threads + 1));
    let start: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let failure: Arc<Mutex<Option<anyhow::Error>>> = Arc::new(Mutex::new(None));
    let mut handles = Vec::with_capacity(threads);
    for thread in 0..threads {
        let ids: Vec<usize> = (thread..clients).step_by(threads).collect();
        let (plan, barrier, start, failure) = (
            plan.clone(),
            barrier.clone(),
            start.clone(),
            failure.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(format!("bench-{thread}"))
            .spawn(move || worker(&plan, &ids, &barrier, &start, &failure))
            .context("start a worker thread")?;
        handles.push(handle);
    }
    // Every worker has connected (or failed) when the first wait returns; the clock starts then.
    barrier.wait();
    let now = Instant::now();
    let _ = start.set(now);
    barrier.wait();
    if let Some(progress) = &plan.progress {
        progress.watch(&handles, now + plan.load.warmup);
    }
    let mut total = TestStats::new(plan.test.templates.len());
    for handle in handles {
        match handle.join() {
            Ok(stats) => total.merge_thread(&stats),
            Err(_) => anyhow::bail!("a benchmark worker thread panicked"),
        }
    }
    if let Some(err) = failure
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .take()
    {
        return Err(err);
    }
    Ok(total)
}

fn worker(
    plan: &Plan,
    ids: &[usize],
    barrier: &Barrier,
    start: &OnceLock<Instant>,
    failure: &Mutex<Option<anyhow::Error>>,
) -> TestStats {
    let mut total = TestStats::new(plan.test.templates.len());
    let fail = |err: anyhow::Error| {
        if let Ok(mut slot) = failure.lock() {
            slot.get_or_insert(err);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(err) => {
            fail(anyhow::Error::new(err).context("build a tokio runtime"));
            None
        }
    };
    let conns = runtime.as_ref().and_then(|rt| {
        rt.block_on(async {
            let mut conns = Vec::with_capacity(ids.len());
            for _ in ids {
                conns.push(Conn::connect(&plan.addr, &plan.load.handshake).await?);
            }
            anyhow::Ok(conns)
        })
        .map_err(fail)
        .ok()
    });
    barrier.wait();
    barrier.wait();
    let failed = failure.lock().map(|f| f.is_some()).unwrap_or(true);
    let (Some(runtime), Some(conns), Some(&start), false) = (runtime, conns, start.get(), failed)
    else {
        return total;
    };
    let clock = Clock {
        record_from: start + plan.load.warmup,
        end: match plan.load.limit {
            Limit::Duration(d) => Some(start + plan.load.warmup + d),
            Limit::Requests(_) => None,
        },
    };
    runtime.block_on(async {
        let mut tasks = Vec::with_capacity(conns.len());
        for (conn, &id) in conns.into_iter().zip(ids) {
            let client = Client::new(conn, plan, id, start);
            tasks.push(tokio::spawn(client.run(plan.clone(), clock)));
        }
        for task in tasks {
            match task.await {
                Ok(Ok(stats)) => total.merge_thread(&stats),
                Ok(Err(err)) => fail(err),
                Err(err) => fail(anyhow::Error::new(err).context("benchmark connection task")),
            }
        }
    });
    total
}

/// A request in flight.
#[derive(Debug, Clone, Copy)]
struct Sent {
    template: usize,
    /// Its first key, for `--verify`.
    key: u64,
    /// Where its bytes end in the output buffer (for resending after `MOVED`).
    end: usize,
    /// When it was sent (closed loop) or due (open loop): latency is measured from here.
    since: Instant,
    recorded: bool,
}

/// One connection's load loop and its private counters.
struct Client {
    conn: Conn,
    fill: Fill,
    out: Vec<u8>,
    batch: VecDeque<Sent>,
    stats: TestStats,
    /// Measured requests this connection still sends (`--requests`).
    budget: Option<u64>,
    /// Schedule of this connection in open loop: first due time and spacing.
    schedule: Option<(Instant, Duration)>,
    last_reply: Option<Instant>,
    live: Option<Live>,
}

impl Client {
    fn new(conn: Conn, plan: &Plan, id: usize, start: Instant) -> Client {
        let clients = plan.load.clients.max(1) as u64;
        let id64 = id as u64;
        let budget = match plan.load.limit {
            Limit::Requests(n) => Some(n / clients + u64::from(id64 < n % clients)),
            Limit::Duration(_) => None,
        };
        // Sequential walks start where the previous connection's share ends, so a run of
        // `keyspace` requests (preload, --verify) touches every key exactly once.
        let walk_start = match plan.load.limit {
            Limit::Requests(n) => id64 * (n / clients) + id64.min(n % clients),
            Limit::Duration(_) => id64 * (plan.load.keyspace / clients),
        };
        let seed = plan.load.seed ^ (id64 + 1).wrapping_mul(0xA24B_AED4_963E_E407);
        let fill = Fill::new(
            Rng::new(seed),
            KeyGen::new(plan.load.keys, plan.load.keyspace, walk_start),
            plan.load.keyspace,
            plan.load.values.clone(),
        );
        let schedule = plan.load.rate.map(|rate| {
            let spacing = Duration::from_secs_f64(clients as f64 / rate.max(1e-6));
            // Stagger connections over one spacing so they do not all fire at once.
            (
                start + spacing.mul_f64(id64 as f64 / clients as f64),
                spacing,
            )
        });
        Client {
            conn,
            fill,
            out: Vec::with_capacity(16 * 1024),
            batch: VecDeque::with_capacity(plan.load.pipeline),
            stats: TestStats::new(plan.test.templates.len()),
            budget,
            schedule,
            last_reply: None,
            live: plan.progress.clone().map(Live::new),
        }
    }

    async fn run(mut self, plan: Plan, clock: Clock) -> anyhow::Result<TestStats> {
        match self.schedule {
            Some(_) => self.open_loop(&plan, clock).await?,
            None => self.closed_loop(&plan, clock).await?,
        }
        if let Some(live) = &mut self.live {
            live.flush();
        }
        self.stats.elapsed = self
            .last_reply
            .map(|t| t.saturating_duration_since(clock.record_from))
            .unwrap_or_default();
        Ok(self.stats)
    }

    /// Closed loop: send a pipeline, wait for all of its replies, repeat. Latency is from the
    /// pipeline's write to each reply, as redis-benchmark measures it.
    async fn closed_loop(&mut self, plan: &Plan, clock: Clock) -> anyhow::Result<()> {
        loop {
            let now = Instant::now();
            if clock.end.is_some_and(|end| now >= end) {
                return Ok(());
            }
            let recording = now >= clock.record_from;
            let n = match self.budget {
                Some(left) if recording => left.min(plan.load.pipeline as u64) as usize,
                _ => plan.load.pipeline,
            };
            if n == 0 {
                return Ok(());
            }
            self.out.clear();
            for _ in 0..n {
                self.encode_one(&plan.test, now, recording);
            }
            self.conn.send(&self.out).await?;
            self.collect_batch(plan).await?;
            if recording {
                if let Some(left) = &mut self.budget {
                    *left -= n as u64;
                }
            }
        }
    }

    /// Open loop: requests are due at fixed times whatever the server does; up to `pipeline`
    /// may be in flight. Latency runs from the due time, not the send time, so a stalled
    /// server is charged for every request it held up (coordinated-omission correction).
    ///
    /// Timers tick in milliseconds, so a request may go out up to one tick before it is due
    /// rather than up to one tick late; its latency then runs from the actual send, the
    /// earlier of the two. Either way the client's timer granularity is not billed to the
    /// server, and a server stall still is.
    async fn open_loop(&mut self, plan: &Plan, clock: Clock) -> anyhow::Result<()> {
        const EARLY: Duration = Duration::from_millis(1);
        let Some((mut due, spacing)) = self.schedule else {
            return Ok(());
        };
        let mut redirect: Option<String> = None;
        loop {
            let now = Instant::now();
            let open = clock.end.is_none_or(|end| due < end) && self.budget != Some(0);
            self.out.clear();
            let first_new = self.batch.len();
            while open
                && self.batch.len() < plan.load.pipeline
                && due <= now + EARLY
                && self.budget != Some(0)
            {
                let recording = due >= clock.record_from;
                self.encode_one(&plan.test, due.min(now), recording);
                if recording {
                    if let Some(left) = &mut self.budget {
                        *left -= 1;
                    }
                }
                due += spacing;
            }
            if self.batch.len() > first_new {
                self.conn.send(&self.out).await?;
            }
            if self.batch.is_empty() {
                if let Some(addr) = redirect.take() {
                    self.conn = Conn::connect(&addr, &plan.load.handshake).await?;
                }
                if !open {
                    return Ok(());
                }
                tokio::time::sleep_until(due.checked_sub(EARLY).unwrap_or(due).into()).await;
                continue;
            }
            let may_send = open && self.batch.len() < plan.load.pipeline;
            let reply = if may_send {
                tokio::select! {
                    reply = self.conn.next_reply() => reply?,
                    _ = tokio::time::sleep_until(due.checked_sub(EARLY).unwrap_or(due).into()) => continue,
                }
            } else {
                self.conn.next_reply().await?
            };
            let Some(sent) = self.batch.pop_front() else {
                continue;
            };
            // Requests already in flight cannot be resent without breaking the schedule: the
            // redirected one counts as a MOVED error, and the connection moves once idle.
            if let (true, Reply::Error(ErrorKind::Moved, text)) = (plan.load.cluster, &reply) {
                let addr = scan::redirect_address(self.conn.bytes(text.clone()));
                redirect = addr.map(str::to_string).or(redirect);
            }
            self.settle(plan, sent, reply, false);
        }
    }

    fn encode_one(&mut self, test: &Test, since: Instant, recorded: bool) {
        let template = test.pick(&mut self.fill.rng);
        let key = test.templates[template].encode(&mut self.out, &mut self.fill);
        self.batch.push_back(Sent {
            template,
            key,
            end: self.out.len(),
            since,
            recorded,
        });
    }

    /// Reads every reply of the batch just sent; in cluster mode, resends what was `MOVED` to
    /// the node named in the redirection (a few times at most, then counts it as an error).
    async fn collect_batch(&mut self, plan: &Plan) -> anyhow::Result<()> {
        const MAX_REDIRECTS: usize = 3;
        let mut sent_bytes = std::mem::take(&mut self.out);
        for attempt in 0..=MAX_REDIRECTS {
            let follow = plan.load.cluster && attempt < MAX_REDIRECTS;
            let mut moved: Vec<(usize, Sent)> = Vec::new();
            let mut target = None;
            let mut start = 0;
            while let Some(sent) = self.batch.pop_front() {
                let reply = self.conn.next_reply().await?;
                if let Some(addr) = self.settle(plan, sent, reply, follow) {
                    moved.push((start, sent));
                    target = Some(addr);
                }
                start = sent.end;
            }
            let Some(addr) = target else { break };
            // Rebuild the output with only the redirected requests, then send them again.
            let mut again = Vec::with_capacity(sent_bytes.len());
            for (from, mut sent) in moved {
                again.extend_from_slice(&sent_bytes[from..sent.end]);
                sent.end = again.len();
                self.batch.push_back(sent);
            }
            self.conn = Conn::connect(&addr, &plan.load.handshake).await?;
            self.conn.send(&again).await?;
            sent_bytes = again;
        }
        self.out = sent_bytes;
        Ok(())
    }

    /// Books one reply. Returns the redirection address when the request must be resent.
    fn settle(
        &mut self,
        plan: &Plan,
        sent: Sent,
        reply: Reply,
        follow_moved: bool,
    ) -> Option<String> {
        let now = Instant::now();
        let error = match &reply {
            Reply::Error(kind, _) => Some(*kind),
            _ => None,
        };
        if error == Some(ErrorKind::Moved) && follow_moved {
            if sent.recorded {
                self.stats.commands[sent.template].moved += 1;
            }
            if let Reply::Error(_, text) = reply {
                return scan::redirect_address(self.conn.bytes(text)).map(str::to_string);
            }
        }
        let latency = now.saturating_duration_since(sent.since);
        // The progress line shows warm-up load too; the results do not.
        if let Some(live) = &mut self.live {
            live.record(latency, error.is_some(), now);
        }
        if !sent.recorded {
            return None;
        }
        let command = &mut self.stats.commands[sent.template];
        command.record(latency, error);
        if plan.check_values {
            let good = match &reply {
                Reply::Bulk(range) => plan
                    .load
                    .values
                    .matches(sent.key, self.conn.bytes(range.clone())),
                _ => false,
            };
            command.mismatches += u64::from(!good);
        }
        self.last_reply = Some(now);
        None
    }
}

/// A connection's share of the live progress line: counted locally, handed over a few times a
/// second, so the hot path stays free of shared state.
struct Live {
    shared: Arc<Progress>,
    latency: Histogram<u64>,
    errors: u64,
    next_flush: Instant,
}

impl Live {
    const EVERY: Duration = Duration::from_millis(200);

    fn new(shared: Arc<Progress>) -> Live {
        Live {
            shared,
            latency: new_histogram(),
            errors: 0,
            next_flush: Instant::now() + Self::EVERY,
        }
    }

    fn record(&mut self, latency: Duration, error: bool, now: Instant) {
        self.latency
            .saturating_record(latency.as_micros().max(1) as u64);
        self.errors += u64::from(error);
        if now >= self.next_flush {
            self.flush();
            self.next_flush = now + Self::EVERY;
        }
    }

    fn flush(&mut self) {
        self.shared.add(&self.latency, self.errors);
        self.latency.reset();
        self.errors = 0;
    }
}
