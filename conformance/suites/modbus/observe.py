"""Sends the requests that README.md lists to a freshly started modbus peer
and prints each exchange as a Markdown table row (the bytes in hex, MBAP
header included), so the README's facts can be checked again:

    PORT=6400 conformance/suites/modbus/peer &
    python3 conformance/suites/modbus/observe.py 6400

Writes change the peer's tables, so the order matters and the peer must be
fresh. Needs only Python's standard library.
"""

import socket
import struct
import sys
import time

TIMEOUT = 2.0


def frame(tid, unit, pdu):
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def hexed(data):
    return " ".join(f"{b:02x}" for b in data) if data else "(nothing)"


def read_reply(s, wait=TIMEOUT):
    """Everything the peer sends until it is quiet for `wait` seconds."""
    s.settimeout(wait)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data, "closed"
            data += chunk
    except socket.timeout:
        return data, "open"


class Peer:
    def __init__(self, port):
        self.port = port
        self.tid = 0

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def exchange(self, what, pdu_hex, unit=1):
        """One request on a connection of its own, answered within 2 s."""
        self.tid += 1
        request = frame(self.tid, unit, bytes.fromhex(pdu_hex))
        with self.connect() as s:
            s.sendall(request)
            reply, _ = read_reply(s, 0.5)
        print(f"| {what} | `{hexed(request)}` | `{hexed(reply)}` |")

    def raw(self, what, writes):
        """Several writes on one connection, 0.3 s apart; all that came back."""
        with self.connect() as s:
            for w in writes:
                s.sendall(w)
                time.sleep(0.3)
            reply, state = read_reply(s, 1.0)
        shown = " + ".join(f"`{hexed(w)}`" for w in writes)
        print(f"| {what} | {shown} | `{hexed(reply)}` (connection {state}) |")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: observe.py PORT (of a freshly started modbus peer)")
    p = Peer(int(sys.argv[1]))
    print("| request | sent | received |")
    print("| --- | --- | --- |")
    p.exchange("1 read coils 0..=9", "01 0000 000a")
    p.exchange("2 read discrete inputs 0..=9", "02 0000 000a")
    p.exchange("3 read holding registers 0..=2", "03 0000 0003")
    p.exchange("4 read input registers 0..=2", "04 0000 0003")
    p.exchange("5 write coil 1 on", "05 0001 ff00")
    p.exchange("6 write holding register 2 = 0x1234", "06 0002 1234")
    p.exchange("15 write coils 16..=25 (ff 03)", "0f 0010 000a 02 ff03")
    p.exchange("16 write holding registers 32..=33", "10 0020 0002 04 abcd 0001")
    p.exchange("1 read coils 0..=2 (after the write)", "01 0000 0003")
    p.exchange("1 read coils 16..=25 (after the write)", "01 0010 000a")
    p.exchange("3 read holding registers 0..=2 (after the write)", "03 0000 0003")
    p.exchange("3 read holding registers 32..=33 (after the write)", "03 0020 0002")
    p.exchange("1 read coil 999 (the last)", "01 03e7 0001")
    p.exchange("3 read holding register 999 (the last)", "03 03e7 0001")
    print("| **exception 2, illegal data address** | | |")
    p.exchange("1 read coil 1000", "01 03e8 0001")
    p.exchange("1 read coils 992..=1000", "01 03e0 0009")
    p.exchange("2 read discrete input 1000", "02 03e8 0001")
    p.exchange("3 read holding register 1000", "03 03e8 0001")
    p.exchange("3 read holding registers 999..=1000", "03 03e7 0002")
    p.exchange("4 read input register 1000", "04 03e8 0001")
    p.exchange("5 write coil 1000", "05 03e8 ff00")
    p.exchange("6 write holding register 1000", "06 03e8 0001")
    p.exchange("15 write coils 999..=1000", "0f 03e7 0002 01 03")
    p.exchange("16 write holding registers 999..=1000", "10 03e7 0002 04 0001 0002")
    print("| **exception 1, illegal function** | | |")
    p.exchange("function code 9 (unassigned)", "09")
    p.exchange("function code 0x41 (user-defined)", "41")
    p.exchange("function code 0", "00")
    print("| **other refusals** | | |")
    p.exchange("1 read 0 coils", "01 0000 0000")
    p.exchange("1 read 2001 coils", "01 0000 07d1")
    p.exchange("3 read 126 holding registers", "03 0000 007e")
    p.exchange("5 write coil 3 with 0x1234 (neither ff00 nor 0000)", "05 0003 1234")
    p.exchange("3 read holding register 0 of unit 2", "03 0000 0001", unit=2)
    p.exchange("3 read holding register 0 of unit 0", "03 0000 0001", unit=0)
    print("| **framing** | | |")
    one = frame(101, 1, bytes.fromhex("03 0000 0001"))
    two = frame(102, 1, bytes.fromhex("04 0000 0001"))
    p.raw("two requests in one write", [one + two])
    p.raw("one request cut after 5 bytes", [one[:5], one[5:]])
    p.raw("one request, then the next in two writes", [one, two[:5], two[5:]])
    p.raw("one request and the start of the next in one write", [one + two[:5], two[5:]])
    bad = bytearray(one)
    bad[2:4] = b"\x00\x07"
    p.raw("protocol id 7, then a good request", [bytes(bad), two])


if __name__ == "__main__":
    main()
