"""What the Capture pane's worker sends the pane, and the settings it captures with.

The worker resolves the targets, opens the capture, decodes every packet (so the UI thread only adds rows),
keeps the per-flow tally, and posts batches at most ten times a second; the pane keeps the last packets.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from netcon.core.capture.flows import DEFAULT_KEEP, Flow
from netcon.core.capture.layers import Layer
from netcon.core.capture.ring import Endpoint
from netcon.core.capture.session import CaptureStats, Packet

BATCH_S = 0.1  # at most ten batches a second reach the UI thread
MAX_FLOWS = 200  # flows shown (most bytes first); the tally itself keeps all


@dataclass(frozen=True)
class CaptureSettings:
    """The console's caps: packets per second handed over (the rest counted), packets kept in memory for the
    list and for saving (older ones forgotten), and how many packets end a capture by themselves."""

    max_pps: int = 1000
    keep: int = DEFAULT_KEEP
    stop_after: int = 100_000


@dataclass(frozen=True)
class Seen:
    """A captured packet with its decoding, done on the worker."""

    packet: Packet
    layers: tuple[Layer, ...]
    summary: str


class CaptureMessage(Message):
    """From the worker of capture number ``generation`` (a newer capture's pane ignores an older one's)."""

    def __init__(self, generation: int) -> None:
        super().__init__()
        self.generation = generation


class CaptureStarted(CaptureMessage):
    def __init__(self, generation: int, endpoints: tuple[Endpoint, ...], expression: str | None) -> None:
        super().__init__(generation)
        self.endpoints = endpoints
        self.expression = expression


class CaptureBatch(CaptureMessage):
    def __init__(self, generation: int, seen: tuple[Seen, ...], stats: CaptureStats, flows: tuple[Flow, ...]) -> None:
        super().__init__(generation)
        self.seen = seen
        self.stats = stats
        self.flows = flows


class CaptureEnded(CaptureMessage):
    """The capture is closed (asked to stop, its cap reached, or the worker was cancelled)."""

    def __init__(self, generation: int, stats: CaptureStats | None, reason: str) -> None:
        super().__init__(generation)
        self.stats = stats
        self.reason = reason


class CaptureFailed(CaptureMessage):
    """The targets could not be resolved or opened; nothing was left open."""

    def __init__(self, generation: int, error: str) -> None:
        super().__init__(generation)
        self.error = error
