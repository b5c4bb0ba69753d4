#!/usr/bin/env bash
# Times DEL of a big collection on a running kiwi and how long its disk space takes to come back.
# Usage: scripts/measure-big-delete.sh PORT DATA_DIR [MEMBERS] [TYPE: hash|zset|set|list]
# Loads MEMBERS members (default 1000000) with redis-cli --pipe, then DELs the key and polls the
# size of DATA_DIR until it falls below a quarter of the loaded size (or 120 s pass).
set -euo pipefail
port=${1:?port}; dir=${2:?data dir}; members=${3:-1000000}; type=${4:-hash}
key="big:$type"
python3 - "$type" "$key" "$members" <<'PY' | redis-cli -p "$port" --pipe >/dev/null
import sys
kind, key, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
out = sys.stdout.buffer
cmd = {"hash": b"HSET", "zset": b"ZADD", "set": b"SADD", "list": b"RPUSH"}[kind]
for start in range(0, n, 100):
    args = [cmd, key]
    for i in range(start, min(start + 100, n)):
        member = b"member:%d" % i
        if kind == "hash":
            args += [member, b"value-%d" % i]
        elif kind == "zset":
            args += [b"%d" % i, member]
        else:
            args.append(member)
    out.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
PY
size() { du -sk "$dir" | cut -f1; }
sleep 1
loaded=$(size)
echo "loaded $(redis-cli -p "$port" --no-raw type "$key") $key: $members members, $((loaded / 1024)) MB on disk"
t0=$(date +%s.%N)
redis-cli -p "$port" del "$key" >/dev/null
t1=$(date +%s.%N)
echo "DEL took $(echo "($t1 - $t0) * 1000" | bc -l | cut -c1-6) ms (including redis-cli start-up)"
for i in $(seq 1 1200); do
  now=$(size)
  if [ "$now" -lt $((loaded / 4)) ]; then
    echo "disk back to $((now / 1024)) MB after $(echo "$(date +%s.%N) - $t1" | bc -l | cut -c1-5) s"
    exit 0
  fi
  sleep 0.1
done
echo "disk still $(( $(size) / 1024 )) MB after 120 s"
exit 1
