"""A capture asked of a host (``Host.start_capture``), what starting it returns, the batches of raw frames it
hands back, and ``HostCapture``, which reads such a stream as a local ``capture.session.Capture`` is read, so the
CLI and the Capture pane decode, tally and save a remote host's packets with the same code as their own.

The host resolves the targets and compiles the filter itself; frames travel raw (with their time, interface
and direction), never decoded there. Over SSH the stream is bounded by the host that captures (``bounded``):
at most ``REMOTE_MAX_PPS`` packets and ``REMOTE_MAX_BYTES`` bytes of frames a second, in at most ten batches a
second; packets over it are counted (``CaptureStats.capped``) like those over ``--max-pps``, never hidden, so
a busy interface cannot flood the SSH channel.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netcon.core.capture.ring import DEFAULT_RING_MB, Endpoint
from netcon.core.capture.session import CaptureStats, InterfaceStats, Packet, RawRecord
from netcon.core.errors import NetconError

if TYPE_CHECKING:
    from netcon.core.hosts.base import Host

REMOTE_MAX_PPS = 2000  # packets a second a host read over SSH sends back
REMOTE_MAX_BYTES = 1 << 20  # bytes of frames a second it sends back (hex on the wire: twice that)
STOP_S = 10.0  # for the host to say the capture stopped, before the stream is given up


@dataclass(frozen=True)
class CaptureRequest:
    """Capture on ``targets`` (as ``netcon capture`` takes them, resolved on the host) with ``filter`` (tcpdump
    syntax, compiled on the host); ``max_pps``/``max_bytes`` cap what is handed back each second."""

    targets: tuple[str, ...]
    filter: str | None = None
    max_pps: int | None = None
    max_bytes: int | None = None
    ring_mb: int = DEFAULT_RING_MB


@dataclass(frozen=True)
class CaptureStarted:
    """The capture's id on the host (what ``stop_capture`` takes), the interfaces it opened there (a record's
    index names one), and the caps it applies."""

    capture: int
    endpoints: tuple[Endpoint, ...]
    expression: str | None
    max_pps: int | None
    max_bytes: int | None


@dataclass(frozen=True)
class FrameBatch:
    """Frames captured since the last batch, in time order, and the statistics so far. The last batch of a
    capture says ``final`` (and ``error``, one sentence, when it ended by itself)."""

    records: tuple[RawRecord, ...]
    stats: CaptureStats
    final: bool = False
    error: str | None = None


OnBatch = Callable[[FrameBatch], None]


def bounded(request: CaptureRequest) -> CaptureRequest:
    """``request`` within what one SSH channel carries (a lower cap the client asked for is kept)."""
    return dataclasses.replace(
        request,
        max_pps=REMOTE_MAX_PPS if request.max_pps is None else min(request.max_pps, REMOTE_MAX_PPS),
        max_bytes=REMOTE_MAX_BYTES if request.max_bytes is None else min(request.max_bytes, REMOTE_MAX_BYTES),
    )


def no_stats(endpoints: tuple[Endpoint, ...]) -> CaptureStats:
    return CaptureStats(tuple(InterfaceStats(e, 0, 0) for e in endpoints), 0, 0)


class CaptureSubscription:
    """The server's handle on a capture it streams: ``stop`` ends it on the host (its last batch is sent
    before this returns)."""

    def __init__(self, host: Host, capture: int) -> None:
        self.host, self.capture = host, capture

    def stop(self) -> None:
        with contextlib.suppress(NetconError):  # ended already
            self.host.stop_capture(self.capture)


class HostCapture:
    """A capture running on ``host``, read like ``capture.session.Capture``: ``next_raw``/``next`` wait for the
    frames it sent, ``stop`` wakes the reader (any thread), ``drain`` stops it there and gives the last frames,
    ``close`` stops it there if still running. A lost connection ends the reading with ``HostUnreachable``."""

    def __init__(self, host: Host, request: CaptureRequest) -> None:
        self.host, self.request = host, request
        self.started: CaptureStarted | None = None
        self.endpoints: tuple[Endpoint, ...] = ()
        self._records: collections.deque[RawRecord] = collections.deque()
        self._ready = threading.Condition()
        self._stats: CaptureStats | None = None
        self._final = False
        self._error: str | None = None
        self._stopped = False
        self._ended_there = False

    def open(self) -> HostCapture:
        self.started = self.host.start_capture(self.request, self._batch)
        self.endpoints = self.started.endpoints
        return self

    def __enter__(self) -> HostCapture:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _batch(self, batch: FrameBatch) -> None:
        """On the host's thread: queue the frames for the reader."""
        with self._ready:
            self._records.extend(batch.records)
            self._stats = batch.stats
            if batch.final:
                self._final, self._error = True, batch.error
            self._ready.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped or (self._final and not self._records)

    def next_raw(self, timeout: float, keep: bool = True) -> list[RawRecord]:
        """The frames that arrived, waiting up to ``timeout`` seconds for some; empty after ``stop``."""
        with self._ready:
            if not self._records and not self._stopped and not self._final:
                self._ready.wait(timeout)
            if self._stopped:
                return []
            records = list(self._records)
            self._records.clear()
            final, error = self._final, self._error
        if not records:
            if final and error:
                raise NetconError(f"{self.host.name}: the capture ended: {error}")
            if not final and not getattr(self.host, "connected", True):
                from netcon.core.hosts.base import HostUnreachable

                why = getattr(self.host, "reason", None)
                raise HostUnreachable(
                    f"{self.host.target}: the connection ended during the capture" + (f" ({why})." if why else ".")
                )
        return records if keep else []

    def next(self, timeout: float) -> list[Packet]:
        return [
            Packet(sec * 1_000_000_000 + nsec, self.endpoints[i], wire, data, out)
            for i, sec, nsec, wire, data, out in self.next_raw(timeout)
        ]

    def drain(self) -> list[RawRecord]:
        """Stop the capture on the host and return the frames it sent up to its end."""
        self._end_there()
        with self._ready:
            records = list(self._records)
            self._records.clear()
        return records

    def statistics(self) -> CaptureStats:
        return self._stats or no_stats(self.endpoints)

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify_all()

    def close(self) -> None:
        self._end_there()
        self.stop()

    def _end_there(self) -> None:
        if self.started is None or self._ended_there:
            return
        self._ended_there = True
        if self._final or not getattr(self.host, "connected", True):
            return  # ended by itself, or the connection is gone (the host's netcon ended it then)
        with contextlib.suppress(NetconError):
            self.host.stop_capture(self.started.capture)
