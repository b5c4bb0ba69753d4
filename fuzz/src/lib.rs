//! The checks behind Kiwi's fuzz targets, one function per target, each taking the raw fuzz input.
//!
//! They live here rather than in the targets so that one copy serves two runners: cargo-fuzz
//! (`fuzz/fuzz_targets/*.rs`, nightly, coverage-guided) and plain `cargo test`
//! (`tests/fuzz_corpus.rs` includes this file as a module and replays every committed seed and
//! regression input through the same functions). A check panics when a property breaks; the
//! message says which. Modules refer to each other through `super::`, since under `cargo test`
//! this file is a module, not a crate root.

pub mod admin;
pub mod alloc;
pub mod commands;
pub mod config;
pub mod input;
pub mod lua;
pub mod raft;
pub mod resp;
pub mod restore;

pub use admin::admin_json;
pub use commands::commands;
pub use config::config_file;
pub use lua::lua_script;
pub use raft::raft_decode;
pub use resp::{resp_frame, resp_reply, resp_request};
pub use restore::restore_payload;

/// A target's check: panics when a property breaks.
pub type Check = fn(&[u8]);

/// Every target's name and check, for replaying corpora.
pub const TARGETS: &[(&str, Check)] = &[
    ("resp_request", resp_request),
    ("resp_reply", resp_reply),
    ("resp_frame", resp_frame),
    ("config_file", config_file),
    ("commands", commands),
    ("raft_decode", raft_decode),
    ("admin_json", admin_json),
    ("lua_script", lua_script),
    ("restore_payload", restore_payload),
];
