#!/usr/bin/env bash
# BLPOP/RPUSH work-queue throughput on one server: CLIENTS consumers BLPOP while CLIENTS
# producers RPUSH, N items in all; prints items/s (wall time until every item was consumed).
# Usage: scripts/bench-queue.sh PORT [N] [CLIENTS]
set -euo pipefail
port=${1:?port}; n=${2:-200000}; clients=${3:-25}
redis-cli -p "$port" del benchqueue >/dev/null
start=$(date +%s.%N)
redis-benchmark -p "$port" -c "$clients" -n "$n" -q blpop benchqueue 10 >/dev/null 2>&1 &
consumers=$!
redis-benchmark -p "$port" -c "$clients" -n "$n" -q rpush benchqueue item >/dev/null 2>&1
wait "$consumers"
end=$(date +%s.%N)
left=$(redis-cli -p "$port" llen benchqueue)
echo "port $port: $n items through BLPOP/RPUSH with $clients+$clients clients in $(echo "$end - $start" | bc -l | cut -c1-5) s = $(echo "$n / ($end - $start)" | bc -l | cut -d. -f1) items/s ($left left)"
