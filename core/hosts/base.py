"""The one host interface: every read the console's panes and the CLI need from a host, whether it is this
machine, a lab namespace or another machine over SSH. Results are the core's own frozen dataclasses, so a
remote host's answer is exactly what the local reader returns there.

Streams (change events, probes, captures) call back on a thread of the host's own and end with ``stop()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from netcon.core.errors import NetconError

if TYPE_CHECKING:  # only named in annotations: importing them here would slow every command's start
    from netcon.core.doctor.findings import Report
    from netcon.core.etcd import EtcdOptions
    from netcon.core.flannel.registry import LeaseListing
    from netcon.core.flannel.subnet_file import SubnetEnv
    from netcon.core.flannel.vxlan import VxlanState
    from netcon.core.host_facts import HostFacts
    from netcon.core.hosts.captures import CaptureRequest, CaptureStarted, OnBatch
    from netcon.core.hosts.probes import ProbeRequest, ProbeStarted
    from netcon.core.model import Counters, Snapshot
    from netcon.core.ping.probe import ProbeSummary, Reply
    from netcon.core.ports.model import PortsView
    from netcon.core.procfs import ProcessInfo
    from netcon.core.trace.model import Trace, TraceAsk

Reasons = frozenset[str]
LOST = "host-lost"  # a change reason: the connection to the host went away (``HostUnreachable`` says why)
BACK = "host-back"  # a change reason: the host answers again


class HostUnreachable(NetconError):
    """The host cannot be reached (SSH refused, timed out, key not trusted, netcon missing there, connection
    lost). ``str()`` is one sentence naming the host and the cause."""


@dataclass(frozen=True)
class EtcdAccess:
    """Where a host reads flannel's store: ``options`` None when no etcd was named (flannel is then not
    checked), ``given`` False when only the default endpoint is tried."""

    options: EtcdOptions | None = None
    prefix: str | None = None
    given: bool = True


class Subscription(Protocol):
    def stop(self) -> None: ...


class Host(Protocol):
    """A host netcon reads. ``name`` labels it (``local``, ``h2``), ``target`` says how it is reached
    (``local``, ``netns:nclab-h2``, ``ssh://root@nclab-h2``)."""

    name: str
    target: str
    read_only: bool

    def snapshot(self) -> Snapshot: ...

    def ports(self, snapshot: Snapshot | None = None) -> PortsView: ...

    def ancestry(self, pid: int) -> tuple[ProcessInfo, ...]: ...

    def counters(self) -> dict[int, Counters]: ...

    def leases(self) -> LeaseListing: ...

    def vxlan(self, ifname: str) -> VxlanState: ...

    def subnet_env(self) -> SubnetEnv | None: ...

    def doctor(self) -> Report: ...

    def facts(self) -> HostFacts: ...

    def change(self, operation: str, arguments: dict[str, Any]) -> Any: ...

    def watch(self, on_change: Callable[[Reasons], None]) -> Subscription: ...

    def start_probe(
        self,
        request: ProbeRequest,
        on_summary: Callable[[ProbeSummary], None],
        on_reply: Callable[[Reply], None] | None = None,
    ) -> ProbeStarted: ...

    def stop_probe(self, probe: int) -> ProbeSummary: ...

    def trace(self, ask: TraceAsk, stop: threading.Event | None = None) -> Trace: ...
    def start_capture(self, request: CaptureRequest, on_batch: OnBatch) -> CaptureStarted: ...

    def stop_capture(self, capture: int) -> None:
        """End it there; its last batch (``final``) has been handed to ``on_batch`` when this returns."""

    @property
    def live(self) -> bool: ...

    def close(self) -> None: ...
