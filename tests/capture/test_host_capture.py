"""A capture through the host interface, in-process (``LocalHost.start_capture``, what the netcon serving another
machine runs for it): the frames come back in batches and are read as a local capture's; the bound a host read
over SSH applies (``captures.bounded``) holds under a burst, every packet over it counted, none hidden; stopping
it leaves no socket and no thread."""

from __future__ import annotations

import socket
import threading

import pytest

from netcon.core.capture.runner import BATCH_BYTES
from netcon.core.context import HostContext
from netcon.core.errors import NotFound, UsageError
from netcon.core.hosts.captures import REMOTE_MAX_BYTES, CaptureRequest, FrameBatch, HostCapture, bounded
from netcon.core.hosts.local import LocalHost
from netcon.core.netns import run_in_netns
from tests.capture.netpair import NetPair
from tests.capture.test_core import packet_sockets

BURST = 4000  # datagrams of SIZE bytes: about 5.8 MB, several times what the bound lets through in a second
SIZE = 1400


@pytest.fixture
def pair():
    with NetPair() as made:
        yield made


@pytest.fixture
def host():
    local = LocalHost(HostContext())
    yield local
    local.close()


def blast(pair: NetPair) -> None:
    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(BURST):
                sock.sendto(b"x" * SIZE, (pair.addr_b, 9))

    run_in_netns(pair.path(pair.ns_a), send)


def test_the_bound_holds_and_counts_what_it_held_back(pair, host):
    batches: list[FrameBatch] = []
    request = bounded(CaptureRequest((f"netns:{pair.ns_b}",), "udp"))
    started = host.start_capture(request, batches.append)
    assert (started.max_pps, started.max_bytes) == (2000, REMOTE_MAX_BYTES)
    assert [e.ifname for e in started.endpoints] == [pair.if_b] and packet_sockets() == 1
    blast(pair)
    host.stop_capture(started.capture)
    assert packet_sockets() == 0 and not any(t.name == "netcon-capture" for t in threading.enumerate())

    final = batches[-1]
    assert final.final and final.error is None and not any(b.final for b in batches[:-1])
    records = [r for b in batches for r in b.records]
    sent = sum(len(r[4]) for r in records)
    stats = final.stats
    assert stats.received == BURST and stats.dropped == 0  # the kernel saw them all
    assert stats.delivered == len(records) and stats.delivered + stats.capped == BURST  # none hidden
    assert stats.capped > 0 and sent <= 2 * REMOTE_MAX_BYTES  # the burst straddles at most two seconds
    assert all(r[3] == SIZE + 42 for r in records)  # whole frames: Ethernet, IP and UDP headers
    # batches small enough for one line over SSH (a second's megabyte in one line overran asyncssh's window)
    assert max(sum(len(r[4]) for r in b.records) for b in batches) <= BATCH_BYTES


def test_host_capture_reads_like_a_local_capture(pair, host):
    with HostCapture(host, CaptureRequest((f"netns:{pair.ns_a}",), f"udp and dst host {pair.addr_b}")) as capture:
        run_in_netns(pair.path(pair.ns_a), lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
            b"hello", (pair.addr_b, 9)))  # fmt: skip
        packets = []
        while not packets:
            packets = capture.next(1.0)
        assert (
            packets[0].summary() == f"IP {pair.addr_a}.{packets[0].layers()[2].sport} > {pair.addr_b}.9: UDP, length 5"
        )
        assert packets[0].endpoint == capture.endpoints[0] and packets[0].outgoing
        capture.stop()
        assert capture.next_raw(1.0) == [] and capture.stopped
    assert packet_sockets() == 0 and capture.statistics().received == 1


def test_bad_requests_open_nothing(host):
    with pytest.raises(UsageError, match=r"A capture takes 1 to 64 targets, not 0\."):
        host.start_capture(CaptureRequest(()), print)
    with pytest.raises(UsageError, match="can't parse filter expression"):
        host.start_capture(CaptureRequest(("lo",), "udp portt 1"), print)
    with pytest.raises(UsageError, match="--max-pps 0"):
        host.start_capture(CaptureRequest(("lo",), max_pps=0), print)
    with pytest.raises(NotFound, match=r"No capture 7 runs on local\."):
        host.stop_capture(7)
    assert packet_sockets() == 0
