//! The network runtime: listeners, connections, connection-level commands, and the lifecycle of
//! the whole server (start, background tasks, graceful shutdown).

mod acl;
mod background;
mod blocking;
mod cluster_cmds;
mod conn_cmds;
mod connection;
mod pubsub;
mod script_cmds;
mod transaction;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpSocket};

use crate::config::Config;
pub use crate::raft::Bootstrap;
use crate::runtime::{StorageClient, StorageRuntime};
use crate::state::stats::bump;
use crate::state::ServerState;
use crate::storage::breaker::Breaker;
use crate::storage::Storage;

/// How long shutdown waits for connections to finish their current pipeline.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether this process is a cluster member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No Raft at all: no consensus cost.
    SingleNode,
    /// A Raft member with this id.
    Cluster { id: u64, bootstrap: Bootstrap },
}

/// File descriptors kept for everything but clients and RocksDB's table files: listeners, the
/// admin API, Raft peers, logs, the WAL (Redis keeps 32 too).
const RESERVED_FDS: u64 = 32;

/// Makes room for `maxclients` under the open-files limit, raising the limit where allowed and
/// otherwise lowering `maxclients` to what fits, with a warning — as Redis does — rather than
/// failing accepts at random once the process runs out of descriptors.
fn fit_clients_to_open_files(config: &mut Config) {
    let reserved = RESERVED_FDS + config.rocksdb_max_open_files.max(0) as u64;
    let wanted = config.maxclients as u64 + reserved;
    let Some(limit) = crate::sys::raise_open_files_limit(wanted) else {
        return;
    };
    if limit >= wanted {
        return;
    }
    let fitting = limit.saturating_sub(reserved).max(1) as usize;
    tracing::warn!(
        "maxclients {} needs {wanted} open files, but the limit is {limit} (raise 'ulimit -n' or \
         LimitNOFILE=); maxclients lowered to {fitting}",
        config.maxclients
    );
    config.maxclients = fitting;
}

/// Runs the node until SIGINT/SIGTERM or SHUTDOWN, then stops cleanly.
pub fn run(mut config: Config, mode: Mode) -> anyhow::Result<()> {
    fit_clients_to_open_files(&mut config);
    std::fs::create_dir_all(&config.dir)
        .with_context(|| format!("create data directory {}", config.dir))?;
    let storage = Storage::open(&config, Arc::new(Breaker::default()))
        .with_context(|| format!("open data directory {}", config.dir))?;
    let network = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.network_thread_count())
        .thread_name("kiwi-net")
        .enable_all()
        .build()
        .context("start the network runtime")?;
    let state = network.block_on(serve(config, storage, mode))?;
    drop(network);
    state
        .storage
        .flush_to_disk(true)
        .context("flush storage on shutdown")?;
    tracing::info!("kiwi stopped");
    Ok(())
}

async fn bind_all(config: &Config) -> anyhow::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    let mut port = config.port;
    for host in config.bind.split_whitespace() {
        let ip: std::net::IpAddr = host
            .trim_start_matches('-')
            .parse()
            .with_context(|| format!("bind address '{host}' is not an IP address"))?;
        let addr = SocketAddr::new(ip, port);
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket
            .bind(addr)
            .with_context(|| format!("listen on {addr}"))?;
        let listener = socket.listen(1024)?;
        // With `port 0`, every further address uses the port the OS picked for the first.
        port = listener.local_addr()?.port();
        listeners.push(listener);
    }
    Ok(listeners)
}

async fn serve(config: Config, storage: Storage, mode: Mode) -> anyhow::Result<Arc<ServerState>> {
    let listeners = bind_all(&config).await?;
    let port = listeners[0].local_addr()?.port();
    let threads = config.storage_thread_count();
    let depth = config.storage_queue_depth;
    let data_dir = std::fs::canonicalize(&config.dir).unwrap_or_else(|_| config.dir.clone().into());
    let acl_file = config.aclfile.clone();
    let state = ServerState::new(config, storage, port);
    if !acl_file.is_empty() {
        // As Redis: a server configured with an ACL file it cannot load does not start.
        state
            .acl
            .load_file(Path::new(&acl_file))
            .map_err(|e| anyhow::anyhow!("Aborting Kiwi startup because of ACL errors: {e}"))?;
    }
    let raft_slot = crate::raft::http::Slot::default();
    let cluster_routes = match mode {
        Mode::SingleNode => axum::Router::new(),
        Mode::Cluster { .. } => {
            let limit = state.config().client_query_buffer_limit.0 as usize;
            crate::raft::http::routes(state.clone(), raft_slot.clone(), limit)
        }
    };
    // Before anything else starts: a refused admin port (taken, unprotected) stops the start-up.
    let admin = crate::admin::start(state.clone(), cluster_routes)?;
    let (storage_rt, client) = StorageRuntime::start(state.clone(), threads, depth)
        .context("start the storage runtime")?;
    let background = background::start(state.clone()).context("start background tasks")?;
    if let Mode::Cluster { id, bootstrap } = mode {
        let me = crate::raft::own_address(&state, admin.addr().port());
        let node = crate::raft::start(state.clone(), id, me.clone(), bootstrap).await?;
        let _ = node.local.set(client.clone());
        let _ = state.cluster.set(node.clone());
        let _ = raft_slot.set(node);
        tracing::info!(id, admin = %me.admin_addr, resp = %me.resp_addr, "raft member started");
    }

    for listener in &listeners {
        tracing::info!(addr = %listener.local_addr()?, data = %data_dir.display(), "kiwi ready to accept connections");
    }
    let accept_tasks: Vec<_> = listeners
        .into_iter()
        .map(|l| tokio::spawn(accept_loop(l, state.clone(), client.clone())))
        .collect();

    let mut shutdown = state.shutdown.subscribe();
    tokio::select! {
        _ = crate::sys::shutdown_signal() => tracing::info!("shutdown requested by signal"),
        _ = shutdown.wait_for(|stop| *stop) => tracing::info!("shutdown requested by SHUTDOWN"),
    }
    state.request_shutdown();
    for task in accept_tasks {
        task.abort();
    }
    // Connections notice the shutdown between pipelines; give them time to finish what they hold.
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    while state.clients.count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(node) = state.cluster.get() {
        let _ = node.raft.shutdown().await;
    }
    drop(client);
    tokio::task::spawn_blocking(move || {
        storage_rt.shutdown();
        background.stop();
        admin.stop();
    })
    .await?;
    Ok(state)
}

async fn accept_loop(listener: TcpListener, state: Arc<ServerState>, storage: StorageClient) {
    loop {
        let (socket, addr) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        bump(&state.stats.connections_received, 1);
        let _ = socket.set_nodelay(true);
        let local = socket.local_addr().unwrap_or(addr);
        let maxclients = state.config().maxclients;
        match state.clients.register(addr, local, maxclients) {
            Some(handle) => {
                tokio::spawn(connection::serve(
                    socket,
                    state.clone(),
                    storage.clone(),
                    handle,
                ));
            }
            None => {
                bump(&state.stats.rejected_connections, 1);
                tokio::spawn(connection::reject(socket));
            }
        }
    }
}
