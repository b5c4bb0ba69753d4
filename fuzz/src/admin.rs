//! `admin_json`: the JSON bodies the admin API's PUT and POST handlers accept, read by the same
//! extractors the routes use (`JsonBody` for `/v1/config/{key}` and `/v1/checkpoint`, axum's
//! `Json` for the cluster membership routes).

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{header, Request, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use kiwi::admin::{ApiError, CheckpointRequest, ConfigChange, JsonBody};
use kiwi::config::{Config, OPTIONS};
use kiwi::raft::http::{AddNode, NodeId};
use serde::de::DeserializeOwned;

use super::raft::ready;

/// The first byte picks the route (and for `PUT /v1/config/{key}` the second picks the option),
/// the rest is the body. Checked: no panic; a body the extractor accepts is valid JSON; one it
/// refuses is answered with a 4xx status (the caller's fault, never the node's) and, for the
/// admin routes, the API's one error shape `{"error": "..."}`. An accepted configuration change
/// then goes through the option's parser and the configuration's validation, as `CONFIG SET`
/// does: they may refuse it, but must not panic.
pub fn admin_json(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            let Some((&option, body)) = rest.split_first() else {
                return;
            };
            let spec = &OPTIONS[usize::from(option) % OPTIONS.len()];
            if let Some(change) = admin_body::<ConfigChange>(body) {
                let changes = [(spec.name.to_string(), change.value.into_text())];
                let _ = Config::default().with_changes(&changes);
            }
        }
        1 => {
            if let Some(request) = admin_body::<CheckpointRequest>(rest) {
                let _ = request.dir.is_absolute();
            }
        }
        2 => {
            if let Some(request) = cluster_body::<AddNode>(rest) {
                let _ = (request.id, request.admin_addr, request.resp_addr);
            }
        }
        _ => {
            if let Some(request) = cluster_body::<NodeId>(rest) {
                let _ = request.id;
            }
        }
    }
}

fn request(body: &[u8]) -> Request<Body> {
    let built = Request::builder()
        .method("POST")
        .uri("/fuzz")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()));
    match built {
        Ok(request) => request,
        Err(err) => panic!("cannot build a request: {err}"),
    }
}

/// Reads `body` with the admin API's `JsonBody`.
fn admin_body<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let read = ready(JsonBody::<T>::from_request(request(body), &()));
    checked(
        body,
        read.map(|JsonBody(value)| value),
        refused_in_api_shape,
    )
}

/// Reads `body` with axum's `Json`, as the cluster membership routes do.
fn cluster_body<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let read = ready(Json::<T>::from_request(request(body), &()));
    checked(body, read.map(|Json(value)| value), |rejection| {
        let status = rejection.into_response().status();
        assert!(status.is_client_error(), "bad input answered {status}");
    })
}

/// The value an extractor read, once its acceptance or its refusal (`refused`) is checked.
fn checked<T, E>(body: &[u8], read: Result<T, E>, refused: impl FnOnce(E)) -> Option<T> {
    match read {
        Ok(value) => {
            accepted_only_json(body);
            Some(value)
        }
        Err(err) => {
            refused(err);
            None
        }
    }
}

fn accepted_only_json(body: &[u8]) {
    assert!(
        serde_json::from_slice::<serde_json::Value>(body).is_ok(),
        "a body that is not JSON was accepted: {:?}",
        String::from_utf8_lossy(body)
    );
}

fn refused_in_api_shape(err: ApiError) {
    assert!(
        err.status.is_client_error() && err.status != StatusCode::UNAUTHORIZED,
        "bad input answered {}: {}",
        err.status,
        err.message
    );
    let response = err.into_response();
    let bytes = match ready(axum::body::to_bytes(response.into_body(), usize::MAX)) {
        Ok(bytes) => bytes,
        Err(e) => panic!("cannot read the error response: {e}"),
    };
    let shape = serde_json::from_slice::<serde_json::Value>(&bytes);
    let message = shape.as_ref().ok().and_then(|doc| doc.get("error"));
    assert!(
        message.is_some_and(|m| m.as_str().is_some_and(|m| !m.is_empty())),
        "error response is not {{\"error\": \"...\"}}: {:?}",
        String::from_utf8_lossy(&bytes)
    );
}
