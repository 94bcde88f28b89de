"""A host read in-process, as netcon always has: this machine, or a lab host (its netns and its dockerd). The
readers are kept warm (one snapshot collector, one ports collector, one counter socket), so the console's
local path costs what it cost before the host interface existed. The readers a command does not use are not
even imported (``netcon show veths`` starts as fast as before)."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from netcon.core.context import HostContext
from netcon.core.errors import NotFound, UsageError
from netcon.core.hosts.base import EtcdAccess, Reasons, Subscription
from netcon.core.model import Counters, Snapshot
from netcon.core.snapshot import SnapshotCollector

if TYPE_CHECKING:
    from netcon.core.capture.runner import CaptureRunner
    from netcon.core.counters import CounterReader
    from netcon.core.doctor.findings import Report
    from netcon.core.flannel.registry import LeaseListing
    from netcon.core.flannel.subnet_file import SubnetEnv
    from netcon.core.flannel.vxlan import VxlanState
    from netcon.core.host_facts import HostFacts
    from netcon.core.hosts.captures import CaptureRequest, CaptureStarted, OnBatch
    from netcon.core.hosts.probes import ProbeRequest, ProbeStarted
    from netcon.core.ping.engine import PingEngine
    from netcon.core.ping.probe import Event, ProbeSummary, Reply
    from netcon.core.ports.collector import PortsCollector
    from netcon.core.ports.model import PortsView
    from netcon.core.procfs import ProcessInfo
    from netcon.core.trace.model import Trace, TraceAsk
    from netcon.core.watch import Watcher

# What a remote console may ask a host to change: the Docker operations of the Networks and Containers panes.
# Each still goes through its own ``@mutation`` (read-only refusal and audit on the host that changes).
REMOTE_CHANGES = (
    "network.create",
    "network.rm",
    "network.connect",
    "network.disconnect",
    "container.run",
    "container.rm",
)


class LocalHost:
    """This machine (``ctx`` of its own) or a lab host (``ctx`` with the host's netns and Docker socket)."""

    def __init__(
        self,
        ctx: HostContext,
        name: str = "local",
        target: str = "local",
        etcd: EtcdAccess | None = None,
        engine: PingEngine | None = None,
        collector: SnapshotCollector | None = None,
        address: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.name, self.target = name, target
        self.address = address  # where other hosts reach it (a lab host's underlay address), when known
        self.read_only = ctx.read_only
        self.etcd = etcd or EtcdAccess()
        self.collector = collector or SnapshotCollector(ctx)
        self._ports: PortsCollector | None = None
        self._counters: CounterReader | None = None
        self._engine = engine
        self._own_engine = engine is None
        self._lock = threading.Lock()
        self._watchers: list[Watcher] = []
        self._captures: dict[int, CaptureRunner] = {}
        self._capture_ids = itertools.count(1)

    def snapshot(self) -> Snapshot:
        return self.collector.collect()

    def ports(self, snapshot: Snapshot | None = None) -> PortsView:
        from netcon.core.ports.collector import PortsCollector

        with self._lock:
            if self._ports is None:
                self._ports = PortsCollector(self.ctx, self.collector)
        return self._ports.collect(snapshot)

    def ancestry(self, pid: int) -> tuple[ProcessInfo, ...]:
        from netcon.core.procfs import ancestry

        return ancestry(pid)

    def counters(self) -> dict[int, Counters]:
        from netcon.core.counters import CounterReader

        with self._lock:
            if self._counters is None:
                self._counters = CounterReader(self.ctx.netns)
            return self._counters.read()

    def leases(self) -> LeaseListing:
        from netcon.core.flannel.registry import FlannelStore

        if self.etcd.options is None:
            raise UsageError(f"No etcd is named for host {self.name}: give --etcd-endpoints to read its leases.")
        store = FlannelStore.open(self.etcd.options, self.etcd.prefix)
        try:
            return store.listing()
        finally:
            store.close()

    def vxlan(self, ifname: str) -> VxlanState:
        from netcon.core.flannel.vxlan import read_state

        return read_state(self.ctx, ifname)

    def subnet_env(self) -> SubnetEnv | None:
        from netcon.core.flannel.subnet_file import host_subnet_env

        return host_subnet_env(self.ctx)

    def doctor(self) -> Report:
        """Every check on this host, with flannel's when it has an etcd; its warm snapshot collector serves it."""
        from netcon.core.doctor.runner import run, target_for

        target = target_for(self.ctx, None if self.name == "local" else self.name)
        return run([target], self.etcd.options, self.etcd.prefix, collectors={target.label: self.collector})

    def facts(self) -> HostFacts:
        from netcon.core import host_facts

        return host_facts.gather(self.ctx)

    def change(self, operation: str, arguments: dict[str, Any]) -> Any:
        """One of ``REMOTE_CHANGES`` through its audited core function (refused here when read-only)."""
        from netcon.core.operations import mutating_operations

        if operation not in REMOTE_CHANGES:
            raise UsageError(f"{operation!r} is not a change a remote console may ask for.", target="operation")
        return mutating_operations()[operation](self.ctx, **arguments)

    # -- streams ------------------------------------------------------------------------------------------

    def watch(self, on_change: Callable[[Reasons], None]) -> Subscription:
        from netcon.core.watch import Watcher

        watcher = Watcher(self.ctx, on_change).start()
        self._watchers.append(watcher)
        return watcher

    @property
    def live(self) -> bool:
        return all(w.live for w in self._watchers) if self._watchers else True

    @property
    def engine(self) -> PingEngine:
        from netcon.core.ping.engine import PingEngine

        with self._lock:
            if self._engine is None:
                self._engine = PingEngine()
            return self._engine

    def start_probe(
        self,
        request: ProbeRequest,
        on_summary: Callable[[ProbeSummary], None],
        on_reply: Callable[[Reply], None] | None = None,
    ) -> ProbeStarted:
        """Resolve the source and target here (as ``netcon ping`` does), then run the probe on the engine;
        ``on_reply`` gets each echo's outcome (ping's lines) before the summary it changed."""
        from netcon.core.hosts.probes import ProbeStarted
        from netcon.core.ping.probe import ProbeFinished, ProbeSpec, Reply, validate
        from netcon.core.ping.resolve import resolve
        from netcon.core.ping.sources import find_source

        source = find_source(self.ctx, request.source)
        spec = ProbeSpec(
            source,
            request.target,
            count=request.count,
            interval=request.interval,
            timeout=request.timeout,
            size=request.size,
            ttl=request.ttl,
            label=request.label or request.target,
        )
        validate(spec)  # bad values send nothing, not even a DNS query
        resolution = resolve(source, request.target)
        engine = self.engine

        def forward(event: Event) -> None:
            if on_reply is not None and isinstance(event, Reply):
                on_reply(event)
            on_summary(event.summary if isinstance(event, ProbeFinished) else engine.summary(event.probe))

        probe = engine.start(dataclasses.replace(spec, target=resolution.ip), on_event=forward)
        return ProbeStarted(probe, resolution, engine.summary(probe))

    def stop_probe(self, probe: int) -> ProbeSummary:
        return self.engine.stop(probe)

    def trace(self, ask: TraceAsk, stop: threading.Event | None = None) -> Trace:
        """``netcon trace`` on this host (a lab host's netns: every lab host read), flannel's leases read from
        this host's etcd; ``stop`` ends the probe's wait at once."""
        from netcon.core.trace.run import Options, trace

        etcd = self.etcd.options if self.etcd.given else None
        options = Options(
            ask.proto, ask.port, ask.probe, ask.wait, etcd=etcd, etcd_prefix=self.etcd.prefix if etcd else None,
            stop=stop, via=ask.via, ssh_config=ask.ssh_config,
        )  # fmt: skip
        return trace(self.ctx, ask.src, ask.dst, options)

    def start_capture(self, request: CaptureRequest, on_batch: OnBatch) -> CaptureStarted:
        """Resolve the targets against this host's snapshot, compile the filter and open the sockets here (one
        sentence when any of it fails, nothing left open), then hand the frames to ``on_batch`` from a thread of
        the capture's own until ``stop_capture``."""
        from netcon.core.capture.runner import CaptureRunner, open_capture
        from netcon.core.hosts.captures import CaptureStarted

        runner = CaptureRunner(open_capture(self.ctx, self.snapshot(), request), on_batch, request.max_bytes)
        with self._lock:
            ident = next(self._capture_ids)
            self._captures[ident] = runner
        runner.start()
        return CaptureStarted(ident, runner.endpoints, request.filter, request.max_pps, request.max_bytes)

    def stop_capture(self, capture: int) -> None:
        with self._lock:
            runner = self._captures.pop(capture, None)
        if runner is None:
            raise NotFound(f"No capture {capture} runs on {self.name}.", target="capture")
        runner.stop()

    def close(self) -> None:
        with self._lock:
            captures, self._captures = list(self._captures.values()), {}
        for runner in captures:
            runner.stop()
        for watcher in self._watchers:
            watcher.stop()
        self._watchers.clear()
        if self._counters is not None:
            self._counters.close()
        if self._own_engine and self._engine is not None:
            self._engine.close()
