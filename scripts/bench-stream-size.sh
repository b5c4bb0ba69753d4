#!/usr/bin/env bash
# Does a stream's size change its per-operation cost? Fills one stream with N entries (10 million
# by default), then alternates redis-benchmark rounds on it and on a fresh 1000-entry stream:
# XADD, XRANGE from the middle COUNT 10, XREVRANGE + - COUNT 10, and XTRIM MINID ~ (which drops
# whole nodes from the head). Prints median rps per stream and big/fresh.
# Usage: scripts/bench-stream-size.sh [-p KIWI_PORT] [-e ENTRIES] [-n REQUESTS] [-r ROUNDS]
set -euo pipefail
PORT=7379 ENTRIES=10000000 REQ=50000 ROUNDS=3
while getopts "p:e:n:r:" opt; do
  case $opt in
    p) PORT=$OPTARG ;; e) ENTRIES=$OPTARG ;; n) REQ=$OPTARG ;; r) ROUNDS=$OPTARG ;; *) exit 2 ;;
  esac
done
cli() { redis-cli -p "$PORT" "$@"; }
cli del size:big size:fresh >/dev/null
echo "filling size:big with $ENTRIES entries..."
start=$(date +%s)
redis-benchmark -p "$PORT" -q -c 50 -n "$ENTRIES" -P 64 XADD size:big '*' field value >/dev/null 2>&1
echo "filled in $(( $(date +%s) - start )) s; XLEN $(cli xlen size:big)"
redis-benchmark -p "$PORT" -q -c 10 -n 1000 -P 50 XADD size:fresh '*' field value >/dev/null 2>&1
mid_of() { # the id of the entry in the middle of a stream
  local key=$1 first last
  first=$(cli xrange "$key" - + COUNT 1 | head -1); last=$(cli xrevrange "$key" + - COUNT 1 | head -1)
  echo "$(( (${first%-*} + ${last%-*}) / 2 ))"
}
rps() {
  redis-benchmark -p "$PORT" -q -c 50 -n "$REQ" -P 1 "$@" 2>/dev/null | tr '\r' '\n' \
    | grep -oE '[0-9.]+ requests per second' | tail -1 | cut -d' ' -f1
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-22s %12s %12s %6s\n" operation big fresh ratio
for op in XADD XRANGE XREVRANGE XTRIM; do
  b=(); f=()
  for _ in $(seq "$ROUNDS"); do
    for key in size:big size:fresh; do
      case $op in
        XADD) v=$(rps XADD "$key" '*' field value) ;;
        XRANGE) v=$(rps XRANGE "$key" "$(mid_of "$key")" + COUNT 10) ;;
        XREVRANGE) v=$(rps XREVRANGE "$key" + - COUNT 10) ;;
        # Keeps the stream's size: trims only entries older than its first one.
        XTRIM) v=$(rps XTRIM "$key" MINID '~' 1) ;;
      esac
      if [ "$key" = size:big ]; then b+=("$v"); else f+=("$v"); fi
    done
  done
  bm=$(printf "%s\n" "${b[@]}" | median); fm=$(printf "%s\n" "${f[@]}" | median)
  printf "%-22s %12s %12s %6.2f\n" "$op (COUNT 10 / ~)" "$bm" "$fm" "$(echo "$bm / $fm" | bc -l)"
done
echo "XLEN size:big after: $(cli xlen size:big)"
