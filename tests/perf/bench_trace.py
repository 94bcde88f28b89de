"""A cross-host trace in a real 2-host lab (h1-probe -> h2-probe over flannel), against doing it by hand the way
a sysadmin does, in the same run.

    python -m tests.perf.bench_trace [--runs 5]

1. netcon, prediction only (``Options(probe=False)``, in-process): every host read, the request and the reply
   walked; median of ``--runs``.
2. netcon with the probe: prediction, one ICMP echo captured on every predicted interface at once, nftrace
   in every namespace of the path, the reply; median of ``--runs``.
3. By hand, as processes: ``ip route get`` in the source and in both hosts, ``bridge fdb show`` on both
   hosts, ``iptables-save`` in every namespace of the path, then one ``tcpdump -c 1`` per captured hop of
   the path (all started at once, each waited for until it listens) and one ``ping -c 1`` from the source;
   the wall time until the last tcpdump has its packet. (A person also has to read and correlate it all;
   that is not counted.)

Targets (issue 15): prediction < 200 ms, full trace < 2 s.
Last line: ``trace predict_ms=<1> full_s=<2> manual_s=<3> hops=<n>``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
import uuid

import docker

from netcon.core.context import HostContext
from netcon.core.lab import lab
from netcon.core.trace.run import Options, trace


def nsenter(path: str, *argv: str) -> list[str]:
    return ["nsenter", f"--net={path}", *argv]


def manual(paths: dict[str, str], hops: list[tuple[str, str, bool]], dst: str, underlay: str) -> float:
    """The sysadmin's commands, run as processes; ``hops``: (netns path, interface, outer) of each captured hop."""
    started = time.perf_counter()
    src = paths["src"]
    subprocess.run(nsenter(src, "ip", "route", "get", dst), capture_output=True, check=True)
    for host in ("h1", "h2"):
        subprocess.run(nsenter(paths[host], "ip", "route", "get", dst), capture_output=True, check=True)
        subprocess.run(nsenter(paths[host], "bridge", "fdb", "show"), capture_output=True, check=True)
    for path in dict.fromkeys(p for p, _i, _o in hops):
        subprocess.run(nsenter(path, "iptables-save"), capture_output=True, check=True)
    dumps = []
    for path, ifname, outer in hops:
        wanted = f"udp port 8472 and host {underlay}" if outer else "icmp"
        proc = subprocess.Popen(
            nsenter(path, "tcpdump", "-c", "1", "-n", "-i", ifname, "--immediate-mode", wanted),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        dumps.append(proc)
    for proc in dumps:
        assert proc.stderr is not None
        while "listening on" not in (line := proc.stderr.readline()):
            assert line, "tcpdump ended before it listened"
    subprocess.run(nsenter(src, "ping", "-c", "1", "-W", "2", dst), capture_output=True, check=True)
    for proc in dumps:
        proc.wait(timeout=10)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    prefix = f"ub{uuid.uuid4().hex[:5]}"
    ctx = HostContext()
    try:
        state = lab.up(ctx, prefix, hosts=2, seed=False)
        h1, h2 = state.hosts
        options = Options(lab=prefix)
        trace(ctx, "h1-probe", "h2-probe", options)  # warm: Docker clients, the containers' inspect cache
        predict, full, hand = [], [], []
        result = None
        for _ in range(args.runs):
            predicted = trace(ctx, "h1-probe", "h2-probe", Options(lab=prefix, probe=False))
            predict.append(predicted.predict_s)
            started = time.perf_counter()
            result = trace(ctx, "h1-probe", "h2-probe", options)
            full.append(time.perf_counter() - started)
            assert result.reply_seen, result.last_line
        assert result is not None
        pid = docker.APIClient(base_url=h1.docker_host).inspect_container("h1-probe")["State"]["Pid"]
        paths = {"src": f"/proc/{pid}/ns/net", "h1": h1.netns_path, "h2": h2.netns_path}
        captured = [
            (h.capture.netns or "/proc/self/ns/net", h.capture.ifname, h.capture.outer)
            for h in result.hops
            if h.capture is not None and h.direction == "request"
        ]
        for _ in range(args.runs):
            hand.append(manual(paths, captured, result.dst_ip, h2.address))
        print(f"prediction only   median {statistics.median(predict) * 1000:7.1f} ms  (runs: "
              + ", ".join(f"{p * 1000:.0f}" for p in predict) + ")")  # fmt: skip
        print(f"full, with probe  median {statistics.median(full):7.3f} s   (runs: "
              + ", ".join(f"{f:.2f}" for f in full) + ")")  # fmt: skip
        print(f"by hand           median {statistics.median(hand):7.3f} s   ({len(captured)} tcpdumps; runs: "
              + ", ".join(f"{m:.2f}" for m in hand) + ")")  # fmt: skip
        print(
            f"trace predict_ms={statistics.median(predict) * 1000:.0f} full_s={statistics.median(full):.2f} "
            f"manual_s={statistics.median(hand):.2f} hops={len(result.hops)}"
        )
    finally:
        lab.down(ctx, prefix)


if __name__ == "__main__":
    main()
