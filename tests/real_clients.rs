//! Kiwi driven by an unmodified third-party client: redis-py (installed into a virtualenv by
//! `scripts/install-deps.sh`) runs `tests/clients/redis_py_check.py` — pipelines, MULTI/EXEC,
//! a WATCH counter from 20 threads, pub/sub with patterns, a BLPOP work queue, RESP3, and Lua:
//! redis-py's `Lock` (sync and asyncio), `register_script` and functions.

mod common;

use std::process::Command;

use common::{python, Kiwi};

#[test]
fn redis_py_works_unchanged() {
    let python = python();
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps.sh (it installs redis-py into a virtualenv)",
        python.display()
    );
    let kiwi = Kiwi::start(&[]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/redis_py_check.py"
    );
    let output = Command::new(&python)
        .arg(script)
        .arg(kiwi.port.to_string())
        .output()
        .expect("run the redis-py checks");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "redis-py checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all redis-py checks passed"), "{stdout}");
}
