//! Fuzz target `resp_request`: see `kiwi_fuzz::resp_request` for what it checks.
#![no_main]

// The check measures what the parser allocates, so this binary counts allocations.
#[global_allocator]
static ALLOC: kiwi_fuzz::alloc::CountingAlloc = kiwi_fuzz::alloc::CountingAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiwi_fuzz::resp_request(data));
