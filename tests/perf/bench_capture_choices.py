"""The measurements behind the capture core's three choices (docs/performance.md, capture section).

    python -m tests.perf.bench_capture_choices [--seconds 5]

Needs ``dpkt`` and ``pcapy-ng`` importable for their rows (``pip install dpkt pcapy-ng`` in a scratch
environment; netcon itself depends on neither), and prints "not installed" otherwise.

1. libpcap's compiler: Debian's libpcap through ctypes (netcon) against pcapy-ng (which bundles its own
   libpcap): microseconds per compile, and whether the programs are identical.
2. Reading a packet socket: the TPACKET_V3 ring (netcon) against one ``recv_into`` per packet on a socket with
   the same 4 MiB of buffer, on the same UDP blast over a veth: packets/s counted, kernel drops, CPU %.
3. Decoding: netcon's decoder against dpkt (objects of every layer, addresses turned into text as netcon's
   output needs) on captured frames: microseconds per packet.
"""

from __future__ import annotations

import argparse
import select
import socket
import struct
import time
import timeit

from netcon.core.capture import bpf
from netcon.core.capture.decode import decode
from netcon.core.capture.ring import ETH_P_ALL, PACKET_STATISTICS, SOL_PACKET, Endpoint
from netcon.core.capture.session import Capture
from netcon.core.netns import run_in_netns
from tests.capture.netpair import NetPair
from tests.perf.bench_capture import sender

FILTERS = ["host 172.17.1.3 and icmp", "udp port 8472", "tcp[tcpflags] & tcp-syn != 0", "vlan 10 and ip", "not arp"]


def compilers() -> None:
    n = 2000
    ours = timeit.timeit(lambda: [bpf.compile_filter(f) for f in FILTERS], number=n // len(FILTERS)) / n * 1e6
    print(f"libpcap compile, ctypes on Debian's {bpf.version()}: {ours:.1f} us")
    try:
        import pcapy  # type: ignore[import-not-found]
    except ImportError:
        print("libpcap compile, pcapy-ng: not installed")
        return

    def theirs(f: str) -> tuple:
        return tuple(tuple(i) for i in pcapy.compile(pcapy.DLT_EN10MB, bpf.SNAPLEN, f, 1, 0xFFFFFFFF).get_bpf())

    same = all(theirs(f) == bpf.compile_filter(f).instructions for f in FILTERS)
    took = timeit.timeit(lambda: [theirs(f) for f in FILTERS], number=n // len(FILTERS)) / n * 1e6
    print(f"libpcap compile, pcapy-ng (its own libpcap): {took:.1f} us; same programs: {same}")


def ring(pair: NetPair, seconds: float) -> tuple[float, int, float]:
    with Capture([Endpoint(pair.if_b, pair.path(pair.ns_b), pair.ns_b)], None) as capture:
        count, cpu0, started = 0, time.process_time(), time.monotonic()
        blast = sender(pair, seconds)
        while blast.poll() is None:
            count += len(capture.next_raw(0.2))
        wall = time.monotonic() - started
        count += len(capture.drain())
        cpu = time.process_time() - cpu0
        drops = capture.statistics().dropped
    blast.communicate()
    return count / wall, drops, 100 * cpu / wall


def recv(pair: NetPair, seconds: float) -> tuple[float, int, float]:
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((pair.if_b, ETH_P_ALL))
        return sock

    sock = run_in_netns(pair.path(pair.ns_b), make)
    buf = bytearray(65536)
    with sock:
        sock.setblocking(False)
        count, cpu0, started = 0, time.process_time(), time.monotonic()
        blast = sender(pair, seconds)
        recv_into, poll = sock.recv_into, select.poll()
        poll.register(sock.fileno(), select.POLLIN)
        while blast.poll() is None:
            poll.poll(200)
            try:
                while True:
                    recv_into(buf)
                    count += 1
            except BlockingIOError:
                pass
        wall = time.monotonic() - started
        cpu = time.process_time() - cpu0
        _packets, drops = struct.unpack("=II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))  # tpacket_stats
    blast.communicate()
    return count / wall, drops, 100 * cpu / wall


def frames(pair: NetPair) -> list[bytes]:
    """Real frames: ICMP echo, the UDP blast, VXLAN-wrapped ICMP."""
    vxlan_a, vxlan_b = pair.add_vxlan(vni=1, port=8472)
    with Capture([Endpoint(pair.if_b, pair.path(pair.ns_b), pair.ns_b)], None) as capture:
        pair.ping(count=2, interval=0.05)
        pair.nsexec(pair.ns_a, "ping", "-c", "2", "-i", "0.05", vxlan_b)
        sender(pair, 0.05).communicate()
        time.sleep(0.2)
        records = capture.next_raw(0.5) + capture.drain()
    kinds: dict[str, bytes] = {}
    for record in records:
        kinds.setdefault(" ".join(layer.proto for layer in decode(record[4])), record[4])
    assert vxlan_a
    return list(kinds.values())


def decoders(sample: list[bytes]) -> None:
    n = 20000
    ours = timeit.timeit(lambda: [decode(f) for f in sample], number=n // len(sample)) / n * 1e6
    print(f"decode, netcon's decoder: {ours:.1f} us/packet over {len(sample)} kinds of frame")
    try:
        import dpkt  # type: ignore[import-not-found]
    except ImportError:
        print("decode, dpkt: not installed")
        return

    def dpkt_decode(frame: bytes) -> list:
        layers, eth = [], dpkt.ethernet.Ethernet(frame)
        layer = eth
        while isinstance(layer, dpkt.Packet):
            layers.append(layer)
            if isinstance(layer, dpkt.ip.IP):
                socket.inet_ntoa(layer.src), socket.inet_ntoa(layer.dst)
            if isinstance(layer, dpkt.udp.UDP) and 8472 in (layer.sport, layer.dport):
                layer = dpkt.ethernet.Ethernet(layer.data[8:])  # dpkt has no VXLAN: the inner frame by hand
                continue
            layer = layer.data
        return layers

    theirs = timeit.timeit(lambda: [dpkt_decode(f) for f in sample], number=n // len(sample)) / n * 1e6
    print(f"decode, dpkt {dpkt.__version__}: {theirs:.1f} us/packet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    seconds = parser.parse_args().seconds
    compilers()
    with NetPair() as pair:
        pair.ping(count=1)
        for name, how in (("TPACKET_V3 ring", ring), ("recv_into per packet", recv)):
            pps, drops, cpu = how(pair, seconds)
            print(f"socket, {name}: {pps:,.0f} packets/s, {drops:,} kernel drops, cpu {cpu:.1f} %")
        decoders(frames(pair))


if __name__ == "__main__":
    main()
