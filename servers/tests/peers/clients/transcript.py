"""What the client scripts share: a transcript of operations and their
results, printed as JSON lines that are the same for two servers that behave
the same.

Each line is `{"op": NAME, "result": R}` or `{"op": NAME, "raised": CLASS}`.
Values are shown as Python reprs (byte strings byte for byte); dictionaries
as sorted lists of pairs; large results as a count and a SHA-256 of their
canonical form. What legitimately differs between two servers (a cas token,
a version string, stats values) is recorded by its shape only.
"""

import hashlib
import json
import re
import socket
import sys
import time

# Every client is told to give up on a read after this many seconds.
TIMEOUT = 2.0


def server_arg():
    """The HOST:PORT given on the command line, as (host, port)."""
    if len(sys.argv) != 2 or ":" not in sys.argv[1]:
        sys.exit(f"usage: {sys.argv[0]} HOST:PORT")
    host, port = sys.argv[1].rsplit(":", 1)
    return host, int(port)


def canon(v):
    """A JSON-able, deterministic form of a result."""
    if isinstance(v, (bytes, bytearray, str)):
        return repr(v)
    if v is None or isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, dict):
        return [[canon(k), canon(x)] for k, x in sorted(v.items(), key=lambda kv: repr(kv[0]))]
    if isinstance(v, (list, tuple)):
        return [canon(x) for x in v]
    if isinstance(v, set):
        return sorted(canon(x) for x in v)
    return repr(v)


def digest(v):
    """A large result as its size and a digest of its canonical form."""
    text = json.dumps(canon(v), sort_keys=True)
    return {"len": len(v), "sha256": hashlib.sha256(text.encode()).hexdigest()}


def names(stats):
    """The sorted names of a stats dictionary (values differ by server)."""
    return sorted(k.decode() if isinstance(k, bytes) else str(k) for k in stats)


def version_shape(v):
    """A version string as `N.N.N...` if it starts so (servers differ in the rest)."""
    if isinstance(v, bytes):
        v = v.decode("ascii", "replace")
    return "N.N.N..." if isinstance(v, str) and re.match(r"^\d+\.\d+\.\d+", v) else repr(v)


class Transcript:
    """Prints each result as it comes (so that a client that crashes the
    process leaves the transcript up to the crash)."""

    def op(self, name, fn, shape=canon):
        """Runs `fn`, recording its result (through `shape`) or the class of
        what it raised."""
        try:
            result = fn()
        except Exception as e:  # the class is the result
            self.line({"op": name, "raised": type(e).__name__})
            return None
        self.line({"op": name, "result": shape(result)})
        return result

    def line(self, line):
        sys.stdout.write(json.dumps(line, sort_keys=True) + "\n")
        sys.stdout.flush()

    def print(self):
        """The end of the transcript."""
        self.line({"op": "end"})


def raw_exchange(host, port, request, end, timeout=TIMEOUT):
    """Sends `request` on a fresh plain socket and reads until the bytes
    received end with `end` (or the server closes, or `timeout` passes
    without a byte): what came back."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(request)
        got = b""
        deadline = time.monotonic() + 10 * timeout
        while not got.endswith(end) and time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


def keys(prefix, n):
    return [f"{prefix}{i:05d}" for i in range(n)]


def value_of(key):
    """The value stored under a key of a multi-get: distinct per key."""
    return (key * 3).encode()
