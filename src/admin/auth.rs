//! Bearer-token check for the admin API's mutating endpoints.
//!
//! It is an extractor rather than a layer so that each handler states in its signature that it
//! needs the token, and so that a wrong method still gets 405 rather than 401. Routes added by
//! other modules (cluster control) take it the same way.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::state::ServerState;

/// Proof that the request carried the configured `admin-token` (or that none is configured).
pub struct Authorized;

impl<S> FromRequestParts<S> for Authorized
where
    S: Send + Sync,
    Arc<ServerState>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let server = Arc::<ServerState>::from_ref(state);
        let expected = server.config().admin_token.clone();
        if expected.is_empty() {
            return Ok(Authorized);
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing admin token: send 'Authorization: Bearer <admin-token>'",
            ));
        };
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match presented {
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "malformed Authorization header: expected 'Bearer <admin-token>'",
            )),
            Some(token) if same_secret(token, &expected) => Ok(Authorized),
            Some(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "invalid admin token")),
        }
    }
}

/// Compares digests rather than the strings, so the time taken tells nothing about how much of
/// a guessed token was right.
fn same_secret(presented: &str, expected: &str) -> bool {
    Sha256::digest(presented.as_bytes()) == Sha256::digest(expected.as_bytes())
}
