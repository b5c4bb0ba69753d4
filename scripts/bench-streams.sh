#!/usr/bin/env bash
# Stream throughput side by side with redis-server, as ratios (docs/performance.md "Streams").
# Usage: scripts/bench-streams.sh [-p KIWI_PORT] [-n REQUESTS] [-r ROUNDS] [-c CLIENTS]
# Starts its own redis-server on a free port and alternates redis-benchmark rounds (kiwi, redis,
# kiwi, ...) of XADD and of XRANGE ... COUNT 10 at -P 1 and -P 16, then prints median rps and
# kiwi/redis for each. The servers' streams are recreated before each round.
set -euo pipefail
KPORT=7379 REQ=100000 ROUNDS=3 CLIENTS=50
while getopts "p:n:r:c:" opt; do
  case $opt in
    p) KPORT=$OPTARG ;; n) REQ=$OPTARG ;; r) ROUNDS=$OPTARG ;; c) CLIENTS=$OPTARG ;;
    *) exit 2 ;;
  esac
done
command -v redis-benchmark >/dev/null || { echo "needs redis-tools and redis-server"; exit 2; }
RPORT=$((KPORT + 1000))
while redis-cli -p "$RPORT" ping >/dev/null 2>&1; do RPORT=$((RPORT + 1)); done
RDIR=$(mktemp -d)
redis-server --port "$RPORT" --save "" --appendonly no --dir "$RDIR" --daemonize yes >/dev/null
trap 'redis-cli -p $RPORT shutdown nosave >/dev/null 2>&1 || true; rm -rf "$RDIR"' EXIT
for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$KPORT" ping >/dev/null || { echo "nothing answers PING on port $KPORT"; exit 2; }

# A 1000-entry stream to read from; an empty one to append to.
prepare() {
  redis-cli -p "$1" del bench:read bench:add >/dev/null
  redis-benchmark -p "$1" -q -c 10 -n 1000 -P 50 XADD bench:read '*' field value >/dev/null 2>&1
}
rps() { # port pipeline command...
  local port=$1 pipe=$2; shift 2
  redis-benchmark -p "$port" -q -c "$CLIENTS" -n "$REQ" -P "$pipe" "$@" 2>/dev/null \
    | tr '\r' '\n' | grep -oE '[0-9.]+ requests per second' | tail -1 | cut -d' ' -f1
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-8s %4s %12s %12s %6s\n" test P kiwi redis ratio
for pipe in 1 16; do
  for test in XADD XRANGE; do
    k=(); r=()
    for _ in $(seq "$ROUNDS"); do
      for port in "$KPORT" "$RPORT"; do
        prepare "$port"
        if [ "$test" = XADD ]; then v=$(rps "$port" "$pipe" XADD bench:add '*' field value)
        else v=$(rps "$port" "$pipe" XRANGE bench:read - + COUNT 10); fi
        if [ "$port" = "$KPORT" ]; then k+=("$v"); else r+=("$v"); fi
      done
    done
    km=$(printf "%s\n" "${k[@]}" | median); rm_=$(printf "%s\n" "${r[@]}" | median)
    printf "%-8s %4s %12s %12s %6.2f\n" "$test" "$pipe" "$km" "$rm_" "$(echo "$km / $rm_" | bc -l)"
  done
done
