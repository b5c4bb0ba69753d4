//! Runtime control: configuration, compaction, checkpoints (online backups) and shutdown.
//!
//! Reads are open; every change takes [`Authorized`]. Work that blocks on RocksDB runs on the
//! admin runtime's blocking threads, beside the storage runtime rather than through its queue,
//! so an operator can act on a node whose clients have saturated it.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::Authorized;
use super::error::JsonBody;
use super::{Admin, ApiError};
use crate::config::{find_option, SetError, SENSITIVE};

/// What a secret option's value (`requirepass`, `admin-token`, `masterauth`, ... — the options
/// flagged `SENSITIVE`) is replaced with when it is set: the admin API never shows it.
const REDACTED: &str = "<redacted>";

fn shown(name: &str, value: String) -> Value {
    let secret = find_option(name).is_some_and(|spec| spec.flags & SENSITIVE != 0);
    if secret && !value.is_empty() {
        Value::from(REDACTED)
    } else {
        Value::from(value)
    }
}

/// `GET /v1/config/{key}`: like `CONFIG GET`, an option name or a glob pattern; answers an object
/// of name → value (strings, as CONFIG GET prints them). An unknown exact name is a 404.
pub async fn config_get(
    State(admin): State<Admin>,
    Path(key): Path<String>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    let config = admin.state.config();
    let is_glob = key.contains(['*', '?', '[']);
    let pairs: Vec<(&str, String)> = if is_glob {
        config.matching(&[key.as_bytes()])
    } else {
        let spec = find_option(&key)
            .ok_or_else(|| ApiError::not_found(format!("unknown configuration key '{key}'")))?;
        vec![(spec.name, spec.get(&config))]
    };
    Ok(Json(
        pairs
            .into_iter()
            .map(|(name, value)| (name.to_string(), shown(name, value)))
            .collect(),
    ))
}

/// Body of `PUT /v1/config/{key}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigChange {
    /// The new value as written in the configuration file; a JSON number or boolean is taken as
    /// its text (`{"value": 500}` = `{"value": "500"}`).
    pub value: ConfigValue,
}

/// A configuration value as JSON may carry it.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Text(String),
    Number(serde_json::Number),
    Flag(bool),
}

impl ConfigValue {
    /// The value as `CONFIG SET` takes it.
    pub fn into_text(self) -> String {
        match self {
            ConfigValue::Text(s) => s,
            ConfigValue::Number(n) => n.to_string(),
            ConfigValue::Flag(b) => if b { "yes" } else { "no" }.to_string(),
        }
    }
}

/// `PUT /v1/config/{key}`: like `CONFIG SET` of one option (not saved to the file).
pub async fn config_put(
    _: Authorized,
    State(admin): State<Admin>,
    Path(key): Path<String>,
    JsonBody(change): JsonBody<ConfigChange>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    let spec = find_option(&key)
        .ok_or_else(|| ApiError::not_found(format!("unknown configuration key '{key}'")))?;
    let state = admin.state.clone();
    // Applying may call into RocksDB (SetOptions), which can wait on its mutex.
    let changes = vec![(spec.name.to_string(), change.value.into_text())];
    tokio::task::spawn_blocking(move || state.update_config(&changes))
        .await
        .map_err(|e| ApiError::internal(format!("applying the change failed: {e}")))?
        .map_err(|err| match err {
            SetError::Unknown(key) => {
                ApiError::not_found(format!("unknown configuration key '{key}'"))
            }
            SetError::Failed { key, message } => {
                ApiError::bad_request(format!("cannot set '{key}': {message}"))
            }
        })?;
    tracing::info!(
        option = spec.name,
        "configuration changed through the admin API"
    );
    let value = spec.get(&admin.state.config());
    let mut out = Map::new();
    out.insert(spec.name.to_string(), shown(spec.name, value));
    Ok(Json(out))
}

/// `POST /v1/compact`: starts a full manual compaction in the background (202); one at a time
/// (409 while one runs), because two would only compete for the same disk.
pub async fn compact(
    _: Authorized,
    State(admin): State<Admin>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if admin.compacting.swap(true, Ordering::AcqRel) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "a compaction is already running",
        ));
    }
    let state = admin.state.clone();
    let flag = admin.compacting.clone();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        tracing::info!("manual compaction started");
        state.storage.compact_all();
        flag.store(false, Ordering::Release);
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "manual compaction finished"
        );
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "status": "compaction started" })),
    ))
}

/// Body of `POST /v1/checkpoint`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRequest {
    /// Absolute path of a directory that does not exist yet (its parent must).
    pub dir: PathBuf,
}

/// `POST /v1/checkpoint`: a consistent copy of the data in a new directory, usable as the `dir` of
/// a new node. Answers when the checkpoint is complete.
pub async fn checkpoint(
    _: Authorized,
    State(admin): State<Admin>,
    JsonBody(request): JsonBody<CheckpointRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let dir = request.dir;
    if !dir.is_absolute() {
        return Err(ApiError::bad_request(format!(
            "checkpoint dir '{}' must be an absolute path",
            dir.display()
        )));
    }
    if dir.exists() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("checkpoint dir '{}' already exists", dir.display()),
        ));
    }
    if !dir.parent().is_some_and(|p| p.is_dir()) {
        return Err(ApiError::bad_request(format!(
            "the parent directory of checkpoint dir '{}' does not exist",
            dir.display()
        )));
    }
    let state = admin.state.clone();
    let target = dir.clone();
    let started = Instant::now();
    tokio::task::spawn_blocking(move || state.storage.checkpoint(&target))
        .await
        .map_err(|e| ApiError::internal(format!("checkpoint failed: {e}")))?
        .map_err(|e| ApiError::internal(format!("checkpoint failed: {e}")))?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(dir = %dir.display(), seconds, "checkpoint written");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "dir": dir.display().to_string(), "seconds": seconds })),
    ))
}

/// `POST /v1/shutdown`: starts the same graceful shutdown as SIGTERM or SHUTDOWN (202): connections
/// finish their pipelines, memtables are flushed, then the process exits.
pub async fn shutdown(_: Authorized, State(admin): State<Admin>) -> (StatusCode, Json<Value>) {
    tracing::info!("shutdown requested through the admin API");
    admin.state.request_shutdown();
    (
        StatusCode::ACCEPTED,
        Json(json!({ "status": "shutting down" })),
    )
}
