#!/usr/bin/env bash
# Measures the cost of consensus: a 3-node kiwi cluster (writes to the leader), the same kiwi in
# --single-node, and redis-server, side by side in one run with redis-benchmark, then the time
# from killing the leader to the first acknowledged write on the new leader.
#
#   scripts/bench-cluster.sh [KIWI_BINARY] [REQUESTS]
set -euo pipefail
kiwi=${1:-target/release/kiwi}
requests=${2:-200000}
work=$(mktemp -d)
base=${BENCH_BASE_PORT:-19500}
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    redis-cli -p $((base + 90)) shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=scripts/local-cluster.sh
source "$(dirname "$0")/local-cluster.sh"
start_cluster_and_single
redis-server --port $((base + 90)) --save '' --appendonly no --daemonize yes >/dev/null
wait_port $((base + 90))

printf '| test | P | 3-node cluster rps (p99 ms) | single-node rps (p99 ms) | redis rps (p99 ms) | cluster/single | cluster/redis |\n|---|---|---|---|---|---|---|\n'
for pipeline in 1 16; do
    for test in set get incr; do
        read -r c cp < <(rps $((base + 1)) $test $pipeline)
        read -r s sp < <(rps $((base + 80)) $test $pipeline)
        read -r r rp < <(rps $((base + 90)) $test $pipeline)
        printf '| %s | %s | %.0f (%s) | %.0f (%s) | %.0f (%s) | %.2f | %.2f |\n' "$test" "$pipeline" \
            "$c" "$cp" "$s" "$sp" "$r" "$rp" "$(echo "$c / $s" | bc -l)" "$(echo "$c / $r" | bc -l)"
    done
done

# Failover: kill -9 the leader (node 1) and time the first acknowledged write through node 2.
redis-cli -p $((base + 2)) set before-failover 1 >/dev/null
start=$(date +%s.%N)
kill -9 "${pids[1]}"
until [ "$(redis-cli -p $((base + 2)) set after-failover 1 2>/dev/null)" = "OK" ]; do sleep 0.02; done
end=$(date +%s.%N)
printf '\nleader kill -9 → first acknowledged write on the new leader: %.2f s\n' "$(echo "$end - $start" | bc -l)"
