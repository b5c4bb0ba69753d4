#!/usr/bin/env bash
# The cluster figure as if each node had a machine of its own: every kiwi process (the three
# nodes of a cluster, and a single node for comparison) runs in its own cgroup v1 CPU group with
# the same quota, so no node borrows the others' CPU and the load generator keeps the rest.
# Prints cluster vs single node at equal per-node CPU, for SET and GET at pipelines 1 and 16.
#
#   sudo scripts/bench-cluster-quota.sh [KIWI_BINARY] [REQUESTS] [QUOTA_PERCENT_OF_ONE_CORE]
#
# Needs root and a writable /sys/fs/cgroup/cpu (cgroup v1).
set -euo pipefail
kiwi=${1:-target/release/kiwi}
requests=${2:-200000}
quota=${3:-40}
cgroups=/sys/fs/cgroup/cpu
work=$(mktemp -d)
base=${BENCH_BASE_PORT:-19600}
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    sleep 0.2
    for name in n1 n2 n3 single; do rmdir "$cgroups/kiwi-bench-$name" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

limit() { # name pid: the process (all its threads) gets `quota`% of one core
    local group=$cgroups/kiwi-bench-$1
    mkdir -p "$group"
    echo 100000 > "$group/cpu.cfs_period_us"
    echo $((quota * 1000)) > "$group/cpu.cfs_quota_us"
    echo "$2" > "$group/cgroup.procs"
}
# shellcheck source=scripts/local-cluster.sh
source "$(dirname "$0")/local-cluster.sh"
started() { limit "$1" "$2"; }
start_cluster_and_single

printf 'each kiwi process: %s%% of one core (cgroup v1 cfs quota)\n\n' "$quota"
printf '| test | P | 3-node cluster rps (p99 ms) | single node rps (p99 ms) | cluster/single |\n|---|---|---|---|---|\n'
for pipeline in 1 16; do
    for test in set get; do
        read -r c cp < <(rps $((base + 1)) $test $pipeline)
        read -r s sp < <(rps $((base + 80)) $test $pipeline)
        printf '| %s | %s | %.0f (%s) | %.0f (%s) | %.2f |\n' "$test" "$pipeline" \
            "$c" "$cp" "$s" "$sp" "$(echo "$c / $s" | bc -l)"
    done
done
echo
for name in n1 n2 n3 single; do
    # How often the quota held the process back: evidence that the quota, not the load, limits.
    printf '%s: %s\n' "$name" "$(tr '\n' ' ' < "$cgroups/kiwi-bench-$name/cpu.stat")"
done
