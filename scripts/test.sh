#!/usr/bin/env bash
# Runs the whole test suite: unit tests, differential tests against a real redis-server,
# and integration tests against real kiwi processes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec cargo test --release "$@"
