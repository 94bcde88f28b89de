"""A full doctor run over a 2-host lab (the seed's scene on h1, flannel on both): every check on every host,
etcd read once. Measured in-process (``run``, as the console would) and as the ``netcon doctor --lab`` command.

    python -m tests.perf.bench_doctor [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid

from netcon.cli.doctor import lab_targets
from netcon.core.context import HostContext
from netcon.core.doctor.runner import run
from netcon.core.lab import lab


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    prefix = f"b{uuid.uuid4().hex[:5]}"
    try:
        lab.up(HostContext(), prefix, hosts=2)
        targets, etcd, flannel_prefix = lab_targets(prefix)
        times, findings = [], None
        for _ in range(args.runs):
            started = time.perf_counter()
            report = run(targets, etcd, flannel_prefix)
            times.append(time.perf_counter() - started)
            findings = len(report.findings)
        cli = []
        for _ in range(3):
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "netcon.cli", "doctor", "--lab", prefix], capture_output=True, check=False
            )
            cli.append(time.perf_counter() - started)
            assert result.returncode == 0, result.stdout + result.stderr
        checks = len(report.hosts[0].checks)
        print(
            f"in-process run over 2 hosts x {checks} checks: first {times[0]:.3f} s, median "
            f"{statistics.median(times):.3f} s, max {max(times):.3f} s over {args.runs} runs; findings {findings}"
        )
        print(f"netcon doctor --lab (new process each, imports included): median {statistics.median(cli):.3f} s")
        print(f"doctor hosts=2 run_s={statistics.median(times):.3f}")
    finally:
        lab.down(HostContext(), prefix)


if __name__ == "__main__":
    main()
