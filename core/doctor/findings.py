"""What the doctor hands to the CLI and the console: findings and the report of one run.

Frozen dataclasses of plain values, so a pane can keep and compare them and ``core.model.to_json`` turns a
report into JSON. A fix is a tuple of command lines to run in order; the doctor only shows them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)  # most severe first: the order a list of findings is shown in


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or worth knowing) about one object of one host."""

    id: str  # "ip-forward-off", "vxlan-fdb-missing", ...
    severity: str  # ERROR, WARNING or INFO
    object: str  # what it is about: "net.ipv4.ip_forward", "flannel.1", "docker0", "lease 172.17.65.0/24"
    evidence: tuple[tuple[str, str], ...]  # the values read, as (name, value) pairs in reading order
    explanation: str  # one paragraph: why this breaks (or may break) traffic
    fix: tuple[str, ...] = ()  # command lines that repair it, in order; empty when there is nothing to run
    host: str = ""  # the host label the finding belongs to (set by the runner)

    @property
    def title(self) -> str:
        return f"{self.id}: {self.object}"


@dataclass(frozen=True)
class HostReport:
    """Every check run on one host."""

    host: str  # label: "local", "nclab h1", or the --netns name
    netns: str | None
    docker_host: str | None
    findings: tuple[Finding, ...]  # sorted by severity, then id and object
    checks: tuple[str, ...]  # ids of every check that ran (a check that finds nothing is still listed)
    duration_s: float

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


@dataclass(frozen=True)
class Report:
    """One doctor run over one or more hosts."""

    hosts: tuple[HostReport, ...]
    duration_s: float
    etcd: str | None = None  # "etcd v2 at http://...: /atomic.io/network", None when flannel was not checked
    notes: tuple[str, ...] = field(default=())

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for h in self.hosts for f in h.findings)

    @property
    def healthy(self) -> bool:
        """No finding at error level (what ``netcon doctor``'s exit code 0 means)."""
        return not any(f.severity == ERROR for f in self.findings)


def order(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.id, f.object)))
