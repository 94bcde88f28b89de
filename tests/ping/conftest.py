"""Fixtures for the ping tests: a user network with three busybox containers, the real iputils ``ping`` run in
a container's namespace through nsenter (the reference our engine must agree with), and iptables rules put
inside a container's namespace and always taken out again."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from netcon.core.ping.engine import PingEngine


@dataclass(frozen=True)
class Box:
    name: str
    pid: int
    ip: str

    @property
    def netns(self) -> str:
        return f"/proc/{self.pid}/ns/net"


@dataclass(frozen=True)
class RealPing:
    transmitted: int
    received: int
    ttls: tuple[int, ...]
    avg_ms: float | None
    output: str


def box(container, network: str | None) -> Box:
    container.reload()
    nets = container.attrs["NetworkSettings"]["Networks"]
    ip = nets[network]["IPAddress"] if network else next(iter(nets.values()))["IPAddress"]
    return Box(container.name, container.attrs["State"]["Pid"], ip)


def real_ping(netns: str | None, ip: str, count: int = 3, extra: tuple[str, ...] = ()) -> RealPing:
    """iputils ping in ``netns`` (None: the host's), as a sysadmin would run it with nsenter."""
    if shutil.which("ping") is None:
        pytest.fail("iputils-ping is not installed (apt-get install -y iputils-ping; scripts/setup installs it)")
    prefix = ["nsenter", f"--net={netns}"] if netns else []
    out = subprocess.run(
        [*prefix, "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1", *extra, ip],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    stats = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    rtt = re.search(r"= [\d.]+/([\d.]+)/", out)
    return RealPing(
        int(stats.group(1)),
        int(stats.group(2)),
        tuple(int(t) for t in re.findall(r"ttl=(\d+)", out)),
        float(rtt.group(1)) if rtt else None,
        out,
    )


@pytest.fixture(scope="session")
def trio(dclient, busybox):
    """app1, app2, app3 on one user network, plus lone on the default bridge; made once per run to keep the
    suite fast (each test removes the iptables rules it adds)."""
    from tests.conftest import DockerObjects

    objects = DockerObjects(dclient, busybox)
    try:
        net = objects.network("pingnet")
        boxes = {n: box(objects.container(n, network=net.name), net.name) for n in ("app1", "app2", "app3")}
        # dns=127.0.0.1: the default bridge has no embedded DNS; its resolver is the host's, which we must not
        # send test queries to, so point it at the container's own loopback (nothing listens there)
        boxes["lone"] = box(objects.container("lone", dns=["127.0.0.1"]), None)
        yield net.name, boxes, objects
    finally:
        objects.cleanup()


@pytest.fixture
def engine():
    eng = PingEngine(max_probes=64, max_pps=500)
    try:
        yield eng
    finally:
        eng.close()


@pytest.fixture
def netns_iptables():
    """``add(netns, rule...)`` appends an iptables rule inside a namespace; every rule added is deleted after."""
    added: list[tuple[str, tuple[str, ...]]] = []

    def add(netns: str, chain: str, *rule: str) -> None:
        subprocess.run(["nsenter", f"--net={netns}", "iptables", "-A", chain, *rule], check=True)
        added.append((netns, (chain, *rule)))

    def remove(netns: str, chain: str, *rule: str) -> None:
        subprocess.run(["nsenter", f"--net={netns}", "iptables", "-D", chain, *rule], check=True)
        added.remove((netns, (chain, *rule)))

    add.remove = remove
    try:
        yield add
    finally:
        for netns, rule in reversed(added):
            subprocess.run(["nsenter", f"--net={netns}", "iptables", "-D", *rule], check=False)
