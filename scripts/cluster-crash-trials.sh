#!/usr/bin/env bash
# Cluster crash trials (docs/reliability.md): SIGKILL a random node of a 3-node cluster N times
# (default 50), restarting it after a short pause, under a mixed pipelined and transactional
# write load over every data type from clients on every node; after each restart every
# acknowledged write must be readable through the leader, and at the end all nodes must converge
# to the same DEBUG DIGEST with DBSIZE equal to what SCAN finds, per type. CI runs 3 kills.
set -euo pipefail
cd "$(dirname "$0")/.."
export KIWI_CLUSTER_CRASH_TRIALS="${1:-50}"
exec cargo test --release --test cluster_crash -- --nocapture random_kill_9
