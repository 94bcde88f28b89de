"""Warm in-process snapshot vs. the naive script a sysadmin writes (docker exec per container + network
inspect per network), side by side on the same fleet.

    python -m tests.perf.bench_snapshot --containers N
"""

from __future__ import annotations

import argparse
import glob
import statistics
import subprocess
import sys
import time

from netcon.core.context import HostContext
from netcon.core.snapshot import SnapshotCollector
from tests.perf.fleet import fleet


def naive(containers, networks) -> dict[str, str]:
    """The shell way: each container's eth0 iflink via docker exec, matched to the host's ifindex files."""
    ifindex = {}
    for path in glob.glob("/sys/class/net/*/ifindex"):
        with open(path) as f:
            ifindex[int(f.read())] = path.split("/")[4]
    mapping = {}
    for c in containers:
        out = subprocess.run(
            ["docker", "exec", c.name, "cat", "/sys/class/net/eth0/iflink"], capture_output=True, text=True, check=True
        ).stdout
        mapping[c.name] = ifindex.get(int(out))
    for net in networks:
        subprocess.run(["docker", "network", "inspect", net.name], capture_output=True, check=True)
    return mapping


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--skip-naive", action="store_true", help="only time netcon (large N)")
    args = parser.parse_args()
    with fleet(args.containers) as (_client, containers, networks):
        collector = SnapshotCollector(HostContext())
        collector.collect()  # warm: inspect cache filled
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            snap = collector.collect()
            times.append((time.perf_counter() - t0) * 1000)
        netcon_ms = statistics.median(times)
        ours = {v.container: v.ifname for v in snap.veths if v.container}
        t0 = time.perf_counter()
        cli = subprocess.run(
            [sys.executable, "-m", "netcon.cli", "show", "veths", "--json"], capture_output=True, check=True
        )
        cli_s = time.perf_counter() - t0
        print(f"cli show veths --json: {cli_s:.3f} s wall ({len(cli.stdout)} bytes)")
        if args.skip_naive:
            print(f"snapshot N={args.containers} netcon_ms={netcon_ms:.1f}")
            return
        t0 = time.perf_counter()
        theirs = naive(containers, networks)
        naive_ms = (time.perf_counter() - t0) * 1000
        assert all(ours.get(name) == veth for name, veth in theirs.items()), "netcon and the naive way disagree"
        print(
            f"snapshot N={args.containers} netcon_ms={netcon_ms:.1f} naive_ms={naive_ms:.1f} "
            f"speedup={naive_ms / netcon_ms:.1f}"
        )


if __name__ == "__main__":
    main()
