//! `raft_decode`: the postcard decoding of everything cluster mode reads from the network or from
//! its own Raft files — RPC request bodies (`raft/http.rs`), RPC answers (`raft/network.rs`),
//! the snapshot stream's header (`raft/archive.rs`), log entries and the vote (`raft/log_store.rs`),
//! the applied position (`raft/state_machine.rs`).

use std::fmt::Debug;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use kiwi::raft::network::SnapshotHeader;
use kiwi::raft::state_machine::AppliedPosition;
use kiwi::raft::types::{ForwardReply, ForwardRequest, LogId, Proposal, TypeConfig};
use openraft::error::{Fatal, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{Entry, Vote};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The first byte picks the type, the rest is the body. Checked: decoding never panics; a value
/// that decodes encodes again, and that encoding decodes to a value with the same encoding (so
/// what a node stores or relays reads back as it was).
pub fn raft_decode(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 14 {
        0 => round_trip::<AppendEntriesRequest<TypeConfig>>(body),
        1 => round_trip::<VoteRequest<u64>>(body),
        2 => round_trip::<ForwardRequest>(body),
        3 => round_trip::<Result<AppendEntriesResponse<u64>, RaftError<u64>>>(body),
        4 => round_trip::<Result<VoteResponse<u64>, RaftError<u64>>>(body),
        5 => round_trip::<Result<SnapshotResponse<u64>, Fatal<u64>>>(body),
        6 => round_trip::<ForwardReply>(body),
        7 => round_trip::<SnapshotHeader>(body),
        8 => round_trip::<Entry<TypeConfig>>(body),
        9 => round_trip::<Vote<u64>>(body),
        10 => round_trip::<Option<LogId>>(body),
        11 => round_trip::<AppliedPosition>(body),
        12 => round_trip::<Proposal>(body),
        _ => snapshot_stream(body),
    }
}

fn round_trip<T: Serialize + DeserializeOwned + Debug>(body: &[u8]) {
    let Ok(value) = postcard::from_bytes::<T>(body) else {
        return;
    };
    let encoded = match postcard::to_allocvec(&value) {
        Ok(encoded) => encoded,
        Err(err) => panic!("{value:?} decoded but does not encode: {err}"),
    };
    let again = match postcard::from_bytes::<T>(&encoded) {
        Ok(again) => again,
        Err(err) => panic!("{value:?} encodes to bytes that do not decode: {err}"),
    };
    match postcard::to_allocvec(&again) {
        Ok(twice) if twice == encoded => {}
        other => panic!("{value:?} does not survive a second round trip: {other:?}"),
    }
    // Formatting is what logs do with whatever arrived.
    let _ = format!("{value:?}");
}

/// The snapshot stream's header as a follower reads it from the request body: a length, then a
/// postcard [`SnapshotHeader`]; a length above the limit is refused before anything is
/// allocated for it.
fn snapshot_stream(body: &[u8]) {
    let mut reader = body;
    let read = kiwi::raft::archive::read_header::<SnapshotHeader>(&mut reader);
    if let Ok(header) = ready(read) {
        let _ = format!("{header:?}");
    }
}

/// Polls a future that never waits (it reads from memory) to its end.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("a read from memory did not finish");
}
