"""Run inside a test namespace (``python -m tests.capture.responder ADDRESS SECONDS``): a DNS server that
answers every A query with 198.51.100.7 and a TCP server on port 40123 that echoes one line, for SECONDS,
so the capture tests see real DNS and TCP exchanges. Prints ``ready`` once both listen."""

from __future__ import annotations

import selectors
import socket
import struct
import sys
import time

TCP_PORT = 40123
ANSWER = socket.inet_aton("198.51.100.7")


def answer(query: bytes) -> bytes:
    ident = struct.unpack("!H", query[:2])[0]
    end = 12
    while query[end]:
        end += query[end] + 1
    question = query[12 : end + 5]
    qtype = struct.unpack("!H", query[end + 1 : end + 3])[0]
    records = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + ANSWER  # name pointer, A, IN, ttl, length
    count = 1 if qtype == 1 else 0
    header = struct.pack("!HHHHHH", ident, 0x8180, 1, count, 0, 0)
    return header + question + (records if count else b"")


def main() -> None:
    address, seconds = sys.argv[1], float(sys.argv[2])
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind((address, 53))
    tcp = socket.socket()
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((address, TCP_PORT))
    tcp.listen()
    sel = selectors.DefaultSelector()
    sel.register(dns, selectors.EVENT_READ)
    sel.register(tcp, selectors.EVENT_READ)
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(0.2):
            if key.fileobj is dns:
                query, peer = dns.recvfrom(512)
                dns.sendto(answer(query), peer)
            else:
                conn, _peer = tcp.accept()
                with conn:
                    conn.settimeout(2)
                    conn.sendall(conn.recv(100))


if __name__ == "__main__":
    main()
