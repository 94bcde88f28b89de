"""A trace's answer: the hops of the request and of the reply, each with what the kernel holds there, the
predicted verdict and what the probe showed, and the first failing hop with its reason and rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS, DROP, MISSING, UNKNOWN = "passes", "drops", "missing", "unknown"
REQUEST, REPLY = "request", "reply"


@dataclass(frozen=True)
class Seen:
    """The probe seen on a hop's interface: when, and the addresses and TTL as rewritten there."""

    at: float  # seconds since the epoch (kernel receive time)
    src: str
    dst: str
    ttl: int
    detail: str  # "icmp echo request id 4660 seq 1", "tcp 40000 > 80 [S]"
    outgoing: bool


@dataclass(frozen=True)
class Capture:
    """Where a hop can be captured: an interface in a namespace (None: netcon's own), ``outer`` when the probe
    travels there inside VXLAN."""

    netns: str | None
    ifname: str
    label: str
    outer: bool = False


@dataclass(frozen=True)
class Hop:
    host: str  # "h1", or "local" for the host netcon runs on
    netns: str  # "container app1", "h1", "host"
    device: str  # "eth0", "docker0", "flannel.1"; "" for a routing or firewall step
    stage: str  # send, veth, bridge, route, firewall, vxlan, underlay, deliver
    direction: str  # request or reply
    holds: str  # what the kernel holds there, in its own terms
    predicted: str  # passes, drops, missing (an entry the path needs is absent), unknown
    reason: str  # one sentence: why it passes or where and why it dies
    rule: str | None = None  # the deciding rule's text or "policy CHAIN DROP"; None when no rule decided
    fix: tuple[str, ...] = ()
    capture: Capture | None = None
    seen: Seen | None = None
    traced: str | None = None  # what nftrace showed in this hop's namespace: table chain rule verdict
    probed: bool = False  # the probe ran and this hop could be checked (capture or nftrace)
    over: str | None = None  # the SSH target whose netcon read this hop from its own kernel state
    not_captured: str | None = None  # why the probe could not be looked for here ("read over SSH")

    @property
    def fails(self) -> bool:
        return self.predicted in (DROP, MISSING)

    @property
    def verdict(self) -> str:
        """The hop's verdict for the table: the prediction, with what the probe showed."""
        if not self.probed:
            return self.reason
        if self.not_captured is not None:
            return f"not captured: {self.not_captured}; {self.reason}"
        if self.seen is not None:
            seen = f"seen {self.seen.src} > {self.seen.dst} ttl {self.seen.ttl}"
            return f"{seen}; {self.reason}" if self.fails else seen
        if self.capture is not None:
            return f"NOT seen; {self.reason}" if self.fails else f"NOT seen (predicted: {self.reason})"
        return self.reason

    def json(self) -> dict[str, Any]:
        seen: Any = None
        if self.probed and self.capture is not None:
            seen = (
                False
                if self.seen is None
                else {
                    "at": self.seen.at,
                    "src": self.seen.src,
                    "dst": self.seen.dst,
                    "ttl": self.seen.ttl,
                    "detail": self.seen.detail,
                }
            )
        return {
            "host": self.host,
            "netns": self.netns,
            "device": self.device,
            "stage": self.stage,
            "direction": self.direction,
            "holds": self.holds,
            "predicted": self.predicted,
            "seen": seen,
            "verdict": self.verdict,
            "rule": self.rule,
            "traced": self.traced,
            "fix": list(self.fix),
            "over": self.over,
        }


@dataclass(frozen=True)
class FailedHop:
    host: str
    netns: str
    device: str
    stage: str
    direction: str
    reason: str
    rule: str | None
    fix: tuple[str, ...] = ()

    def json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "netns": self.netns,
            "device": self.device,
            "stage": self.stage,
            "direction": self.direction,
            "reason": self.reason,
            "rule": self.rule,
            "fix": list(self.fix),
        }


@dataclass(frozen=True)
class TraceAsk:
    """A trace asked of a host (``Host.trace``): what ``netcon trace`` takes. ``via``/``ssh_config``: hosts the
    walk may go on to over SSH, from a host read in-process only (a host read over SSH traces its own part)."""

    src: str
    dst: str
    proto: str | None = None
    port: int | None = None
    probe: bool = True
    wait: float = 1.0
    via: tuple[str, ...] = ()
    ssh_config: str | None = None


@dataclass(frozen=True)
class Trace:
    src: str  # as the user named it
    dst: str
    proto: str
    port: int | None
    src_ip: str | None
    dst_ip: str
    hops: tuple[Hop, ...]
    reached: bool
    reply_seen: bool
    failed_hop: FailedHop | None
    probed: bool  # a probe was sent (not --no-probe)
    notes: tuple[str, ...] = field(default=())  # what could not be read or done, one sentence each
    predict_s: float = 0.0
    total_s: float = 0.0
    refused: str | None = None  # the answer was a refusal (a TCP reset, ICMP port unreachable): its words

    @property
    def last_line(self) -> str:
        if self.failed_hop is not None:
            f = self.failed_hop
            where = f"{f.host} {f.netns}" + (f" {f.device}" if f.device else "") + f" ({f.stage}, {f.direction})"
            rule = f" [{f.rule}]" if f.rule else ""
            return f"dies at {where}: {f.reason}{rule}"
        if self.reply_seen:
            return f"reached, reply seen ({self.refused})" if self.refused else "reached, reply seen"
        if self.reached and self.probed:
            return "reached, no reply seen"
        if not self.probed:
            return "predicted to reach and to be answered (no probe sent)"
        return "not seen at the destination, no reply seen"

    def json(self) -> dict[str, Any]:
        return {
            "src": self.src,
            "dst": self.dst,
            "proto": self.proto,
            "port": self.port,
            "src_ip": self.src_ip,
            "dst_ip": self.dst_ip,
            "reached": self.reached,
            "reply_seen": self.reply_seen,
            "failed_hop": self.failed_hop.json() if self.failed_hop else None,
            "hops": [h.json() for h in self.hops],
            "probed": self.probed,
            "notes": list(self.notes),
            "last_line": self.last_line,
        }
