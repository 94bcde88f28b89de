"""The machine-to-machine protocol of ``netcon serve --stdio``: one JSON object per line in each direction.

The server speaks first, one greeting line (``HELLO`` with its ``protocol`` number, netcon version, host name,
read-only flag and user); the client refuses a server of another protocol number. Then the client sends
requests ``{"id": N, "op": OP, "args": {...}}``; each gets one answer ``{"id": N, "result": ...}`` or
``{"id": N, "error": {"kind": ..., "message": ..., "exit_code": ...}}``. A stream (``watch``, ``probe``) answers
first like any request, then sends ``{"id": N, "event": ...}`` lines until the client sends ``cancel`` with
``{"stream": N}`` (or the server ends it with ``{"id": N, "end": true}``); a probe's events are its summaries,
and before each the echo's outcome that changed it as ``{"reply": ...}``; a ``capture``'s events are batches of
raw frames (``captures.FrameBatch``, bounded there by ``captures.bounded``), the last one ``final``. Results
are the core's dataclasses as ``codec.to_wire`` writes them; ``RESULTS`` says what each answer decodes to.
"""

from __future__ import annotations

import json
from typing import Any

from netcon.core.doctor.findings import Report
from netcon.core.flannel.registry import LeaseListing
from netcon.core.flannel.subnet_file import SubnetEnv
from netcon.core.flannel.vxlan import VxlanState
from netcon.core.host_facts import HostFacts
from netcon.core.hosts.captures import CaptureStarted, FrameBatch
from netcon.core.hosts.probes import ProbeStarted
from netcon.core.model import Counters, Snapshot
from netcon.core.ping.probe import ProbeSummary
from netcon.core.ports.model import PortsView
from netcon.core.procfs import ProcessInfo
from netcon.core.trace.legs import LegResult
from netcon.core.trace.model import Trace

PROTOCOL = 1
HELLO = "netcon-stdio"  # the greeting's "netcon" field: what tells this server from a login script's chatter
MAX_LINE = 64 << 20  # bytes of one line: a snapshot of a thousand containers is a few MiB

RESULTS: dict[str, Any] = {
    "snapshot": Snapshot,
    "ports": PortsView,
    "ancestry": tuple[ProcessInfo, ...],
    "counters": dict[int, Counters],
    "leases": LeaseListing,
    "vxlan": VxlanState,
    "subnet_env": SubnetEnv | None,
    "doctor": Report,
    "facts": HostFacts,
    "change": Any,
    "stop_probe": ProbeSummary,
    "probe": ProbeStarted,
    "watch": Any,
    "ping": Any,
    "cancel": Any,
    "trace_walk": LegResult,
    "trace_capture": Any,
    "trace": Trace,
    "capture": CaptureStarted,
}
EVENTS: dict[str, Any] = {"probe": ProbeSummary, "watch": Any, "trace_capture": Any, "capture": FrameBatch}
STREAMS = frozenset(EVENTS)


def line(message: dict[str, Any]) -> bytes:
    """One message as the bytes of one line."""
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def hello(host: str, version: str, read_only: bool, user: str) -> dict[str, Any]:
    return {
        "netcon": HELLO,
        "protocol": PROTOCOL,
        "version": version,
        "host": host,
        "read_only": read_only,
        "user": user,
    }
