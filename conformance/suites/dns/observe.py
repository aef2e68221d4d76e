"""Talks DNS over TCP to a running dns peer and prints what goes each way,
in hex, cut into the message's parts (length prefix, header, question,
records) with a note on each, so the README's facts can be checked again:

    PORT=6400 conformance/suites/dns/peer &
    python3 conformance/suites/dns/observe.py 6400

First `dig +tcp` (bind9-dnsutils) through a small relay that records both
directions (skipped when dig is missing), then queries of its own:
several in one write, a query split over two writes, malformed ones. Ids
and dig's cookie are random: they differ from run to run. Needs only
Python's standard library (and dig for the first part).
"""

import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

TIMEOUT = 2.0
TYPES = {1: "A", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
         41: "OPT", 255: "ANY"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def hexed(data):
    return " ".join(f"{b:02x}" for b in data) if data else "(nothing)"


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(qid, name, qtype, rd=True, opt=b""):
    """A query message (no length prefix); opt: an additional OPT record."""
    flags = 0x0100 if rd else 0
    header = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 1 if opt else 0)
    return header + encode_name(name) + struct.pack(">HH", qtype, 1) + opt


def edns(udp_size=1232, options=b""):
    """An OPT pseudo-record: root name, type 41, class = UDP size, TTL 0."""
    return b"\0" + struct.pack(">HHIH", 41, udp_size, 0, len(options)) + options


def framed(msg):
    return struct.pack(">H", len(msg)) + msg


def read_reply(s, wait=TIMEOUT):
    """Everything the peer sends until it is quiet for `wait` seconds."""
    s.settimeout(wait)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data, "closed"
            data += chunk
    except socket.timeout:
        return data, "open"


def frames(data):
    """Splits a TCP stream into its length-prefixed messages."""
    out = []
    while len(data) >= 2:
        n = struct.unpack(">H", data[:2])[0]
        out.append(data[2:2 + n])
        data = data[2 + n:]
    return out


def read_name(msg, at):
    """(name, offset after it in place, whether a pointer was followed)."""
    labels, end, pointer = [], None, False
    while True:
        n = msg[at]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = at + 2
            pointer = True
            at = ((n & 0x3F) << 8) | msg[at + 1]
        elif n == 0:
            return ".".join(labels) + ".", (end if end is not None else at + 1), pointer
        else:
            labels.append(msg[at + 1:at + 1 + n].decode("ascii", "replace"))
            at += 1 + n


def rdata_note(msg, rtype, start, rdata):
    if rtype == 1 and len(rdata) == 4:
        return socket.inet_ntop(socket.AF_INET, rdata)
    if rtype == 28 and len(rdata) == 16:
        return socket.inet_ntop(socket.AF_INET6, rdata)
    if rtype in (5, 12):
        name, _, ptr = read_name(msg, start)
        return name + (" (compressed)" if ptr else "")
    if rtype == 15:
        name, _, ptr = read_name(msg, start + 2)
        return f"pref {struct.unpack('>H', rdata[:2])[0]} {name}" + (" (compressed)" if ptr else "")
    if rtype == 16:
        parts, i = [], 0
        while i < len(rdata):
            parts.append(repr(rdata[i + 1:i + 1 + rdata[i]].decode()))
            i += 1 + rdata[i]
        return " ".join(parts)
    if rtype == 6:
        mname, at, _ = read_name(msg, start)
        rname, at, _ = read_name(msg, at)
        nums = struct.unpack(">IIIII", msg[at:at + 20])
        return f"{mname} {rname} " + " ".join(str(x) for x in nums)
    return ""


def opt_note(cls, ttl, rdata):
    ext_rcode, version, flags = ttl >> 24, (ttl >> 16) & 0xFF, ttl & 0xFFFF
    note = f"OPT: UDP size {cls}, ext rcode {ext_rcode}, version {version}, flags {flags:04x}"
    i = 0
    while i + 4 <= len(rdata):
        code, n = struct.unpack(">HH", rdata[i:i + 4])
        what = {10: "COOKIE", 12: "PADDING", 8: "CLIENT-SUBNET"}.get(code, str(code))
        note += f"; option {what} ({code}), {n} bytes"
        i += 4 + n
    if not rdata:
        note += "; no options"
    return note


def annotate(msg, indent="  "):
    """The message's parts, one per line: hex, then what it is."""
    lines = []

    def part(lo, hi, note):
        lines.append(f"{indent}{hexed(msg[lo:hi])}  ; {note}")

    if len(msg) < 12:
        part(0, len(msg), "short message")
        return lines
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    names = [n for bit, n in ((15, "QR"), (10, "AA"), (9, "TC"), (8, "RD"), (7, "RA"),
                              (5, "AD"), (4, "CD")) if flags >> bit & 1]
    opcode = flags >> 11 & 0xF
    rcode = flags & 0xF
    part(0, 12, f"header: id {qid:04x}, flags {flags:04x} ({' '.join(names) or '-'}"
         f"{', opcode ' + str(opcode) if opcode else ''}, {RCODES.get(rcode, rcode)}),"
         f" QD {qd} AN {an} NS {ns} AR {ar}")
    at = 12
    try:
        for _ in range(qd):
            name, end, ptr = read_name(msg, at)
            qtype, qclass = struct.unpack(">HH", msg[end:end + 4])
            part(at, end + 4, f"question: {name} {TYPES.get(qtype, qtype)} class {qclass}")
            at = end + 4
        for section, count in (("answer", an), ("authority", ns), ("additional", ar)):
            for _ in range(count):
                name, end, ptr = read_name(msg, at)
                rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", msg[end:end + 10])
                rdata = msg[end + 10:end + 10 + rdlen]
                if rtype == 41:
                    note = opt_note(rclass, ttl, rdata)
                else:
                    where = (f"name {name} as pointer c0 {msg[at + 1]:02x}" if ptr
                             else f"name {name}")
                    note = (f"{where}, {TYPES.get(rtype, rtype)} class {rclass} TTL {ttl},"
                            f" {rdlen} bytes: {rdata_note(msg, rtype, end + 10, rdata)}")
                part(at, end + 10 + rdlen, f"{section}: {note}")
                at = end + 10 + rdlen
    except (IndexError, struct.error):
        part(at, len(msg), "(could not parse the rest)")
        return lines
    if at < len(msg):
        part(at, len(msg), "trailing bytes")
    return lines


def show_stream(title, data):
    print(title)
    for msg in frames(data):
        print(f"  {hexed(framed(msg)[:2])}  ; length {len(msg)}")
        print("\n".join(annotate(msg)))
    rest = sum(2 + len(m) for m in frames(data))
    if rest < len(data):
        print(f"  {hexed(data[rest:])}  ; (incomplete message)")


def dig_through_relay(port, args):
    """Runs `dig +tcp ARGS` against a relay to the peer; returns both
    directions' bytes and whether the peer closed first."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    relay_port = lsock.getsockname()[1]
    got = {"c2s": b"", "s2c": b"", "closer": None}

    def relay():
        c, _ = lsock.accept()
        s = socket.create_connection(("127.0.0.1", port))

        def pump(src, dst, key):
            while True:
                try:
                    d = src.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    if got["closer"] is None:
                        got["closer"] = "dig" if key == "c2s" else "dnsmasq"
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                got[key] += d
                dst.sendall(d)

        t = threading.Thread(target=pump, args=(s, c, "s2c"))
        t.start()
        pump(c, s, "c2s")
        t.join(TIMEOUT)
        c.close()
        s.close()

    t = threading.Thread(target=relay)
    t.start()
    subprocess.run(["dig", "+tcp", "+tries=1", "+time=2", "@127.0.0.1", "-p", str(relay_port)]
                   + args, capture_output=True, check=False)
    t.join(TIMEOUT)
    lsock.close()
    return got


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def exchange(port, title, writes, wait=0.5, pause=0.3):
    """Writes (each already framed) on one connection; prints the reply."""
    with connect(port) as s:
        for i, w in enumerate(writes):
            if i:
                time.sleep(pause)
            s.sendall(w)
        reply, state = read_reply(s, wait)
    print(f"### {title}")
    for i, w in enumerate(writes):
        print(f"sent (write {i + 1}): {hexed(w)}")
    show_stream(f"received (connection {state} after {wait} s quiet):", reply)
    print()
    return reply, state


def ids_of(reply):
    return [struct.unpack(">H", m[:2])[0] for m in frames(reply)]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: observe.py PORT (of a running dns peer)")
    port = int(sys.argv[1])

    print("## dig +tcp through a relay\n")
    if shutil.which("dig") is None:
        print("(dig is missing: install bind9-dnsutils)\n")
    else:
        for args in (["alpha.test", "A"], ["alpha.test", "AAAA"], ["nosuch.test", "A"],
                     ["beta.test", "AAAA"], ["www.test", "A"], ["+nocookie", "multi.test", "A"],
                     ["+noedns", "mx.test", "MX"]):
            got = dig_through_relay(port, args)
            print(f"### dig +tcp {' '.join(args)} (first to close: {got['closer']})")
            show_stream("dig sent:", got["c2s"])
            show_stream("dnsmasq sent:", got["s2c"])
            print()

    print("## queries of our own (no EDNS unless said)\n")
    exchange(port, "alpha.test A, RD set", [framed(query(0x1234, "alpha.test", 1))])
    exchange(port, "alpha.test A, RD clear", [framed(query(0x1235, "alpha.test", 1, rd=False))])
    exchange(port, "AlPhA.TeSt A (case kept?)", [framed(query(0x1236, "AlPhA.TeSt", 1))])
    exchange(port, "alpha.test ANY", [framed(query(0x1237, "alpha.test", 255))])
    exchange(port, "txt.test TXT", [framed(query(0x1238, "txt.test", 16))])
    exchange(port, "1.2.0.192.in-addr.arpa PTR",
             [framed(query(0x1239, "1.2.0.192.in-addr.arpa", 12))])
    exchange(port, "other.example A (outside .test)", [framed(query(0x123a, "other.example", 1))])
    exchange(port, "alpha.test A with EDNS, UDP size 1232, no options",
             [framed(query(0x123b, "alpha.test", 1, opt=edns()))])
    exchange(port, "alpha.test A with EDNS and an 8-byte client cookie",
             [framed(query(0x123c, "alpha.test", 1,
                           opt=edns(options=struct.pack(">HH", 10, 8) + bytes(range(1, 9)))))])

    print("## framing and pipelining\n")
    three = (framed(query(1, "alpha.test", 1)) + framed(query(2, "nosuch.test", 1))
             + framed(query(3, "host5.test", 1)))
    exchange(port, "three queries in one write (ids 1, 2, 3)", [three])
    q = framed(query(0x4242, "beta.test", 1))
    exchange(port, "one query in two writes: the length, then the message", [q[:2], q[2:]])
    exchange(port, "one query in two writes: 1 byte, then the rest", [q[:1], q[1:]])
    exchange(port, "two queries, 1 s apart, on one connection",
             [framed(query(5, "alpha.test", 1)), framed(query(6, "beta.test", 1))], pause=1.0)

    for n in (100, 101, 150):
        batch = b"".join(framed(query(i, f"host{(i - 1) % 100 + 1}.test", 1))
                         for i in range(1, n + 1))
        with connect(port) as s:
            s.sendall(batch)
            reply, state = read_reply(s, 1.0)
        ids = ids_of(reply)
        print(f"### {n} queries in one write (ids 1..={n}, host1.test.. in turn)")
        print(f"{len(ids)} answers, ids in order: {ids == list(range(1, len(ids) + 1))},"
              f" connection {state} after 1 s quiet\n")

    print("## malformed\n")
    exchange(port, "header only, QDCOUNT 0",
             [framed(struct.pack(">HHHHHH", 7, 0x0100, 0, 0, 0, 0))])
    exchange(port, "QDCOUNT 1 but no question",
             [framed(struct.pack(">HHHHHH", 8, 0x0100, 1, 0, 0, 0))])
    exchange(port, "a response (QR set) sent as a query",
             [framed(bytes([0, 9, 0x81, 0x00]) + query(9, "alpha.test", 1)[4:])])
    exchange(port, "opcode 2 (STATUS)",
             [framed(bytes([0, 10, 0x11, 0x00]) + query(10, "alpha.test", 1)[4:])])
    exchange(port, "length 0", [b"\0\0"])
    exchange(port, "length 5, then 5 bytes", [b"\0\x05hello"])


if __name__ == "__main__":
    main()
