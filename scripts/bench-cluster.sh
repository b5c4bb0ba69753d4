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

start_node() { # id [--init-cluster]
    local id=$1; shift
    cat > "$work/n$id.conf" <<EOF
port $((base + id))
admin-port $((base + 10 + id))
dir $work/n$id
cluster-node-id $id
cluster-secret bench
EOF
    "$kiwi" --config "$work/n$id.conf" "$@" > "$work/n$id.log" 2>&1 &
    pids[$id]=$!
}
wait_port() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; echo "port $1 never answered" >&2; exit 1; }

start_node 1 --init-cluster
start_node 2
start_node 3
for id in 1 2 3; do wait_port $((base + id)); done
for id in 2 3; do
    curl -fsS -XPOST "127.0.0.1:$((base + 11))/v1/cluster/add-node" -H 'content-type: application/json' \
        -d "{\"id\":$id,\"admin_addr\":\"127.0.0.1:$((base + 10 + id))\",\"resp_addr\":\"127.0.0.1:$((base + id))\"}" >/dev/null
done
"$kiwi" --single-node --port $((base + 80)) --set admin-port=0 --dir "$work/single" > "$work/single.log" 2>&1 &
pids[80]=$!
redis-server --port $((base + 90)) --save '' --appendonly no --daemonize yes >/dev/null
wait_port $((base + 80)); wait_port $((base + 90))

rps() { # port test pipeline
    redis-benchmark -p "$1" -t "$2" -n "$requests" -c 50 -P "$3" -r 100000 --csv 2>/dev/null \
        | awk -F'","' 'NR==2 {gsub(/"/, "", $7); printf "%s %s\n", $2, $7}'
}
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
