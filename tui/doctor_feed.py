"""Where the Doctor pane's report comes from: one read-only doctor run over the console's host (its ``--netns``
and Docker endpoint), with the flannel checks when the console was given etcd settings.

Only the pane's worker thread calls ``run``. Tests of the console hand the app another object with the same
method (a fixed report) where the real host cannot produce a fixed picture.
"""

from __future__ import annotations

import dataclasses

from netcon.core.context import HostContext
from netcon.core.doctor.findings import Report
from netcon.core.doctor.runner import ETCD_IDS, run, target_for
from netcon.tui.flannel_feed import EtcdSettings

ETCD_CHECKS = frozenset(ETCD_IDS)  # the findings about the flannel store itself, not a host


class DoctorFeed:
    """The real doctor (``core.doctor.runner.run``) on the console's host."""

    def __init__(self, ctx: HostContext, etcd: EtcdSettings | None) -> None:
        self.ctx = ctx
        self.etcd = etcd

    def run(self) -> Report:
        settings = self.etcd
        report = run(
            [target_for(self.ctx)], settings.options if settings else None, settings.prefix if settings else None
        )
        if settings is None or settings.given:
            return report
        # Only the default endpoint was tried (no flag, no etcdctl variable): its silence means "no etcd
        # here", as in the Flannel pane, not a fault to report.
        host_only = tuple(h for h in report.hosts if not set(h.checks) <= ETCD_CHECKS)
        if len(host_only) == len(report.hosts):
            return report
        note = (
            f"flannel not checked: no etcd configured (no --etcd-endpoints or ETCDCTL_ENDPOINTS), and no "
            f"flannel store answers at the default {settings.endpoint}."
        )
        return dataclasses.replace(report, hosts=host_only, etcd=None, notes=(*report.notes, note))
