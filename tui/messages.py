"""Messages from the console's worker threads to the UI thread ("attributes down, messages up")."""

from __future__ import annotations

from textual.message import Message

from netcon.core.model import Snapshot


class SnapshotReady(Message):
    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class SnapshotFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class HostChanged(Message):
    """The watcher saw Docker events, netlink changes, or its periodic fallback fired."""

    def __init__(self, reasons: frozenset[str]) -> None:
        super().__init__()
        self.reasons = reasons
