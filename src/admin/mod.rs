//! The admin HTTP API: health, readiness, Prometheus metrics, the status document and runtime
//! control, for operators, load balancers, Prometheus and `kiwictl` (reference:
//! `docs/admin-api.md`).
//!
//! It runs on its own single-threaded tokio runtime and thread, beside the network and storage
//! runtimes: a probe or a scrape must answer while clients saturate the others, and nothing here
//! goes through the storage queue. Other modules add routes (cluster control, Raft RPC) by
//! passing a [`Router`] to [`start`]; paths nobody serves answer a JSON 404.

mod auth;
mod control;
mod error;
mod exposition;
mod metrics;
mod probes;
mod snapshot;
pub mod status;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context as _};
use axum::extract::{DefaultBodyLimit, FromRef, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;

pub use auth::Authorized;
pub use control::{CheckpointRequest, ConfigChange, ConfigValue};
pub use error::{ApiError, JsonBody};
use status::RaftStatus;

use crate::state::ServerState;

/// Largest request body accepted (the API's bodies are a few short JSON fields).
const BODY_LIMIT: usize = 64 * 1024;

/// Longest a request may take, body included, before it is answered 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest `POST /v1/checkpoint` may take before it is answered 503 (the checkpoint goes on).
const CHECKPOINT_TIMEOUT: Duration = Duration::from_secs(3600);

/// How long stopping waits for requests in progress.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What the Raft layer shows the admin API; set once in `ServerState::cluster` in cluster mode.
pub trait ClusterView: Send + Sync {
    /// This node's Raft state and membership, for `/v1/status` and `/metrics`.
    fn raft_status(&self) -> RaftStatus;
    /// `Err(reason)` while this node should not receive clients (no leader known, not caught up).
    fn ready(&self) -> Result<(), String>;
}

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct Admin {
    state: Arc<ServerState>,
    /// The network runtime, pinged by `/health` (absent when built outside it, e.g. in tests).
    network: Option<tokio::runtime::Handle>,
    progress: Arc<probes::Progress>,
    /// True while a manual compaction runs.
    compacting: Arc<AtomicBool>,
}

impl FromRef<Admin> for Arc<ServerState> {
    fn from_ref(admin: &Admin) -> Arc<ServerState> {
        admin.state.clone()
    }
}

/// The admin API's own routes, with their body limit and deadlines. Call it on the network
/// runtime so `/health` can ping it.
pub fn router(state: Arc<ServerState>) -> Router {
    let admin = Admin {
        state,
        network: tokio::runtime::Handle::try_current().ok(),
        progress: Default::default(),
        compacting: Default::default(),
    };
    let quick = Router::new()
        .route("/health", get(probes::health))
        .route("/ready", get(probes::ready))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/status", get(snapshot::status))
        .route(
            "/v1/config/{key}",
            get(control::config_get).put(control::config_put),
        )
        .route("/v1/compact", post(control::compact))
        .route("/v1/shutdown", post(control::shutdown))
        .layer(middleware::from_fn_with_state(REQUEST_TIMEOUT, deadline));
    // A checkpoint copies files when hard links are impossible (another file system): its
    // answer may take far longer than any other request's.
    let slow = Router::new()
        .route("/v1/checkpoint", post(control::checkpoint))
        .layer(middleware::from_fn_with_state(CHECKPOINT_TIMEOUT, deadline));
    quick
        .merge(slow)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(admin)
}

/// The running admin API.
pub struct AdminServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: JoinHandle<()>,
}

impl AdminServer {
    /// The address it listens on (the actual port when `admin-port` is 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in progress finish (at most a few seconds), and joins.
    pub fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.thread.join();
    }
}

/// Checks the security rule, binds `admin-bind:admin-port` and serves [`router`] plus `extra` on a
/// new thread. Errors (bad address, port taken, unprotected exposure) stop the server's start.
///
/// `extra` keeps its own limits: the 64 KiB body limit and 30 s deadline of [`router`] do not
/// apply to it (Raft snapshot chunks are bigger and slower), nor does the token check — its
/// handlers take [`Authorized`] (or their own secret) where they need one.
pub fn start(state: Arc<ServerState>, extra: Router) -> anyhow::Result<AdminServer> {
    let (bind, port, protected, has_token) = {
        let config = state.config();
        (
            config.admin_bind.clone(),
            config.admin_port,
            !config.requirepass.is_empty(),
            !config.admin_token.is_empty(),
        )
    };
    let ip: IpAddr = bind
        .parse()
        .with_context(|| format!("admin-bind '{bind}' is not an IP address"))?;
    if !ip.is_loopback() && !has_token {
        if protected {
            bail!(
                "admin-bind {ip} is not a loopback address and requirepass is set, but admin-token \
                 is empty: set admin-token, or bind the admin API to 127.0.0.1"
            );
        }
        tracing::warn!(%ip, "the admin API is reachable from the network without admin-token");
    }
    let addr = SocketAddr::new(ip, port);
    let listener = std::net::TcpListener::bind(addr).with_context(|| {
        format!("admin API: listen on {addr} (set admin-port to a free port, or 0 to pick one)")
    })?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let _ = state.admin_addr.set(addr);

    let app = router(state)
        .merge(extra)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("kiwi-admin")
        // Status gathering and checkpoints block; a burst of scrapes must not spawn hundreds.
        .max_blocking_threads(4)
        .build()
        .context("start the admin API's runtime")?;
    let (stop, mut stopped) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("kiwi-admin".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(err) => {
                        tracing::error!(%err, "admin API: cannot use its listener");
                        return;
                    }
                };
                let mut signal = stopped.clone();
                let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                    let _ = signal.wait_for(|s| *s).await;
                });
                // Graceful shutdown waits for open connections; a client holding one open must
                // not hold up the process's exit.
                let grace = async {
                    let _ = stopped.wait_for(|s| *s).await;
                    tokio::time::sleep(STOP_GRACE).await;
                };
                tokio::select! {
                    result = server => {
                        if let Err(err) = result {
                            tracing::error!(%err, "admin API stopped");
                        }
                    }
                    _ = grace => tracing::warn!("admin API: stopped with requests still open"),
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
        })
        .context("start the admin API's thread")?;
    tracing::info!(%addr, "admin API listening");
    Ok(AdminServer { addr, stop, thread })
}

/// Answers 503 when a request (reading its body included) outlasts `limit`.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("request timed out after {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    let path = uri.path();
    if path.starts_with("/v1/cluster") || path.starts_with("/raft") {
        return ApiError::not_found(format!(
            "{method} {path}: cluster endpoints are not available, this node runs in single-node mode"
        ));
    }
    ApiError::not_found(format!("{method} {path}: no such endpoint"))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
