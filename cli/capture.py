"""``netcon capture TARGET [TARGET...] [-f FILTER] [-c COUNT] [-w FILE.pcapng] [--json] [--duration S]``: packets
on interfaces of any namespace, one tcpdump-like line each (or one JSON object each); ``-r FILE`` decodes a
saved capture instead. With ``--host ssh://...`` the netcon on that host captures (the targets and the filter are
its); the frames come back raw, within the bounds of ``core.hosts.captures``, and print and save here alike.

Exit 0 on a clean end (count, duration, Ctrl-C or SIGTERM), 1 when a target cannot be opened, 2 for bad
usage (a filter libpcap refuses, an unwritable -w path). Everything is closed whichever way it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from netcon.core.capture import pcapng
from netcon.core.capture.bpf import compile_filter
from netcon.core.capture.layers import layer_json
from netcon.core.capture.ring import DEFAULT_RING_MB
from netcon.core.capture.session import Capture, CaptureStats, Limits, Packet
from netcon.core.capture.summary import summary
from netcon.core.capture.targets import resolve_all
from netcon.core.errors import UsageError
from netcon.core.hosts.captures import CaptureRequest, HostCapture
from netcon.core.snapshot import collect
from netcon.core.validate import values

USAGE = """netcon capture TARGET [TARGET...] [-f FILTER] [-c COUNT] [-w FILE.pcapng] [--json] [--duration S]
       netcon capture -r FILE [-c COUNT] [--json]"""
TARGETS_HELP = (
    "TARGET: an interface of the host (eth0, docker0, flannel.1), container:NAME (its namespace's interfaces), "
    "veth:NAME (a host-side veth, or the veths of container NAME), bridge:NAME (a bridge, or a Docker network's), "
    "netns:NAME (every interface of a named namespace, e.g. a lab host), or flannel (the flannel VXLAN device)."
)
POLL_S = 0.2
MAX_COUNT = 1_000_000_000
MAX_DURATION_S = 30 * 86400.0


def register(sub, common) -> None:
    p = sub.add_parser(
        "capture",
        parents=[common],
        usage=USAGE,
        help="capture packets on interfaces of any namespace (tcpdump filters, VXLAN decoded, pcapng)",
        description=TARGETS_HELP,
    )
    p.add_argument("targets", nargs="*", metavar="TARGET", help="where to capture (several at once)")
    p.add_argument("-f", dest="filter", metavar="FILTER", help="tcpdump filter, e.g. 'udp port 8472'")
    p.add_argument("-c", dest="count", metavar="COUNT", help="stop after COUNT packets")
    p.add_argument("-w", dest="write", metavar="FILE.pcapng", help="save the packets for Wireshark (no lines)")
    p.add_argument("-r", dest="read", metavar="FILE", help="decode a saved pcap or pcapng file instead")
    p.add_argument("--json", action="store_true", help="one JSON object per packet and line")
    p.add_argument("--duration", metavar="S", help="stop after S seconds")
    p.add_argument("--max-pps", metavar="N", help="hand over at most N packets per second (the rest are counted)")
    p.add_argument("--ring-mb", metavar="MB", help=f"kernel ring per interface (default {DEFAULT_RING_MB})")
    p.set_defaults(func=run_capture, remote=True)  # --host: the netcon there captures, the frames come back


def run_capture(args, ctx) -> int:
    count = None if args.count is None else values.integer(args.count, "count", "-c", 1, MAX_COUNT)
    if args.read is not None:
        path = values.text(args.read, "read", "Capture file (-r)")
        if not os.path.isfile(path):
            why = "is a directory" if os.path.isdir(path) else "does not exist"
            raise UsageError(f"Capture file (-r) {path} {why}.", target="read")
        if args.targets or args.filter is not None or args.write is not None or args.duration is not None:
            raise UsageError("-r reads a file: give no TARGET, -f, -w or --duration with it.", target="read")
        if getattr(args, "remote_host", None) is not None:
            raise UsageError("-r reads a file on this machine: give no --host with it.", target="read")
        return read_file(path, count, args.json)
    if not args.targets:
        raise UsageError("Give at least one TARGET to capture on (or -r FILE to read a saved capture).")
    expression = None if args.filter is None else values.text(args.filter, "filter", "Filter (-f)")
    duration = None
    if args.duration is not None:
        duration = values.number(args.duration, "duration", "--duration", 0.001, MAX_DURATION_S)
    write = None if args.write is None else values.output_file(args.write, "write", "Output file (-w)")
    limits = Limits(
        max_pps=None if args.max_pps is None else values.integer(args.max_pps, "max_pps", "--max-pps", 1, 10**7),
        ring_mb=DEFAULT_RING_MB
        if args.ring_mb is None
        else values.integer(args.ring_mb, "ring_mb", "--ring-mb", 1, 1024),
    )
    targets = [values.text(t, "target", "Capture target") for t in args.targets]
    output = _Settings(expression, write, count, duration, args.json)
    if getattr(args, "remote_host", None) is not None:
        return _capture_there(
            args, ctx, CaptureRequest(tuple(targets), expression, limits.max_pps, None, limits.ring_mb), output
        )
    program = None if expression is None else compile_filter(expression)
    endpoints = resolve_all(ctx, collect(ctx), targets)
    with Capture(endpoints, program, limits) as capture:
        return _captured(capture, output)


@dataclass(frozen=True)
class _Settings:
    expression: str | None
    write: str | None
    count: int | None
    duration: float | None
    as_json: bool


def _capture_there(args, ctx, request: CaptureRequest, output: _Settings) -> int:
    """``--host``: the netcon on that host resolves the targets, compiles the filter and captures; the frames
    come back raw and are printed and saved here as a local capture's."""
    from netcon.cli.hosts import open_host

    with open_host(args, ctx) as host, HostCapture(host, request) as capture:
        assert capture.started is not None
        bound = f"the cap of {capture.started.max_pps} packets and {capture.started.max_bytes} bytes a second over SSH"
        return _captured(capture, output, f" of {host.target}", bound)


def _captured(
    capture: Capture | HostCapture, output: _Settings, where: str = "", cap: str = "the --max-pps cap"
) -> int:
    """Read ``capture`` (open) until its end; lines or the file, then the counts."""
    writer = None if output.write is None else pcapng.PcapngWriter(output.write, capture.endpoints)
    names = ", ".join(e.label for e in capture.endpoints)
    shown = f", filter {output.expression!r}" if output.expression else ""
    print(f"netcon: capturing on {names}{where}{shown}; Ctrl-C stops.", file=sys.stderr, flush=True)
    stats = None
    try:
        with _stop_on_sigterm(capture):
            _loop(capture, writer, output.count, output.duration, output.as_json)
    finally:
        stats = capture.statistics()
        if writer is not None:
            writer.close(stats)
    _report(stats, writer, cap)
    return 0


def _loop(capture: Capture | HostCapture, writer, count: int | None, duration: float | None, as_json: bool) -> None:
    """Read until the count, the duration, Ctrl-C or a stop; lines to stdout unless only writing a file."""
    show = _Output(capture, writer, count, as_json)
    deadline = None if duration is None else time.monotonic() + duration
    try:
        while not capture.stopped:
            timeout = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
            if timeout <= 0:
                break
            if show.emit(capture.next_raw(timeout)):
                return
    except KeyboardInterrupt:  # Ctrl-C: a clean end, like tcpdump's
        pass
    show.emit(capture.drain())


class _Output:
    """Where the packets go: the pcapng file, and lines (tcpdump-like or JSON) unless only writing a file."""

    def __init__(self, capture: Capture | HostCapture, writer, count: int | None, as_json: bool) -> None:
        self.endpoints = capture.endpoints
        self.writer = writer
        self.count = count
        self.as_json = as_json
        self.lines = writer is None or as_json
        self.seen = 0

    def emit(self, records: list) -> bool:
        """Write and print ``records``; True once the count is reached."""
        for index, sec, nsec, length, data, outgoing in records:
            if self.writer is not None:
                self.writer.write_raw(index, sec, nsec, length, data, outgoing)
            if self.lines:
                packet = Packet(sec * 1_000_000_000 + nsec, self.endpoints[index], length, data, outgoing)
                print(packet_json(packet) if self.as_json else packet_line(packet))
            self.seen += 1
            if self.count is not None and self.seen >= self.count:
                return True
        if self.lines and records:
            sys.stdout.flush()
        return False


@contextlib.contextmanager
def _stop_on_sigterm(capture: Capture | HostCapture) -> Iterator[None]:
    """SIGTERM ends the capture as Ctrl-C does (the file gets its statistics, the counts are printed)."""
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: capture.stop())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def packet_line(packet: Packet) -> str:
    """``12:34:56.789012 flannel.1 [host] Out IP 172.17.1.2 > 172.17.97.2: ICMP echo request, ...``"""
    stamp = time.strftime("%H:%M:%S", time.localtime(packet.ts_ns // 1_000_000_000))
    micro = packet.ts_ns % 1_000_000_000 // 1000
    way = "Out" if packet.outgoing else "In "
    return f"{stamp}.{micro:06d} {packet.ifname} [{packet.netns}] {way} {packet.summary()}"


def packet_json(packet: Packet) -> str:
    layers = packet.layers()
    return json.dumps(
        {
            "ts": round(packet.ts, 9),
            "ifname": packet.ifname,
            "netns": packet.netns,
            "len": packet.length,
            "direction": "out" if packet.outgoing else "in",
            "summary": summary(layers),
            "layers": [layer_json(layer) for layer in layers],
        }
    )


def _report(stats: CaptureStats, writer, cap: str) -> None:
    capped = f", {stats.capped} over {cap} (not shown)" if stats.capped else ""
    saved = f"; saved to {writer.path}" if writer is not None else ""
    print(
        f"netcon: {stats.delivered} packets captured on {len(stats.interfaces)} interface"
        f"{'s' if len(stats.interfaces) != 1 else ''}, {stats.received} received by filter, "
        f"{stats.dropped} dropped by kernel{capped}{saved}.",
        file=sys.stderr,
    )
    for s in stats.interfaces:
        if s.dropped:
            print(
                f"netcon: {s.dropped} of {s.received} packets dropped by the kernel on {s.endpoint.label}.",
                file=sys.stderr,
            )


def read_file(path: str, count: int | None, as_json: bool) -> int:
    """``-r FILE``: every packet of a saved capture, decoded as a live one."""
    for number, packet in enumerate(pcapng.read_packets(path), 1):
        print(packet_json(packet) if as_json else packet_line(packet))
        if count is not None and number >= count:
            break
    return 0
