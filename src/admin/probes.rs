//! Liveness (`/health`) and readiness (`/ready`) for load balancers and Kubernetes probes.
//!
//! Neither goes through the storage queue: a probe must answer in milliseconds exactly when
//! storage is saturated, which is when an operator needs it. Liveness asks "should this process
//! be restarted?" — the network runtime runs a task, and the storage runtime keeps finishing
//! commands whenever it has some. Readiness asks "should clients be sent here?" — not while
//! shutting down, with the write breaker open, or (in cluster mode) without a leader or caught up.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use parking_lot::Mutex;
use serde_json::json;

use super::Admin;
use crate::state::stats::RuntimeStats;
use crate::state::ServerState;

/// How long the network runtime may take to run a no-op task before it counts as unresponsive.
const NETWORK_PING: Duration = Duration::from_secs(1);

/// How long the storage runtime may hold work without finishing a single command before it
/// counts as stalled. Generous: one legitimately slow command (a huge KEYS) can take seconds.
const STORAGE_STALL: Duration = Duration::from_secs(60);

/// When the storage runtime was last seen making progress (or idle, which is not a stall).
#[derive(Debug)]
pub struct Progress {
    last: Mutex<(u64, Instant)>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            last: Mutex::new((0, Instant::now())),
        }
    }
}

impl Progress {
    /// `Err` with the reason when the runtime has had work but finished nothing for too long.
    fn check(&self, stats: &RuntimeStats) -> Result<(), String> {
        let completed = stats.completed.load(Ordering::Relaxed);
        let pending =
            stats.queued.load(Ordering::Relaxed) + stats.in_flight.load(Ordering::Relaxed);
        let mut last = self.last.lock();
        if completed != last.0 || pending == 0 {
            *last = (completed, Instant::now());
            return Ok(());
        }
        let idle = last.1.elapsed();
        if idle < STORAGE_STALL {
            return Ok(());
        }
        Err(format!(
            "storage runtime stalled: no command finished for {} s with {pending} jobs queued or running",
            idle.as_secs()
        ))
    }
}

/// `GET /health`: 200 while both runtimes answer, 503 naming the one that does not.
pub async fn health(State(admin): State<Admin>) -> Response {
    let network = match &admin.network {
        Some(handle) => match tokio::time::timeout(NETWORK_PING, handle.spawn(async {})).await {
            Ok(Ok(())) => Ok(()),
            _ => Err("network runtime did not run a task within 1 s".to_string()),
        },
        None => Ok(()),
    };
    let storage = admin.progress.check(&admin.state.stats.storage);
    let problems: Vec<&String> = [&network, &storage]
        .into_iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    let runtime = |r: &Result<(), String>| if r.is_ok() { "ok" } else { "failing" };
    let mut body = json!({
        "status": if problems.is_empty() { "ok" } else { "failing" },
        "uptime_secs": admin.state.uptime_secs(),
        "runtimes": {
            "admin": "ok",
            "network": runtime(&network),
            "storage": runtime(&storage),
        },
    });
    if problems.is_empty() {
        return (StatusCode::OK, Json(body)).into_response();
    }
    let joined: Vec<&str> = problems.iter().map(|s| s.as_str()).collect();
    body["error"] = json!(joined.join("; "));
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// `GET /ready`: 200 `{"ready": true}`, or 503 with every reason the node should get no clients.
pub async fn ready(State(admin): State<Admin>) -> Response {
    let reasons = not_ready_reasons(&admin.state, &admin.progress);
    if reasons.is_empty() {
        return (StatusCode::OK, Json(json!({ "ready": true }))).into_response();
    }
    let body = json!({
        "ready": false,
        "reasons": reasons,
        "error": reasons.join("; "),
    });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

fn not_ready_reasons(state: &ServerState, progress: &Progress) -> Vec<String> {
    let mut reasons = Vec::new();
    if *state.shutdown.borrow() {
        reasons.push("shutting down".to_string());
    }
    let breaker = state.storage.breaker();
    if breaker.is_open() {
        reasons.push(format!(
            "storage circuit breaker open (writes refused): {}",
            breaker.reason()
        ));
    }
    if let Err(stalled) = progress.check(&state.stats.storage) {
        reasons.push(stalled);
    }
    if let Some(cluster) = state.cluster.get() {
        if let Err(why) = super::ClusterView::ready(cluster.as_ref()) {
            reasons.push(why);
        }
    }
    reasons
}
