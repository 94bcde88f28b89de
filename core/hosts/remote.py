"""A host on another machine, read by the netcon there (``netcon serve --stdio`` over SSH), behind the same
interface as a local one (``base.Host``).

Calls block the calling thread (a console worker, the CLI) until the answer arrives; the SSH side runs on the
shared asyncio loop. A console ``watch``es its hosts: that keeps a connection up by itself, reconnecting with
backoff (1 s doubling to ``MAX_BACKOFF``) after a loss and reporting ``LOST``/``BACK`` as change reasons; while a
host is down, calls fail at once with the sentence of why (``HostUnreachable``), so other hosts never wait on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import inspect
import itertools
import threading
import time
import typing
from collections.abc import Callable
from typing import Any

from netcon.core.aioloop import LoopThread
from netcon.core.doctor.findings import Report
from netcon.core.errors import NetconError, NotFound, PermissionDenied, ReadOnlyError, UsageError
from netcon.core.flannel.registry import LeaseListing
from netcon.core.flannel.subnet_file import SubnetEnv
from netcon.core.flannel.vxlan import VxlanState
from netcon.core.host_facts import HostFacts
from netcon.core.hosts import protocol
from netcon.core.hosts.base import BACK, LOST, EtcdAccess, HostUnreachable, Reasons
from netcon.core.hosts.captures import CaptureRequest, CaptureStarted, OnBatch
from netcon.core.hosts.codec import WireError, decode, from_wire, to_wire
from netcon.core.hosts.probes import ProbeRequest, ProbeStarted
from netcon.core.hosts.session import Session, open_session
from netcon.core.hosts.ssh import SshSettings
from netcon.core.hosts.target import SshTarget
from netcon.core.model import Counters, Snapshot
from netcon.core.ping.probe import ProbeSummary, Reply
from netcon.core.ports.model import PortsView
from netcon.core.procfs import ProcessInfo
from netcon.core.trace.model import Trace, TraceAsk

REQUEST_TIMEOUT = 60.0  # a doctor run on a big host; a lost connection fails requests at once anyway
MAX_BACKOFF = 8.0
ERRORS: dict[str, type[NetconError]] = {
    "UsageError": UsageError,
    "ReadOnlyError": ReadOnlyError,
    "NotFound": NotFound,
    "PermissionDenied": PermissionDenied,
}
# The etcd a remote host reads flannel from: where and which API. Its TLS files and password are its own (paths
# here mean nothing there, and a password on a command line is visible to every user there).
ETCD_FLAGS = {"endpoints": "--etcd-endpoints", "api": "--etcd-api"}


def version() -> str:
    from netcon.core.hosts.server import version as own

    return own()


class RemoteHost:
    """``target`` reached over SSH with ``settings``; ``netcon`` is the command that runs netcon there."""

    def __init__(
        self,
        target: SshTarget,
        name: str | None = None,
        settings: SshSettings | None = None,
        read_only: bool = False,
        etcd: EtcdAccess | None = None,
        netcon: str = "netcon",
    ) -> None:
        self.ssh_target = target
        self.name = name or target.host
        self.target = str(target)
        self.settings = settings or SshSettings()
        self.read_only = read_only
        self.etcd = etcd or EtcdAccess()
        self.netcon = netcon
        self.address: str | None = None
        self._session: Session | None = None
        self._error: str | None = None  # why the host is not connected, after a failed attempt
        self.down_since: float | None = None
        self._remote_live = False
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._supervisor: concurrent.futures.Future[None] | None = None
        self._closed = False

    # -- connection ---------------------------------------------------------------------------------------

    def argv(self) -> list[str]:
        """What runs there: the remote netcon in machine-to-machine mode, read-only when this one is, with the
        etcd this host reads flannel's store from."""
        argv = [self.netcon, *(["--read-only"] if self.read_only else []), "serve", "--stdio"]
        options = self.etcd.options
        if options is not None:
            for field, flag in ETCD_FLAGS.items():
                value = getattr(options, field, None)
                if value and value != "auto":
                    argv += [flag, ",".join(value) if isinstance(value, tuple) else str(value)]
        if self.etcd.prefix:
            argv += ["--etcd-prefix", self.etcd.prefix]
        return argv

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def reason(self) -> str | None:
        """Why the host is not connected: how the last session ended, or why the last attempt failed."""
        session = self._session
        if session is not None and session.closed.is_set():
            return session.reason
        return self._error

    @property
    def connected(self) -> bool:
        session = self._session
        return session is not None and not session.closed.is_set()

    @property
    def live(self) -> bool:
        return self.connected and self._remote_live

    @property
    def hello(self) -> dict[str, Any]:
        session = self._session
        return session.hello if session is not None else {}

    def connect(self, timeout: float = 30.0) -> None:
        """Connect now (the CLI's way); ``HostUnreachable`` naming the host and the cause."""
        if self.connected:
            return
        future = LoopThread.submit(self._open())
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise HostUnreachable(f"{self.target}: no answer within {timeout:g} s.") from None

    async def _open(self) -> Session:
        try:
            session = await open_session(self.ssh_target, self.settings, self.argv(), version())
        except HostUnreachable as error:
            self._lost(str(error))
            raise
        if self.read_only and not session.hello.get("read_only"):
            session.close()
            raise HostUnreachable(f"{self.target}: the remote netcon did not start read-only; nothing is read there.")
        if self._closed:
            session.close()
            raise HostUnreachable(f"{self.target}: closed.")
        self._session, self._error, self.down_since = session, None, None
        return session

    def _lost(self, reason: str) -> None:
        self._error = reason
        if self.down_since is None:
            self.down_since = time.time()

    # -- requests -----------------------------------------------------------------------------------------

    def _live_session(self) -> Session:
        session = self._session
        if session is not None and not session.closed.is_set():
            return session
        if self._supervisor is not None:  # a console keeps it connected: fail fast while it is down
            raise HostUnreachable(self._error or f"{self.target}: connecting…")
        self.connect()
        session = self._session
        assert session is not None
        return session

    def request(self, op: str, args: dict[str, Any] | None = None, timeout: float = REQUEST_TIMEOUT) -> Any:
        session = self._live_session()
        ident, future = self._send(session, op, args or {})
        try:
            message = future.result(timeout)
        except concurrent.futures.TimeoutError:
            with session.lock:
                session.pending.pop(ident, None)
            raise HostUnreachable(f"{self.target}: no answer to {op} within {timeout:g} s.") from None
        return self._result(op, message)

    def _send(
        self, session: Session, op: str, args: dict[str, Any], on_event: Callable[[Any], None] | None = None
    ) -> tuple[int, concurrent.futures.Future[Any]]:
        ident = next(self._ids)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with session.lock:
            session.pending[ident] = future
            if on_event is not None:
                session.streams[ident] = on_event
        data = protocol.line({"id": ident, "op": op, "args": args})
        LoopThread.loop().call_soon_threadsafe(session.send, data)
        if session.closed.is_set():
            raise HostUnreachable(f"{self.target}: {session.reason}.")
        return ident, future

    def _result(self, op: str, message: dict[str, Any]) -> Any:
        if "error" in message:
            error = message["error"] or {}
            kind = ERRORS.get(str(error.get("kind")), NetconError)
            raise kind(f"{self.name}: {error.get('message')}")
        try:
            return from_wire(protocol.RESULTS[op], message.get("result"))
        except WireError as error:
            raise HostUnreachable(f"{self.target} answered {op} with data this netcon cannot read: {error}") from None

    # -- the host interface -------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        result: Snapshot = self.request("snapshot")
        return result

    def ports(self, snapshot: Snapshot | None = None) -> PortsView:
        result: PortsView = self.request("ports")
        return result

    def ancestry(self, pid: int) -> tuple[ProcessInfo, ...]:
        result: tuple[ProcessInfo, ...] = self.request("ancestry", {"pid": pid})
        return result

    def counters(self) -> dict[int, Counters]:
        result: dict[int, Counters] = self.request("counters")
        return result

    def leases(self) -> LeaseListing:
        result: LeaseListing = self.request("leases")
        return result

    def vxlan(self, ifname: str) -> VxlanState:
        result: VxlanState = self.request("vxlan", {"ifname": ifname})
        return result

    def subnet_env(self) -> SubnetEnv | None:
        """The host's own subnet.env, read there (None: it has none)."""
        result: SubnetEnv | None = self.request("subnet_env")
        return result

    def doctor(self) -> Report:
        result: Report = self.request("doctor")
        return result

    def facts(self) -> HostFacts:
        result: HostFacts = self.request("facts")
        return result

    def change(self, operation: str, arguments: dict[str, Any]) -> Any:
        """The change done there, its result decoded as the core operation's own return type."""
        from netcon.core.operations import mutating_operations

        function = mutating_operations().get(operation)
        if function is None:
            raise UsageError(f"{operation!r} is not a change netcon knows.", target="operation")
        raw = self.request("change", {"operation": operation, "arguments": to_wire(arguments)})
        hint = typing.get_type_hints(inspect.unwrap(function)).get("return", Any)
        try:
            return from_wire(hint, to_wire(raw))
        except WireError as error:
            raise HostUnreachable(
                f"{self.target} answered {operation} with data this netcon cannot read: {error}"
            ) from None

    def round_trip_ms(self) -> float:
        """One empty request: what the console waits on this host for, beyond the work itself."""
        started = time.perf_counter()
        self.request("ping", timeout=10.0)
        return (time.perf_counter() - started) * 1000

    def trace(self, ask: TraceAsk, stop: threading.Event | None = None) -> Trace:
        """The trace run by the netcon there, from its own kernel state; its hops are labelled with this host's
        name and ``over`` its target. It reaches no further host (``via`` is this side's), and ``stop`` is not
        sent: the trace there waits at most ``MAX_WAIT_S`` for its probe."""
        import dataclasses

        from netcon.core.trace.remote import read_over

        ask = dataclasses.replace(ask, via=(), ssh_config=None)
        return read_over(self.request("trace", {"ask": to_wire(ask)}), self.name, self.target)

    def start_probe(
        self,
        request: ProbeRequest,
        on_summary: Callable[[ProbeSummary], None],
        on_reply: Callable[[Reply], None] | None = None,
    ) -> ProbeStarted:
        def event(data: Any) -> None:
            with contextlib.suppress(WireError):  # one unreadable summary; the next one replaces it
                if isinstance(data, dict) and set(data) == {"reply"}:
                    if on_reply is not None:
                        on_reply(decode(Reply, data["reply"]))
                    return
                on_summary(decode(ProbeSummary, data))

        session = self._live_session()
        _ident, future = self._send(session, "probe", {"request": to_wire(request)}, event)
        started: ProbeStarted = self._result("probe", future.result(REQUEST_TIMEOUT))
        return started

    def stream(self, op: str, args: dict[str, Any], on_event: Callable[[Any], None]) -> int:
        """Start stream ``op`` there; its events go to ``on_event`` (on the SSH loop's thread) until ``cancel``."""
        session = self._live_session()
        ident, future = self._send(session, op, args, on_event)
        try:
            self._result(op, future.result(REQUEST_TIMEOUT))
        except concurrent.futures.TimeoutError:
            raise HostUnreachable(f"{self.target}: no answer to {op} within {REQUEST_TIMEOUT:g} s.") from None
        return ident

    def cancel(self, stream: int) -> None:
        """End a stream there; its last events arrive before this returns."""
        self.request("cancel", {"stream": stream})

    def stop_probe(self, probe: int) -> ProbeSummary:
        result: ProbeSummary = self.request("stop_probe", {"probe": probe})
        return result

    def start_capture(self, request: CaptureRequest, on_batch: OnBatch) -> CaptureStarted:
        """The netcon there captures (resolving the targets and compiling the filter there) and streams the raw
        frames back; the capture's id here is its stream's."""
        from netcon.core.hosts.captures import FrameBatch

        def event(data: Any) -> None:
            with contextlib.suppress(WireError):  # an unreadable batch; its packets are in the counts
                on_batch(decode(FrameBatch, data))

        session = self._live_session()
        ident, future = self._send(session, "capture", {"request": to_wire(request)}, event)
        try:
            started: CaptureStarted = self._result("capture", future.result(REQUEST_TIMEOUT))
        except concurrent.futures.TimeoutError:
            raise HostUnreachable(f"{self.target}: no answer to capture within {REQUEST_TIMEOUT:g} s.") from None
        return dataclasses.replace(started, capture=ident)

    def stop_capture(self, capture: int) -> None:
        """End the capture there; its last batch has arrived when this returns."""
        from netcon.core.hosts.captures import STOP_S

        self.request("cancel", {"stream": capture}, timeout=STOP_S)

    # -- change events and the connection's upkeep --------------------------------------------------------

    def watch(self, on_change: Callable[[Reasons], None]) -> RemoteHost:
        """Keep the host connected (reconnecting with backoff) and call ``on_change`` with its change events,
        and with ``LOST``/``BACK`` when the connection goes and comes back. ``stop()`` ends it."""
        with self._lock:
            if self._supervisor is None and not self._closed:
                self._supervisor = LoopThread.submit(self._supervise(on_change))
        return self

    async def _supervise(self, on_change: Callable[[Reasons], None]) -> None:
        backoff, was_up = 1.0, None
        while not self._closed:
            try:
                session = self._session if self.connected else await self._open()
            except HostUnreachable:
                if was_up is not False:
                    on_change(frozenset({LOST}))
                was_up = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if session is None:
                continue

            with contextlib.suppress(HostUnreachable):  # the session ended meanwhile: handled below like any loss
                self._send(session, "watch", {}, _Events(self, on_change, back=was_up is False))
            was_up, backoff = True, 1.0
            await session.closed.wait()
            self._remote_live = False
            self._lost(f"{self.target}: {session.reason}")
            if not self._closed:
                on_change(frozenset({LOST}))
                was_up = False
                await asyncio.sleep(backoff)

    def stop(self) -> None:
        self.close()

    def close(self) -> None:
        """End the connection and its upkeep without waiting on the network (the remote netcon exits when its
        stdin closes)."""
        self._closed = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
        session = self._session
        if session is not None and LoopThread.running():
            LoopThread.loop().call_soon_threadsafe(session.close)


class _Events:
    """Hands a host's change events to ``on_change``; the first one after a reconnection also says ``BACK``."""

    def __init__(self, host: RemoteHost, on_change: Callable[[Reasons], None], back: bool) -> None:
        self.host, self.on_change, self.back = host, on_change, back

    def __call__(self, event: Any) -> None:
        self.host._remote_live = bool(isinstance(event, dict) and event.get("live"))
        reasons = {str(r) for r in (event.get("reasons") if isinstance(event, dict) else None) or ()}
        if self.back:
            reasons.add(BACK)
            self.back = False
        self.on_change(frozenset(reasons))
