"""The same redis-py calls against any server; prints one line per call.

    python script.py HOST PORT

Run against redis-server and resp-server, the two outputs must be the same
(servers/tests/peers/resp.rs compares them). Results that Redis leaves in no
set order (set members, KEYS, SCAN) are sorted; replies that must differ
between the two (INFO's version, average TTL) are not printed.
"""

import sys

import redis

host, port = sys.argv[1], int(sys.argv[2])
r = redis.Redis(host=host, port=port, db=0, socket_timeout=10)


def show(label, call):
    try:
        value = call()
    except redis.ResponseError as e:
        value = "ResponseError: %s" % e
    print("%s -> %r" % (label, value))


show("flushall", lambda: r.flushall())
show("ping", lambda: r.ping())
show("echo", lambda: r.echo("hello"))
# strings
show("set", lambda: r.set("s:a", "1"))
show("get", lambda: r.get("s:a"))
show("get missing", lambda: r.get("s:missing"))
show("set nx on existing", lambda: r.set("s:a", "2", nx=True))
show("set xx on missing", lambda: r.set("s:b", "2", xx=True))
show("set xx get", lambda: r.set("s:a", "3", xx=True, get=True))
show("set ex", lambda: r.set("s:ttl", "v", ex=100))
show("ttl", lambda: r.ttl("s:ttl"))
show("set px", lambda: r.set("s:pttl", "v", px=100000))
show("pttl rounded", lambda: (r.pttl("s:pttl") + 500) // 1000)
show("set keepttl", lambda: r.set("s:ttl", "w", keepttl=True))
show("ttl kept", lambda: r.ttl("s:ttl"))
show("mset", lambda: r.mset({"s:m1": "a", "s:m2": "b"}))
show("mget", lambda: r.mget(["s:m1", "s:m2", "s:none"]))
show("incr", lambda: r.incr("s:n"))
show("incrby", lambda: r.incrby("s:n", 41))
show("decr", lambda: r.decr("s:n"))
show("incr non-integer", lambda: r.incr("s:m1"))
show("append", lambda: r.append("s:m1", "bc"))
show("strlen", lambda: r.strlen("s:m1"))
show("binary", lambda: (r.set("s:bin", b"\x00\xff\r\n"), r.get("s:bin")))
# keys
show("exists", lambda: r.exists("s:a", "s:m1", "s:none"))
show("type string", lambda: r.type("s:a"))
show("type none", lambda: r.type("s:none"))
show("expire", lambda: r.expire("s:a", 50))
show("ttl after expire", lambda: r.ttl("s:a"))
show("expire missing", lambda: r.expire("s:none", 50))
show("ttl missing", lambda: r.ttl("s:none"))
show("ttl persistent", lambda: r.ttl("s:m2"))
show("keys", lambda: sorted(r.keys("s:m*")))
show("scan_iter", lambda: sorted(r.scan_iter(match="s:*", count=2)))
show("dbsize", lambda: r.dbsize())
show("del", lambda: r.delete("s:m1", "s:m2", "s:none"))
# lists
show("rpush", lambda: r.rpush("l", "a", "b", "c"))
show("lpush", lambda: r.lpush("l", "z"))
show("lrange", lambda: r.lrange("l", 0, -1))
show("lrange part", lambda: r.lrange("l", 1, -2))
show("llen", lambda: r.llen("l"))
show("lpop", lambda: r.lpop("l"))
show("rpop", lambda: r.rpop("l"))
show("lpop count", lambda: r.lpop("l", 5))
show("lpop empty", lambda: r.lpop("l"))
show("lpop count empty", lambda: r.lpop("l", 2))
show("type list", lambda: (r.rpush("l2", "x"), r.type("l2")))
show("blpop", lambda: r.blpop(["l-none", "l2"], timeout=1))
show("wrong type", lambda: r.lpush("s:bin", "x"))
# hashes
show("hset", lambda: r.hset("h", mapping={"a": "1", "b": "2"}))
show("hset again", lambda: r.hset("h", "a", "3"))
show("hget", lambda: r.hget("h", "a"))
show("hget missing", lambda: r.hget("h", "zz"))
show("hgetall", lambda: r.hgetall("h"))
show("hincrby", lambda: r.hincrby("h", "b", 10))
show("hincrby new", lambda: r.hincrby("h", "c", -1))
show("hdel", lambda: r.hdel("h", "a", "zz"))
show("hgetall after", lambda: r.hgetall("h"))
show("hgetall missing", lambda: r.hgetall("h-none"))
# sets
show("sadd", lambda: r.sadd("set", "a", "b", "c", "a"))
show("smembers", lambda: sorted(r.smembers("set")))
show("srem", lambda: r.srem("set", "a", "zz"))
show("spop", lambda: r.spop("set") in (b"b", b"c"))
show("spop count", lambda: len(r.spop("set", 5)))
show("spop empty", lambda: r.spop("set"))
show("smembers empty", lambda: r.smembers("set"))
# databases, config, client, info
show("select via new client", lambda: redis.Redis(host=host, port=port, db=3).set("d3", "x"))
show("dbsize db3", lambda: redis.Redis(host=host, port=port, db=3).dbsize())
show("config maxmemory", lambda: r.config_get("maxmemory"))
show("config databases", lambda: r.config_get("databases"))
show("client setname", lambda: r.client_setname("script"))
show("client getname", lambda: r.client_getname())
show("info keyspace", lambda: {db: (v["keys"], v["expires"]) for db, v in r.info("keyspace").items()})
show("info has a version", lambda: "redis_version" in r.info("server"))
show("unknown command", lambda: r.execute_command("NOSUCH", "a"))
show("wrong arity", lambda: r.execute_command("GET"))
# a transaction and a plain pipeline
def transaction():
    p = r.pipeline(transaction=True)
    p.set("t:a", "1").incr("t:a").lrange("l2", 0, -1).get("t:none")
    return p.execute()


def pipeline():
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.set("p:%d" % i, i)
    for i in range(100):
        p.get("p:%d" % i)
    out = p.execute()
    return out[:2] + out[100:102] + [len(out)]


def failing_transaction():
    p = r.pipeline(transaction=True)
    p.set("t:b", "x").lpush("t:b", "y").get("t:b")
    return p.execute(raise_on_error=False)


show("multi/exec", transaction)
show("multi/exec with an error", lambda: [str(x) for x in failing_transaction()])
show("pipeline", pipeline)
show("flushdb", lambda: r.flushdb())
show("dbsize after", lambda: r.dbsize())
