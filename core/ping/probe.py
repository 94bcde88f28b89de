"""What a probe is: its spec and the limits on it, what it yields (a ``Reply`` per echo, a ``ProbeSummary`` with
ping's closing statistics at any time, ``ProbeFinished`` at its end), and the counters the engine keeps for it.
What is handed out is frozen, so the engine's thread can give it to any other."""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from netcon.core.errors import PermissionDenied, UsageError
from netcon.core.ping.icmp import PingSocket
from netcon.core.ping.sources import Source

MIN_INTERVAL_S = 0.2  # like ping: faster only when root asks for it (--flood-ok)
FLOOD_FLOOR_S = 0.001
MAX_COUNT = 1_000_000
RECENT = 1024  # RTTs kept per probe for the median and a sparkline


@dataclass(frozen=True)
class ProbeSpec:
    """What to ping, from where, how often. ``count`` None: until stopped."""

    source: Source
    target: str  # IPv4 address (resolve names with core.ping.resolve first)
    count: int | None = None
    interval: float = 1.0
    timeout: float = 2.0
    size: int = 56
    ttl: int | None = None
    label: str = ""  # the target as the user named it
    flood_ok: bool = False


@dataclass(frozen=True)
class Reply:
    """The outcome of one echo request."""

    probe: int
    seq: int  # 1, 2, 3, ... per probe, as ping's icmp_seq
    status: str  # "reply", "timeout", "unreachable", "ttl-exceeded", "error"
    target: str
    responder: str | None  # who answered (the target, or the router that sent the ICMP error)
    rtt_ms: float | None
    ttl: int | None
    size: int  # ICMP bytes of the reply (header + payload)
    detail: str  # ping's wording of an error ("Destination Host Unreachable")
    at: float  # wall clock


@dataclass(frozen=True)
class ProbeSummary:
    """ping's closing statistics, also available while the probe runs."""

    probe: int
    source: str
    target: str
    label: str
    transmitted: int
    received: int
    errors: int
    loss_pct: float
    rtt_min_ms: float | None
    rtt_avg_ms: float | None
    rtt_max_ms: float | None
    rtt_mdev_ms: float | None
    rtt_median_ms: float | None
    last_rtt_ms: float | None
    ttl: int | None  # of the last reply
    recent_rtts_ms: tuple[float | None, ...]  # newest last; None for a lost echo (for sparklines)
    running: bool
    elapsed_s: float


@dataclass(frozen=True)
class ProbeFinished:
    """Sent to subscribers once per probe, when its count is done or it was stopped."""

    summary: ProbeSummary


Event = Reply | ProbeFinished
Callback = Callable[[Event], None]


@dataclass
class SharedSocket:
    """One ICMP socket of a namespace, shared by its probes; ``pending`` maps wire sequence numbers to echoes."""

    ping: PingSocket
    refs: int = 0
    wire: int = 0
    pending: dict[int, PendingEcho] = field(default_factory=dict)


@dataclass
class PendingEcho:
    """An echo sent and not yet answered."""

    probe: ProbeState
    seq: int
    sent_ns: int


@dataclass
class ProbeState:
    """A probe's counters, changed only by the engine under its lock; ``summary`` freezes them."""

    id: int
    spec: ProbeSpec
    sock: SharedSocket
    on_event: Callback | None
    first_send: float
    payload: bytes
    next_seq: int = 1
    sent: int = 0
    received: int = 0
    errors: int = 0
    outstanding: int = 0
    rtt_sum: float = 0.0
    rtt_sq: float = 0.0
    rtt_min: float | None = None
    rtt_max: float | None = None
    last_rtt: float | None = None
    last_ttl: int | None = None
    recent: deque[float | None] = field(default_factory=lambda: deque(maxlen=RECENT))
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def summary(self) -> ProbeSummary:
        n = self.received
        avg = self.rtt_sum / n if n else None
        mdev = math.sqrt(max(self.rtt_sq / n - avg * avg, 0.0)) if avg is not None else None
        rtts = [r for r in self.recent if r is not None]
        return ProbeSummary(
            probe=self.id,
            source=self.spec.source.label,
            target=self.spec.target,
            label=self.spec.label or self.spec.target,
            transmitted=self.sent,
            received=n,
            errors=self.errors,
            loss_pct=100.0 * (self.sent - n) / self.sent if self.sent else 0.0,
            rtt_min_ms=self.rtt_min,
            rtt_avg_ms=avg,
            rtt_max_ms=self.rtt_max,
            rtt_mdev_ms=mdev,
            rtt_median_ms=statistics.median(rtts) if rtts else None,
            last_rtt_ms=self.last_rtt,
            ttl=self.last_ttl,
            recent_rtts_ms=tuple(self.recent),
            running=self.ended is None,
            elapsed_s=(self.ended or time.monotonic()) - self.started,
        )


def validate(spec: ProbeSpec) -> None:
    """Refuse, in one sentence, values ping itself would refuse (or that would flood)."""
    if spec.count is not None and not 1 <= spec.count <= MAX_COUNT:
        raise UsageError(f"Count {spec.count} is out of range: give 1 to {MAX_COUNT}.")
    if not FLOOD_FLOOR_S <= spec.interval <= 3600:
        raise UsageError(f"Interval {spec.interval:g} s is out of range: give {MIN_INTERVAL_S:g} to 3600 s.")
    if spec.interval < MIN_INTERVAL_S:
        if not spec.flood_ok:
            raise UsageError(
                f"Interval {spec.interval:g} s is under {MIN_INTERVAL_S:g} s; add --flood-ok to really send that fast."
            )
        if os.geteuid() != 0:
            raise PermissionDenied(
                f"Interval {spec.interval:g} s is under {MIN_INTERVAL_S:g} s, which only root may ask for."
            )
    if not 0.01 <= spec.timeout <= 60:
        raise UsageError(f"Timeout {spec.timeout:g} s is out of range: give 0.01 to 60 s.")
    if not 0 <= spec.size <= 65507:
        raise UsageError(f"Packet size {spec.size} is out of range: give 0 to 65507 bytes.")
    if spec.ttl is not None and not 1 <= spec.ttl <= 255:
        raise UsageError(f"TTL {spec.ttl} is out of range: give 1 to 255.")
