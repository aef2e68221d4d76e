"""python-memcached 1.62 against the server HOST:PORT: the operation list, as
a JSON-lines transcript (see transcript.py).

What this library sends: every storage line ends in a space before its line
end (`set k 0 0 5 \\r\\n`), and delete_multi sends `delete k \\r\\n`."""

import memcache

from transcript import (
    TIMEOUT,
    Transcript,
    digest,
    keys,
    names,
    server_arg,
    value_of,
    version_shape,
)

host, port = server_arg()
# dead_retry=0: a server that failed once is tried again at the next command
# (else every later command would fail for 30 s and hide what follows).
# cache_cas=True: gets remembers the token that cas then sends.
def client():
    return memcache.Client(
        [f"{host}:{port}"], dead_retry=0, socket_timeout=TIMEOUT, cache_cas=True
    )


mc = client()
server = mc.servers[0]
t = Transcript()
op = t.op


def stats_names(pairs):
    """get_stats() answers [(server name, {name: value})]: the names."""
    return [names(s) for _, s in pairs]


def version():
    """python-memcached has no `version`: sent on its server connection."""
    server.connect()
    server.send_cmd(b"version")
    line = server.readline()
    return line.split(b" ", 1)[1] if line.startswith(b"VERSION ") else line


def raw(cmd, lines):
    """`cmd` sent on the client's own connection; `lines` lines read back."""
    server.connect()
    server.send_cmd(cmd)
    return [server.readline() for _ in range(lines)]


op("version", version, shape=version_shape)

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

# Keys: python-memcached allows bytes 0x21-0x7e and 0x80-0xff.
for name, key in [
    ("high bytes", b"odd\x80\xfe\xff"),
    ("utf-8", "cl\u00e9\u20ac"),
    ("punctuation", b"!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    ("250 bytes", b"k" * 250),
    ("251 bytes", b"k" * 251),
    ("a control byte", b"odd\x01"),
    ("a space", b"with space"),
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

# cas: gets remembers the token; a second cas with it fails.
op("gets text", lambda: mc.gets("text"))
op("cas with gets' token", lambda: mc.cas("text", b"swapped"))
op("cas with the same token again", lambda: mc.cas("text", b"again"))
op("gets never-set", lambda: mc.gets("never-set"))
op("cas on a missing key (without a token: a set)", lambda: mc.cas("never-set", b"x"))
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

op("touch existing", lambda: mc.touch("counter", 100))
op("touch missing", lambda: mc.touch("never-set", 100))

op("delete existing", lambda: mc.delete("added"))
op("delete missing", lambda: mc.delete("added"))
op("delete_multi", lambda: mc.delete_multi(["counter", "never-set", "word"]))
op("get_multi after delete_multi", lambda: mc.get_multi(["counter", "word", "max"]))

op("set noreply", lambda: mc.set("quiet", b"1", noreply=True))
op("add existing noreply", lambda: mc.add("quiet", b"2", noreply=True))
op("append noreply", lambda: mc.append("quiet", b"0", noreply=True))
op("incr noreply", lambda: mc.incr("quiet", 1, noreply=True))
op("incr missing noreply", lambda: mc.incr("never-set", 1, noreply=True))
op("touch noreply", lambda: mc.touch("quiet", 100, noreply=True))
op("get after noreply", lambda: mc.get("quiet"))
op("set_multi noreply", lambda: mc.set_multi({"q1": b"1", "q2": b"2"}, noreply=True))
op("delete_multi noreply", lambda: mc.delete_multi(["q1", "never-set"], noreply=True))
op("get_multi after the noreply multis", lambda: mc.get_multi(["q1", "q2"]))
op("delete noreply", lambda: mc.delete("quiet", noreply=True))
op("get after delete noreply", lambda: mc.get("quiet"))

# Mis-typed commands with noreply on the client's connection (its incr
# formats the amount with %d itself), each followed by a get.
op("incr with a non-numeric amount", lambda: mc.incr("text", "abc", noreply=True))
op("set n", lambda: mc.set("n", b"5"))
for name, bad in [
    ("incr non-numeric amount noreply", b"incr n abc noreply"),
    ("incr non-numeric value noreply", b"incr text 1 noreply"),
    ("touch non-numeric time noreply", b"touch n soon noreply"),
]:
    op(f"raw: {name}, then get n", lambda: raw(bad + b"\r\nget n", 3))
op("get n after the mis-typed commands", lambda: mc.get("n"))

op("get_stats", lambda: mc.get_stats(), shape=stats_names)
for group in ("items", "slabs", "settings", "sizes"):
    op(f"get_stats {group}", lambda: mc.get_stats(group), shape=stats_names)
op("get_slab_stats (stats slabs)", lambda: mc.get_slab_stats(), shape=lambda r: [names(s) for _, s in r])


def get_slabs():
    """get_slabs (`stats items`) splits undecoded lines with a str under
    Python 3 and raises, leaving the rest of the reply unread: on a client
    of its own."""
    own = client()
    try:
        return own.get_slabs()
    finally:
        own.disconnect_all()


op("get_slabs (stats items)", get_slabs, shape=lambda r: [{k: names(v) for k, v in s.items()} for _, s in r])

op("set before flush", lambda: mc.set("flushed", b"x"))
op("flush_all", lambda: mc.flush_all())
op("get after flush_all", lambda: mc.get("flushed"))
op("version at the end", version, shape=version_shape)
op("disconnect_all", mc.disconnect_all)

t.print()
