//! The fuzz targets' short run in CI: every committed seed (`fuzz/corpus/<target>/`) and every
//! input that once broke a target (`fuzz/regressions/<target>/`) goes through the same check the
//! cargo-fuzz target runs (`fuzz/src/`), here under plain `cargo test` on stable. How to fuzz for
//! real, and what the runs found: docs/fuzzing.md.

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::{Path, PathBuf};

// `resp_request` measures what the parser allocates, per thread.
#[global_allocator]
static ALLOC: checks::alloc::CountingAlloc = checks::alloc::CountingAlloc;

/// The files of `fuzz/<kind>/<target>/`, sorted.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `target`'s check on its seeds and regression inputs; a failure names the file.
fn replay(target: &str) {
    let (_, check) = checks::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let seeds = inputs("corpus", target);
    assert!(!seeds.is_empty(), "no seed corpus for {target}");
    for file in seeds.iter().chain(&inputs("regressions", target)) {
        let data = std::fs::read(file).expect("read a corpus file");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its check",
            file.display()
        );
    }
}

#[test]
fn every_target_has_a_test() {
    let here = include_str!("fuzz_corpus.rs");
    for (name, _) in checks::TARGETS {
        assert!(
            here.contains(&format!("fn {name}() {{\n    replay(\"{name}\")")),
            "no replay test for fuzz target {name}"
        );
    }
}

#[test]
fn resp_request() {
    replay("resp_request")
}

#[test]
fn resp_reply() {
    replay("resp_reply")
}

#[test]
fn resp_frame() {
    replay("resp_frame")
}

#[test]
fn config_file() {
    replay("config_file")
}

#[test]
fn commands() {
    replay("commands")
}

#[test]
fn raft_decode() {
    replay("raft_decode")
}

#[test]
fn admin_json() {
    replay("admin_json")
}

#[test]
fn lua_script() {
    replay("lua_script")
}

#[test]
fn restore_payload() {
    replay("restore_payload")
}

/// Deterministic mutations of the seeds of `target` (bytes flipped, cut, repeated): 100 per
/// seed, or `KIWI_MUTATIONS` for a longer run. The check must hold for them all, as it does for
/// the fuzzer's inputs.
fn mutate_seeds(target: &str) {
    let rounds: usize = std::env::var("KIWI_MUTATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let (_, check) = checks::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for file in inputs("corpus", target) {
        let seed = std::fs::read(&file).expect("read a seed");
        for _ in 0..rounds {
            let mut data = seed.clone();
            for _ in 0..1 + next() % 4 {
                if data.len() < 2 {
                    break;
                }
                let at = 1 + (next() as usize) % (data.len() - 1);
                match next() % 3 {
                    0 => data[at] = next() as u8,
                    1 => data.truncate(at),
                    _ => {
                        let piece = data[at..].to_vec();
                        data.extend_from_slice(&piece);
                    }
                }
            }
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "a mutation of {} fails: {data:?}",
                file.display()
            );
        }
    }
}

#[test]
fn lua_script_survives_mutated_seeds() {
    mutate_seeds("lua_script")
}

#[test]
fn restore_payload_survives_mutated_seeds() {
    mutate_seeds("restore_payload")
}
