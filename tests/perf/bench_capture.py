"""Capture throughput on a veth pair between two namespaces, against tcpdump on the same traffic in the same run.

    python -m tests.perf.bench_capture [--seconds 10]

A sender in namespace a blasts 18-byte UDP datagrams over the veth as fast as it can (tests.perf.udp_blast);
each phase captures on b's end for ``--seconds``:

1. ``tcpdump -w /dev/null`` (Debian's): its own counts of packets captured and dropped by the kernel.
2. netcon without decoding: the capture core writing every packet as pcapng to /dev/null (what
   ``netcon capture -w`` does), packets/s handed over, kernel drops, CPU % of one core of netcon's process.
3. netcon decoding every packet (decode and its one-line summary, what a printed line costs).
4. netcon with a filter the traffic never matches (``tcp port 1``): the packets stay in the kernel; the CPU %
   of netcon's process is the filter's cost to netcon.
5. netcon without decoding again, the sender paced at half of tcpdump's rate: the drops there.

Last line: ``capture pps=<2> tcpdump_pps=<1> ratio=<2/1> drops=<5> decode_pps=<3> cpu_pct=<4>``.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from netcon.core.capture.bpf import compile_filter
from netcon.core.capture.decode import decode
from netcon.core.capture.pcapng import PcapngWriter
from netcon.core.capture.ring import Endpoint
from netcon.core.capture.session import Capture
from netcon.core.capture.summary import summary
from tests.capture.netpair import NetPair


@dataclass
class Phase:
    name: str
    sent: int
    captured: int
    drops: int
    seconds: float
    cpu_pct: float

    @property
    def pps(self) -> float:
        return self.captured / self.seconds

    def line(self) -> str:
        return (
            f"{self.name:<34} sent {self.sent / self.seconds:>9,.0f}/s  captured {self.pps:>9,.0f}/s  "
            f"kernel drops {self.drops:>9,}  cpu {self.cpu_pct:5.1f} %"
        )


def sender(pair: NetPair, seconds: float, rate: float | None = None) -> subprocess.Popen:
    argv = [sys.executable, "-m", "tests.perf.udp_blast", pair.addr_b, str(seconds)]
    return subprocess.Popen(
        ["nsenter", f"--net={pair.path(pair.ns_a)}", *argv, *([str(rate)] if rate else [])],
        stdout=subprocess.PIPE,
        text=True,
    )


def tcpdump_phase(pair: NetPair, seconds: float) -> Phase:
    proc = subprocess.Popen(
        ["nsenter", f"--net={pair.path(pair.ns_b)}", "tcpdump", "-i", pair.if_b, "-n", "-w", "/dev/null"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "listening on" in proc.stderr.readline()
    started = time.monotonic()
    blast = sender(pair, seconds)
    sent = int(blast.communicate()[0])
    wall = time.monotonic() - started
    time.sleep(1.2)  # tcpdump hands over a block after its 1 s timeout
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=30)[1]
    counts = {line.split(" ", 1)[1]: int(line.split()[0]) for line in err.splitlines() if line[:1].isdigit()}
    return Phase(
        "tcpdump -w /dev/null", sent, counts["packets captured"], counts["packets dropped by kernel"], wall, 0.0
    )


def netcon_phase(pair: NetPair, name: str, seconds: float, mode: str, rate: float | None = None) -> Phase:
    """``mode``: "write" (pcapng to /dev/null), "decode" (decode and summary), "reject" (filter tcp port 1)."""
    endpoint = Endpoint(pair.if_b, pair.path(pair.ns_b), pair.ns_b)
    program = compile_filter("tcp port 1") if mode == "reject" else None
    with Capture([endpoint], program) as capture:
        writer = PcapngWriter("/dev/null", capture.endpoints)
        captured = 0
        cpu0, started = time.process_time(), time.monotonic()
        blast = sender(pair, seconds, rate)
        while blast.poll() is None:
            captured += handle(capture.next_raw(0.2), mode, writer)
        wall = time.monotonic() - started
        captured += handle(capture.drain(), mode, writer)
        cpu = time.process_time() - cpu0
        stats = capture.statistics()
        writer.close(stats)
    sent = int(blast.communicate()[0])
    return Phase(name, sent, captured, stats.dropped, wall, 100 * cpu / wall)


def handle(records: list, mode: str, writer: PcapngWriter) -> int:
    if mode == "decode":
        for record in records:
            summary(decode(record[4]))
    else:
        for record in records:
            writer.write_raw(*record)
    return len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    seconds = parser.parse_args().seconds
    with NetPair() as pair:
        pair.ping(count=1)  # ARP done before the blasts
        tcpdump = tcpdump_phase(pair, seconds)
        write = netcon_phase(pair, "netcon, no decoding (pcapng)", seconds, "write")
        decoding = netcon_phase(pair, "netcon, decoding every packet", seconds, "decode")
        reject = netcon_phase(pair, "netcon, filter rejecting the traffic", seconds, "reject")
        paced = netcon_phase(pair, "netcon, no decoding, half tcpdump's rate", seconds, "write", tcpdump.pps / 2)
    for phase in (tcpdump, write, decoding, reject, paced):
        print(phase.line())
    print(
        f"capture pps={write.pps:.0f} tcpdump_pps={tcpdump.pps:.0f} ratio={write.pps / tcpdump.pps:.2f} "
        f"drops={paced.drops} decode_pps={decoding.pps:.0f} cpu_pct={reject.cpu_pct:.2f}"
    )


if __name__ == "__main__":
    main()
