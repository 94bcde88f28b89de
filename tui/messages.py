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
    """The watcher saw Docker events, netlink changes, or its periodic fallback fired; ``host`` names the host
    (None: the current one). A remote host's connection going or coming back is ``LOST``/``BACK``."""

    def __init__(self, reasons: frozenset[str], host: str | None = None) -> None:
        super().__init__()
        self.reasons = reasons
        self.host = host


class ProbeRequested(Message):
    """Start a probe from ``source`` to ``target`` (an address, or a name resolved from the source) and show
    the Ping pane; ``name``: ``target`` is the address listed for the container ``name``."""

    def __init__(self, source: str, target: str, name: str = "") -> None:
        super().__init__()
        self.source, self.target, self.name = source, target, name


class EtcdStatus(Message):
    """What the header says about etcd (``etcd: <endpoint> up``, ``... unreachable``, ``not configured``)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
