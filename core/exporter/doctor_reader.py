"""The doctor on the exporter's interval: how many findings of each check id and severity this host has now.
Every check that ran is counted at every severity, zeros included, so an alert on ``> 0`` resolves when the
finding goes instead of its series vanishing."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.doctor.findings import SEVERITIES
from netcon.core.doctor.runner import run, target_for
from netcon.core.etcd import EtcdOptions
from netcon.core.snapshot import SnapshotCollector


@dataclass(frozen=True)
class DoctorReading:
    counts: tuple[tuple[str, str, int], ...] = ()  # (check id, severity, findings)
    duration_s: float = 0.0
    read: bool = False


class DoctorReader:
    def __init__(
        self, ctx: HostContext, etcd: EtcdOptions | None, prefix: str | None, collector: SnapshotCollector
    ) -> None:
        self.ctx = ctx
        self.collector = collector  # the exporter's warm one: a cold snapshot inspects every container
        self.etcd = etcd
        self.prefix = prefix
        self._lock = threading.Lock()
        self.reading = DoctorReading()
        self.version = 0

    def run(self) -> None:
        target = target_for(self.ctx)
        report = run([target], self.etcd, self.prefix, collectors={target.label: self.collector})
        found: dict[tuple[str, str], int] = {}
        for finding in report.findings:
            found[finding.id, finding.severity] = found.get((finding.id, finding.severity), 0) + 1
        ids = sorted({i for host in report.hosts for i in host.checks} | {i for i, _ in found})
        counts = tuple((i, s, found.get((i, s), 0)) for i in ids for s in SEVERITIES)
        with self._lock:
            self.reading = DoctorReading(counts, report.duration_s, True)
            self.version += 1
