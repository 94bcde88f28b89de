"""The exporter's probes: the config's ``[[probe]]`` entries run for ever in one ``PingEngine`` (one socket
per source namespace), and each ``[[matrix]]`` network's pairs on its interval through ``core.ping.matrix``.

Every probe keeps plain running totals (``ProbeState``) that a scrape copies: success and why not, an RTT
histogram, the last TTL, the loss over the last echoes. A source that cannot be found, a name that does not
resolve, a container that restarted (its old namespace keeps our socket but no longer has its veth) are found
again by a supervisor thread, so the probe reports ``success 0`` with an error label and recovers by itself.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from netcon.core.context import HostContext
from netcon.core.errors import NetconError, NotFound, UsageError
from netcon.core.exporter.config import MatrixConfig, ProbeConfig
from netcon.core.ping.engine import PingEngine
from netcon.core.ping.matrix import network_matrix
from netcon.core.ping.probe import Event, ProbeSpec, Reply
from netcon.core.ping.resolve import NameNotResolved, resolve
from netcon.core.ping.sources import Source, find_source
from netcon.core.snapshot import SnapshotCollector

# RTT buckets (seconds): a local bridge answers in 20-200 µs, an overlay in under 2 ms, a loaded host later.
# Eight, not fourteen: the buckets are most of what a scrape renders (11 of the 16 samples of each probe).
RTT_BUCKETS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.02, 0.1)
LOSS_WINDOW = 60  # echoes the loss ratio is computed over
RECHECK_AFTER_FAILURES = 3  # consecutive failed echoes before the source and target are looked up again
RECHECK_MIN_S = 10.0  # ... but not more often than this per probe
RECHECK_EVERY_S = 300.0  # and anyway this often (a name may point elsewhere now)
SUPERVISE_S = 1.0

# error label values: a fixed set, never free text (labels must stay bounded)
STATUS_ERRORS = {"timeout": "timeout", "unreachable": "unreachable", "ttl-exceeded": "ttl-exceeded", "error": "send"}


@dataclass(frozen=True)
class ProbeLabels:
    source: str
    target: str
    network: str = ""  # the matrix's network; "" for a [[probe]]


@dataclass
class ProbeState:
    """Running totals of one probe, guarded by its owner's lock."""

    labels: ProbeLabels
    success: int = 0
    error: str = "starting"  # "" when the last echo was answered
    detail: str = ""  # the sentence behind ``error`` (logged and shown by --once, not a label)
    ttl: int | None = None
    sent: int = 0
    received: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(RTT_BUCKETS))
    rtt_sum: float = 0.0
    rtt_count: int = 0
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=LOSS_WINDOW))

    def record(self, ok: bool, rtt_s: float | None, ttl: int | None, error: str) -> None:
        self.sent += 1
        self.recent.append(ok)
        self.success = 1 if ok else 0
        self.error = "" if ok else error
        if ok:
            self.received += 1
            self.ttl = ttl
        if rtt_s is not None:
            index = bisect.bisect_left(RTT_BUCKETS, rtt_s)
            if index < len(self.buckets):
                self.buckets[index] += 1
            self.rtt_sum += rtt_s
            self.rtt_count += 1

    def fail(self, error: str, detail: str) -> None:
        """No echo could be sent (source or target not found): success 0, nothing counted as sent."""
        self.success, self.error, self.detail = 0, error, detail

    @property
    def loss_ratio(self) -> float | None:
        return 1.0 - sum(self.recent) / len(self.recent) if self.recent else None

    def copy(self) -> ProbeView:
        cumulative, running = [], 0
        for count in self.buckets:
            running += count
            cumulative.append(running)
        return ProbeView(
            self.labels,
            self.success,
            self.error,
            self.detail,
            self.ttl,
            self.sent,
            self.received,
            tuple(cumulative),
            self.rtt_sum,
            self.rtt_count,
            self.loss_ratio,
        )


@dataclass(frozen=True)
class ProbeView:
    """What a scrape reads of one probe (cumulative bucket counts, as Prometheus wants them)."""

    labels: ProbeLabels
    success: int
    error: str
    detail: str
    ttl: int | None
    sent: int
    received: int
    buckets: tuple[int, ...]
    rtt_sum: float
    rtt_count: int
    loss_ratio: float | None


def error_of(error: NetconError) -> str:
    """The bounded label value for why a probe could not start."""
    if isinstance(error, NameNotResolved):
        return "target-unresolved"
    if isinstance(error, NotFound):
        return "source-missing"
    if isinstance(error, UsageError):
        return "source-unusable"
    return "source-error"


@dataclass
class _Running:
    config: ProbeConfig
    state: ProbeState
    probe_id: int | None = None
    where: tuple[int, str] | None = None  # (source netns inode, target address) the running probe uses
    failures: int = 0
    checked_at: float = -1e9


class ProbeSet:
    """The config's probes in one engine, kept running by a supervisor thread until ``close``."""

    def __init__(self, ctx: HostContext, probes: Iterable[ProbeConfig], stop: threading.Event) -> None:
        self.ctx = ctx
        self._stop = stop
        self._lock = threading.Lock()
        self._probes = [_Running(p, ProbeState(ProbeLabels(p.source, p.target))) for p in probes]
        self._by_id: dict[int, _Running] = {}
        self.version = 0  # bumped by every change a scrape would show
        rate = sum(1.0 / p.config.interval for p in self._probes)
        self.engine = PingEngine(max_probes=max(1, len(self._probes)), max_pps=max(1.0, rate * 1.01))
        self._thread = threading.Thread(target=self._supervise, name="exporter probes", daemon=True)
        self._lookups = ThreadPoolExecutor(4, thread_name_prefix="exporter probe lookup")

    def start(self) -> None:
        if self._probes:
            self._thread.start()

    def views(self) -> list[ProbeView]:
        with self._lock:
            return [p.state.copy() for p in self._probes]

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._lookups.shutdown(wait=True, cancel_futures=True)
        self.engine.close()

    # -- supervision --------------------------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                due = [p for p in self._probes if self._due(p, now)]
                for p in due:
                    p.checked_at = now
            list(self._lookups.map(self._check, due))
            self._stop.wait(SUPERVISE_S)

    @staticmethod
    def _due(p: _Running, now: float) -> bool:
        if p.probe_id is None or now - p.checked_at >= RECHECK_EVERY_S:
            return now - p.checked_at >= RECHECK_MIN_S or p.checked_at < 0
        return p.failures >= RECHECK_AFTER_FAILURES and now - p.checked_at >= RECHECK_MIN_S

    def _check(self, p: _Running) -> None:
        """Find the source and the target's address again; (re)start the probe when either changed."""
        if self._stop.is_set():
            return
        try:
            source = find_source(self.ctx, p.config.source)
            address = resolve(source, p.config.target).ip
        except NetconError as error:
            self._stop_probe(p, error_of(error), str(error))
            return
        with self._lock:
            if p.where == (source.netns_key, address) and p.probe_id is not None:
                p.failures = 0
                return
        self._stop_probe(p, None, "")
        self._start_probe(p, source, address)

    def _start_probe(self, p: _Running, source: Source, address: str) -> None:
        spec = ProbeSpec(source, address, None, p.config.interval, p.config.timeout, label=p.config.target)
        try:
            probe_id = self.engine.start(spec, self._on_event)
        except NetconError as error:
            with self._lock:
                p.state.fail("source-error", str(error))
                self.version += 1
            return
        with self._lock:
            p.probe_id, p.where, p.failures = probe_id, (source.netns_key, address), 0
            self._by_id[probe_id] = p

    def _stop_probe(self, p: _Running, error: str | None, detail: str) -> None:
        with self._lock:
            probe_id, p.probe_id, p.where = p.probe_id, None, None
            if probe_id is not None:
                self._by_id.pop(probe_id, None)
            if error is not None:
                p.state.fail(error, detail)
                self.version += 1
        if probe_id is not None:
            self.engine.stop(probe_id)

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, Reply):
            return
        with self._lock:
            p = self._by_id.get(event.probe)
            if p is None:
                return
            ok = event.status == "reply"
            p.failures = 0 if ok else p.failures + 1
            p.state.record(
                ok,
                event.rtt_ms / 1000 if event.rtt_ms is not None else None,
                event.ttl,
                STATUS_ERRORS.get(event.status, "send"),
            )
            p.state.detail = event.detail
            self.version += 1


class MatrixSet:
    """One ``[[matrix]]``: all pairs of a network probed once per run (called by its ``Loop``)."""

    def __init__(self, ctx: HostContext, config: MatrixConfig, collector: SnapshotCollector, stop: threading.Event):
        self.ctx = ctx
        self.config = config
        self.collector = collector
        self._stop = stop
        self._lock = threading.Lock()
        self._pairs: dict[tuple[str, str], ProbeState] = {}
        self.version = 0

    def run(self) -> None:
        """One round: each pair's one echo recorded; pairs whose containers left are dropped. A network that
        is missing or has fewer than two containers raises (the loop's health says so) and keeps no pairs."""
        try:
            matrix = network_matrix(
                self.ctx, self.config.network, self.collector, count=1, timeout=self.config.timeout, stop=self._stop
            )
        except NetconError:
            with self._lock:
                self._pairs.clear()
                self.version += 1
            raise
        with self._lock:
            kept: dict[tuple[str, str], ProbeState] = {}
            for pair in matrix.pairs:
                key = (pair.src, pair.dst)
                state = self._pairs.get(key) or ProbeState(ProbeLabels(pair.src, pair.dst, self.config.network))
                ok = pair.received > 0
                rtt = pair.rtt_ms_median / 1000 if pair.rtt_ms_median is not None else None
                state.record(ok, rtt, pair.ttl, "send" if pair.errors else "timeout")
                kept[key] = state
            self._pairs = kept
            self.version += 1

    def views(self) -> list[ProbeView]:
        with self._lock:
            return [s.copy() for s in self._pairs.values()]
