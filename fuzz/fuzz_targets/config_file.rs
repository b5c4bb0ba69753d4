//! Fuzz target `config_file`: see `kiwi_fuzz::config_file` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiwi_fuzz::config_file(data));
