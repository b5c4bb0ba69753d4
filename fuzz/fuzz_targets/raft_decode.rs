//! Fuzz target `raft_decode`: see `kiwi_fuzz::raft_decode` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiwi_fuzz::raft_decode(data));
