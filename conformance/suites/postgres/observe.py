"""Talks the PostgreSQL wire protocol (version 3.0) to a running postgres
peer and prints what goes each way, one message a line: its bytes in hex,
then what it is, so the README's facts can be checked again:

    PORT=6400 conformance/suites/postgres/peer &
    python3 conformance/suites/postgres/observe.py 6400

First psql (and the password user through psql) through a small relay
that records both directions (skipped when psql is missing), then
exchanges of its own on fresh connections. BackendKeyData's process id
and secret key, and timestamps, differ from run to run. Needs only
Python's standard library (and psql for the first part).
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

TIMEOUT = 2.0
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3_0 = 196608

AUTH = {0: "AuthenticationOk", 2: "AuthenticationKerberosV5", 3: "AuthenticationCleartextPassword",
        5: "AuthenticationMD5Password", 7: "AuthenticationGSS", 9: "AuthenticationSSPI",
        10: "AuthenticationSASL", 11: "AuthenticationSASLContinue", 12: "AuthenticationSASLFinal"}
FIELDS = {"S": "severity", "V": "severity (not localized)", "C": "SQLSTATE", "M": "message",
          "D": "detail", "H": "hint", "P": "position", "p": "internal position",
          "q": "internal query", "W": "where", "s": "schema", "t": "table", "c": "column",
          "d": "data type", "n": "constraint", "F": "file", "L": "line", "R": "routine"}


def hexed(data):
    return " ".join(f"{b:02x}" for b in data) if data else "(nothing)"


def cstr(body, at):
    end = body.index(b"\0", at)
    return body[at:end].decode("utf-8", "replace"), end + 1


def backend_note(kind, body):
    """What a message from the server says."""
    if kind == "R":
        code = struct.unpack(">i", body[:4])[0]
        note = f"{AUTH.get(code, 'Authentication?')} ({code})"
        if code == 5:
            note += f", salt {hexed(body[4:8])}"
        if code == 10:
            note += ", mechanisms " + ", ".join(m.decode() for m in body[4:].split(b"\0") if m)
        return note
    if kind == "S":
        name, at = cstr(body, 0)
        value, _ = cstr(body, at)
        return f"ParameterStatus {name} = {value!r}"
    if kind == "K":
        pid, key = struct.unpack(">ii", body)
        return f"BackendKeyData process {pid}, secret key {key}"
    if kind == "Z":
        return f"ReadyForQuery, status {body.decode()!r}"
    if kind == "T":
        n = struct.unpack(">h", body[:2])[0]
        at, cols = 2, []
        for _ in range(n):
            name, at = cstr(body, at)
            table, attnum, typ, typlen, typmod, fmt = struct.unpack(">ihihih", body[at:at + 18])
            at += 18
            cols.append(f"{name!r} (table {table}, column {attnum}, type oid {typ}, size {typlen},"
                        f" modifier {typmod}, format {fmt})")
        return f"RowDescription, {n} fields: " + "; ".join(cols)
    if kind == "D":
        n = struct.unpack(">h", body[:2])[0]
        at, vals = 2, []
        for _ in range(n):
            size = struct.unpack(">i", body[at:at + 4])[0]
            at += 4
            if size < 0:
                vals.append(f"NULL (length {size})")
            else:
                vals.append(repr(body[at:at + size].decode("utf-8", "replace")))
                at += size
        return f"DataRow, {n} columns: " + ", ".join(vals)
    if kind == "C":
        return f"CommandComplete {cstr(body, 0)[0]!r}"
    if kind == "I":
        return "EmptyQueryResponse"
    if kind in "EN":
        at, fields = 0, []
        while body[at] != 0:
            code = chr(body[at])
            value, at = cstr(body, at + 1)
            fields.append(f"{code}={value!r}")
        return ("ErrorResponse" if kind == "E" else "NoticeResponse") + ": " + ", ".join(fields)
    if kind == "v":
        newest, n = struct.unpack(">ii", body[:8])
        names, at = [], 8
        for _ in range(n):
            name, at = cstr(body, at)
            names.append(name)
        return (f"NegotiateProtocolVersion, newest version {newest >> 16}.{newest & 0xFFFF},"
                f" options not recognized: {names}")
    simple = {"1": "ParseComplete", "2": "BindComplete", "3": "CloseComplete",
              "n": "NoData", "s": "PortalSuspended"}
    if kind in simple:
        return simple[kind]
    if kind == "t":
        n = struct.unpack(">h", body[:2])[0]
        return f"ParameterDescription, {n} parameters, type oids " + str(
            list(struct.unpack(f">{n}i", body[2:2 + 4 * n])))
    return f"message {kind!r}"


def frontend_note(kind, body):
    """What a typed message from the client says."""
    if kind == "Q":
        return f"Query {cstr(body, 0)[0]!r}"
    if kind == "p":
        return f"PasswordMessage {cstr(body, 0)[0]!r}"
    if kind == "X":
        return "Terminate"
    if kind == "P":
        name, at = cstr(body, 0)
        q, at = cstr(body, at)
        return f"Parse statement {name!r}, {q!r}"
    if kind == "B":
        return "Bind"
    if kind == "D":
        return f"Describe {chr(body[0])} {cstr(body, 1)[0]!r}"
    if kind == "E":
        return f"Execute {cstr(body, 0)[0]!r}, max rows {struct.unpack('>i', body[-4:])[0]}"
    if kind == "S":
        return "Sync"
    if kind == "H":
        return "Flush"
    return f"message {kind!r}"


def startup_note(body):
    """An untyped message: StartupMessage, SSLRequest and the like."""
    code = struct.unpack(">i", body[:4])[0]
    if code == SSL_REQUEST:
        return "SSLRequest (1234 5679)"
    if code == GSSENC_REQUEST:
        return "GSSENCRequest (1234 5680)"
    if code == CANCEL_REQUEST:
        return "CancelRequest"
    parts = body[4:].split(b"\0")
    pairs = [f"{parts[i].decode()}={parts[i + 1].decode()!r}" for i in range(0, len(parts) - 2, 2)
             if parts[i]]
    return f"StartupMessage, version {code >> 16}.{code & 0xFFFF}: " + ", ".join(pairs)


def client_lines(data):
    """The client's stream: untyped messages until a StartupMessage, then
    typed ones. Returns the lines and how many SSL/GSS requests it made."""
    lines, at, started, requests = [], 0, False, 0
    while at < len(data):
        if not started:
            if len(data) - at < 8:
                break
            n = struct.unpack(">i", data[at:at + 4])[0]
            body = data[at + 4:at + n]
            code = struct.unpack(">i", body[:4])[0]
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                requests += 1
            started = code == PROTOCOL_3_0
            lines.append(f"{hexed(data[at:at + n])}  ; {startup_note(body)}")
            at += n
        else:
            if len(data) - at < 5:
                break
            kind = chr(data[at])
            n = struct.unpack(">i", data[at + 1:at + 5])[0]
            body = data[at + 5:at + 1 + n]
            lines.append(f"{hexed(data[at:at + 1 + n])}  ; {frontend_note(kind, body)}")
            at += 1 + n
    if at < len(data):
        lines.append(f"{hexed(data[at:])}  ; (incomplete)")
    return lines, requests


def server_lines(data, single_bytes=0):
    """The server's stream; the first single_bytes bytes answer SSL/GSS
    requests one byte each."""
    lines, at = [], 0
    for _ in range(single_bytes):
        if at < len(data):
            lines.append(f"{hexed(data[at:at + 1])}  ; {chr(data[at])!r}: answer to the request")
            at += 1
    while len(data) - at >= 5:
        kind = chr(data[at])
        n = struct.unpack(">i", data[at + 1:at + 5])[0]
        if kind == "E" and at + 1 + n > len(data) and data.endswith(b"\0"):
            # The version 2 protocol's ErrorResponse: 'E', text, NUL.
            text = data[at + 1:-1].decode("utf-8", "replace")
            lines.append(f"{hexed(data[at:])}  ; 'E' + text + NUL (no length): {text!r}")
            return lines
        body = data[at + 5:at + 1 + n]
        try:
            note = backend_note(kind, body)
        except (IndexError, ValueError, struct.error):
            note = f"message {kind!r} (could not parse)"
        lines.append(f"{hexed(data[at:at + 1 + n])}  ; {note}")
        at += 1 + n
    if at < len(data):
        lines.append(f"{hexed(data[at:])}  ; (incomplete or not a message)")
    return lines


def show(title, lines):
    print(title)
    for line in lines:
        print("  " + line)


def psql_through_relay(port, user, sql, env_extra, tty=False):
    """Runs psql against a relay to the peer; returns both directions."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    relay_port = lsock.getsockname()[1]
    got = {"c2s": b"", "s2c": b""}

    def relay():
        lsock.settimeout(5)
        try:
            c, _ = lsock.accept()
        except socket.timeout:
            return
        s = socket.create_connection(("127.0.0.1", port))

        def pump(src, dst, key):
            while True:
                try:
                    d = src.recv(65536)
                except OSError:
                    d = b""
                if not d:
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(env_extra)
    args = ["psql", "-X", "-P", "pager=off", "-h", "127.0.0.1", "-p", str(relay_port),
            "-U", user, "-d", "postgres", "-c", sql]
    if tty:
        # On a terminal psql also asks for a client_encoding (from the locale).
        main_fd, sub_fd = os.openpty()
        r = subprocess.run(args, stdin=sub_fd, stdout=sub_fd, stderr=sub_fd, env=env, check=False)
        os.close(sub_fd)
        os.close(main_fd)
    else:
        r = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    t.join(TIMEOUT + 5)
    lsock.close()
    return got, r


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_reply(s, wait=0.5):
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


def startup(user, database="postgres", extra=(), version=PROTOCOL_3_0):
    body = struct.pack(">i", version)
    for k, v in (("user", user), ("database", database)) + tuple(extra):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack(">i", len(body) + 4) + body


def typed(kind, body=b""):
    return kind.encode() + struct.pack(">i", len(body) + 4) + body


def q(sql):
    return typed("Q", sql.encode() + b"\0")


def session(port, title, steps):
    """steps: (bytes to send, whether it is untyped) in turn on one
    connection; prints each write and what came back before the next."""
    print(f"### {title}")
    with connect(port) as s:
        for data, untyped in steps:
            s.sendall(data)
            reply, state = read_reply(s)
            if untyped:
                lines, requests = client_lines(data)
            else:
                lines, requests = client_lines(startup("-") + data)
                lines = lines[1:]
            show("sent:", lines)
            single = requests if reply[:1] in (b"N", b"S", b"G") and requests else 0
            show(f"received (connection {state} after 0.5 s quiet):",
                 server_lines(reply, single) or ["(nothing)"])
            if state == "closed":
                break
    print()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: observe.py PORT (of a running postgres peer)")
    port = int(sys.argv[1])

    print("## psql through a relay\n")
    if shutil.which("psql") is None:
        print("(psql is missing: install postgresql-client)\n")
    else:
        version = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout
        print(f"({version.strip()}; no PG* variables but those shown)\n")
        for user, env, tty in (("postgres", {}, False),
                               ("postgres", {"LANG": "C.UTF-8"}, True),
                               ("clear_user", {"PGPASSWORD": "clear_pw"}, False)):
            got, r = psql_through_relay(port, user, "SELECT 1", env, tty)
            print(f"### {' '.join(f'{k}={v}' for k, v in env.items())} psql -X -P pager=off"
                  f" -h 127.0.0.1 -U {user} -d postgres -c 'SELECT 1'"
                  f"{', on a terminal' if tty else ', output to a pipe'} (exit {r.returncode})")
            lines, requests = client_lines(got["c2s"])
            show("psql sent:", lines)
            show("server sent:", server_lines(got["s2c"], requests))
            print()

    print("## exchanges of our own\n")
    trust = startup("postgres")
    session(port, "SSLRequest, then StartupMessage (trust)",
            [(struct.pack(">ii", 8, SSL_REQUEST), True), (trust, True), (typed("X"), False)])
    session(port, "GSSENCRequest (the server accepts: a GSSAPI token must follow, not a"
            " StartupMessage)", [(struct.pack(">ii", 8, GSSENC_REQUEST), True), (trust, True)])
    session(port, "simple queries on one connection", [
        (trust, True),
        (q("SELECT 1, NULL, 'x'"), False),
        (q(""), False),
        (q("SELECT 1/0"), False),
        (q("SELECT 1; SELECT 2"), False),
        (q("SELECT 1; SELECT 1/0; SELECT 3"), False),
        (q("DROP TABLE IF EXISTS nosuch"), False),
        (q("SELEC 1"), False),
        (q("BEGIN; SELECT 1/0"), False),
        (q("SELECT 1"), False),
        (q("ROLLBACK"), False),
        (q("SELECT 1 AS a") + q("SELECT 2 AS b"), False),
        (typed("X"), False),
    ])
    session(port, "extended query: Parse, Bind, Describe, Execute, Sync for SELECT $1::int + 1", [
        (trust, True),
        (typed("P", b"\0SELECT $1::int + 1\0\0\0")
         + typed("B", b"\0\0" + struct.pack(">hhi", 0, 1, 2) + b"41" + struct.pack(">h", 0))
         + typed("D", b"P\0") + typed("E", b"\0" + struct.pack(">i", 0)) + typed("S"), False),
        (typed("X"), False),
    ])
    session(port, "cleartext password, right", [
        (startup("clear_user"), True),
        (typed("p", b"clear_pw\0"), False),
        (typed("X"), False),
    ])
    session(port, "cleartext password, wrong", [
        (startup("clear_user"), True),
        (typed("p", b"wrong\0"), False),
    ])
    session(port, "unknown user", [(startup("nosuch"), True)])
    session(port, "unknown database", [(startup("postgres", "nosuch"), True)])
    session(port, "StartupMessage for version 3.1 with a _pq_ option",
            [(startup("postgres", extra=(("_pq_.x", "1"),), version=PROTOCOL_3_0 + 1), True),
             (typed("X"), False)])
    session(port, "StartupMessage for version 2.0", [(startup("postgres", version=2 << 16), True)])
    session(port, "StartupMessage with an unknown parameter",
            [(startup("postgres", extra=(("nosuch_parameter", "1"),)), True)])
    session(port, "StartupMessage with application_name and an options string", [
        (startup("postgres", extra=(("application_name", "observe"),
                                    ("options", "-c search_path=pg_catalog"))), True),
        (q("SHOW search_path"), False),
        (typed("X"), False),
    ])
    print("### an idle connection after ReadyForQuery")
    with connect(port) as s:
        s.sendall(trust)
        read_reply(s)
        t = time.time()
        reply, state = read_reply(s, 5.0)
        print(f"after {time.time() - t:.1f} s: {len(reply)} bytes more, connection {state}\n")


if __name__ == "__main__":
    main()
