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
