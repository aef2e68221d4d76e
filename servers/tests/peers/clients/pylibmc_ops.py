"""pylibmc (Debian's python3-pylibmc, over libmemcached) against the server
HOST:PORT: the operation list, as a JSON-lines transcript (see
transcript.py)."""

import pylibmc

from transcript import (
    TIMEOUT,
    Transcript,
    digest,
    keys,
    names,
    raw_exchange,
    server_arg,
    value_of,
)

host, port = server_arg()
MS = int(TIMEOUT * 1000)
# The text protocol; cas on (gets); a failed server retried at once.
BEHAVIORS = {
    "cas": True,
    "connect_timeout": MS,
    "_poll_timeout": MS,
    "retry_timeout": 0,
    "dead_timeout": 0,
}
mc = pylibmc.Client([f"{host}:{port}"], binary=False, behaviors=BEHAVIORS)
quiet = pylibmc.Client([f"{host}:{port}"], binary=False, behaviors={**BEHAVIORS, "_noreply": True})
t = Transcript()
op = t.op


def stats_names(pairs):
    """get_stats() answers [(server name, {name: value})]: the names."""
    return [names(s) for _, s in pairs]


tricky = b"\r\nEND\r\n" + bytes(range(256)) + b"\r\nEND\r\nVALUE x 0 1\r\nx\r\n"
big = bytes((i * 7 + 3) % 251 for i in range(500_000))
for key, value in [
    ("text", b"hello"),
    ("binary", tricky),
    ("empty", b""),
    ("big", big),
    ("str", "h\u00e9llo \u20ac"),
    ("int", 42),
    ("pickled", {"a": [1, 2]}),
]:
    op(f"set {key}", lambda: mc.set(key, value))
    op(f"get {key}", lambda: mc.get(key))
op("get missing", lambda: mc.get("no-such-key"))

# Keys: without verify_keys, libmemcached sends any bytes but checks length.
# (Its reply parser loses its place on some runs of control bytes, e.g. a
# key holding 0x10 0x7f: one control byte per key here.)
for name, key in [
    ("a control byte", b"odd\x01"),
    ("high bytes", b"odd\x80\xff"),
    ("ends in 0x7f", b"tail\x7f"),
    ("utf-8", "cl\u00e9\u20ac"),
    ("250 bytes", b"k" * 250),
    ("251 bytes", b"k" * 251),
]:
    op(f"set key {name}", lambda: mc.set(key, b"odd key"))
    op(f"get key {name}", lambda: mc.get(key))

for n in (300, 10_000):
    ks = keys(f"m{n}-", n)
    op(f"set_multi {n // 2} keys", lambda: mc.set_multi({k: value_of(k) for k in ks[::2]}))
    op(f"get_multi {n} keys", lambda: mc.get_multi(ks), shape=digest)
op("get_multi with repeats", lambda: mc.get_multi(["text", "missing", "text", "empty"]))

op("add existing", lambda: mc.add("text", b"no"))
op("add new", lambda: mc.add("added", b"yes"))
op("replace existing", lambda: mc.replace("added", b"replaced"))
op("replace missing", lambda: mc.replace("never-set", b"x"))
op("append", lambda: mc.append("added", b"-tail"))
op("prepend", lambda: mc.prepend("added", b"head-"))
op("append missing", lambda: mc.append("never-set", b"x"))
op("prepend missing", lambda: mc.prepend("never-set", b"x"))
op("get after add/replace/append/prepend", lambda: mc.get("added"))
op("add_multi", lambda: mc.add_multi({"text": b"no", "added2": b"yes"}))

got = op("gets text", lambda: mc.gets("text"), shape=lambda r: [repr(r[0]), type(r[1]).__name__])
token = got[1] if got else 1
op("cas with gets' token", lambda: mc.cas("text", b"swapped", token))
op("cas with a stale token", lambda: mc.cas("text", b"again", token))
op("cas on a missing key", lambda: mc.cas("never-set", b"x", token))
op("get after cas", lambda: mc.get("text"))

op("set counter", lambda: mc.set("counter", b"10"))
op("incr 5", lambda: mc.incr("counter", 5))
op("decr 3", lambda: mc.decr("counter", 3))
op("decr below zero", lambda: mc.decr("counter", 100))
op("incr missing", lambda: mc.incr("never-set", 1))
op("decr missing", lambda: mc.decr("never-set", 1))
op("set max", lambda: mc.set("max", str(2**64 - 1).encode()))
op("incr wraps", lambda: mc.incr("max", 1))
op("set non-numeric", lambda: mc.set("word", b"abc"))
op("incr non-numeric", lambda: mc.incr("word", 1))
op("decr non-numeric", lambda: mc.decr("word", 1))
op("get after the failed incr", lambda: mc.get("word"))
op("set c1, c2", lambda: mc.set_multi({"c1": b"1", "c2": b"2"}))
op("incr_multi", lambda: mc.incr_multi(["c1", "c2"], delta=10))
op("get_multi after incr_multi", lambda: mc.get_multi(["c1", "c2"]))

op("touch existing", lambda: mc.touch("counter", 100))
op("touch missing", lambda: mc.touch("never-set", 100))

op("delete existing", lambda: mc.delete("added"))
op("delete missing", lambda: mc.delete("added"))
op("delete_multi", lambda: mc.delete_multi(["counter", "never-set", "word"]))
op("get_multi after delete_multi", lambda: mc.get_multi(["counter", "word", "max"]))

# noreply, on a client with libmemcached's noreply behavior.
op("set noreply", lambda: quiet.set("quiet", b"1"))
op("add existing noreply", lambda: quiet.add("quiet", b"2"))
op("append noreply", lambda: quiet.append("quiet", b"0"))
# (what incr returns under noreply is not the server's: not recorded)
op("incr noreply", lambda: quiet.incr("quiet", 1) and None)
op("set_multi noreply", lambda: quiet.set_multi({"q1": b"1", "q2": b"2"}))
op("delete_multi noreply", lambda: quiet.delete_multi(["q1", "never-set"]))
# (read back on the same connection: behind the noreply commands)
op("get after noreply", lambda: quiet.get_multi(["quiet", "q1", "q2"]))
op("delete noreply", lambda: quiet.delete("quiet"))
op("get after delete noreply", lambda: quiet.get("quiet"))

# Mis-typed commands with noreply: pylibmc's incr takes integers only, so
# they go over a plain socket, each followed by a get.
op("incr with a non-numeric amount", lambda: mc.incr("text", "abc"))
op("set n", lambda: mc.set("n", b"5"))
for name, bad in [
    ("incr non-numeric amount noreply", b"incr n abc noreply"),
    ("incr non-numeric value noreply", b"incr text 1 noreply"),
    ("touch non-numeric time noreply", b"touch n soon noreply"),
]:
    op(f"raw: {name}, then get n", lambda: raw_exchange(host, port, bad + b"\r\nget n\r\n", b"END\r\n"))
op("get n after the mis-typed commands", lambda: mc.get("n"))

# pylibmc answers libmemcached's fixed set of names whatever the group.
op("get_stats", lambda: mc.get_stats(), shape=stats_names)
for group in ("items", "slabs", "settings", "sizes"):
    op(f"get_stats {group}", lambda: mc.get_stats(group), shape=stats_names)

op("set before flush", lambda: mc.set("flushed", b"x"))
op("flush_all", lambda: mc.flush_all())
op("get after flush_all", lambda: mc.get("flushed"))
op("set before delayed flush", lambda: mc.set("flushed", b"x"))
op("flush_all in 0 s", lambda: mc.flush_all(0))
op("get after flush_all in 0 s", lambda: mc.get("flushed"))
op("disconnect_all", mc.disconnect_all)

t.print()
