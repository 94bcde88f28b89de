"""The proof on hosts read over SSH: while the probe is sent from here, the netcon on each such host captures
it on that host's predicted hops (``netcon serve --stdio``, stream ``trace_capture``: ``CaptureStream``) and
says where it saw it. Capture only: nftrace runs on the hosts read in-process. A host that cannot capture
leaves its hops "not captured: read over SSH", with a note saying why.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netcon.core.errors import NetconError
from netcon.core.trace.model import Capture, Hop, Seen
from netcon.core.trace.probe import Identity

if TYPE_CHECKING:
    from netcon.core.trace.hosts import Hosts
    from netcon.core.trace.remote import RemoteView

Sightings = dict[tuple[str | None, str, str], Seen]  # (netns, ifname, direction): the probe's first sighting
RemoteSightings = dict[str, Sightings]  # per host read over SSH, by its name in the trace
ARM_S = 10.0  # for the remote's capture sockets to open before the probe is sent
FINISH_S = 5.0  # for its sightings after the probe is done
LIMIT_S = 30.0  # a remote capture ends by itself after this, should its client never say stop


@dataclass(frozen=True)
class CaptureAsk:
    endpoints: tuple[Capture, ...]  # the hops' interfaces on that host, its namespaces' paths
    identity: Identity


@dataclass(frozen=True)
class Sighting:
    netns: str | None
    ifname: str
    direction: str
    seen: Seen


@dataclass
class Far:
    seen: RemoteSightings = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def remote_sightings(hosts: Hosts, hops: tuple[Hop, ...], identity: Identity) -> Iterator[Far]:
    """Captures armed on every host read over SSH that has hops on the path; ``seen`` is filled on exit."""
    far = Far()
    wanted: dict[str, dict[Capture, None]] = {}
    for h in hops:
        if h.over is not None and h.capture is not None:
            wanted.setdefault(h.host, {})[h.capture] = None
    running: list[_RemoteCapture] = []
    for view in hosts.remotes:
        if view.name in wanted:
            try:
                running.append(_RemoteCapture(view, CaptureAsk(tuple(wanted[view.name]), identity)))
            except NetconError as error:
                far.notes.append(f"the probe was not captured on {view.name}: {error}")
    try:
        yield far
    finally:
        for remote in running:
            try:
                far.seen[remote.view.name] = remote.finish()
            except NetconError as error:
                far.notes.append(f"the probe was not captured on {remote.view.name}: {error}")


class _RemoteCapture:
    """One host's capture stream: started and armed on construction, its sightings from ``finish``."""

    def __init__(self, view: RemoteView, ask: CaptureAsk) -> None:
        from netcon.core.hosts.codec import to_wire

        self.view = view
        self.armed, self.done = threading.Event(), threading.Event()
        self.found: tuple[Sighting, ...] = ()
        self.error: str | None = None
        self.stream = view.host.stream("trace_capture", {"ask": to_wire(ask)}, self._event)
        if not self.armed.wait(ARM_S) or self.error:
            with contextlib.suppress(NetconError):
                view.host.cancel(self.stream)
            raise NetconError(self.error or f"its capture did not start within {ARM_S:g} s")

    def _event(self, data: Any) -> None:
        from netcon.core.hosts.codec import WireError, from_wire

        if not isinstance(data, dict):
            return
        if data.get("armed"):
            self.armed.set()
        elif "seen" in data:
            try:
                self.found = from_wire(tuple[Sighting, ...], data["seen"])
            except WireError as error:
                self.error = f"its sightings could not be read: {error}"
            self.done.set()
        elif "error" in data:
            self.error = str(data["error"])
            self.armed.set()
            self.done.set()

    def finish(self) -> Sightings:
        self.view.host.cancel(self.stream)
        if not self.done.wait(FINISH_S):
            raise NetconError(f"its sightings did not come within {FINISH_S:g} s")
        if self.error:
            raise NetconError(self.error)
        return {(s.netns, s.ifname, s.direction): s.seen for s in self.found}


class CaptureStream:
    """The server's side: the probe's packets captured on ``ask``'s interfaces here until ``stop`` (or
    ``LIMIT_S``); ``send`` gets ``{"armed": true}`` once the sockets are open, then the sightings (or the
    error, one sentence)."""

    def __init__(self, ask: CaptureAsk, send: Callable[[Any], None]) -> None:
        self.ask, self.send = ask, send
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netcon-trace-capture", daemon=True)

    def start(self) -> CaptureStream:
        self._thread.start()
        return self

    def _run(self) -> None:
        from netcon.core.capture.bpf import compile_filter
        from netcon.core.capture.ring import Endpoint
        from netcon.core.capture.session import Capture as Session
        from netcon.core.hosts.codec import to_wire
        from netcon.core.trace.proof import drained, sightings

        endpoints = [Endpoint(c.ifname, c.netns, c.label) for c in self.ask.endpoints]
        packets = []
        try:
            with Session(endpoints, compile_filter(self.ask.identity.bpf)) as cap:
                self.send({"armed": True})
                deadline = time.monotonic() + LIMIT_S
                while not self._stop.is_set() and time.monotonic() < deadline:
                    packets += cap.next(0.05)
                packets += drained(cap)
        except NetconError as error:
            self.send({"error": str(error)})
            return
        outer = {(c.netns, c.ifname): c.outer for c in self.ask.endpoints}
        found = sightings(packets, outer, self.ask.identity)
        self.send({"seen": to_wire(tuple(Sighting(n, i, d, s) for (n, i, d), s in found.items()))})

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(FINISH_S)
