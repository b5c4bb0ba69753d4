#!/usr/bin/env bash
# Crash trials (docs/reliability.md): SIGKILL a single node N times (default 50) per appendfsync
# mode (always, everysec) under a mixed pipelined and transactional write load over every data
# type; after each restart every acknowledged write must be there, every transaction all or
# nothing, and DBSIZE equal to what a full SCAN finds, per type. CI runs 3 kills per mode.
set -euo pipefail
cd "$(dirname "$0")/.."
export KIWI_CRASH_TRIALS="${1:-50}"
exec cargo test --release --test crash -- --nocapture --test-threads 1
