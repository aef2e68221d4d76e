"""pymemcache 4.0.0 against the server HOST:PORT: the operation list, as a
JSON-lines transcript (see transcript.py)."""

from pymemcache.client.base import Client

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
mc = Client(
    (host, port),
    connect_timeout=TIMEOUT,
    timeout=TIMEOUT,
    default_noreply=False,
    allow_unicode_keys=True,
)
t = Transcript()
op = t.op

op("version", mc.version, shape=version_shape)

# Values: text, every byte value with the protocol's markers, empty, large.
tricky = b"\r\nEND\r\n" + bytes(range(256)) + b"\r\nEND\r\nVALUE x 0 1\r\nx\r\n"
big = bytes((i * 7 + 3) % 251 for i in range(500_000))
for key, value in [
    ("text", b"hello"),
    ("binary", tricky),
    ("empty", b""),
    ("big", big),
    ("unicode", "h\u00e9llo \u20ac".encode()),
]:
    op(f"set {key}", lambda: mc.set(key, value))
    op(f"get {key}", lambda: mc.get(key))
op("get missing", lambda: mc.get("no-such-key"))
op("set with flags", lambda: mc.set("flagged", b"f", flags=12345))
op("gets flagged, the value", lambda: mc.gets("flagged")[0])

# Keys with odd bytes: pymemcache refuses whitespace and NUL only.
for name, key in [
    ("control and high bytes", b"odd\x01\x10\x7f\x80\xff"),
    ("utf-8", "cl\u00e9\u20ac"),
    ("ends in 0x7f", b"tail\x7f"),
    ("250 bytes", b"k" * 250),
    ("251 bytes", b"k" * 251),
    ("a space", b"with space"),
    ("a tab", b"with\ttab"),
]:
    op(f"set key {name}", lambda: mc.set(key, b"odd key"))
    op(f"get key {name}", lambda: mc.get(key))

# Multi-gets of 300 and 10,000 keys (one `get` line each), half of them set.
for n in (300, 10_000):
    ks = keys(f"m{n}-", n)
    op(f"set_many {n // 2} keys", lambda: mc.set_many({k: value_of(k) for k in ks[::2]}))
    op(f"get_many {n} keys", lambda: mc.get_many(ks), shape=digest)
    op(f"gets_many {n} keys, the values", lambda: {k: v for k, (v, _) in mc.gets_many(ks).items()}, shape=digest)
op("get_many of none", lambda: mc.get_many([]))
op("get_many with repeats", lambda: mc.get_many(["text", "missing", "text", "empty"]))

# Storage commands.
op("add existing", lambda: mc.add("text", b"no"))
op("add new", lambda: mc.add("added", b"yes"))
op("replace existing", lambda: mc.replace("added", b"replaced"))
op("replace missing", lambda: mc.replace("never-set", b"x"))
op("append", lambda: mc.append("added", b"-tail"))
op("prepend", lambda: mc.prepend("added", b"head-"))
op("append missing", lambda: mc.append("never-set", b"x"))
op("prepend missing", lambda: mc.prepend("never-set", b"x"))
op("get after add/replace/append/prepend", lambda: mc.get("added"))

# cas: the token from gets works once; a stale one and a missing key do not.
got = op("gets text", lambda: mc.gets("text"), shape=lambda r: [repr(r[0]), type(r[1]).__name__])
token = got[1] if got else b"1"
op("cas with gets' token", lambda: mc.cas("text", b"swapped", token))
op("cas with a stale token", lambda: mc.cas("text", b"again", token))
op("cas on a missing key", lambda: mc.cas("never-set", b"x", token))
op("get after cas", lambda: mc.get("text"))

# incr/decr, also on a missing key, a non-numeric value and around 2**64.
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
op("set padded number", lambda: mc.set("padded", b"7 "))
op("incr padded number", lambda: mc.incr("padded", 1))
op("get padded number", lambda: mc.get("padded"))

# touch.
op("touch existing", lambda: mc.touch("counter", 100))
op("touch missing", lambda: mc.touch("never-set", 100))

# delete and delete_many.
op("delete existing", lambda: mc.delete("added"))
op("delete missing", lambda: mc.delete("added"))
op("delete_many", lambda: mc.delete_many(["counter", "never-set", "word"]))
op("get_many after delete_many", lambda: mc.get_many(["counter", "word", "max"]))

# noreply: nothing comes back, and the next command's reply is its own.
op("set noreply", lambda: mc.set("quiet", b"1", noreply=True))
op("add existing noreply", lambda: mc.add("quiet", b"2", noreply=True))
op("replace missing noreply", lambda: mc.replace("never-set", b"2", noreply=True))
op("append noreply", lambda: mc.append("quiet", b"0", noreply=True))
op("prepend noreply", lambda: mc.prepend("quiet", b"9", noreply=True))
op("incr noreply", lambda: mc.incr("quiet", 1, noreply=True))
op("decr noreply", lambda: mc.decr("quiet", 3, noreply=True))
op("incr missing noreply", lambda: mc.incr("never-set", 1, noreply=True))
op("touch noreply", lambda: mc.touch("quiet", 100, noreply=True))
op("get after noreply", lambda: mc.get("quiet"))
op("delete noreply", lambda: mc.delete("quiet", noreply=True))
op("delete missing noreply", lambda: mc.delete("quiet", noreply=True))
op("get after delete noreply", lambda: mc.get("quiet"))

# Mis-typed commands with noreply: pymemcache checks incr's amount itself,
# so they go through raw_command, followed by a get on the same line.
op("incr with a non-numeric amount", lambda: mc.incr("text", "abc", noreply=True))
op("set n", lambda: mc.set("n", b"5"))
for name, bad in [
    ("incr non-numeric amount noreply", b"incr n abc noreply"),
    ("incr non-numeric value noreply", b"incr text 1 noreply"),
    ("touch non-numeric time noreply", b"touch n soon noreply"),
    ("set bad length noreply", b"set n 0 0 x noreply"),
]:
    op(f"raw: {name}, then get n", lambda: mc.raw_command(bad + b"\r\nget n", b"END\r\n"))
op("get n after the mis-typed commands", lambda: mc.get("n"))

# stats and its sub-commands: the names only (not `stats conns`, whose names
# hold file descriptor numbers).
op("stats", lambda: mc.stats(), shape=names)
for group in ("items", "slabs", "settings", "sizes"):
    op(f"stats {group}", lambda: mc.stats(group), shape=names)
op("stats reset", lambda: mc.stats("reset"))

# flush_all, also noreply and delayed.
op("set before flush", lambda: mc.set("flushed", b"x"))
op("flush_all", lambda: mc.flush_all())
op("get after flush_all", lambda: mc.get("flushed"))
op("set before flush noreply", lambda: mc.set("flushed", b"x"))
op("flush_all noreply", lambda: mc.flush_all(noreply=True))
op("get after flush_all noreply", lambda: mc.get("flushed"))
op("flush_all in 0 s", lambda: mc.flush_all(delay=0))
op("version at the end", mc.version, shape=version_shape)
op("quit", mc.quit)

t.print()
