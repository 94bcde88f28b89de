"""One real 2-host lab for the whole doctor module (unique prefix, torn down in finally), and helpers to
break a lab host, run the doctor, and apply the fix a finding gives exactly as printed (no shell)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import pytest

from netcon.cli.doctor import lab_targets
from netcon.core.context import HostContext
from netcon.core.doctor.findings import ERROR, WARNING, Finding, Report
from netcon.core.doctor.runner import run
from netcon.core.lab import lab as lab_mod
from netcon.core.lab import state as lab_state
from netcon.core.lab.state import LabHost, LabState


@dataclass
class Lab:
    prefix: str

    @property
    def state(self) -> LabState:
        """Re-read: a fix that runs ``netcon lab up`` records new pids and options."""
        return lab_state.load(self.prefix)

    def host(self, name: str) -> LabHost:
        return self.state.host(name)

    def label(self, name: str) -> str:
        return f"{self.prefix} {name}"

    def doctor(self, etcd_prefix: str | None = None) -> Report:
        targets, etcd, flannel_prefix = lab_targets(self.prefix)
        return run(targets, etcd, etcd_prefix or flannel_prefix)

    def findings(self, check: str, host: str | None = None, report: Report | None = None) -> list[Finding]:
        report = report or self.doctor()
        return [f for f in report.findings if f.id == check and (host is None or f.host == self.label(host))]

    def problems(self, report: Report | None = None) -> list[Finding]:
        report = report or self.doctor()
        return [f for f in report.findings if f.severity in (ERROR, WARNING)]

    def ns(self, host: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a command inside a lab host's netns (what a test uses to break it)."""
        return subprocess.run(
            ["nsenter", f"--net={self.host(host).netns_path}", *argv],
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
        )


def apply_fix(finding: Finding) -> None:
    """Run each fix command of ``finding`` as an argument list (``netcon`` is this checkout's CLI)."""
    assert finding.fix, f"{finding.id} offers no fix"
    for command in finding.fix:
        argv = shlex.split(command)
        if argv[0] == "netcon":
            argv = [sys.executable, "-m", "netcon.cli", *argv[1:]]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, f"fix {command!r} failed: {result.stdout}{result.stderr}"


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture(scope="module")
def doctor_lab():
    prefix = f"d{uuid.uuid4().hex[:5]}"
    try:
        lab_mod.up(HostContext(), prefix, hosts=2)
        yield Lab(prefix)
    finally:
        lab_mod.down(HostContext(), prefix)
