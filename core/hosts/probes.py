"""What a probe asked of a host is, and what starting it returns: the values ``Host.start_probe`` takes and gives,
here or over the wire."""

from __future__ import annotations

from dataclasses import dataclass

from netcon.core.ping.probe import ProbeSummary
from netcon.core.ping.resolve import Resolution


@dataclass(frozen=True)
class ProbeRequest:
    """An endless (``count`` None) or counted probe from ``source`` (a container, ``host`` or ``netns:NAME``
    of that host) to ``target`` (an address, or a name resolved the way the source resolves it)."""

    source: str
    target: str
    label: str = ""
    count: int | None = None
    interval: float = 1.0
    timeout: float = 2.0
    size: int = 56
    ttl: int | None = None


@dataclass(frozen=True)
class ProbeStarted:
    """The probe's id on the host that runs it, how its target was resolved, and its first summary."""

    probe: int
    resolution: Resolution
    summary: ProbeSummary
