"""Warm ports view vs. ``ss -lntup`` run through nsenter in every namespace, on the same fleet.

    python -m tests.perf.bench_ports --containers N

snapshot_ms is the whole ``PortsCollector.collect()`` (including the network snapshot it builds on), median
of 5 warm calls; ss_ms gathers the same sockets with one ``nsenter --net=... ss -H -lntup`` per namespace.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from netcon.core.context import HostContext
from netcon.core.ports.collector import PortsCollector
from tests.perf.fleet import fleet


def median_ms(fn, runs: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def with_ss(pids: list[int | None]) -> int:
    """The shell way: ss in each namespace (None: ours). Returns the number of sockets it listed."""
    total = 0
    for pid in pids:
        cmd = ["ss", "-H", "-lntup"] if pid is None else ["nsenter", f"--net=/proc/{pid}/ns/net", "ss", "-H", "-lntup"]
        total += len(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines())
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=50)
    args = parser.parse_args()
    with fleet(args.containers):
        collector = PortsCollector(HostContext())
        collector.collect()  # warm: the snapshot's inspect cache filled
        snapshot_ms, view = median_ms(collector.collect)
        snap = collector.snapshots.collect()
        ports_only_ms, _ = median_ms(lambda: collector.collect(snap))
        snap_only_ms, _ = median_ms(collector.snapshots.collect)
        pids: list[int | None] = [None]
        seen = {view.host_netns_inode}
        for c in snap.containers:
            if c.pid and c.netns_inode not in seen:
                seen.add(c.netns_inode)
                pids.append(c.pid)
        t0 = time.perf_counter()
        ss_count = with_ss(pids)
        ss_ms = (time.perf_counter() - t0) * 1000
        print(
            f"namespaces={len(pids)} sockets netcon={len(view.sockets)} ss={ss_count} "
            f"skipped vanished={view.skipped_vanished} unreadable={view.skipped_unreadable}"
        )
        print(f"network snapshot alone: {snap_only_ms:.1f} ms; ports given a snapshot: {ports_only_ms:.1f} ms")
        print(f"ports containers={args.containers} snapshot_ms={snapshot_ms:.1f} ss_ms={ss_ms:.1f}")


if __name__ == "__main__":
    main()
