"""The capture core against the real kernel and Debian's libpcap and tcpdump: filters compile to what tcpdump
compiles and run in the kernel, caps hold, a stop wakes the reader at once, a failed open leaves nothing
behind, and a pcap written by tcpdump decodes to tcpdump's own lines."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from netcon.core.capture.bpf import compile_filter
from netcon.core.capture.flows import FlowTable, Recent
from netcon.core.capture.pcapng import read_packets, write_packets
from netcon.core.capture.ring import Endpoint
from netcon.core.capture.session import Capture, Limits, Packet
from netcon.core.errors import NetconError, UsageError
from tests.capture.netpair import NetPair

FILTERS = [
    "icmp",
    "host 198.19.100.2 and icmp",
    "udp port 8472",
    "tcp[tcpflags] & tcp-syn != 0",
    "vlan 10",
    "arp or ip6",
]


def open_fds() -> set[str]:
    return {
        os.readlink(f"/proc/self/fd/{fd}")
        for fd in os.listdir("/proc/self/fd")
        if os.path.exists(f"/proc/self/fd/{fd}")
    }


def packet_sockets() -> int:
    """How many AF_PACKET sockets this process holds, whatever namespace they were opened in (counted by inode:
    a ring's mapping holds a second descriptor of its socket)."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{name}")
            if target.startswith("socket:"):
                sock = socket.socket(fileno=int(name))
                if sock.family == socket.AF_PACKET:
                    found.add(target)
                sock.detach()
    return len(found)


@pytest.fixture
def pair():
    with NetPair() as made:
        yield made


def endpoint(pair: NetPair, side: str = "b") -> Endpoint:
    ns, ifname = (pair.ns_b, pair.if_b) if side == "b" else (pair.ns_a, pair.if_a)
    return Endpoint(ifname, pair.path(ns), ns)


def collect(capture: Capture, seconds: float) -> list[Packet]:
    packets: list[Packet] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        packets += capture.next(0.1)
    return packets + [p for p in capture.next(0)]


@pytest.mark.parametrize("expression", FILTERS)
def test_filter_compiles_as_tcpdump_does(expression):
    dumped = subprocess.run(["tcpdump", "-y", "EN10MB", "-ddd", expression], capture_output=True, text=True, check=True)
    lines = dumped.stdout.split()
    expected = [tuple(int(v) for v in lines[1 + 4 * i : 5 + 4 * i]) for i in range(int(lines[0]))]
    assert list(compile_filter(expression).instructions) == expected


def test_bad_filter_has_libpcaps_words():
    tcpdump = subprocess.run(["tcpdump", "-d", "host 1.2.3.4 andd icmp"], capture_output=True, text=True)
    reason = tcpdump.stderr.strip().splitlines()[-1].removeprefix("tcpdump: ")
    with pytest.raises(UsageError) as refused:
        compile_filter("host 1.2.3.4 andd icmp")
    assert str(refused.value) == f"Filter 'host 1.2.3.4 andd icmp' is not valid: {reason}."


def test_filter_runs_in_the_kernel(pair):
    """Only ICMP reaches the ring: the kernel's own count of accepted packets is the echoes, not the UDP."""
    echoes = compile_filter("icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply")
    with Capture([endpoint(pair)], echoes) as capture:
        udp = f"import socket; s = socket.socket(2, 2); [s.sendto(b'x', ({pair.addr_b!r}, 9)) for _ in range(5)]"
        pair.nsexec(pair.ns_a, sys.executable, "-c", udp)
        pair.ping(count=2)
        packets = collect(capture, 0.3)
        stats = capture.statistics()
    assert [p.summary().split(",")[0] for p in packets] == [
        f"IP {pair.addr_a} > {pair.addr_b}: ICMP echo request",
        f"IP {pair.addr_b} > {pair.addr_a}: ICMP echo reply",
    ] * 2
    assert stats.received == 4 and stats.dropped == 0 and stats.delivered == 4


def test_packets_per_second_cap_counts_what_it_holds_back(pair):
    with Capture([endpoint(pair)], compile_filter("icmp"), Limits(max_pps=2)) as capture:
        while time.monotonic() % 1 > 0.3:  # the cap counts per second of the clock: all 8 packets in one of them
            time.sleep(0.01)
        pair.ping(count=4, interval=0.01)
        packets = collect(capture, 0.3)
        stats = capture.statistics()
    assert len(packets) == 2 and stats.capped == 6 and stats.received == 8


def test_stop_wakes_the_reader_at_once(pair):
    with Capture([endpoint(pair)], None) as capture:
        timer = threading.Timer(0.2, capture.stop)
        timer.start()
        started = time.monotonic()
        while not capture.stopped:
            capture.next_raw(10)
        assert time.monotonic() - started < 1.0
        assert capture.next_raw(10) == []
        timer.join()


def test_failed_open_leaves_no_socket_and_no_thread(pair):
    fds, threads = open_fds(), threading.active_count()
    missing = Endpoint("nosuch0", pair.path(pair.ns_b), pair.ns_b)
    capture = Capture([endpoint(pair, "a"), endpoint(pair, "b"), missing], None)
    with pytest.raises(NetconError, match=f"^No interface nosuch0 in {pair.ns_b}.$"):
        capture.open()
    assert open_fds() == fds
    assert threading.active_count() == threads


def test_capture_in_two_namespaces_at_once(pair, tmp_path):
    """Each packet tagged with the interface and namespace it was seen on, its kernel time stamp consistent
    across namespaces (in time order the exchange reads as it happened); saved and read back unchanged."""
    with Capture([endpoint(pair, "a"), endpoint(pair, "b")], compile_filter("icmp")) as capture:
        pair.ping(count=1)
        packets = collect(capture, 0.3)
        stats = capture.statistics()
    assert [(p.ifname, p.netns, p.outgoing) for p in sorted(packets, key=lambda p: p.ts_ns)] == [
        (pair.if_a, pair.ns_a, True),  # the request leaves a
        (pair.if_b, pair.ns_b, False),  # arrives at b
        (pair.if_b, pair.ns_b, True),  # the reply leaves b
        (pair.if_a, pair.ns_a, False),  # arrives at a
    ]
    saved = str(tmp_path / "two.pcapng")
    assert write_packets(saved, packets, stats) == 4
    back = list(read_packets(saved))
    assert [(p.ifname, p.netns, p.outgoing, p.ts_ns, p.data) for p in back] == [
        (p.ifname, p.netns, p.outgoing, p.ts_ns, p.data) for p in packets
    ]


def test_pcap_written_by_tcpdump_decodes_to_tcpdumps_lines(pair, tmp_path):
    saved = str(tmp_path / "tcpdump.pcap")
    proc = subprocess.Popen(
        ["nsenter", f"--net={pair.path(pair.ns_b)}", "tcpdump", "-i", pair.if_b, "-n", "--immediate-mode", "-U",
         "-w", saved, "icmp or arp"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert "listening on" in proc.stderr.readline()
    pair.ping(count=3)
    time.sleep(0.2)
    proc.terminate()
    proc.wait(timeout=10)
    shown = subprocess.run(["tcpdump", "-r", saved, "-n", "-t"], capture_output=True, text=True, check=True)
    ours = [p.summary() for p in read_packets(saved)]
    assert ours == shown.stdout.splitlines() and len(ours) >= 6


def test_recent_keeps_the_last_packets_within_count_and_bytes():
    end = Endpoint("lo", None, "host")
    recent = Recent(max_packets=3, max_bytes=250)
    recent.extend(Packet(i, end, 100, bytes(100), False) for i in range(5))
    assert [p.ts_ns for p in recent.packets] == [3, 4] and recent.forgotten == 3 and recent.size == 200
    assert recent.get(4) is not None and recent.get(2) is None and recent.next_number == 5
    table = FlowTable()
    for packet in recent.packets:
        table.add(packet, packet.layers())
    assert [(f.packets, f.bytes) for f in table.flows()] == [(2, 200)]
