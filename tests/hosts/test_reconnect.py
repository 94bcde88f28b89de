"""A watched remote host keeps itself connected: cut off (its sshd session or its whole sshd killed) it reports
LOST within 5 s while the other host keeps delivering its change events, and it comes BACK by itself (with
backoff) once it answers again. A host whose dockerd stopped still answers: its snapshot says Docker is not read."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import docker
import pytest

from netcon.core.aioloop import stop_loop
from netcon.core.hosts.base import BACK, LOST, HostUnreachable, Reasons
from netcon.core.hosts.remote import MAX_BACKOFF, RemoteHost
from netcon.core.hosts.ssh import SshSettings
from netcon.core.hosts.target import parse_target
from netcon.core.lab import procs
from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab.state import LabHost, LabState
from tests.hosts.lab_ssh import (
    eventually,
    in_process,
    netcon,
    over_ssh,
    settled,
    sshd_stopped,
    without_counters,
)


class Watched:
    """A remote lab host watched as the console watches it; its change reasons queued with their time."""

    def __init__(self, state: LabState, host: LabHost) -> None:
        self.remote = RemoteHost(parse_target(lab_ssh.target(host)), host.name, SshSettings(lab_ssh.config_path(state)))
        self.events: queue.Queue[tuple[float, Reasons]] = queue.Queue()
        self.remote.watch(lambda reasons: self.events.put((time.monotonic(), reasons)))

    def next(self, wanted: Callable[[Reasons], bool], timeout: float) -> tuple[float, Reasons]:
        """The first event ``wanted`` within ``timeout`` seconds (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                at, reasons = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{self.remote.name}: no such event within {timeout} s") from None
            if wanted(reasons):
                return at, reasons

    def drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()


def is_live(host: Watched) -> bool:
    """Connected, and its remote watcher sees all of the host (it says so, in an event, once it does)."""
    return bool(eventually(lambda: host.remote.live, bool, 5))


@pytest.fixture
def watched(ssh_lab: LabState) -> Iterator[list[Watched]]:
    """Both lab hosts watched over SSH; afterwards closed, the loop ended and no thread of theirs left."""
    before = set(threading.enumerate())
    hosts = [Watched(ssh_lab, h) for h in ssh_lab.hosts]
    try:
        for host in hosts:
            host.next(lambda reasons: "watching" in reasons, 30)
            assert is_live(host)
        yield hosts
    finally:
        for host in hosts:
            host.remote.close()
        stop_loop()
    assert eventually(lambda: set(threading.enumerate()) - before, lambda extra: not extra, 5) == set()
    assert settled(ssh_lab) == []


def test_a_killed_session_is_lost_and_back_by_itself(ssh_lab, watched):
    h2 = ssh_lab.hosts[1]
    sessions = [p for p in lab_ssh.session_pids(h2) if p != h2.sshd_pid]  # its session, not the listener
    assert sessions
    cut = time.monotonic()
    for pid in sessions:
        os.kill(pid, signal.SIGKILL)
    lost, _ = watched[1].next(lambda reasons: LOST in reasons, 10)
    assert lost - cut < 5
    back, _ = watched[1].next(lambda reasons: BACK in reasons, 15)  # the listener is still there: 1 s backoff
    assert back - lost < 10 and is_live(watched[1])
    assert watched[1].remote.snapshot().containers


def test_a_silent_network_cut_is_lost_by_keepalives_and_back_by_itself(ssh_lab, watched):
    """The host's underlay link taken down on this side: no reset, no FIN, its packets just vanish, as when a
    cable is pulled; the SSH keepalives find it."""
    h2 = ssh_lab.hosts[1]
    link = ["ip", "link", "set", h2.root_veth]
    subprocess.run([*link, "down"], check=True)
    cut = time.monotonic()
    try:
        lost, _ = watched[1].next(lambda reasons: LOST in reasons, 10)
        assert lost - cut < 5
    finally:
        subprocess.run([*link, "up"], check=True)
    watched[1].next(lambda reasons: BACK in reasons, MAX_BACKOFF + 15)
    assert is_live(watched[1]) and watched[1].remote.snapshot().containers


def test_a_host_cut_off_does_not_hold_up_the_other(ssh_lab, watched):
    h1, h2 = ssh_lab.hosts
    client = docker.APIClient(base_url=h1.docker_host)
    name = f"rc{uuid.uuid4().hex[:6]}"
    try:
        with sshd_stopped(ssh_lab, h2):
            cut = time.monotonic()
            lost, _ = watched[1].next(lambda reasons: LOST in reasons, 10)
            assert lost - cut < 5
            asked = time.monotonic()
            with pytest.raises(HostUnreachable) as raised:  # fails at once with why, while the console retries
                watched[1].remote.snapshot()
            assert time.monotonic() - asked < 1
            assert str(raised.value).startswith(lab_ssh.target(h2))

            watched[0].drain()
            client.create_network(name, labels={"netcon.test": name})
            _, reasons = watched[0].next(lambda reasons: "docker:network:create" in reasons, 10)
            assert LOST not in reasons
            assert name in {n.name for n in watched[0].remote.snapshot().networks}
            time.sleep(3)  # backoff grows while h2 is away (1, 2, 4 s ...)
        restarted = time.monotonic()
        back, _ = watched[1].next(lambda reasons: BACK in reasons, 20)
        assert back - restarted < MAX_BACKOFF + 5  # the next attempt of its backoff, by itself
        assert is_live(watched[1]) and watched[1].remote.snapshot().containers
    finally:
        for network in client.networks(names=[name]):
            client.remove_network(network["Id"])


def test_a_stopped_dockerd_is_said_by_a_host_that_still_answers(ssh_lab, watched):
    """Last in this module: the lab goes down after it, so its dockerd is not started again."""
    h2 = ssh_lab.hosts[1]
    watched[1].drain()
    procs.stop([h2.dockerd_pid])
    _, reasons = watched[1].next(lambda reasons: "docker-lost" in reasons, 10)
    assert LOST not in reasons and not watched[1].remote.live  # connected, but not seeing all of the host
    snapshot = watched[1].remote.snapshot()
    assert snapshot.docker_error and snapshot.containers == ()
    assert is_live(watched[0]) and watched[0].remote.snapshot().docker_error is None

    # the command line over SSH says the same as netcon on that host, and whose Docker is away
    remote = netcon(*over_ssh(ssh_lab, h2), "show", "veths", "--json")
    local = netcon(*in_process(h2), "show", "veths", "--json")
    assert remote.returncode == local.returncode == 0
    assert without_counters(json.loads(remote.stdout)) == without_counters(json.loads(local.stdout))
    assert json.loads(remote.stdout)["not_read"] == [f"Docker not read: {snapshot.docker_error}"]
    containers = netcon(*over_ssh(ssh_lab, h2), "show", "containers")
    assert (containers.returncode, containers.stdout) == (1, "")
    assert containers.stderr == f"netcon: {h2.netns}: {snapshot.docker_error}\n"
