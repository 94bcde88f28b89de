"""The ping engine's cost and the matrix against the docker-exec way, on one fleet.

    python -m tests.perf.bench_ping [--probes 200] [--seconds 60] [--matrix-n 30] [--exec-workers 8]

1. One engine keeps ``--probes`` probes at 1 echo/s between fleet containers for ``--seconds``; the process
   CPU time over that wall time is the cost (% of one core).
2. ``netcon ping matrix --network`` over ``--matrix-n`` containers (n*(n-1) ordered pairs, 3 echoes each),
   snapshot included.
3. The same pairs the way a sysadmin scripts it: ``docker exec <src> ping -c 3 -W 1 <ip>`` per pair, run by a
   small thread pool (``--exec-workers``; 1 = strictly sequential). The sum of the per-call times is printed
   too: that is what the sequential script would take.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from netcon.core.context import HostContext
from netcon.core.ping.engine import PingEngine
from netcon.core.ping.matrix import network_matrix
from netcon.core.ping.probe import ProbeSpec
from netcon.core.ping.sources import container_source
from tests.perf.fleet import fleet


def steady_probes(ctx, containers, probes: int, seconds: float) -> tuple[float, int, int]:
    """(cpu %, echoes sent, replies) of ``probes`` 1/s probes kept for ``seconds``."""
    sources = [container_source(ctx, c.name) for c in containers]
    ips = [c.attrs["NetworkSettings"]["Networks"] for c in containers]
    ips = [next(iter(n.values()))["IPAddress"] for n in ips]
    n = len(containers)
    specs = []
    for i in range(probes):
        src = i % n
        dst = (src + 1 + i // n) % n
        dst = (dst + 1) % n if dst == src else dst
        specs.append(ProbeSpec(sources[src], ips[dst], interval=1.0, timeout=2.0))
    with PingEngine(max_probes=probes, max_pps=probes) as engine:
        ids = engine.start_many(specs, spread=True)
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        summaries = [engine.stop(i) for i in ids]
    return 100.0 * cpu / wall, sum(s.transmitted for s in summaries), sum(s.received for s in summaries)


def exec_pairs(containers, ips: dict[str, str], workers: int) -> tuple[float, float, int]:
    """(wall s, sum of per-call s, reachable pairs) of docker exec ping per ordered pair."""
    pairs = [(s.name, ips[d.name]) for s in containers for d in containers if s is not d]

    def one(pair) -> tuple[float, bool]:
        t0 = time.perf_counter()
        done = subprocess.run(
            ["docker", "exec", pair[0], "ping", "-c", "3", "-W", "1", pair[1]], capture_output=True, text=True
        )
        return time.perf_counter() - t0, done.returncode == 0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, pairs))
    return time.perf_counter() - t0, sum(r[0] for r in results), sum(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--matrix-n", type=int, default=30)
    parser.add_argument("--exec-workers", type=int, default=8)
    args = parser.parse_args()
    ctx = HostContext()
    with fleet(args.matrix_n, per_network=args.matrix_n) as (_client, containers, networks):
        for c in containers:
            c.reload()
        cpu_pct, sent, received = steady_probes(ctx, containers, args.probes, args.seconds)
        print(
            f"steady: {args.probes} probes x 1/s for {args.seconds:g} s: {sent} echoes, {received} replies, "
            f"cpu {cpu_pct:.2f}% of one core"
        )
        t0 = time.perf_counter()
        matrix = network_matrix(ctx, networks[0].name)
        matrix_s = time.perf_counter() - t0
        reachable = sum(p.reachable for p in matrix.pairs)
        print(f"matrix: {len(matrix.pairs)} pairs, {reachable} reachable, {matrix_s:.2f} s (snapshot included)")
        ips = {p.dst: p.dst_ip for p in matrix.pairs}
        exec_s, exec_sum_s, exec_ok = exec_pairs(containers, ips, args.exec_workers)
        print(
            f"docker exec ping: {exec_ok} reachable, {exec_s:.1f} s wall with {args.exec_workers} workers, "
            f"{exec_sum_s:.1f} s as a sequential script (sum of calls)"
        )
    print(
        f"ping probes={args.probes} cpu_pct={cpu_pct:.2f} matrix_n={args.matrix_n} matrix_s={matrix_s:.2f} "
        f"exec_s={exec_s:.1f} speedup={exec_s / matrix_s:.1f}"
    )


if __name__ == "__main__":
    main()
