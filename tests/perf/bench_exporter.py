"""The exporter on a host with N containers and N probes at 1/s, scraped once a second: scrape latency, the
exporter's CPU and RSS, next to the size of what it serves.

    python -m tests.perf.bench_exporter [--containers 200] [--seconds 60] [--warmup 15]

Builds a fleet (10 containers per network), writes a config with one probe per container to the next one on
its network (so every probe leaves from inside a container), starts the real ``netcon exporter`` in a child,
lets it warm up (the first snapshot, the probes' lookups, a doctor run), then scrapes it once a second for
``--seconds`` and measures the child. Last line:
``exporter containers=<n> probes=<n> scrape_p99_ms=<x> cpu_pct=<x> rss_mb=<x>``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from tests.exporter.procs import free_port, stop, wait_line
from tests.perf.bench_console import cpu_seconds, peak_rss_mb
from tests.perf.fleet import fleet


def config_for(names: list[list[str]]) -> str:
    lines = ['[snapshot]\ninterval = "15s"\n[counters]\ninterval = "5s"\n[doctor]\ninterval = "60s"\n']
    for members in names:
        for i, name in enumerate(members):
            target = members[(i + 1) % len(members)]
            lines.append(f'[[probe]]\nsource = "{name}"\ntarget = "{target}"\ninterval = "1s"\n')
    return "\n".join(lines)


def scrape(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    return time.perf_counter() - started, body


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds measured without scrapes first")
    args = parser.parse_args()
    with fleet(args.containers) as (_client, containers, _nets), tempfile.TemporaryDirectory() as tmp:
        by_network: dict[str, list[str]] = {}
        for c in containers:
            c.reload()
            by_network.setdefault(next(iter(c.attrs["NetworkSettings"]["Networks"])), []).append(c.name)
        config = Path(tmp) / "bench.toml"
        config.write_text(config_for(list(by_network.values())))
        port = free_port()
        url = f"http://127.0.0.1:{port}/metrics"
        proc = subprocess.Popen(
            [sys.executable, "-m", "netcon.cli", "exporter", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_line(proc)
            watched = psutil.Process(proc.pid)
            time.sleep(args.warmup)
            idle0, i0 = cpu_seconds(watched), time.monotonic()
            time.sleep(args.idle)  # the probes, the readings, no scrape: what the exporter costs by itself
            idle = 100 * (cpu_seconds(watched) - idle0) / (time.monotonic() - i0)
            latencies, sizes, series, took_by = [], [], 0, []
            cpu0, t0 = cpu_seconds(watched), time.monotonic()
            for i in range(args.seconds):
                took, body = scrape(url)
                latencies.append(took)
                sizes.append(len(body))
                if i == args.seconds - 1:
                    text = body.decode()
                    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
                    ok = sum(
                        1 for line in text.splitlines() if line.startswith("netcon_probe_success") and " 1.0" in line
                    )
                    took_by = [line for line in text.splitlines() if line.startswith("netcon_exporter_collector_dur")]
                time.sleep(max(0.0, t0 + i + 1 - time.monotonic()))
            cpu = 100 * (cpu_seconds(watched) - cpu0) / (time.monotonic() - t0)
            rss = peak_rss_mb(proc.pid)
        finally:
            stop(proc)
    probes = sum(len(m) for m in by_network.values())
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    print(f"scrapes={len(latencies)} exposition_kb={statistics.mean(sizes) / 1024:.0f} series={series}")
    print(f"scrape_p50_ms={p50:.1f} scrape_p99_ms={p99:.1f} scrape_max_ms={max(latencies) * 1000:.1f}")
    print(f"probes answering={ok}/{probes}")
    print(
        "last run of each reading: "
        + ", ".join(f"{line.split(chr(34))[1]} {float(line.split()[-1]) * 1000:.0f} ms" for line in took_by)
    )
    print(f"idle_cpu_pct={idle:.1f} (no scrapes, {args.idle:g} s)")
    print(
        f"exporter containers={args.containers} probes={probes} scrape_p99_ms={p99:.1f} cpu_pct={cpu:.1f} "
        f"rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    main()
