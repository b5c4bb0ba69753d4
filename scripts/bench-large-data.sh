#!/usr/bin/env bash
# Data far larger than memory: one kiwi node with the shipped `memory 1GB`, loaded in steps to
# each key count of SIZES; once the load's compactions are done, kiwi-bench measures random GET and SET (50 clients, no
# pipelining) with zipfian and uniform keys, and the script records resident memory and the
# data's size on disk. Prints one Markdown table.
#
#   scripts/bench-large-data.sh [KIWI_BINARY] ["SIZES"] [VALUE_BYTES] [SECONDS_PER_TEST]
#   e.g. scripts/bench-large-data.sh target/release/kiwi "1000000 10000000 50000000" 100 20
set -euo pipefail
kiwi=${1:-target/release/kiwi}
bench=$(dirname "$kiwi")/kiwi-bench
sizes=${2:-"1000000 10000000 50000000"}
value=${3:-100}
seconds=${4:-20}
port=${BENCH_PORT:-19700}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/kiwi-large.XXXXXX")
cleanup() {
    [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$kiwi" --single-node --port "$port" --dir "$work/data" --set admin-port=0 > "$work/kiwi.log" 2>&1 &
pid=$!
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# One measured test: prints "ops_per_sec p99_ms".
measure() { # keys pattern test
    "$bench" -p "$port" -q -r "$1" -d "$value" --key-pattern "$2" -t "$3" -c 50 -P 1 \
        --duration "${seconds}s" --warmup 2s --csv 2>/dev/null \
        | awk -F, 'NR==1 {for (i = 1; i <= NF; i++) col[$i] = i; next}
                   {printf "%.0f %s\n", $col["ops_per_sec"], $col["p99_ms"]}'
}

printf 'memory 1GB (block cache and memtables), values of %s bytes, 50 clients, P=1, %s s per test\n\n' \
    "$value" "$seconds"
printf '| keys | load s | compaction s | on disk | RSS | GET zipf rps (p99 ms) | GET uniform rps (p99 ms) | SET zipf rps (p99 ms) | SET uniform rps (p99 ms) |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for keys in $sizes; do
    start=$(date +%s)
    "$bench" -p "$port" -q -r "$keys" -d "$value" --preload -t ping -n 1 >/dev/null 2>&1
    loaded=$(( $(date +%s) - start ))
    # Let the load's compactions finish (at most 3 minutes), so the reads measure the data, not
    # the backlog.
    for _ in $(seq 180); do
        redis-cli -p "$port" info persistence | grep -q '^rocksdb_running_compactions:0' \
            && redis-cli -p "$port" info persistence | grep -q '^rocksdb_pending_compaction_bytes:0' \
            && break
        sleep 1
    done
    settled=$(( $(date +%s) - start - loaded ))
    read -r gz gzp < <(measure "$keys" zipf get)
    read -r gu gup < <(measure "$keys" uniform get)
    read -r sz szp < <(measure "$keys" zipf set)
    read -r su sup < <(measure "$keys" uniform set)
    disk=$(du -sm "$work/data" | cut -f1)
    rss=$(( $(ps -o rss= -p "$pid") / 1024 ))
    printf '| %s | %s | %s | %s MB | %s MB | %s (%s) | %s (%s) | %s (%s) | %s (%s) |\n' \
        "$keys" "$loaded" "$settled" "$disk" "$rss" "$gz" "$gzp" "$gu" "$gup" "$sz" "$szp" "$su" "$sup"
done
