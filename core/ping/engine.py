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
import os
import select
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from netcon.core.errors import NetconError, UsageError
from netcon.core.netns import run_in_each_netns
from netcon.core.ping.icmp import PingSocket, payload_of
from netcon.core.ping.probe import (
    Callback,
    Event,
    PendingEcho,
    ProbeFinished,
    ProbeSpec,
    ProbeState,
    ProbeSummary,
    Reply,
    SharedSocket,
    validate,
)

KEEP_FINISHED = 4096  # finished probes whose summary can still be asked for

log = logging.getLogger(__name__)


class PingEngine:
    """Runs probes; thread-safe. ``max_probes`` caps concurrent probes, ``max_pps`` the sum of their rates."""

    def __init__(self, max_probes: int = 32, max_pps: float = 100.0) -> None:
        self.max_probes = max_probes
        self.max_pps = max_pps
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._probes: dict[int, ProbeState] = {}
        self._finished: OrderedDict[int, ProbeState] = OrderedDict()  # the last KEEP_FINISHED, for summaries
        self._socks: dict[int, SharedSocket] = {}  # netns inode -> socket
        self._by_fd: dict[int, SharedSocket] = {}
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
                    sock = SharedSocket(ping)
                    self._socks[key] = sock
                    self._by_fd[ping.fileno()] = sock
                    self._ensure_thread().register(ping.fileno(), select.EPOLLIN)
                now = time.monotonic()
                ids = []
                for i, spec in enumerate(specs):
                    sock = self._socks[spec.source.netns_key]
                    sock.refs += 1
                    first = now + (spec.interval * i / len(specs) if spread else 0.0)
                    probe = ProbeState(next(self._ids), spec, sock, on_event, first, payload_of(spec.size))
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

    def _get(self, probe_id: int) -> ProbeState:
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
                self._drop_answered()
                delay = max(0.0, self._timers[0][0] - time.monotonic()) if self._timers else -1
            ready = epoll.poll(delay if delay < 0 else min(delay, 60.0))
            events: list[tuple[ProbeState, Event]] = []
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

    def _drop_answered(self) -> None:
        """Pop the timeouts of echoes already answered from the top of the heap, so the loop does not wake just
        to discard them (one wake-up per echo, a third of the engine's, with many probes)."""
        while self._timers and self._timers[0][2] == "expire":
            sock, wire, pending = self._timers[0][3]
            if sock.pending.get(wire) is pending:
                return
            heapq.heappop(self._timers)

    def _due(self, events: list[tuple[ProbeState, Event]]) -> None:
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

    def _send(self, probe: ProbeState, events: list[tuple[ProbeState, Event]]) -> None:
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
        pending = PendingEcho(probe, seq, time.time_ns())
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

    def _read(self, sock: SharedSocket, events: list[tuple[ProbeState, Event]]) -> None:
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
        pending: PendingEcho,
        status: str,
        responder: str | None,
        rtt: float | None,
        ttl: int | None,
        size: int,
        detail: str,
        events: list[tuple[ProbeState, Event]],
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

    def _finish(self, probe: ProbeState) -> list[tuple[ProbeState, Event]]:
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

    def _release(self, sock: SharedSocket) -> None:
        for key, s in list(self._socks.items()):
            if s is sock:
                del self._socks[key]
        self._by_fd.pop(sock.ping.fileno(), None)
        if self._epoll is not None:
            self._epoll.unregister(sock.ping.fileno())
        sock.ping.close()

    def _dispatch(self, events: Iterable[tuple[ProbeState, Event]]) -> None:
        subscribers = list(self._subscribers)
        for probe, event in events:
            if isinstance(event, ProbeFinished):
                probe.done.set()
            for callback in ([probe.on_event] if probe.on_event else []) + subscribers:
                try:
                    callback(event)
                except Exception:  # a subscriber's bug must not stop every probe
                    log.exception("ping subscriber %r failed", callback)
