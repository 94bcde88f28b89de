"""Fixtures for the operations tests: netcon's CLI run in-process, a private audit log, a free subnet, and
cleanup of everything netcon itself created (by the test label and by the test's name prefix)."""

from __future__ import annotations

import contextlib
import ipaddress
import random
from dataclasses import dataclass

import docker
import pytest

from netcon.cli.main import main
from netcon.core import host_facts
from netcon.core.context import HostContext
from tests.conftest import TEST_LABEL


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def netcon(capsys):
    """``netcon ARGS...`` in-process through cli.main.main: exit code, stdout, stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's own usage errors
            code = exit_.code if isinstance(exit_.code, int) else 2
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def free_subnets(count: int = 1) -> list[str]:
    """/24s in 10.213.0.0/16 that no Docker network and no host route overlaps (picked at random, so
    concurrent test runs rarely collide)."""
    facts = host_facts.gather(HostContext())
    taken = [ipaddress.IPv4Network(s) for n in facts.networks for s in n.subnets]
    taken += [ipaddress.IPv4Network(r.destination, strict=False) for r in facts.routes]
    candidates = [ipaddress.IPv4Network(f"10.213.{x}.0/24") for x in range(256)]
    free = [str(c) for c in candidates if not any(c.overlaps(t) for t in taken)]
    assert len(free) >= count, "no free /24 left in 10.213.0.0/16"
    return random.sample(free, count)


class Lab:
    """Names and labels for objects netcon creates in a test; removes them all afterwards."""

    def __init__(self, dobj) -> None:
        self.dobj = dobj
        self.client: docker.DockerClient = dobj.client
        self.prefix = dobj.prefix
        self.label = f"{TEST_LABEL}={dobj.prefix}"

    def name(self, suffix: str) -> str:
        return self.dobj.name(suffix)

    def owned(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Names of this test's networks and containers (all states), to compare before and after."""
        api = self.client.api
        nets = sorted(n["Name"] for n in api.networks() if n["Name"].startswith(self.prefix))
        ctrs = sorted(
            c["Names"][0].lstrip("/")
            for c in api.containers(all=True)
            if c["Names"][0].lstrip("/").startswith(self.prefix)
        )
        return tuple(nets), tuple(ctrs)

    def cleanup(self) -> None:
        api = self.client.api
        for c in api.containers(all=True):
            if c["Names"][0].lstrip("/").startswith(self.prefix):
                api.remove_container(c["Id"], force=True)
        for n in api.networks():
            if n["Name"].startswith(self.prefix):
                with contextlib.suppress(docker.errors.NotFound):
                    api.remove_network(n["Id"])


@pytest.fixture
def lab(dobj):
    objects = Lab(dobj)
    try:
        yield objects
    finally:
        objects.cleanup()
