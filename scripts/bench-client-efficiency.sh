#!/bin/sh
# Is kiwi-bench at least as fast a client as redis-benchmark? Runs both against the same server
# with the same load, alternating tool by tool for ROUNDS rounds, and prints each run's
# throughput and the client's own CPU time (user+sys), then the median ratio per pipeline depth.
#
#   scripts/bench-client-efficiency.sh PORT [ROUNDS] [KIWI_BENCH] [EXTRA]
#
# EXTRA is passed to both tools (e.g. "-r 100000" for random keys). Without -r both hit one key:
# redis-benchmark's key:__rand_int__ literally, kiwi-bench's -r 1.
set -eu
port=${1:?usage: $0 PORT [ROUNDS] [KIWI_BENCH] [EXTRA]}
rounds=${2:-5}
kb=${3:-target/release/kiwi-bench}
extra=${4:-}
n=1000000
keys="-r 1"
case " $extra " in *" -r "*) keys="" ;; esac
out=$(mktemp)
for p in 1 16; do
  for r in $(seq "$rounds"); do
    for t in set get; do
      # redis-benchmark: its final "T: N requests per second" line.
      /usr/bin/time -f "%U %S" -o "$out.time" redis-benchmark -p "$port" -t "$t" -n "$n" -c 50 -P "$p" -q $extra 2>/dev/null |
        tr '\r' '\n' | awk -v p="$p" -v t="$t" '/requests per second/ {printf "redis-benchmark P%s %s %.0f", p, t, $2}' >>"$out"
      awk '{printf " cpu %.2f\n", $1 + $2}' "$out.time" >>"$out"
      /usr/bin/time -f "%U %S" -o "$out.time" "$kb" -p "$port" -t "$t" -n "$n" -c 50 -P "$p" -q $keys $extra |
        awk -v p="$p" -v t="$t" 'NR == 2 {printf "kiwi-bench P%s %s %.0f", p, t, $5}' >>"$out"
      awk '{printf " cpu %.2f\n", $1 + $2}' "$out.time" >>"$out"
    done
  done
done
cat "$out"
echo
awk '{ key = $2 " " $3; v[$1, key, ++n[$1, key]] = $4; c[$1, key, n[$1, key]] = $6; keys[key] = 1 }
  function median(tool, key,    i, j, a, m, t) {
    m = n[tool, key]; for (i = 1; i <= m; i++) a[i] = v[tool, key, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((m + 1) / 2)]
  }
  END { for (k in keys) printf "%s: kiwi-bench %.0f / redis-benchmark %.0f = %.2f (median rps)\n", k, median("kiwi-bench", k), median("redis-benchmark", k), median("kiwi-bench", k) / median("redis-benchmark", k) }' "$out" | sort
rm -f "$out" "$out.time"
