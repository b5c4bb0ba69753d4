//! Fuzz target `lua_script`: see `kiwi_fuzz::lua_script` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiwi_fuzz::lua_script(data));
