//! Fuzz target `resp_frame`: see `kiwi_fuzz::resp_frame` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiwi_fuzz::resp_frame(data));
