#!/usr/bin/env python3
"""Kiwi with an unmodified third-party client (redis-py): pipelines, transactions, optimistic
locking with WATCH from many threads, pub/sub with patterns, a BLPOP work queue, RESP3.
Usage: redis_py_check.py PORT — exits non-zero (with the failing check) on any mismatch."""
import sys
import threading

import redis

PORT = int(sys.argv[1])


def client(**kw):
    return redis.Redis(host="127.0.0.1", port=PORT, **kw)


def check(name, got, want):
    if got != want:
        print(f"FAIL {name}: got {got!r}, want {want!r}")
        sys.exit(1)
    print(f"ok   {name}")


r = client()
r.flushall()

# Pipelines without and with MULTI/EXEC.
p = r.pipeline(transaction=False)
for i in range(1000):
    p.set(f"k{i}", i)
p.get("k999")
check("pipeline of 1001 commands", p.execute()[-1], b"999")
p = r.pipeline(transaction=True)
p.incr("tx").incr("tx").lpush("txl", "a", "b").lrange("txl", 0, -1)
check("MULTI/EXEC pipeline", p.execute(), [1, 2, 2, [b"b", b"a"]])

# WATCH-based optimistic counter from 20 threads.
def bump(times):
    c = client()
    for _ in range(times):
        with c.pipeline() as pipe:
            while True:
                try:
                    pipe.watch("counter")
                    value = int(pipe.get("counter") or 0)
                    pipe.multi()
                    pipe.set("counter", value + 1)
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue

threads = [threading.Thread(target=bump, args=(25,)) for _ in range(20)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check("WATCH counter from 20 threads", int(r.get("counter")), 500)

# Pub/sub with a channel and a pattern.
sub = client().pubsub()
sub.subscribe("chat")
sub.psubscribe("news.*")
for _ in range(2):
    sub.get_message(timeout=1)
check("PUBLISH receivers (channel)", r.publish("chat", "hi"), 1)
check("PUBLISH receivers (pattern)", r.publish("news.sport", "goal"), 1)
got = []
while len(got) < 2:
    m = sub.get_message(timeout=2)
    if m is None:
        break
    got.append((m["type"], m["channel"], m["data"]))
check("pub/sub messages", got, [("message", b"chat", b"hi"), ("pmessage", b"news.sport", b"goal")])
sub.close()

# BLPOP work queue: 3 producers, 3 consumers, nothing lost or duplicated.
consumed = []
lock = threading.Lock()

def consume():
    c = client()
    while True:
        item = c.blpop("jobs", timeout=5)
        if item is None or item[1] == b"stop":
            return
        with lock:
            consumed.append(item[1])

def produce(n):
    c = client()
    for i in range(100):
        c.rpush("jobs", f"{n}:{i}")

consumers = [threading.Thread(target=consume) for _ in range(3)]
for t in consumers:
    t.start()
producers = [threading.Thread(target=produce, args=(n,)) for n in range(3)]
for t in producers:
    t.start()
for t in producers:
    t.join()
for _ in consumers:
    r.rpush("jobs", "stop")
for t in consumers:
    t.join()
check("BLPOP queue: items consumed", len(consumed), 300)
check("BLPOP queue: no duplicates", len(set(consumed)), 300)

# RESP3.
r3 = client(protocol=3)
r3.hset("h", mapping={"a": "1", "b": "2"})
check("RESP3 HGETALL", r3.hgetall("h"), {b"a": b"1", b"b": b"2"})
r3.zadd("z", {"m": 1.5})
check("RESP3 ZSCORE", r3.zscore("z", "m"), 1.5)
# Lua: redis-py's Lock (EVALSHA of its own scripts), register_script, functions, asyncio.
import asyncio
import redis.asyncio

lock = r.lock("resource", timeout=10)
check("Lock: acquire", lock.acquire(blocking=False), True)
check("Lock: held", lock.locked(), True)
other = client().lock("resource", timeout=10)
check("Lock: a second holder is refused", other.acquire(blocking=False), False)
check("Lock: extend", lock.extend(5), True)
lock.release()
check("Lock: released", r.exists("resource"), 0)
check("Lock: the other holder gets it now", other.acquire(blocking=False), True)
other.release()

incr_by = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
check("register_script: first call loads it", incr_by(keys=["scripted"], args=[5]), 5)
r.script_flush()
check("register_script: reloads after SCRIPT FLUSH", incr_by(keys=["scripted"], args=[2]), 7)

r.function_flush()
r.function_load("#!lua name=pylib\nredis.register_function('twice', function(k, a) return a[1] * 2 end)")
check("FCALL", r.fcall("twice", 0, 21), 42)

async def async_lock():
    ar = redis.asyncio.Redis(host="127.0.0.1", port=PORT)
    async with ar.lock("async-resource", timeout=5):
        held = await ar.exists("async-resource")
    after = await ar.exists("async-resource")
    await ar.aclose()
    return held, after

check("asyncio Lock: held then released", asyncio.run(async_lock()), (1, 0))
print("all redis-py checks passed")
