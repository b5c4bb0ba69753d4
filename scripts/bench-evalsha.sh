#!/usr/bin/env bash
# EVALSHA of a two-command script (INCR then GET), Kiwi against a fresh redis-server on the same
# machine, alternating rounds (A B A B ...) like ../shared/tools/bench-vs-redis.sh; prints the
# median requests/s of each and the ratio kiwi/redis for every pipeline depth.
# Usage: scripts/bench-evalsha.sh -p KIWI_PORT [-c CLIENTS] [-n REQUESTS] [-P "1 16"] [-r ROUNDS]
set -euo pipefail
PORT=7379 CLIENTS=50 REQ=100000 PIPES="1 16" ROUNDS=3
while getopts "p:c:n:P:r:" o; do case $o in
  p) PORT=$OPTARG ;; c) CLIENTS=$OPTARG ;; n) REQ=$OPTARG ;; P) PIPES=$OPTARG ;; r) ROUNDS=$OPTARG ;;
  *) exit 2 ;; esac; done
SCRIPT="redis.call('incr', KEYS[1]) return redis.call('get', KEYS[1])"
REDIS_PORT=$((PORT + 1000))
redis-server --port "$REDIS_PORT" --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
REDIS_PID=$!
trap 'kill $REDIS_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
SHA=$(redis-cli -p "$PORT" script load "$SCRIPT")
redis-cli -p "$REDIS_PORT" script load "$SCRIPT" >/dev/null
rps() {
  redis-benchmark -p "$1" -q -c "$CLIENTS" -n "$REQ" -P "$2" evalsha "$SHA" 1 'bench:{counter}' 2>/dev/null \
    | tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for P in $PIPES; do
  kiwi=() redis=()
  for _ in $(seq "$ROUNDS"); do
    kiwi+=("$(rps "$PORT" "$P")")
    redis+=("$(rps "$REDIS_PORT" "$P")")
  done
  k=$(printf '%s\n' "${kiwi[@]}" | median)
  r=$(printf '%s\n' "${redis[@]}" | median)
  printf 'EVALSHA (INCR+GET) P=%-3s kiwi %10s rps  redis %10s rps  ratio %s\n' \
    "$P" "$k" "$r" "$(awk -v k="$k" -v r="$r" 'BEGIN {printf "%.2f", k / r}')"
done
