"""A capture that runs on its own thread and hands its frames over in batches: how a host captures for a
caller that is not reading it directly (``LocalHost.start_capture``, and through it the netcon serving another
machine over SSH). The frames stay raw; the caller decodes them.

The thread reads the capture (``session.Capture``), keeps to the byte cap on top of the capture's own packet
cap, and calls ``on_batch`` at most ``BATCH_S`` apart (and every ``IDLE_S`` with only the statistics, so a
caller sees the kernel's counts move while nothing passes the filter). ``stop`` ends it: the frames the kernel
had taken, then one ``final`` batch, are handed over before it returns; every socket is closed.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from netcon.core.capture.bpf import compile_filter
from netcon.core.capture.ring import Endpoint
from netcon.core.capture.session import Capture, CaptureStats, Limits, RawRecord
from netcon.core.capture.targets import resolve_all
from netcon.core.errors import NetconError, UsageError
from netcon.core.hosts.captures import FrameBatch
from netcon.core.validate import values

if TYPE_CHECKING:
    from netcon.core.context import HostContext
    from netcon.core.hosts.captures import CaptureRequest, OnBatch
    from netcon.core.model import Snapshot

BATCH_S = 0.1
BATCH_BYTES = 256 << 10  # frames per batch at most (one GSO frame may exceed it alone): one line over SSH stays
# far below asyncssh's 2 MiB receive window, which a longer line would break
IDLE_S = 1.0
STOP_S = 5.0
MAX_TARGETS = 64
MAX_PPS = 10**7
MAX_RING_MB = 1024


def open_capture(ctx: HostContext, snapshot: Snapshot, request: CaptureRequest) -> Capture:
    """``request``'s targets resolved on this host, its filter compiled here, the sockets open; a value out of
    range (it may come from another machine) is refused with one sentence."""
    if not request.targets or len(request.targets) > MAX_TARGETS:
        raise UsageError(f"A capture takes 1 to {MAX_TARGETS} targets, not {len(request.targets)}.", target="targets")
    targets = [values.text(t, "target", "Capture target") for t in request.targets]
    program = None if request.filter is None else compile_filter(values.text(request.filter, "filter", "Filter"))
    limits = Limits(
        max_pps=None
        if request.max_pps is None
        else values.integer(request.max_pps, "max_pps", "--max-pps", 1, MAX_PPS),
        ring_mb=values.integer(request.ring_mb, "ring_mb", "--ring-mb", 1, MAX_RING_MB),
    )
    if request.max_bytes is not None:
        values.integer(request.max_bytes, "max_bytes", "The byte cap", 1, 1 << 40)
    return Capture(resolve_all(ctx, snapshot, targets), program, limits).open()


class CaptureRunner:
    """``capture`` (open) read on a thread of its own, its frames handed to ``on_batch``."""

    def __init__(self, capture: Capture, on_batch: OnBatch, max_bytes: int | None = None) -> None:
        self.capture, self.on_batch, self.max_bytes = capture, on_batch, max_bytes
        self._second = 0
        self._bytes = 0
        self.byte_capped = 0
        self._thread = threading.Thread(target=self._run, name="netcon-capture", daemon=True)

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return self.capture.endpoints

    def start(self) -> CaptureRunner:
        self._thread.start()
        return self

    def _run(self) -> None:
        capture, error = self.capture, None
        pending: list[RawRecord] = []
        posted = time.monotonic()
        try:
            while not capture.stopped:
                pending += self._cap(capture.next_raw(BATCH_S))
                now = time.monotonic()
                if (pending and now - posted >= BATCH_S) or now - posted >= IDLE_S:
                    self._hand_over(pending, self.statistics())
                    pending, posted = [], now
            pending += self._cap(capture.drain())
        except (NetconError, OSError) as failure:
            error = str(failure)
        finally:
            stats = self.statistics()
            capture.close()
            self._hand_over(pending, stats, final=True, error=error)

    def _hand_over(
        self, records: list[RawRecord], stats: CaptureStats, final: bool = False, error: str | None = None
    ) -> None:
        """``records`` in batches of at most ``BATCH_BYTES`` bytes of frames (the last one ``final`` if asked)."""
        chunks: list[list[RawRecord]] = [[]]
        size = 0
        for record in records:
            if chunks[-1] and size + len(record[4]) > BATCH_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append(record)
            size += len(record[4])
        for chunk in chunks[:-1]:
            self.on_batch(FrameBatch(tuple(chunk), stats))
        self.on_batch(FrameBatch(tuple(chunks[-1]), stats, final=final, error=error))

    def _cap(self, records: list[RawRecord]) -> list[RawRecord]:
        """At most ``max_bytes`` bytes of frames a second; the rest counted as capped."""
        if self.max_bytes is None or not records:
            return records
        second = int(time.monotonic())
        if second != self._second:
            self._second, self._bytes = second, 0
        kept = []
        for record in records:
            size = len(record[4])
            if self._bytes + size > self.max_bytes:
                self.byte_capped += 1
                continue
            self._bytes += size
            kept.append(record)
        return kept

    def statistics(self) -> CaptureStats:
        stats = self.capture.statistics()
        return CaptureStats(stats.interfaces, stats.delivered - self.byte_capped, stats.capped + self.byte_capped)

    def stop(self) -> None:
        """End the capture; its last batch has been handed over when this returns (any thread but its own)."""
        self.capture.stop()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(STOP_S)
