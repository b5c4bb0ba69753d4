#!/usr/bin/env python3
"""Counts with redis-py's RedisCluster through leader failovers: several client threads INCR one
key until a line arrives on stdin, then the script prints one JSON line with what they saw.

Usage: redis_py_cluster_incr.py CLIENTS HOST:PORT [HOST:PORT ...]

The clients retry, as redis-py does, every reply that promises the command was not executed
(MOVED, ASK and TRYAGAIN inside redis-py; CLUSTERDOWN through ERRORS_ALLOW_RETRY) -- so if the
server sent one of those for an INCR it had applied, the counter would end above the number of
successful replies. What redis-py would also retry, a lost connection, is surfaced instead: a
command whose connection broke may have run, and retrying it is the client's decision, not the
server's contract. Such calls are counted as `unknown`; a connection that could not be made at
all (the node is down) is `refused`, like any other definite refusal."""
import json
import sys
import threading
import time

from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    RedisError,
    SlotNotCoveredError,
    TimeoutError,
)

KEY = "incr-through-failovers"


class ContractCluster(RedisCluster):
    """RedisCluster retrying only the errors that say the command was not executed."""

    ERRORS_ALLOW_RETRY = (ClusterDownError, SlotNotCoveredError)


def client(startup, stop, out, lock):
    values, refused, unknown, errors = [], 0, 0, {}
    rc = None
    while not stop.is_set():
        try:
            if rc is None:
                rc = ContractCluster(startup_nodes=startup, socket_timeout=10)
            values.append(rc.incr(KEY))
            continue
        except (ConnectionError, TimeoutError) as e:
            # "Error 111 connecting to ..." means the request never left the client.
            if "connecting to" in str(e) or rc is None:
                refused += 1
            else:
                unknown += 1
            kind = type(e).__name__
        except (ClusterDownError, SlotNotCoveredError) as e:
            # Retried until redis-py gave up: still a promise that nothing ran.
            refused += 1
            kind = type(e).__name__
        except RedisError as e:
            # Anything else (Kiwi's "outcome unknown", a TTL exhausted by redirects, ...): the
            # count may include it.
            unknown += 1
            kind = f"{type(e).__name__}: {str(e)[:60]}"
        errors[kind] = errors.get(kind, 0) + 1
        time.sleep(0.05)
    with lock:
        out["values"].extend(values)
        out["refused"] += refused
        out["unknown"] += unknown
        for kind, n in errors.items():
            out["errors"][kind] = out["errors"].get(kind, 0) + n


def main():
    clients = int(sys.argv[1])
    startup = [ClusterNode(h, int(p)) for h, p in (a.rsplit(":", 1) for a in sys.argv[2:])]
    stop, lock = threading.Event(), threading.Lock()
    out = {"values": [], "refused": 0, "unknown": 0, "errors": {}}
    threads = [
        threading.Thread(target=client, args=(startup, stop, out, lock)) for _ in range(clients)
    ]
    for t in threads:
        t.start()
    print("RUNNING", flush=True)
    sys.stdin.readline()
    stop.set()
    for t in threads:
        t.join()
    print(json.dumps(out), flush=True)


main()
