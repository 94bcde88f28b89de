"""``netcon serve --stdio``: this host's reads for a netcon on another machine, over the SSH session that
started it (stdin and stdout; nothing listens on the network). See ``protocol`` for the wire format.

Requests run on a few worker threads, so a slow doctor run never holds up a snapshot or the change events;
answers are written whole, one line each, under one lock. End of stdin (the SSH session closed) stops every
stream and returns. Read-only is the server's own: ``netcon --read-only serve --stdio`` refuses every change
here, in the core, and audits the refusal in this host's log.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from typing import Any, BinaryIO

from netcon.core.audit import current_user
from netcon.core.errors import NetconError
from netcon.core.hosts import protocol
from netcon.core.hosts.base import Subscription
from netcon.core.hosts.codec import WireError, decode, to_wire
from netcon.core.hosts.local import LocalHost
from netcon.core.hosts.probes import ProbeRequest

WORKERS = 4


def version() -> str:
    try:
        return metadata.version("netcon")
    except metadata.PackageNotFoundError:
        return "unknown"


class StdioServer:
    """Serves ``host`` on ``reader``/``writer`` (binary streams) until the reader ends."""

    def __init__(self, host: LocalHost, reader: BinaryIO, writer: BinaryIO) -> None:
        self.host, self.reader, self.writer = host, reader, writer
        self._write_lock = threading.Lock()
        self._streams: dict[int, Subscription] = {}
        self._probes: dict[int, int] = {}  # stream id -> probe id
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="netcon-serve")
        self._closed = False
        self._stopping = threading.Event()  # set when the session ends: a trace in flight stops waiting

    def send(self, message: dict[str, Any]) -> None:
        data = protocol.line(message)
        with self._write_lock:
            if self._closed:
                return
            try:
                self.writer.write(data)
                self.writer.flush()
            except (OSError, ValueError):  # the client went away: the reader sees the end next
                self._closed = True

    def serve(self) -> None:
        self.send(protocol.hello(socket.gethostname(), version(), self.host.read_only, current_user()))
        try:
            while True:
                raw = self.reader.readline(protocol.MAX_LINE)
                if not raw:
                    return
                self._dispatch(raw)
        finally:
            self._close()

    def _dispatch(self, raw: bytes) -> None:
        ident: int | None = None
        try:
            message = json.loads(raw)
            if not isinstance(message, dict) or not isinstance(message.get("id"), int):
                raise ValueError("not a request object with an integer id")
            ident = message["id"]
            op, args = message.get("op"), message.get("args") or {}
            if op not in protocol.RESULTS:  # a newer client's operation: answered at once, not left waiting
                raise ValueError(f"operation {op!r} is not served by netcon {version()} here (install this one)")
            if not isinstance(args, dict):
                raise ValueError(f"the arguments of {op} are not an object")
        except ValueError as error:
            self.send({"id": ident, "error": {"kind": "ProtocolError", "message": f"Bad request: {error}."}})
            return
        assert ident is not None
        if op == "cancel":
            self._cancel(args.get("stream"))
            self.send({"id": ident, "result": None})
            return
        self._pool.submit(self._answer, ident, op, args)

    def _answer(self, ident: int, op: str, args: dict[str, Any]) -> None:
        try:
            result = self._run(ident, op, args)
        except NetconError as error:
            self.send({"id": ident, "error": error_of(error)})
        except Exception as error:  # a bug here must not end the session: the client gets its sentence
            self.send({"id": ident, "error": {"kind": type(error).__name__, "message": f"Internal error: {error!r}."}})
        else:
            self.send({"id": ident, "result": to_wire(result)})

    def _run(self, ident: int, op: str, args: dict[str, Any]) -> Any:
        host = self.host
        reads: dict[str, Callable[[], Any]] = {
            "snapshot": host.snapshot,
            "ports": host.ports,
            "counters": host.counters,
            "leases": host.leases,
            "doctor": host.doctor,
            "facts": host.facts,
            "subnet_env": host.subnet_env,
            "ping": lambda: None,
        }
        if op in reads:
            return reads[op]()
        if op == "ancestry":
            return host.ancestry(int(args["pid"]))
        if op == "vxlan":
            return host.vxlan(str(args["ifname"]))
        if op == "change":
            return host.change(str(args["operation"]), dict(args.get("arguments") or {}))
        if op == "stop_probe":
            return host.stop_probe(int(args["probe"]))
        if op == "watch":
            return self._watch(ident)
        if op == "probe":
            return self._probe(ident, args)
        if op == "trace_walk":
            return self._trace_walk(args)
        if op == "trace_capture":
            return self._trace_capture(ident, args)
        if op == "trace":
            return self._trace(args)
        if op == "capture":
            return self._capture(ident, args)
        raise NetconError(f"Operation {op} is not served.")

    def _watch(self, ident: int) -> None:
        def changed(reasons: frozenset[str]) -> None:
            self.send({"id": ident, "event": {"reasons": sorted(reasons), "live": self.host.live}})

        with self._lock:
            self._streams[ident] = self.host.watch(changed)
        self.send({"id": ident, "event": {"reasons": ["watching"], "live": self.host.live}})

    def _probe(self, ident: int, args: dict[str, Any]) -> Any:
        try:
            request = decode(ProbeRequest, args.get("request"))
        except WireError as error:
            raise NetconError(f"Bad probe request: {error}") from None

        def forward(summary: Any) -> None:
            self.send({"id": ident, "event": to_wire(summary)})

        def reply(echo: Any) -> None:  # ping's line for one echo; an older client skips it as unreadable
            self.send({"id": ident, "event": {"reply": to_wire(echo)}})

        started = self.host.start_probe(request, forward, reply)
        with self._lock:
            self._probes[ident] = started.probe
        return started

    def _trace_walk(self, args: dict[str, Any]) -> Any:
        """This host's part of a trace walked here, from its own kernel state (``trace.remote.serve_leg``)."""
        from netcon.core.trace.legs import Leg
        from netcon.core.trace.remote import serve_leg

        try:
            leg = decode(Leg, args.get("leg"))
        except WireError as error:
            raise NetconError(f"Bad trace request: {error}") from None
        return serve_leg(self.host.ctx, leg)

    def _trace(self, args: dict[str, Any]) -> Any:
        """A whole trace run here (the console's Trace pane on this host); ended early when the session ends."""
        from netcon.core.trace.model import TraceAsk

        try:
            ask = decode(TraceAsk, args.get("ask"))
        except WireError as error:
            raise NetconError(f"Bad trace request: {error}") from None
        return self.host.trace(ask, self._stopping)

    def _trace_capture(self, ident: int, args: dict[str, Any]) -> None:
        """A trace's probe captured on this host's hops until cancelled (``trace.remote_proof``)."""
        from netcon.core.trace.remote_proof import CaptureAsk, CaptureStream

        try:
            ask = decode(CaptureAsk, args.get("ask"))
        except WireError as error:
            raise NetconError(f"Bad capture request: {error}") from None
        stream = CaptureStream(ask, lambda event: self.send({"id": ident, "event": event}))
        with self._lock:
            self._streams[ident] = stream
        stream.start()

    def _capture(self, ident: int, args: dict[str, Any]) -> Any:
        """Packets captured on this host, sent back as raw frames in batches (within ``captures.bounded``)
        until cancelled; the last batch is sent before the stream's end."""
        from netcon.core.hosts.captures import CaptureRequest, CaptureSubscription, bounded

        try:
            request = decode(CaptureRequest, args.get("request"))
        except WireError as error:
            raise NetconError(f"Bad capture request: {error}") from None
        started = self.host.start_capture(
            bounded(request), lambda batch: self.send({"id": ident, "event": to_wire(batch)})
        )
        with self._lock:
            self._streams[ident] = CaptureSubscription(self.host, started.capture)
        return started

    def _cancel(self, stream: object) -> None:
        if not isinstance(stream, int):
            return
        with self._lock:
            subscription = self._streams.pop(stream, None)
            probe = self._probes.pop(stream, None)
        if subscription is not None:
            subscription.stop()
        if probe is not None:
            with contextlib.suppress(NetconError):  # already finished
                self.host.stop_probe(probe)
        self.send({"id": stream, "end": True})

    def _close(self) -> None:
        """End of input: stop the streams, let the requests in flight answer (a client that half-closed still
        reads them), then release the host."""
        self._stopping.set()
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
        for subscription in streams:
            subscription.stop()
        self._pool.shutdown(wait=True)
        with self._write_lock:
            self._closed = True
        self.host.close()


def error_of(error: NetconError) -> dict[str, Any]:
    return {"kind": type(error).__name__, "message": str(error), "exit_code": error.exit_code}
