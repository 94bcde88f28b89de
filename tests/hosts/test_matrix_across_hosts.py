"""netcon ping matrix across the lab's hosts over real SSH: each pair probed by the netcon of its source's host,
cross-host pairs through flannel's VXLAN (TTL 62), same-host pairs on docker0 (TTL 64). The reference is the
real tool: busybox ``ping -c 1`` run inside the source container (``docker exec`` against that lab host's
dockerd), which must agree on every pair's reachability and TTL."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator

import docker
import pytest

from netcon.core.aioloop import stop_loop
from netcon.core.errors import NetconError
from netcon.core.hosts import inventory
from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab.state import LabState
from netcon.core.ping.cluster_matrix import cluster_matrix
from tests.hosts.lab_ssh import netcon, settled, sshd_stopped

pytestmark = pytest.mark.lab
BUSYBOX_TTL = re.compile(r"bytes from [0-9.]+: seq=\d+ ttl=(\d+)")


def matrix(state: LabState, *args: str) -> subprocess.CompletedProcess:
    return netcon("ping", "matrix", "--lab", state.prefix, "-c", "2", *args)


def busybox_ping(state: LabState, member: str, address: str) -> int | None:
    """The TTL of busybox's ``ping -c 1`` from ``member`` (``HOST/CONTAINER``) to ``address``; None: no reply."""
    host, container = member.split("/")
    done = subprocess.run(
        ["docker", "-H", state.host(host).docker_host, "exec", container, "ping", "-c", "1", "-W", "2", address],
        capture_output=True,
        text=True,
        timeout=30,
    )
    found = BUSYBOX_TTL.search(done.stdout)
    return int(found.group(1)) if done.returncode == 0 and found else None


def container_pid(state: LabState, host: str, name: str) -> int:
    api = docker.APIClient(base_url=state.host(host).docker_host)
    try:
        return int(api.inspect_container(name)["State"]["Pid"])
    finally:
        api.close()


@contextlib.contextmanager
def echoes_dropped(state: LabState, host: str, container: str) -> Iterator[None]:
    """Echo requests to ``container`` dropped inside its own namespace (its path blocked), the rule removed after."""
    rule = ["INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP"]
    netns = f"--net=/proc/{container_pid(state, host, container)}/ns/net"
    subprocess.run(["nsenter", netns, "iptables", "-I", *rule], check=True)
    try:
        yield
    finally:
        subprocess.run(["nsenter", netns, "iptables", "-D", *rule], check=False)


def test_bridge_across_hosts_agrees_with_busybox_ping_in_each_source(ssh_lab: LabState):
    done = matrix(ssh_lab, "--network", "bridge", "--json")
    assert done.returncode == 0, done.stderr
    pairs = json.loads(done.stdout)
    members = {p["src"] for p in pairs}
    assert {"h1/busybox", "h1/h1-probe", "h2/h2-probe"} <= members
    assert len(pairs) == len(members) * (len(members) - 1)
    for p in pairs:
        across = p["src"].split("/")[0] != p["dst"].split("/")[0]
        assert (p["received"], p["ttl"]) == (2, 62 if across else 64), p
        assert busybox_ping(ssh_lab, p["src"], p["dst_ip"]) == p["ttl"], p
    assert settled(ssh_lab) == []


def test_the_table_names_members_by_host(ssh_lab: LabState):
    done = matrix(ssh_lab, "--containers", "h1/busybox,h2/h2-probe")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("containers h1/busybox, h2/h2-probe: 2 containers, 2/2 ordered pairs reachable")
    assert re.fullmatch(r"h1/busybox\s+-\s+[0-9.]+ms ttl=62", lines[2].strip())
    assert re.fullmatch(r"h2/h2-probe\s+[0-9.]+ms ttl=62\s+-", lines[3].strip())


def test_a_blocked_path_is_an_unreachable_cell_and_exit_1(ssh_lab: LabState):
    """h2-probe drops echo requests: every pair into it fails (busybox agrees), every pair out of it answers."""
    with echoes_dropped(ssh_lab, "h2", "h2-probe"):
        done = matrix(ssh_lab, "--containers", "h1/busybox,h1/h1-probe,h2/h2-probe", "--json")
        pairs = json.loads(done.stdout)
        assert done.returncode == 1, done.stderr
        for p in pairs:
            blocked = p["dst"] == "h2/h2-probe"
            assert (p["received"] == 0) == blocked, p
            assert busybox_ping(ssh_lab, p["src"], p["dst_ip"]) == (None if blocked else p["ttl"]), p
        shown = matrix(ssh_lab, "--containers", "h1/busybox,h2/h2-probe")
    assert shown.returncode == 1
    assert "UNREACHABLE 0/2" in shown.stdout and "unreachable: h1/busybox -> h2/h2-probe (" in shown.stdout


def test_an_unreachable_host_is_one_sentence_naming_it(ssh_lab: LabState):
    h2 = ssh_lab.host("h2")
    with sshd_stopped(ssh_lab, h2):
        done = matrix(ssh_lab, "--network", "bridge")
    assert done.returncode != 0 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("netcon: Host h2 (ssh://") and "is unreachable" in line
    assert settled(ssh_lab) == []


@pytest.mark.parametrize(
    ("members", "sentence"),
    [
        ("h1/busybox,h9/x", "netcon: No host named 'h9' in this cluster (hosts: h1, h2).\n"),
        ("h1/busybox,h2/nosuch", "netcon: No container named 'nosuch' on host h2.\n"),
        ("h1/busybox,h2", "netcon: 'h2' is not HOST/CONTAINER (e.g. h1/web).\n"),
        (
            "h1/busybox,h1/busybox-3",
            "netcon: Container h1/busybox-3 has network mode none: its namespace holds only loopback, so it can reach "
            "nothing but itself.\n",
        ),
    ],
)
def test_bad_members_are_one_sentence(ssh_lab: LabState, members: str, sentence: str):
    done = matrix(ssh_lab, "--containers", members)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", sentence)


def test_a_network_no_host_has_is_one_sentence(ssh_lab: LabState):
    done = matrix(ssh_lab, "--network", "nonet")
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        "netcon: No host of the cluster has a network named 'nonet'.\n",
    )


def test_a_stop_event_ends_the_run_early_and_its_probes(ssh_lab: LabState):
    """The console's quit sets ``stop``: a long run (50 echoes a pair) ends within a second of it, its probes
    stopped on each host, and nothing of the SSH sessions is left once the hosts are closed."""
    entries, _etcd = inventory.lab_entries(ssh_lab.prefix, over_ssh=True)
    config = lab_ssh.config_path(ssh_lab)
    hosts = [inventory.open_host(e, read_only=True, ssh_config=config) for e in entries]
    stop = threading.Event()
    try:
        timer = threading.Timer(2.0, stop.set)
        timer.start()
        started = time.monotonic()
        with pytest.raises(NetconError, match="stopped before every pair answered"):
            cluster_matrix(hosts, network="bridge", count=50, stop=stop)
        assert time.monotonic() - started < 4.0
    finally:
        for host in hosts:
            host.close()
        stop_loop()  # the SSH connections' loop thread, as the CLI ends it
    assert settled(ssh_lab) == []
