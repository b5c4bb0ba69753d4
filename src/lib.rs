//! Kiwi: a Redis-compatible key-value database on RocksDB.
//!
//! Request flow (see `docs/ARCHITECTURE.md`): [`server`] (the network runtime) accepts
//! connections and parses requests with [`resp`]; each command is validated against the table in
//! [`cmd`]; connection commands run right there, storage commands travel as one job per pipeline
//! through [`runtime`] to the storage threads, which execute [`cmd`] handlers on [`storage`].
//! [`state`] holds what both runtimes share; [`config`] is the configuration file and CONFIG.

pub mod admin;
pub mod bench;
pub mod cmd;
pub mod config;
pub mod ctl;
pub mod error;
pub mod logging;
pub mod raft;
pub mod resp;
pub mod runtime;
pub mod script;
pub mod server;
pub mod state;
pub mod storage;
pub mod sys;
pub mod util;
