"""What both etcd clients return and share: key-values, watch events, a watch queue and endpoint failover.

Callers stay synchronous; every failure leaves as a ``NetconError`` naming the endpoint and the request.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from netcon.core.errors import EtcdUnavailable, NetconError
from netcon.core.etcd.options import EtcdOptions

T = TypeVar("T")


@dataclass(frozen=True)
class KeyValue:
    """One key as read; ``expires_at`` (epoch seconds) is None for a key without TTL or lease."""

    key: str
    value: str
    expires_at: float | None = None
    revision: int = 0  # v3 mod_revision, v2 modifiedIndex
    lease_id: int = 0  # v3 only


@dataclass(frozen=True)
class Listing:
    """A prefix listing and the store revision (v3) or index (v2) it was read at, to watch from."""

    items: tuple[KeyValue, ...]
    revision: int


@dataclass(frozen=True)
class WatchEvent:
    kind: str  # "put" or "delete"
    key: str
    value: str = ""
    expires_at: float | None = None
    revision: int = 0


class WatchReset(NetconError):
    """The watch fell behind etcd's history window; list again and watch from the new revision."""


class EndpointDown(Exception):
    """Internal: one endpoint did not answer; the caller tries the next one."""


class Watch:
    """Events of a prefix watch, delivered by a background producer into a queue."""

    def __init__(self, cancel: Callable[[], None] | None = None) -> None:
        self._queue: queue.Queue[list[WatchEvent] | BaseException] = queue.Queue()
        self._cancel = cancel
        self.closed = threading.Event()

    def push(self, item: list[WatchEvent] | BaseException) -> None:
        self._queue.put(item)

    def next(self, timeout: float | None = None) -> list[WatchEvent]:
        """The next batch of events, [] after ``timeout``; raises the producer's error once it failed."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return []
        if isinstance(item, BaseException):
            self.close()
            raise item
        return item

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            if self._cancel:
                self._cancel()


def plain_reason(text: str) -> str:
    """Short, readable reason from a socket or gRPC error text."""
    lowered = text.lower()
    for needle, reason in (
        ("failed parsing http/2", "it answers, but not with gRPC (not an etcd client URL)"),
        ("not with http", "it answers, but not with HTTP (not an etcd client URL)"),
        ("connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("deadline exceeded", "timed out"),
        ("no route to host", "no route to host"),
        ("name or service not known", "unknown host"),
        ("certificate", "TLS certificate rejected"),
        ("ssl", "TLS handshake failed"),
        ("handshake", "TLS handshake failed"),
        ("security handshaker", "TLS handshake failed"),
    ):
        if needle in lowered:
            return reason
    return text.strip().splitlines()[0].rstrip(".") if text.strip() else "no answer"


class Failover:
    """Endpoint rotation: stick to the endpoint that last answered, move on when it does not."""

    def __init__(self, options: EtcdOptions) -> None:
        self.options = options
        self._current = 0
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return self.options.endpoints[self._current]

    def call(self, what: str, fn: Callable[[str], T]) -> T:
        endpoints = self.options.endpoints
        start = self._current
        reasons = []
        for step in range(len(endpoints)):
            index = (start + step) % len(endpoints)
            try:
                result = fn(endpoints[index])
            except EndpointDown as down:
                reasons.append(f"{endpoints[index]}: {plain_reason(str(down))}")
                continue
            if index != self._current:
                with self._lock:
                    self._current = index
            return result
        raise EtcdUnavailable(f"No etcd endpoint answered ({what}): {'; '.join(reasons)}.", target=",".join(endpoints))
