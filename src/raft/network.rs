//! Raft RPC to other nodes: HTTP POSTs to their admin port with postcard bodies, each carrying
//! the cluster secret. Snapshots stream as a request body.

use std::future::Future;
use std::time::Duration;

use openraft::error::{
    Fatal, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed, StreamingError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, Snapshot, Vote};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::types::{NodeAddr, SnapshotMeta, TypeConfig};

/// The header carrying the cluster secret.
pub const SECRET_HEADER: &str = "x-kiwi-cluster-secret";

/// What precedes the files of a streamed snapshot.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SnapshotHeader {
    pub vote: Vote<u64>,
    pub meta: SnapshotMeta,
}

/// Makes a connection handle per peer; they share one HTTP connection pool.
#[derive(Clone)]
pub struct Network {
    pub http: reqwest::Client,
    pub secret: String,
    /// Most entry bytes one append RPC carries (`raft-max-entry-size`): openraft 0.9 bounds an
    /// append by entry count only, and gives it one heartbeat interval to complete.
    pub max_append_bytes: usize,
}

impl Network {
    /// A client for Raft RPC.
    pub fn new(secret: String, max_append_bytes: usize) -> Network {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .pool_max_idle_per_host(16)
            .build()
            .unwrap_or_default();
        Network {
            http,
            secret,
            max_append_bytes,
        }
    }

    /// Posts a postcard body to `http://addr/path` and decodes the postcard answer.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        request: &Req,
        timeout: Option<Duration>,
    ) -> Result<Resp, CallError> {
        let body = postcard::to_allocvec(request).map_err(|e| CallError::Other(e.to_string()))?;
        let mut builder = self
            .http
            .post(format!("http://{addr}{path}"))
            .header(SECRET_HEADER, &self.secret)
            .body(body);
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        let response = builder.send().await.map_err(CallError::from_reqwest)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(CallError::from_reqwest)?;
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            // A node still starting: back off as for an unreachable one, instead of retrying at once.
            return Err(CallError::Unreachable(format!("{addr} is starting")));
        }
        if !status.is_success() {
            return Err(CallError::Other(format!(
                "{addr} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            )));
        }
        postcard::from_bytes(&bytes).map_err(|e| CallError::Other(e.to_string()))
    }
}

/// Why an RPC failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The connection could not be made: the request was never sent.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The connection failed after the request may have been sent: its outcome is unknown.
    #[error("connection lost: {0}")]
    Lost(String),
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Other(String),
}

impl CallError {
    fn from_reqwest(e: reqwest::Error) -> CallError {
        // A timed-out request is also a request error: test for the timeout first, so a slow
        // append is retried at once instead of backing off as from an unreachable peer.
        if e.is_connect() {
            CallError::Unreachable(e.to_string())
        } else if e.is_timeout() {
            CallError::Timeout
        } else if e.is_request() {
            CallError::Lost(e.to_string())
        } else {
            CallError::Other(e.to_string())
        }
    }

    fn as_io(&self) -> std::io::Error {
        std::io::Error::other(self.to_string())
    }
}

impl<E: std::error::Error> From<CallError> for RPCError<u64, NodeAddr, E> {
    fn from(e: CallError) -> Self {
        match e {
            // openraft backs off only after "unreachable": a peer that drops connections (or is
            // starting) must not be retried in a tight loop.
            CallError::Unreachable(_) | CallError::Lost(_) => {
                RPCError::Unreachable(Unreachable::new(&e.as_io()))
            }
            _ => RPCError::Network(NetworkError::new(&e.as_io())),
        }
    }
}

/// How many leading entries fit in `budget` bytes (always at least one).
fn prefix_within(entries: &[openraft::Entry<TypeConfig>], budget: usize) -> usize {
    let mut total = 0;
    for (index, entry) in entries.iter().enumerate() {
        total += match &entry.payload {
            openraft::EntryPayload::Normal(proposal) => {
                proposal.groups.iter().map(|g| g.size()).sum::<usize>()
            }
            _ => 256,
        };
        if total > budget {
            return index.max(1);
        }
    }
    entries.len()
}

/// The RPC handle for one peer.
pub struct Peer {
    network: Network,
    target: u64,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &NodeAddr) -> Peer {
        Peer {
            network: self.clone(),
            target,
            addr: node.admin_addr.clone(),
        }
    }
}

type RpcResult<T> = Result<T, RPCError<u64, NodeAddr, RaftError<u64>>>;

impl Peer {
    async fn rpc<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp> {
        let answer: Result<Resp, RaftError<u64>> = self
            .network
            .call(&self.addr, path, request, Some(option.hard_ttl()))
            .await?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        mut rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<u64>> {
        // Too many bytes for one append (a follower catching up on large entries): send a prefix
        // and report it as a partial success, so openraft sends the rest next. Without this an
        // append that cannot finish within a heartbeat interval would be retried forever.
        let keep = prefix_within(&rpc.entries, self.network.max_append_bytes);
        if keep == rpc.entries.len() {
            return self.rpc("/raft/append", &rpc, &option).await;
        }
        rpc.entries.truncate(keep);
        let sent = rpc.entries.last().map(|e| e.log_id);
        match self.rpc("/raft/append", &rpc, &option).await? {
            AppendEntriesResponse::Success => Ok(AppendEntriesResponse::PartialSuccess(sent)),
            other => Ok(other),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<u64>> {
        self.rpc("/raft/vote", &rpc, &option).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<u64>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
        let header = SnapshotHeader {
            vote,
            meta: snapshot.meta.clone(),
        };
        let dir = snapshot.snapshot.path.clone();
        // The checkpoint streams through a pipe: files are read in chunks as the body is sent.
        let (mut writer, reader) = tokio::io::duplex(1 << 20);
        let producer =
            tokio::spawn(async move { super::archive::write(&header, &dir, &mut writer).await });
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(reader));
        let send = self
            .network
            .http
            .post(format!("http://{}/raft/snapshot", self.addr))
            .header(SECRET_HEADER, &self.network.secret)
            .body(body)
            .send();
        let response = tokio::select! {
            closed = cancel => {
                producer.abort();
                return Err(StreamingError::Closed(closed));
            }
            response = send => response,
        };
        let io =
            |e: &dyn std::fmt::Display| NetworkError::new(&std::io::Error::other(e.to_string()));
        if let Ok(Err(e)) = producer.await {
            return Err(StreamingError::Network(io(&e)));
        }
        let response = response.map_err(|e| {
            if e.is_connect() {
                StreamingError::Unreachable(Unreachable::new(&std::io::Error::other(e.to_string())))
            } else {
                StreamingError::Network(io(&e))
            }
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| StreamingError::Network(io(&e)))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            return Err(StreamingError::Network(io(&format!(
                "snapshot refused: {status} {text}"
            ))));
        }
        let answer: Result<SnapshotResponse<u64>, Fatal<u64>> =
            postcard::from_bytes(&bytes).map_err(|e| StreamingError::Network(io(&e)))?;
        answer.map_err(|e| StreamingError::RemoteError(RemoteError::new(self.target, e)))
    }
}
