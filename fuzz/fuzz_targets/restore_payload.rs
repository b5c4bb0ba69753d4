//! Fuzz target `restore_payload`: see `kiwi_fuzz::restore_payload` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiwi_fuzz::restore_payload(data));
