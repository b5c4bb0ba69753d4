//! Fuzz target `admin_json`: see `kiwi_fuzz::admin_json` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiwi_fuzz::admin_json(data));
