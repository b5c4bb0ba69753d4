//! openraft's own storage test suite, run against Kiwi's Raft log (RocksDB) and state machine
//! (the data engine with its applied position and checkpoint snapshots).

use std::sync::Arc;

use kiwi::config::Config;
use kiwi::raft::log_store::LogStore;
use kiwi::raft::state_machine::StateMachine;
use kiwi::raft::types::TypeConfig;
use kiwi::state::ServerState;
use kiwi::storage::breaker::Breaker;
use kiwi::storage::Storage;
use openraft::testing::{StoreBuilder, Suite};
use openraft::{AnyError, StorageError, StorageIOError};

struct Builder;

fn setup_error(e: impl std::fmt::Display) -> StorageError<u64> {
    let e = std::io::Error::other(e.to_string());
    StorageIOError::write(AnyError::new(&e)).into()
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().map_err(setup_error)?;
        let mut config = Config::sample();
        config.dir = dir.path().join("data").display().to_string();
        config.memory = kiwi::config::ByteSize(64 << 20);
        let storage = Storage::open(&config, Arc::new(Breaker::default())).map_err(setup_error)?;
        let state = ServerState::new(config, storage, 0);
        let log = LogStore::open(&dir.path().join("raft-log")).map_err(setup_error)?;
        let machine =
            StateMachine::open(state, &dir.path().join("raft-snapshots")).map_err(setup_error)?;
        Ok((dir, log, machine))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder).expect("openraft storage suite");
}

/// A forwarded pipeline that reaches the log twice (a follower resent it after losing the
/// leader) runs once: the copy gets the first run's replies — in a later apply call, in the same
/// call, and after the state machine is reopened — and a different request id runs again.
#[test]
fn a_resent_request_runs_once() {
    use bytes::Bytes;
    use kiwi::raft::types::{ClientGroup, Proposal, ReplicatedCommand, RequestId};
    use kiwi::resp::{Frame, Protocol};
    use openraft::storage::RaftStateMachine;
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let open = || {
        let mut config = Config::sample();
        config.dir = dir.path().join("data").display().to_string();
        config.memory = kiwi::config::ByteSize(64 << 20);
        let storage = Storage::open(&config, Arc::new(Breaker::default())).expect("storage");
        let state = ServerState::new(config, storage, 0);
        StateMachine::open(state, &dir.path().join("raft-snapshots")).expect("state machine")
    };
    let incr = |request: u128| ClientGroup {
        request: Some(RequestId(request)),
        proto: Protocol::Resp2,
        commands: vec![ReplicatedCommand {
            db: 0,
            args: vec![Bytes::from_static(b"INCR"), Bytes::from_static(b"n")],
        }],
        guards: Vec::new(),
        user: "default".into(),
    };
    let entry = |index: u64, groups: Vec<ClientGroup>| Entry::<TypeConfig> {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Proposal {
            clock_ms: 1_000_000,
            seed: 7,
            settings: Default::default(),
            groups,
        }),
    };
    let replies = |applied: Vec<kiwi::raft::types::Applied>| -> Vec<Vec<Frame>> {
        applied
            .into_iter()
            .flat_map(|a| a.replies)
            .map(|r| r.expect("not an aborted transaction"))
            .collect()
    };
    rt.block_on(async {
        let mut machine = open();
        let first = machine
            .apply([entry(1, vec![incr(1)])])
            .await
            .expect("apply");
        assert_eq!(replies(first), [[Frame::Integer(1)]]);
        // A copy in a later entry, and a copy next to a new request in one call.
        let later = machine
            .apply([
                entry(2, vec![incr(1)]),
                entry(3, vec![incr(2), incr(2), incr(1)]),
            ])
            .await
            .expect("apply");
        assert_eq!(
            replies(later),
            [
                [Frame::Integer(1)],
                [Frame::Integer(2)],
                [Frame::Integer(2)],
                [Frame::Integer(1)]
            ]
        );
        drop(machine);
        // The memory of applied requests is durable.
        let mut machine = open();
        let reopened = machine
            .apply([entry(4, vec![incr(2), incr(3)])])
            .await
            .expect("apply");
        assert_eq!(
            replies(reopened),
            [[Frame::Integer(2)], [Frame::Integer(3)]]
        );
    });
}
