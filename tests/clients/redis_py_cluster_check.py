#!/usr/bin/env python3
"""redis-py's RedisCluster, unmodified, against a kiwi Raft cluster: it discovers the leader from
any member, writes and reads keys across many slots (hash tags included), counts and lists the
keys of a slot, then follows the leader through a failover with the same client object.

Usage: redis_py_cluster_check.py HOST:PORT [HOST:PORT ...]
Prints READY after the first phase and waits for a line on stdin: the test kills the leader in
between. Exits non-zero (naming the failed check) on any mismatch."""
import sys
import time

from redis.cluster import ClusterNode, RedisCluster

startup = [ClusterNode(host, int(port)) for host, port in (a.rsplit(":", 1) for a in sys.argv[1:])]


def check(name, got, want):
    if got != want:
        print(f"FAIL {name}: got {got!r}, want {want!r}", flush=True)
        sys.exit(1)
    print(f"ok   {name}", flush=True)


def retried(action, deadline_s=30):
    """Runs `action` until it succeeds: during an election the cluster answers errors (or
    nothing), and SET is safe to send again."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return action()
        except Exception:  # noqa: BLE001 - any failure is retried until the deadline
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


rc = RedisCluster(startup_nodes=startup, decode_responses=True)
check("one shard owns every slot", len(rc.get_primaries()), 1)

for i in range(300):
    rc.set(f"key:{i}", i)
check("writes read back", [rc.get(f"key:{i}") for i in range(300)], [str(i) for i in range(300)])

tagged = [f"{{user:7}}:{field}" for field in ("name", "mail", "plan")]
rc.mset_nonatomic({key: key.upper() for key in tagged})
check("hash tags share a slot", len({rc.keyslot(k) for k in tagged}), 1)
slot = rc.keyslot(tagged[0])
others = sum(1 for i in range(300) if rc.keyslot(f"key:{i}") == slot)
check("CLUSTER COUNTKEYSINSLOT", rc.cluster_countkeysinslot(slot), len(tagged) + others)
listed = rc.cluster_get_keys_in_slot(slot, 100)
check("CLUSTER GETKEYSINSLOT", sorted(k for k in listed if k.startswith("{user:7}")), sorted(tagged))

print("READY", flush=True)
sys.stdin.readline()

# The leader is gone: the same client object must find the new one.
started = time.monotonic()
retried(lambda: rc.set("after-failover", "yes"))
print(f"ok   first write after failover in {time.monotonic() - started:.1f} s", flush=True)
for i in range(300, 400):
    retried(lambda: rc.set(f"key:{i}", i))
values = retried(lambda: [rc.get(f"key:{i}") for i in range(400)])
check("every acknowledged write survived the failover", values, [str(i) for i in range(400)])
check("the tagged keys survived", retried(lambda: [rc.get(k) for k in tagged]), [k.upper() for k in tagged])
print("ok", flush=True)
