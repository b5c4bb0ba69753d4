//! One client connection: read what the socket has, parse every complete request, run them in
//! order (connection commands here, storage commands as one job per run of consecutive storage
//! commands), and write all replies with one write.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cmd::{self, Flags, Handler};
use crate::error::ReplyError;
use crate::resp::{Frame, ParseLimits, Protocol, RequestParser};
use crate::runtime::{QueuedCommand, StorageClient};
use crate::state::clients::ClientHandle;
use crate::state::stats::bump;
use crate::state::ServerState;
use crate::storage::watch::{DirtyFlag, WatchGuard};
use crate::sys::SocketHandle;

use super::transaction::Queued;

use super::pubsub::Subscriptions;

/// Initial read buffer; it grows only with data that actually arrives.
const READ_BUFFER: usize = 16 * 1024;
/// Most commands sent to the storage runtime as one job (one group commit).
const MAX_JOB_COMMANDS: usize = 1024;
/// Replies buffered before they are written out and parsing resumes, so a long pipeline of large
/// replies streams instead of accumulating in memory.
const OUTPUT_HIGH_WATER: usize = 256 * 1024;

/// What `process` left behind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Everything complete in the buffer was handled; read the socket again.
    Idle,
    /// Replies were written out early; complete requests are still buffered.
    MoreBuffered,
    /// The connection must close.
    Close,
}

/// CLIENT REPLY mode.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ReplyMode {
    On,
    Off,
    /// Suppress the reply of the next command only.
    Skip,
}

/// Per-connection state; never crosses to the storage runtime.
pub(super) struct Connection {
    pub state: Arc<ServerState>,
    pub storage: StorageClient,
    pub client: Arc<ClientHandle>,
    pub db: usize,
    pub proto: Protocol,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    /// Set by QUIT, SHUTDOWN or a protocol error: close after writing the replies.
    pub closing: bool,
    /// Commands queued since MULTI; `None` outside a transaction.
    pub multi: Option<Vec<Queued>>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    pub multi_failed: bool,
    /// Keys this connection WATCHes, and those of them that existed when watched.
    pub watched: Vec<(usize, Bytes)>,
    pub live_watched: Vec<(usize, Bytes)>,
    /// Cluster mode: fingerprints of the watched keys as this node held them when watched.
    pub watch_guards: Vec<WatchGuard>,
    /// Set by any write to a watched key.
    pub watch_dirty: DirtyFlag,
    /// While EXEC runs a queued (P|S)(UN)SUBSCRIBE: its confirmations, collected for EXEC's reply.
    pub captured_notifications: Option<Vec<Frame>>,
    /// Pub/sub channels and patterns this connection listens to.
    pub subs: Subscriptions,
    /// The client's socket, owned by [`serve`]: a blocked command watches it for a hang-up.
    pub socket: SocketHandle,
    out: BytesMut,
    pending: Vec<QueuedCommand>,
}

/// Serves one connection until the client leaves, is killed, or the server shuts down.
pub async fn serve(
    mut socket: TcpStream,
    state: Arc<ServerState>,
    storage: StorageClient,
    client: Arc<ClientHandle>,
) {
    let authenticated = state.config().requirepass.is_empty();
    let mut conn = Connection {
        state: state.clone(),
        storage,
        client: client.clone(),
        db: 0,
        proto: Protocol::Resp2,
        authenticated,
        reply_mode: ReplyMode::On,
        closing: false,
        multi: None,
        multi_failed: false,
        watched: Vec::new(),
        live_watched: Vec::new(),
        watch_guards: Vec::new(),
        watch_dirty: DirtyFlag::default(),
        captured_notifications: None,
        subs: Subscriptions::new(state.pubsub.clone(), client.clone()),
        socket: SocketHandle::of(&socket),
        out: BytesMut::with_capacity(READ_BUFFER),
        pending: Vec::new(),
    };
    let mut shutdown = state.shutdown.subscribe();
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let mut parser = RequestParser::new();
    loop {
        let read = tokio::select! {
            biased;
            _ = client.kill_signal.notified() => break,
            _ = shutdown.wait_for(|stop| *stop) => break,
            read = socket.read_buf(&mut buf) => Some(read),
            _ = conn.subs.ready() => None,
        };
        // Pub/sub messages arrived while the client sent nothing.
        let Some(read) = read else {
            match conn.write_messages(&mut socket).await {
                true => continue,
                false => break,
            }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => bump(&state.stats.net_input_bytes, n as u64),
        }
        // A CLIENT KILL that raced with this read wins: a killed client is never served again.
        if client.killed.load(Ordering::Acquire) {
            break;
        }
        client
            .last_active_ms
            .store(crate::util::now_ms(), Ordering::Relaxed);
        let network = &state.stats.network;
        network.in_flight.fetch_add(1, Ordering::Relaxed);
        let mut progress = Progress::MoreBuffered;
        while progress == Progress::MoreBuffered {
            progress = conn.process(&mut buf, &mut parser).await;
            if !conn.out.is_empty() {
                bump(&state.stats.net_output_bytes, conn.out.len() as u64);
                // A client that stopped reading must still go when killed (output limits,
                // CLIENT KILL), not hang in this write.
                let written = tokio::select! {
                    result = socket.write_all(&conn.out) => result.is_ok(),
                    _ = client.kill_signal.notified() => false,
                };
                if !written {
                    progress = Progress::Close;
                }
                conn.out.clear();
            }
        }
        network.in_flight.fetch_sub(1, Ordering::Relaxed);
        if progress == Progress::Close || conn.closing || client.killed.load(Ordering::Acquire) {
            break;
        }
        // Give back memory a single huge request made us hold.
        if buf.is_empty() && buf.capacity() > 4 * READ_BUFFER {
            buf = BytesMut::with_capacity(READ_BUFFER);
        }
    }
    let _ = socket.shutdown().await;
    conn.unwatch_all();
    state.monitors.remove(client.id);
    state.clients.unregister(client.id);
}

/// Refuses a connection over `maxclients` with Redis's error, then closes it.
pub async fn reject(mut socket: TcpStream) {
    let mut out = BytesMut::new();
    Frame::from(ReplyError::MaxClients).encode(Protocol::Resp2, &mut out);
    let _ = socket.write_all(&out).await;
    let _ = socket.shutdown().await;
}

impl Connection {
    /// Handles the complete requests in `buf`, stopping early once enough replies are buffered.
    async fn process(&mut self, buf: &mut BytesMut, parser: &mut RequestParser) -> Progress {
        let (limits, query_limit) = {
            let config = self.state.config();
            (
                ParseLimits {
                    max_bulk_len: config.proto_max_bulk_len.0 as usize,
                    unauthenticated: !self.authenticated,
                },
                config.client_query_buffer_limit.0 as usize,
            )
        };
        let mut last_command: Option<Bytes> = None;
        let mut progress = Progress::Idle;
        loop {
            match parser.next(buf, limits) {
                Ok(Some(args)) => {
                    last_command = Some(args[0].clone());
                    self.dispatch(args).await;
                    if self.closing {
                        break;
                    }
                    if self.pending.len() >= MAX_JOB_COMMANDS {
                        self.flush_pending().await;
                    }
                    if self.out.len() >= OUTPUT_HIGH_WATER {
                        progress = Progress::MoreBuffered;
                        break;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    self.flush_pending().await;
                    tracing::debug!(client = self.client.id, %err, "protocol error, closing connection");
                    self.push_reply(Frame::Error(format!("ERR {err}")));
                    self.closing = true;
                    break;
                }
            }
        }
        self.flush_pending().await;
        if let Some(name) = last_command {
            *self.client.last_cmd.lock() = String::from_utf8_lossy(&name).to_ascii_lowercase();
        }
        if buf.len() + parser.pending_bytes() > query_limit {
            tracing::warn!(
                client = self.client.id,
                "closing client that reached the query buffer limit"
            );
            return Progress::Close;
        }
        progress
    }

    /// Validates one request and either runs it here or queues it for storage.
    async fn dispatch(&mut self, args: Vec<Bytes>) {
        bump(&self.state.stats.commands_processed, 1);
        let Some(spec) = cmd::lookup(&args[0]) else {
            self.fail_multi();
            self.push_reply(ReplyError::unknown_command(&args[0], &args[1..]).into());
            return;
        };
        if !self.authenticated && !spec.flags.contains(Flags::NO_AUTH) {
            cmd::stats::reject(spec);
            self.push_reply(ReplyError::NoAuth.into());
            return;
        }
        if let Err(err) = cmd::check_arity(spec, &args) {
            cmd::stats::reject(spec);
            self.fail_multi();
            self.push_reply(err.into());
            return;
        }
        if self.multi.is_some() && spec.flags.contains(Flags::NO_MULTI) {
            cmd::stats::reject(spec);
            self.fail_multi();
            let err = ReplyError::custom("ERR Command not allowed inside a transaction");
            self.push_reply(err.into());
            return;
        }
        let refusal = self.acl_refusal(spec, &args);
        if let Some(err) = refusal.or_else(|| self.subscribed_refusal(spec, &args)) {
            cmd::stats::reject(spec);
            self.fail_multi();
            self.push_reply(err.into());
            return;
        }
        if let Some(quota) = self.state.storage.over_quota() {
            // EXEC counts as the commands it would run, as in Redis.
            let exec_denyoom = spec.name == "exec"
                && self.multi.as_ref().is_some_and(|queue| {
                    queue.iter().any(|q| q.spec.flags.contains(Flags::DENYOOM))
                });
            // Queueing in MULTI takes memory too: only EXEC, DISCARD, QUIT and RESET get past.
            let queueing =
                self.multi.is_some() && !matches!(spec.name, "exec" | "discard" | "quit" | "reset");
            if spec.call_flags(&args).contains(Flags::DENYOOM) || exec_denyoom || queueing {
                cmd::stats::reject(spec);
                self.fail_multi();
                let err = ReplyError::from(quota);
                let err = if exec_denyoom {
                    self.abort_exec(err)
                } else {
                    err
                };
                self.push_reply(err.into());
                return;
            }
        }
        if !spec.call_flags(&args).contains(Flags::ALLOW_BUSY) {
            if let Some(err) = self.state.scripts.busy_error() {
                cmd::stats::reject(spec);
                self.fail_multi();
                let err = if spec.name == "exec" && self.multi.is_some() {
                    self.abort_exec(err)
                } else {
                    err
                };
                self.push_reply(err.into());
                return;
            }
        }
        if !matches!(spec.handler, Handler::Connection) {
            self.feed_monitors(spec, &args);
        }
        let (spec, args) = match self.script_by_body(spec, args) {
            Ok(call) => call,
            Err(err) => {
                cmd::stats::reject(spec);
                self.fail_multi();
                self.push_reply(err.into());
                return;
            }
        };
        if self.multi.is_some() && !spec.flags.contains(Flags::NOW_IN_MULTI) {
            let queued = self.queue(spec, args);
            self.push_reply(queued);
            return;
        }
        if !spec.flags.contains(Flags::NOT_PAUSED) {
            // EXEC is held back as the commands it runs would be.
            let paused = self.paused_by_write_pause(spec, &args)
                || (spec.name == "exec"
                    && self.multi.as_ref().is_some_and(|queue| {
                        queue
                            .iter()
                            .any(|q| self.paused_by_write_pause(q.spec, &q.args))
                    }));
            self.state.pause.wait(paused, &self.client.blocked).await;
        }
        if spec.flags.contains(Flags::BLOCKING) && cmd::blocking::blocks(spec, &args) {
            // Each attempt is a storage command and is counted (and slow-logged) as one.
            self.flush_pending().await;
            let reply = self.block(spec, args).await;
            self.push_reply(reply);
            return;
        }
        let handler = if spec.call_flags(&args).contains(Flags::ON_NETWORK) {
            Handler::Connection
        } else {
            spec.handler
        };
        match handler {
            Handler::Storage(_) => {
                let local_read = !spec.is_write() && self.client.readonly.load(Ordering::Relaxed);
                let key = spec.key_indexes(&args).first().copied();
                if let Some(moved) = self.moved(&args, key).filter(|_| !local_read) {
                    self.flush_pending().await;
                    self.push_reply(moved);
                    return;
                }
                self.pending.push(QueuedCommand {
                    db: self.db,
                    spec,
                    args,
                })
            }
            Handler::Connection => {
                self.flush_pending().await;
                let started = std::time::Instant::now();
                let reply = match spec.name {
                    "exec" => Some(self.exec().await),
                    "publish" | "spublish" if self.state.cluster.get().is_some() => {
                        Some(self.publish_replicated(spec, args.clone()).await)
                    }
                    "watch" => Some(self.watch(&args).await),
                    "cluster" if super::cluster_cmds::reads_keys(&args) => {
                        Some(self.cluster_slot_keys(&args).await)
                    }
                    _ => self.run_connection_command(spec.name, &args),
                };
                let failed = reply.as_ref().is_some_and(Frame::is_error);
                let elapsed = started.elapsed();
                cmd::stats::finished(&self.state, &self.client, spec, &args, elapsed, failed);
                // After running, so SELECT shows the database it selected, as in Redis.
                self.feed_monitors(spec, &args);
                if let Some(frame) = reply {
                    self.push_reply(frame);
                }
            }
        }
    }

    /// Whether CLIENT PAUSE WRITE holds this call back: what the command may do, and for a
    /// script what its declared flags say (a `no-writes` script passes, as in Redis).
    fn paused_by_write_pause(&self, spec: &cmd::CommandSpec, args: &[Bytes]) -> bool {
        spec.paused_by_write_pause()
            && (!spec.flags.contains(Flags::RUNS_SCRIPT)
                || self.state.scripts.call_may_write(spec.name, args))
    }

    /// Streams a command to the MONITOR connections (not admin commands, as in Redis).
    fn feed_monitors(&self, spec: &cmd::CommandSpec, args: &[Bytes]) {
        let monitors = &self.state.monitors;
        if !monitors.active() {
            return;
        }
        // Container commands (CONFIG GET, CLIENT LIST) carry their flags on the subcommand.
        // Scripts are `skip_monitor` in the table because Redis feeds them itself, before the
        // commands they call: here, as they are dispatched.
        let flags = spec.call_flags(args);
        if flags.intersects(Flags::ADMIN | Flags::SKIP_MONITOR)
            && !flags.contains(Flags::RUNS_SCRIPT)
        {
            return;
        }
        let limit = self.state.config().client_output_buffer_limit.pubsub;
        monitors.feed(
            &self.client,
            self.db,
            args,
            |i| spec.is_secret(args, i),
            &limit,
        );
    }

    /// Sends the queued storage commands as one job and appends their replies.
    async fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let commands = std::mem::take(&mut self.pending);
        let count = commands.len();
        match self
            .storage
            .execute(commands, self.proto, &self.client)
            .await
        {
            Ok(replies) => {
                for reply in replies {
                    self.push_reply(reply);
                }
            }
            Err(err) => {
                for _ in 0..count {
                    self.push_reply(err.clone().into());
                }
            }
        }
    }

    /// Encodes a reply unless CLIENT REPLY suppresses it, after any pub/sub messages waiting.
    pub(super) fn push_reply(&mut self, frame: Frame) {
        self.subs.drain_into(&mut self.out);
        let stats = &self.state.stats;
        bump(&stats.network.completed, 1);
        if frame.is_error() {
            bump(&stats.network.errors, 1);
        }
        count_errors(stats, &frame);
        match self.reply_mode {
            ReplyMode::On => frame.encode(self.proto, &mut self.out),
            ReplyMode::Off => {}
            ReplyMode::Skip => self.reply_mode = ReplyMode::On,
        }
    }

    /// Encodes a pub/sub confirmation ((P|S)(UN)SUBSCRIBE). Redis 7 sends these as pushes, which
    /// CLIENT REPLY OFF and SKIP do not suppress (SKIP is used up by the command all the same).
    pub(super) fn push_notification(&mut self, frame: Frame) {
        // Inside EXEC the confirmations become the command's entries in EXEC's reply.
        if let Some(captured) = self.captured_notifications.as_mut() {
            captured.push(frame);
            return;
        }
        self.subs.drain_into(&mut self.out);
        if self.reply_mode == ReplyMode::Skip {
            self.reply_mode = ReplyMode::On;
        }
        frame.encode(self.proto, &mut self.out);
    }
}

/// Counts the errors of a reply in INFO errorstats, those inside arrays too (EXEC's replies, a
/// script's returned table), as Redis counts every error it writes.
fn count_errors(stats: &crate::state::stats::Stats, frame: &Frame) {
    match frame {
        Frame::Error(text) => stats.count_error(text),
        Frame::Array(items) => {
            for item in items {
                count_errors(stats, item);
            }
        }
        _ => {}
    }
}
