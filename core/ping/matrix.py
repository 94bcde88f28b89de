"""All-pairs reachability of a Docker network or a chosen set of containers: every ordered pair probed at
once from one engine (one socket per source namespace), paced so the whole burst stays under a rate cap."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from netcon.core.context import HostContext
from netcon.core.errors import NetconError, NotFound, UsageError
from netcon.core.model import Snapshot
from netcon.core.ping.engine import PingEngine
from netcon.core.ping.probe import MIN_INTERVAL_S, ProbeSpec, ProbeSummary
from netcon.core.ping.sources import Source, snapshot_source
from netcon.core.snapshot import SnapshotCollector
from netcon.core.validate import values

MATRIX_PPS = 2000.0  # echoes per second over all pairs: a short burst, on local bridges only
STOP_POLL_S = 0.05  # how often a run given a ``stop`` event checks it while waiting for echoes


@dataclass(frozen=True)
class PairResult:
    src: str
    dst: str
    dst_ip: str
    sent: int
    received: int
    rtt_ms_median: float | None
    ttl: int | None
    errors: int
    error: str | None = None  # why the pair was not probed (its host unreachable, no address to send to)

    @property
    def reachable(self) -> bool:
        return self.received > 0


@dataclass(frozen=True)
class Matrix:
    title: str  # "network app-net" or "containers a, b, c"
    members: tuple[str, ...]
    pairs: tuple[PairResult, ...]  # ordered pairs, members' order, src then dst
    count: int
    elapsed_s: float
    problems: tuple[str, ...] = ()  # one sentence per host that could not be read (a matrix across hosts)

    def pair(self, src: str, dst: str) -> PairResult | None:
        return next((p for p in self.pairs if p.src == src and p.dst == dst), None)


@dataclass(frozen=True)
class Member:
    source: Source
    ips: dict[str, str]  # network name -> IPv4 of this container there


def members_of(snap: Snapshot, names: list[str]) -> list[Member]:
    ips: dict[str, dict[str, str]] = {}
    for net in snap.networks:
        for a in net.attachments:
            if a.ipv4:
                ips.setdefault(a.container_id, {})[net.name] = a.ipv4
    members = []
    for name in names:
        c = snap.container(name)
        if c is None:
            raise NotFound(f"No container named {name!r} on this host.", target=name)
        own = ips.get(c.id) or ({"(shared netns)": c.ipv4[0]} if c.ipv4 else {})
        source = snapshot_source(c)
        if not own:
            raise UsageError(f"Container {c.name} has no IPv4 address to be pinged at.", target=c.name)
        members.append(Member(source, own))
    return members


def _dst_ip(src: Member, dst: Member, network: str | None) -> str:
    return same_host_address(src.ips, dst.ips, network)


def same_host_address(src_ips: dict[str, str], dst_ips: dict[str, str], network: str | None) -> str:
    """The address a container uses for another on the same host (network name -> IPv4 of each): on the network
    asked for, else on a network they share, else the other's first."""
    if network:
        return dst_ips[network]
    shared = [n for n in src_ips if n in dst_ips]
    return dst_ips[shared[0]] if shared else next(iter(dst_ips.values()))


def run_matrix(
    title: str,
    members: list[Member],
    network: str | None,
    count: int = 3,
    timeout: float = 1.0,
    max_pps: float = MATRIX_PPS,
    stop: threading.Event | None = None,
) -> Matrix:
    """Probe every ordered pair of ``members``. ``stop``: set it to end the run early (its probes are stopped
    and ``NetconError`` is raised), e.g. when the console quits."""
    if len(members) < 2:
        raise UsageError(
            f"{title[0].upper()}{title[1:]} has fewer than two running containers: there is no pair to probe."
        )
    pairs = [(s, d, _dst_ip(s, d, network)) for s in members for d in members if s is not d]
    interval = max(MIN_INTERVAL_S, len(pairs) / max_pps)
    started = time.monotonic()
    with PingEngine(max_probes=len(pairs), max_pps=max_pps) as engine:
        ids = engine.start_many(
            [
                ProbeSpec(s.source, ip, count=count, interval=interval, timeout=timeout, label=d.source.name)
                for s, d, ip in pairs
            ],
            spread=True,
        )
        summaries = [_wait(engine, i, stop) for i in ids]
        if stop is not None and stop.is_set():
            raise NetconError(f"The probes of {title} were stopped before every pair answered.")
    results = tuple(
        PairResult(
            src=s.source.name,
            dst=d.source.name,
            dst_ip=ip,
            sent=r.transmitted,
            received=r.received,
            rtt_ms_median=r.rtt_median_ms,
            ttl=r.ttl,
            errors=r.errors,
        )
        for (s, d, ip), r in zip(pairs, summaries)
    )
    return Matrix(title, tuple(m.source.name for m in members), results, count, time.monotonic() - started)


def _wait(engine: PingEngine, probe: int, stop: threading.Event | None) -> ProbeSummary:
    if stop is None:
        return engine.wait(probe)
    while True:
        summary = engine.wait(probe, STOP_POLL_S)
        if not summary.running or stop.is_set():
            return summary


def network_matrix(
    ctx: HostContext, network: str, collector: SnapshotCollector | None = None, **options: Any
) -> Matrix:
    """Every running container attached to ``network`` against every other, at its address there."""
    snap = (collector or SnapshotCollector(ctx)).collect()
    net = snap.network(network)
    if net is None:
        raise NotFound(f"No network named {network!r} on this host.", target=network)
    names = [a.container_name for a in net.attachments if a.ipv4]
    return run_matrix(f"network {net.name}", members_of(snap, names), net.name, **options)


def containers_matrix(
    ctx: HostContext, names: list[str], collector: SnapshotCollector | None = None, **options: Any
) -> Matrix:
    """The chosen containers against each other, each at its address on a network the pair shares."""
    names = values.name_list(",".join(names), "containers", "The container list", 2)
    snap = (collector or SnapshotCollector(ctx)).collect()
    return run_matrix(f"containers {', '.join(names)}", members_of(snap, names), None, **options)
