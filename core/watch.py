"""What tells the console that the host changed: Docker's event stream, the kernel's rtnetlink multicast
groups, and a slow periodic fallback, merged into one debounced callback.

Every source blocks in the kernel (a socket read or a condition wait), so an idle host costs no CPU. The
callback runs on the watcher's own thread with the set of reasons gathered since the last call; the
console turns it into a refresh. ``stop()`` ends every thread within a fraction of a second.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from netcon.core.context import HostContext
from netcon.core.docker_api import docker_call
from netcon.core.errors import NetconError, NetlinkFailure
from netcon.core.netlink.monitor import changes_view, open_netlink_monitor

# Docker events that change what the snapshot shows (exec, health and attach events do not).
DOCKER_EVENTS = {
    "type": ["container", "network"],
    "event": [
        "create",
        "start",
        "die",
        "destroy",
        "rename",
        "pause",
        "unpause",
        "connect",
        "disconnect",
        "remove",
        "update",
    ],
}
# The events stream gets its own client (docker_api keys clients by timeout) so that the long-lived
# streaming connection never shares a session with the snapshot's requests.
EVENTS_CLIENT_TIMEOUT = 3600

Reasons = frozenset[str]


class Watcher:
    """Calls ``on_change(reasons)`` after the host changed, at most once per ``debounce`` burst.

    Reasons are short strings: ``docker:container:start``, ``netlink``, ``docker-lost``, ``docker-back``,
    ``netlink-error: ...``, ``netlink-back``, ``periodic``, and ``live`` once, when every source is first
    connected (a remote console learns then that its host is live, not 30 s later). A burst of events is folded
    into one call fired ``debounce`` seconds after the last event, or ``max_delay`` after the first when events
    keep coming.
    ``live`` says whether every event source is connected (then nothing changes unseen).
    """

    def __init__(
        self,
        ctx: HostContext,
        on_change: Callable[[Reasons], None],
        *,
        debounce: float = 0.25,
        max_delay: float = 1.0,
        fallback: float = 30.0,
        docker: bool = True,
        netlink: bool = True,
    ) -> None:
        self.ctx = ctx
        self.on_change = on_change
        self.debounce, self.max_delay, self.fallback = debounce, max_delay, fallback
        self._sources = [s for s, on in ((self._docker_loop, docker), (self._netlink_loop, netlink)) if on]
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._pending: set[str] = set()
        self._first = self._last = 0.0
        self._threads: list[threading.Thread] = []
        self._stream: Any = None  # the Docker events stream being read, for stop() to close
        self._docker_up: bool | None = None  # None: not connected yet (or the source is off)
        self._netlink_up: bool | None = None
        self._said_live = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def start(self) -> Watcher:
        for target in (self._dispatch_loop, *self._sources):
            thread = threading.Thread(target=target, name=f"netcon-watch-{target.__name__.strip('_')}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """End the sources and the dispatcher; a second call does nothing (closing the wake pipe twice could
        close a descriptor the process has reused meanwhile)."""
        with self._cond:
            if self._stop.is_set():
                return
            self._stop.set()
        os.write(self._wake_w, b"x")
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(OSError, AttributeError):  # already closed by the daemon going away
                stream.close()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        os.close(self._wake_r)
        os.close(self._wake_w)

    @property
    def live(self) -> bool:
        """True while both event sources are on and connected: what the host shows is what it has."""
        return bool(self._docker_up and self._netlink_up) and not self._stop.is_set()

    def poke(self, reason: str) -> None:
        """Record a change; the dispatcher fires once the burst is over."""
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._last = now
            self._pending.add(reason)
            self._cond.notify()

    def _first_live(self) -> None:
        with self._cond:
            if self._said_live or not self.live:
                return
            self._said_live = True
        self.poke("live")

    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if not self._pending:
                    self._cond.wait(self.fallback)
                    if self._stop.is_set():
                        return
                    if not self._pending:
                        self._pending.add("periodic")
                        self._first = self._last = time.monotonic()
                while not self._stop.is_set():
                    due = min(self._last + self.debounce, self._first + self.max_delay)
                    remaining = due - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                reasons, self._pending = frozenset(self._pending), set()
            if not self._stop.is_set():
                self.on_change(reasons)

    def _docker_loop(self) -> None:
        backoff, connected = 1.0, None
        while not self._stop.is_set():
            try:
                stream = docker_call(
                    self.ctx,
                    "stream Docker events",
                    lambda a: a.events(decode=True, filters=DOCKER_EVENTS),
                    timeout=EVENTS_CLIENT_TIMEOUT,
                )
            except NetconError:
                self._docker_up = False
                if connected is not False:
                    self.poke("docker-lost")
                connected = False
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self._stream = stream
            if self._stop.is_set():  # stop() ran while we were connecting and saw no stream to close
                stream.close()
                return
            self._docker_up = True
            self._first_live()
            if connected is False:
                self.poke("docker-back")
            connected, backoff = True, 1.0
            try:
                for event in stream:
                    if self._stop.is_set():
                        break
                    self.poke(f"docker:{event.get('Type')}:{event.get('Action')}")
            except (requests.RequestException, ValueError, OSError):
                pass  # the daemon went away mid-stream; reconnect below
            finally:
                self._stream = None
                stream.close()
            if not self._stop.is_set():
                self._docker_up = False
                self.poke("docker-lost")
                connected = False
                self._stop.wait(backoff)

    def _netlink_loop(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                sock = open_netlink_monitor(self.ctx.netns)
            except NetlinkFailure as error:
                self._netlink_up = False
                self.poke(f"netlink-error: {error}")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if self._netlink_up is False:
                self.poke("netlink-back")
            self._netlink_up, backoff = True, 1.0
            self._first_live()
            try:
                self._read_netlink(sock)
            finally:
                sock.close()

    def _read_netlink(self, sock: socket.socket) -> None:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while not self._stop.is_set():
            poller.poll()
            if self._stop.is_set():
                return
            changed = False
            while True:  # drain; only whether something netcon shows changed matters
                try:
                    changed = changes_view(sock.recv(65536)) or changed
                except BlockingIOError:
                    break
                except OSError as error:
                    if error.errno == errno.ENOBUFS:  # we fell behind; a full refresh covers it
                        changed = True
                        continue
                    self._netlink_up = False
                    self.poke(f"netlink-error: {error.strerror}")
                    return
            if changed:
                self.poke("netlink")
