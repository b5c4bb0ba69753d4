//! Fuzz target `resp_reply`: see `kiwi_fuzz::resp_reply` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiwi_fuzz::resp_reply(data));
