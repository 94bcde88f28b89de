"""One thread, one epoll, many probes: the engine behind ``netcon ping``, the matrix and the console's Ping pane.

Probes from one namespace share one ICMP socket (opened inside that namespace by ``core.netns``); each echo
gets a wire sequence number unique on its socket, which is how a reply or an ICMP error finds its probe.
Sends and timeouts are timers on one heap. Results are frozen dataclasses handed to subscribers from the
engine thread (a UI hops to its own thread, e.g. Textual's ``call_from_thread``). Caps on concurrent probes
and on the total packet rate keep a monitoring console from flooding a network; pings only read, so they
are allowed in read-only mode.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import os
import select
import statistics
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from netcon.core.errors import NetconError, PermissionDenied, UsageError
from netcon.core.netns import run_in_each_netns
from netcon.core.ping.icmp import PingSocket, payload_of
from netcon.core.ping.sources import Source

MIN_INTERVAL_S = 0.2  # like ping: faster only when root asks for it (--flood-ok)
FLOOD_FLOOR_S = 0.001
MAX_COUNT = 1_000_000
RECENT = 1024  # RTTs kept per probe for the median and a sparkline
KEEP_FINISHED = 4096  # finished probes whose summary can still be asked for

log = logging.getLogger(__name__)


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
class _Sock:
    ping: PingSocket
    refs: int = 0
    wire: int = 0
    pending: dict[int, _Pending] = field(default_factory=dict)


@dataclass
class _Pending:
    probe: _Probe
    seq: int
    sent_ns: int


@dataclass
class _Probe:
    id: int
    spec: ProbeSpec
    sock: _Sock
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


class PingEngine:
    """Runs probes; thread-safe. ``max_probes`` caps concurrent probes, ``max_pps`` the sum of their rates."""

    def __init__(self, max_probes: int = 32, max_pps: float = 100.0) -> None:
        self.max_probes = max_probes
        self.max_pps = max_pps
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._probes: dict[int, _Probe] = {}
        self._finished: OrderedDict[int, _Probe] = OrderedDict()  # the last KEEP_FINISHED, for summaries
        self._socks: dict[int, _Sock] = {}  # netns inode -> socket
        self._by_fd: dict[int, _Sock] = {}
        self._timers: list[tuple[float, int, str, Any]] = []  # (when, tie-breaker, kind, what): a heap
        self._tick = itertools.count()
        self._ids = itertools.count(1)
        self._subscribers: list[Callback] = []
        self._epoll: select.epoll | None = None
        self._wake: int | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- public API ----------------------------------------------------------------------------------------

    def __enter__(self) -> PingEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback`` (from the engine thread) with every ``Reply`` and ``ProbeFinished``; returns an
        unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def start(self, spec: ProbeSpec, on_event: Callback | None = None) -> int:
        """Start one probe; its id. Raises ``UsageError`` for bad values or when a cap would be exceeded."""
        return self.start_many([spec], on_event)[0]

    def start_many(self, specs: list[ProbeSpec], on_event: Callback | None = None, spread: bool = False) -> list[int]:
        """Start several probes at once (sockets for new namespaces opened from one helper thread); with
        ``spread`` their first echoes are staggered over one interval so the rate stays even."""
        for spec in specs:
            validate(spec)
        with self._start_lock:
            if self._closed:
                raise NetconError("The ping engine is closed.")
            with self._lock:
                self._admit(specs)
                missing = {s.source.netns_key: s.source.netns for s in specs if s.source.netns_key not in self._socks}
            opened = self._open(missing)
            with self._lock:
                for key, ping in opened.items():
                    sock = _Sock(ping)
                    self._socks[key] = sock
                    self._by_fd[ping.fileno()] = sock
                    self._ensure_thread().register(ping.fileno(), select.EPOLLIN)
                now = time.monotonic()
                ids = []
                for i, spec in enumerate(specs):
                    sock = self._socks[spec.source.netns_key]
                    sock.refs += 1
                    first = now + (spec.interval * i / len(specs) if spread else 0.0)
                    probe = _Probe(next(self._ids), spec, sock, on_event, first, payload_of(spec.size))
                    self._probes[probe.id] = probe
                    self._timer(first, "send", probe)
                    ids.append(probe.id)
            self._poke()
        return ids

    def stop(self, probe_id: int) -> ProbeSummary:
        """Stop a probe now (its outstanding echoes count as lost, like ping interrupted); its summary."""
        with self._lock:
            probe = self._get(probe_id)
            events = self._finish(probe) if probe.ended is None else []
        self._dispatch(events)
        return probe.summary()

    def summary(self, probe_id: int) -> ProbeSummary:
        with self._lock:
            return self._get(probe_id).summary()

    def probes(self) -> tuple[ProbeSummary, ...]:
        """Summaries of running probes."""
        with self._lock:
            return tuple(p.summary() for p in self._probes.values())

    def wait(self, probe_id: int, timeout: float | None = None) -> ProbeSummary:
        """Block until the probe is done (count reached, or stopped), then its summary."""
        with self._lock:
            probe = self._get(probe_id)
        probe.done.wait(timeout)
        return probe.summary()

    def close(self) -> None:
        """Stop every probe, close every socket, end the engine thread."""
        with self._start_lock:
            with self._lock:
                self._closed = True
                events = [e for p in list(self._probes.values()) for e in self._finish(p)]
            self._dispatch(events)
            self._poke()
            if self._thread is not None:
                self._thread.join()
            for sock in list(self._socks.values()):
                sock.ping.close()
            self._socks.clear()
            self._by_fd.clear()
            if self._epoll is not None:
                self._epoll.close()
                self._epoll = None
            if self._wake is not None:
                os.close(self._wake)
                self._wake = None

    # -- internals -----------------------------------------------------------------------------------------

    def _get(self, probe_id: int) -> _Probe:
        probe = self._probes.get(probe_id) or self._finished.get(probe_id)
        if probe is None:
            raise UsageError(f"No probe {probe_id} in this engine.")
        return probe

    def _admit(self, specs: list[ProbeSpec]) -> None:
        running = len(self._probes)
        if running + len(specs) > self.max_probes:
            raise UsageError(
                f"{running} probes are running and the cap is {self.max_probes}: stop some first (or raise the cap)."
            )
        rate = sum(1.0 / p.spec.interval for p in self._probes.values()) + sum(1.0 / s.interval for s in specs)
        if rate > self.max_pps + 1e-9:
            raise UsageError(
                f"That would send {rate:.0f} echoes per second in all, over the cap of "
                f"{self.max_pps:g}: use a longer interval (or raise the cap)."
            )

    @staticmethod
    def _open(missing: dict[int, str | None]) -> dict[int, PingSocket]:
        opened: dict[int, PingSocket] = {}
        try:
            for key, path in missing.items():
                if path is None:
                    opened[key] = PingSocket.open()
            paths = {path: key for key, path in missing.items() if path is not None}
            for path, result in run_in_each_netns(list(paths), PingSocket.open).items():
                if isinstance(result, BaseException):
                    raise result
                opened[paths[path]] = result
        except BaseException:
            for ping in opened.values():
                ping.close()
            raise
        return opened

    def _ensure_thread(self) -> select.epoll:
        if self._epoll is None or self._wake is None:
            self._epoll = select.epoll()
            self._wake = os.eventfd(0, os.EFD_NONBLOCK)
            self._epoll.register(self._wake, select.EPOLLIN)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, args=(self._epoll, self._wake), name="ping-engine", daemon=True
            )
            self._thread.start()
        return self._epoll

    def _poke(self) -> None:
        if self._wake is not None:
            os.eventfd_write(self._wake, 1)

    def _timer(self, when: float, kind: str, what: Any) -> None:
        heapq.heappush(self._timers, (when, next(self._tick), kind, what))

    def _run(self, epoll: select.epoll, wake: int) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                delay = max(0.0, self._timers[0][0] - time.monotonic()) if self._timers else -1
            ready = epoll.poll(delay if delay < 0 else min(delay, 60.0))
            events: list[tuple[_Probe, Event]] = []
            with self._lock:
                for fd, _mask in ready:
                    if fd == wake:
                        with contextlib.suppress(BlockingIOError):
                            os.eventfd_read(wake)
                        continue
                    sock = self._by_fd.get(fd)
                    if sock is not None:
                        self._read(sock, events)
                self._due(events)
            self._dispatch(events)

    def _due(self, events: list[tuple[_Probe, Event]]) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now + 0.0005:
            _when, _n, kind, what = heapq.heappop(self._timers)
            if kind == "send":
                self._send(what, events)
            else:
                sock, wire, pending = what
                if sock.pending.get(wire) is pending:
                    del sock.pending[wire]
                    self._record(pending, "timeout", None, None, None, 0, "", events)

    def _send(self, probe: _Probe, events: list[tuple[_Probe, Event]]) -> None:
        if probe.ended is not None:
            return
        spec, sock = probe.spec, probe.sock
        wire = sock.wire
        for _ in range(65536):
            wire = (wire + 1) & 0xFFFF
            if wire not in sock.pending:
                break
        sock.wire = wire
        seq = probe.next_seq
        probe.next_seq += 1
        probe.sent += 1
        pending = _Pending(probe, seq, time.time_ns())
        try:
            sock.ping.send(spec.target, wire, probe.payload, spec.ttl)
        except OSError as error:
            self._record(pending, "error", None, None, None, 0, f"sendmsg: {error.strerror}", events, outstanding=False)
        else:
            sock.pending[wire] = pending
            probe.outstanding += 1
            self._timer(time.monotonic() + spec.timeout, "expire", (sock, wire, pending))
        if spec.count is None or probe.sent < spec.count:
            self._timer(probe.first_send + spec.interval * probe.sent, "send", probe)
        elif probe.outstanding == 0:
            events.extend(self._finish(probe))

    def _read(self, sock: _Sock, events: list[tuple[_Probe, Event]]) -> None:
        for item in sock.ping.read_all():
            pending = sock.pending.pop(item.seq, None)
            if pending is None:
                continue  # late (already timed out) or not ours
            rtt = None
            if item.kind == "reply":
                rtt = ((item.rx_ns or time.time_ns()) - pending.sent_ns) / 1e6
            self._record(pending, item.kind, item.responder, rtt, item.ttl, item.size, item.detail, events)

    def _record(
        self,
        pending: _Pending,
        status: str,
        responder: str | None,
        rtt: float | None,
        ttl: int | None,
        size: int,
        detail: str,
        events: list[tuple[_Probe, Event]],
        outstanding: bool = True,
    ) -> None:
        probe = pending.probe
        if outstanding:
            probe.outstanding -= 1
        if status == "reply" and rtt is not None:
            probe.received += 1
            probe.rtt_sum += rtt
            probe.rtt_sq += rtt * rtt
            probe.rtt_min = rtt if probe.rtt_min is None else min(probe.rtt_min, rtt)
            probe.rtt_max = rtt if probe.rtt_max is None else max(probe.rtt_max, rtt)
            probe.last_rtt, probe.last_ttl = rtt, ttl
        elif status != "timeout":
            probe.errors += 1
        probe.recent.append(rtt)
        reply = Reply(probe.id, pending.seq, status, probe.spec.target, responder, rtt, ttl, size, detail, time.time())
        events.append((probe, reply))
        if probe.outstanding == 0 and probe.spec.count is not None and probe.sent >= probe.spec.count:
            events.extend(self._finish(probe))

    def _finish(self, probe: _Probe) -> list[tuple[_Probe, Event]]:
        if probe.ended is not None:
            return []
        probe.ended = time.monotonic()
        self._probes.pop(probe.id, None)
        self._finished[probe.id] = probe
        while len(self._finished) > KEEP_FINISHED:
            self._finished.popitem(last=False)
        for wire in [w for w, p in probe.sock.pending.items() if p.probe is probe]:
            del probe.sock.pending[wire]
        probe.sock.refs -= 1
        if probe.sock.refs == 0:
            self._release(probe.sock)
        return [(probe, ProbeFinished(probe.summary()))]

    def _release(self, sock: _Sock) -> None:
        for key, s in list(self._socks.items()):
            if s is sock:
                del self._socks[key]
        self._by_fd.pop(sock.ping.fileno(), None)
        if self._epoll is not None:
            self._epoll.unregister(sock.ping.fileno())
        sock.ping.close()

    def _dispatch(self, events: Iterable[tuple[_Probe, Event]]) -> None:
        subscribers = list(self._subscribers)
        for probe, event in events:
            if isinstance(event, ProbeFinished):
                probe.done.set()
            for callback in ([probe.on_event] if probe.on_event else []) + subscribers:
                try:
                    callback(event)
                except Exception:  # a subscriber's bug must not stop every probe
                    log.exception("ping subscriber %r failed", callback)
