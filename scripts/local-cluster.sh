# Sourced by the cluster benchmarks: starts a 3-node kiwi cluster on 127.0.0.1 and a single node
# beside it, and measures one redis-benchmark test. The caller sets `kiwi` (the binary), `work` (a
# scratch directory), `base` (the first port), `requests` and `pids` (an array its cleanup kills),
# and may define `started NAME PID`, called for each process as it starts.
#   nodes:  RESP port base+1..3, admin port base+11..13, node 1 the first leader
#   single: RESP port base+80, no admin port

started() { :; }

start_node() { # id [--init-cluster]
    local id=$1; shift
    cat > "$work/n$id.conf" <<CONF
port $((base + id))
admin-port $((base + 10 + id))
dir $work/n$id
cluster-node-id $id
cluster-secret bench
CONF
    "$kiwi" --config "$work/n$id.conf" "$@" > "$work/n$id.log" 2>&1 &
    pids[$id]=$!
    started "n$id" $!
}

wait_port() {
    for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done
    echo "port $1 never answered" >&2
    exit 1
}

start_cluster_and_single() {
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
    started single $!
    wait_port $((base + 80))
}

rps() { # port test pipeline: prints "requests/s p99-ms"
    redis-benchmark -p "$1" -t "$2" -n "$requests" -c 50 -P "$3" -r 100000 --csv 2>/dev/null \
        | awk -F'","' 'NR==2 {gsub(/"/, "", $7); printf "%s %s\n", $2, $7}'
}
