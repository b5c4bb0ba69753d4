#!/usr/bin/env bash
# Builds Kiwi (release) and starts a single node on the defaults of conf/kiwi.conf (port 7379,
# data in ./kiwi-data). Extra arguments go to kiwi, e.g. scripts/run.sh --port 7380.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec cargo run --release --bin kiwi -- --single-node "$@"
