//! Fuzz target `commands`: see `kiwi_fuzz::commands` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiwi_fuzz::commands(data));
