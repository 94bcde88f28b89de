"""One real 2-host lab (flannel over etcd, one dockerd per host) shared by every trace test (unique prefix,
torn down in finally), and helpers to break a lab host by hand, run ``netcon trace`` and check that
nothing of a trace is left behind."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from typing import Any

import docker
import pytest

from netcon.core.context import HostContext
from netcon.core.lab import lab as lab_mod
from netcon.core.lab import state as lab_state
from netcon.core.lab.state import LabHost


@dataclass
class TraceLab:
    prefix: str

    def host(self, name: str) -> LabHost:
        return lab_state.load(self.prefix).host(name)

    def docker(self, host: str) -> docker.APIClient:
        return docker.APIClient(base_url=self.host(host).docker_host)

    def pid(self, host: str, container: str) -> int:
        return self.docker(host).inspect_container(container)["State"]["Pid"]

    def address(self, host: str, container: str) -> str:
        networks = self.docker(host).inspect_container(container)["NetworkSettings"]["Networks"]
        return next(iter(networks.values()))["IPAddress"]

    def ns(self, host: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a command inside a lab host's netns (how a test breaks and repairs it)."""
        return subprocess.run(
            ["nsenter", f"--net={self.host(host).netns_path}", *argv], capture_output=True, text=True, check=check
        )

    def in_container(self, host: str, container: str, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", f"--net=/proc/{self.pid(host, container)}/ns/net", *argv],
            capture_output=True,
            text=True,
            check=True,
        )

    def namespaces(self) -> list[str]:
        """Every namespace a trace in this lab may touch: the hosts' and their containers'."""
        paths = [self.host(h).netns_path for h in ("h1", "h2")]
        for h in ("h1", "h2"):
            for c in self.docker(h).containers():
                pid = self.docker(h).inspect_container(c["Id"])["State"]["Pid"]
                if pid:
                    paths.append(f"/proc/{pid}/ns/net")
        return paths

    def trace_tables(self) -> list[str]:
        """Every netcon trace table left in any of the lab's namespaces (``nft list tables``: the reference)."""
        left = []
        for path in self.namespaces():
            listed = subprocess.run(
                ["nsenter", f"--net={path}", "nft", "list", "tables"], capture_output=True, text=True
            )
            left += [f"{path}: {line}" for line in listed.stdout.splitlines() if "netcon-trace" in line]
        return left

    def trace(self, *args: str, before: tuple[str, ...] = (), **kwargs: Any) -> tuple[int, dict[str, Any], str]:
        """``netcon [BEFORE] trace --lab PREFIX ... --json``: (exit code, the object, stderr)."""
        done = subprocess.run(
            [*before, sys.executable, "-m", "netcon.cli", "trace", "--lab", self.prefix, *args, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            **kwargs,
        )
        return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


@pytest.fixture(scope="session")
def trace_lab():
    """One lab for every trace test of the run (building one takes ~10 s)."""
    prefix = f"u{uuid.uuid4().hex[:5]}"
    try:
        lab_mod.up(HostContext(), prefix, hosts=2)
        yield TraceLab(prefix)
    finally:
        lab_mod.down(HostContext(), prefix)
