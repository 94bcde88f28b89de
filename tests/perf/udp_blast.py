"""The benchmark's sender (run inside a namespace): ``python -m tests.perf.udp_blast DST SECONDS [RATE]`` sends
18-byte UDP datagrams to DST port 9 as fast as it can (or at RATE packets/s) for SECONDS; prints the count."""

from __future__ import annotations

import socket
import sys
import time

BURST = 256


def main() -> None:
    dst, seconds = sys.argv[1], float(sys.argv[2])
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sendto, payload, addr = sock.sendto, b"x" * 18, (dst, 9)
    sent = 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        for _ in range(BURST):
            sendto(payload, addr)
        sent += BURST
        if rate:  # paced: sleep until this burst's due time
            due = start + sent / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    print(sent, flush=True)


if __name__ == "__main__":
    main()
