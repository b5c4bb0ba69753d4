//! The admin HTTP API as `kiwictl` uses it: every path, method and body in one place.
//!
//! Paths are still settling while the admin port and Raft membership are built; keeping them
//! here means a renamed endpoint is a one-line change. Cluster calls may land on a follower,
//! which answers `{"error": "not leader", "leader_admin_addr": "..."}` (or a 307 with a
//! `Location`): [`AdminClient::on_leader`] follows such answers so that every cluster command
//! "finds the leader itself".

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::error::CtlError;
use crate::admin::status::Status;

/// How many not-leader redirections a cluster call follows before giving up (a leader change
/// mid-call can cost one hop; more means the cluster is electing).
const MAX_LEADER_HOPS: usize = 3;

/// Paths of the admin API.
mod path {
    pub const HEALTH: &str = "/health";
    pub const STATUS: &str = "/v1/status";
    pub const COMPACT: &str = "/v1/compact";
    pub const CHECKPOINT: &str = "/v1/checkpoint";
    pub const CLUSTER_INIT: &str = "/v1/cluster/init";
    pub const CLUSTER_ADD: &str = "/v1/cluster/add-node";
    pub const CLUSTER_REMOVE: &str = "/v1/cluster/remove-node";
    pub const CLUSTER_TRANSFER: &str = "/v1/cluster/transfer-leader";
}

/// An HTTP client for admin ports; one per `kiwictl` run, shared by every node it talks to.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    token: Option<String>,
    timeout: Duration,
}

/// What an answer other than success means.
enum Failure {
    /// A follower pointing at the leader (or at nobody).
    NotLeader(Option<String>),
    Other(CtlError),
}

impl AdminClient {
    /// A client whose every request gives up after `timeout`.
    pub fn new(token: Option<String>, timeout: Duration) -> Result<AdminClient, CtlError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // Redirects are how followers point at the leader; they are followed by hand so the
            // token is re-sent and the hop is bounded and visible.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| CtlError::Usage(format!("cannot build an HTTP client: {e}")))?;
        Ok(AdminClient {
            http,
            token,
            timeout,
        })
    }

    /// The node's status document.
    pub async fn status(&self, addr: &str) -> Result<Status, CtlError> {
        self.get(addr, path::STATUS).await
    }

    /// The node's liveness answer (whatever JSON it returns).
    pub async fn health(&self, addr: &str) -> Result<Value, CtlError> {
        self.get(addr, path::HEALTH).await
    }

    /// Starts a manual compaction of the whole keyspace.
    pub async fn compact(&self, addr: &str) -> Result<Value, CtlError> {
        self.post(addr, path::COMPACT, json!({}), self.timeout)
            .await
    }

    /// Writes a RocksDB checkpoint into `dir` on the node's machine.
    pub async fn checkpoint(&self, addr: &str, dir: &str) -> Result<Value, CtlError> {
        self.post(addr, path::CHECKPOINT, json!({ "dir": dir }), self.timeout)
            .await
    }

    /// Makes the node a one-member cluster (sent to that node, not to a leader: there is none).
    pub async fn cluster_init(&self, addr: &str) -> Result<Value, CtlError> {
        self.post(addr, path::CLUSTER_INIT, json!({}), self.timeout)
            .await
    }

    /// Adds a node; the leader answers once the node is a voter, which can take as long as the
    /// catch-up does, so the wait is `patience`, not the usual timeout.
    pub async fn add_node(
        &self,
        addr: &str,
        id: u64,
        admin_addr: &str,
        resp_addr: &str,
        patience: Duration,
    ) -> Result<(String, Value), CtlError> {
        let body = json!({ "id": id, "admin_addr": admin_addr, "resp_addr": resp_addr });
        self.on_leader(addr, path::CLUSTER_ADD, body, patience)
            .await
    }

    /// Removes a node from the membership.
    pub async fn remove_node(&self, addr: &str, id: u64) -> Result<(String, Value), CtlError> {
        self.on_leader(
            addr,
            path::CLUSTER_REMOVE,
            json!({ "id": id }),
            self.timeout,
        )
        .await
    }

    /// Hands leadership to another voter.
    pub async fn transfer_leader(&self, addr: &str, id: u64) -> Result<(String, Value), CtlError> {
        self.on_leader(
            addr,
            path::CLUSTER_TRANSFER,
            json!({ "id": id }),
            self.timeout,
        )
        .await
    }

    /// POSTs to the leader, starting at `addr` and following not-leader answers. Returns the
    /// leader's address with its answer.
    async fn on_leader(
        &self,
        addr: &str,
        path: &str,
        body: Value,
        wait: Duration,
    ) -> Result<(String, Value), CtlError> {
        let mut target = addr.to_string();
        for _ in 0..=MAX_LEADER_HOPS {
            match self
                .request(&target, reqwest::Method::POST, path, Some(&body), wait)
                .await
            {
                Ok(value) => return Ok((target, value)),
                Err(Failure::NotLeader(Some(leader))) if leader != target => target = leader,
                Err(Failure::NotLeader(_)) => return Err(CtlError::NoLeader { addr: target }),
                Err(Failure::Other(e)) => return Err(e),
            }
        }
        Err(CtlError::NoLeader { addr: target })
    }

    async fn get<T: DeserializeOwned>(&self, addr: &str, path: &str) -> Result<T, CtlError> {
        self.request(addr, reqwest::Method::GET, path, None, self.timeout)
            .await
            .map_err(|f| f.into_error(addr))
    }

    async fn post(
        &self,
        addr: &str,
        path: &str,
        body: Value,
        wait: Duration,
    ) -> Result<Value, CtlError> {
        self.request(addr, reqwest::Method::POST, path, Some(&body), wait)
            .await
            .map_err(|f| f.into_error(addr))
    }

    /// One request, its answer decoded or classified.
    async fn request<T: DeserializeOwned>(
        &self,
        addr: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        wait: Duration,
    ) -> Result<T, Failure> {
        let secs = wait.as_secs_f64();
        let mut req = self
            .http
            .request(method, format!("http://{addr}{path}"))
            .timeout(wait);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::Other(CtlError::from_http(addr, &e, secs)))?;
        let status = resp.status();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(authority_of);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Failure::Other(CtlError::from_http(addr, &e, secs)))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                Failure::Other(CtlError::Protocol {
                    addr: addr.to_string(),
                    detail: format!("{path} answered JSON this kiwictl does not understand: {e}"),
                })
            });
        }
        Err(classify(addr, status, location, &bytes))
    }
}

impl Failure {
    fn into_error(self, addr: &str) -> CtlError {
        match self {
            Failure::NotLeader(_) => CtlError::Refused {
                addr: addr.to_string(),
                message: "not leader".into(),
            },
            Failure::Other(e) => e,
        }
    }
}

/// Turns an unsuccessful answer into a [`Failure`].
fn classify(
    addr: &str,
    status: reqwest::StatusCode,
    location: Option<String>,
    body: &[u8],
) -> Failure {
    let doc: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        doc.as_ref()
            .and_then(|d| d.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let message = field("error");
    let leader = field("leader_admin_addr")
        .filter(|a| !a.is_empty())
        .or(location);
    let points_elsewhere =
        status.is_redirection() || status == reqwest::StatusCode::MISDIRECTED_REQUEST;
    let not_leader =
        message.as_deref() == Some("not leader") || (points_elsewhere && leader.is_some());
    if not_leader {
        return Failure::NotLeader(leader);
    }
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Failure::Other(CtlError::Unauthorized {
            addr: addr.to_string(),
        });
    }
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body).trim().to_string();
        if text.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {text}")
        }
    });
    Failure::Other(CtlError::Refused {
        addr: addr.to_string(),
        message,
    })
}

/// `host:port` of a `Location` URL (`http://host:port/path`).
fn authority_of(location: &str) -> Option<String> {
    let rest = location.split_once("://").map_or(location, |(_, r)| r);
    let authority = rest.split('/').next()?;
    (!authority.is_empty()).then(|| authority.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn followers_point_at_the_leader_by_body_or_location() {
        let body = br#"{"error":"not leader","leader_admin_addr":"10.0.0.2:7380"}"#;
        assert!(matches!(
            classify("a", reqwest::StatusCode::MISDIRECTED_REQUEST, None, body),
            Failure::NotLeader(Some(l)) if l == "10.0.0.2:7380"
        ));
        let loc = authority_of("http://10.0.0.3:7380/v1/cluster/add-node");
        assert!(matches!(
            classify("a", reqwest::StatusCode::TEMPORARY_REDIRECT, loc, b""),
            Failure::NotLeader(Some(l)) if l == "10.0.0.3:7380"
        ));
        assert!(matches!(
            classify(
                "a",
                reqwest::StatusCode::SERVICE_UNAVAILABLE,
                None,
                br#"{"error":"not leader"}"#
            ),
            Failure::NotLeader(None)
        ));
    }

    #[test]
    fn refusals_carry_the_nodes_message() {
        let f = classify(
            "n:1",
            reqwest::StatusCode::BAD_REQUEST,
            None,
            br#"{"error":"dir exists"}"#,
        );
        let Failure::Other(e) = f else {
            panic!("not a refusal")
        };
        assert_eq!(e.to_string(), "n:1: dir exists");
        let f = classify("n:1", reqwest::StatusCode::UNAUTHORIZED, None, b"");
        let Failure::Other(e) = f else {
            panic!("not a refusal")
        };
        assert!(matches!(e, CtlError::Unauthorized { .. }));
    }
}
