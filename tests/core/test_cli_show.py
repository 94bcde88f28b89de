"""``netcon show ...`` as a sysadmin runs it: a subprocess, its output and its exit code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

REQUIRED_KEYS = {
    "networks": {"id", "name", "driver", "scope", "subnets", "gateways", "bridge", "containers"},
    "containers": {"id", "name", "state", "network_mode", "netns_inode", "shares_netns_with", "ipv4"},
    "bridges": {"name", "bridge_id", "stp", "interfaces", "network"},
    "veths": {
        "ifname",
        "ifindex",
        "mtu",
        "state",
        "bridge",
        "peer_ifindex",
        "peer_ifname",
        "container",
        "container_id",
    },
}


def netcon(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "netcon.cli", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize("view", sorted(REQUIRED_KEYS))
def test_json_keys(dobj, view):
    net = dobj.network("keys")
    c = dobj.container("keys", network=net.name)
    result = netcon("show", view, "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert set(shown) == {view, "not_read"} and shown["not_read"] == []
    rows = shown[view]
    assert rows and all(REQUIRED_KEYS[view] <= set(row) for row in rows)
    if view == "networks":
        row = next(r for r in rows if r["name"] == net.name)
        assert [x["name"] for x in row["containers"]] == [c.name]
        assert set(row["containers"][0]) >= {"name", "id", "ipv4", "mac"}


def test_veths_json_names_the_container(dobj):
    c = dobj.container("v")
    rows = json.loads(netcon("show", "veths", "--json").stdout)["veths"]
    (row,) = [r for r in rows if r["container_id"] == c.id]
    assert row["container"] == c.name and row["peer_ifname"] == "eth0" and row["bridge"] == "docker0"


def test_tables_read_like_the_tools_they_replace(dobj):
    net = dobj.network("tbl")
    dobj.container("tbl", network=net.name)
    networks = netcon("show", "networks").stdout
    assert networks.splitlines()[0].split()[:4] == ["NETWORK", "ID", "NAME", "DRIVER"]
    assert any(line.startswith(net.id[:12]) and net.name in line for line in networks.splitlines())
    bridges = netcon("show", "bridges").stdout
    assert bridges.splitlines()[0] == "bridge name\tbridge id\t\tSTP enabled\tinterfaces"
    assert f"br-{net.id[:12]}" in bridges


def test_unreachable_docker_is_one_line_and_exit_1():
    result = netcon("--docker-host", "unix:///nonexistent/docker.sock", "show", "networks")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "netcon: Docker daemon not reachable at unix:///nonexistent/docker.sock: no socket there."
    )
    assert result.stdout == ""


@pytest.mark.parametrize("view", ["bridges", "veths", "ports"])
def test_a_partial_answer_says_what_it_lacks(dobj, view):
    """Without Docker the kernel's side is still shown, and the table (on stderr) and the JSON (not_read) say
    that Docker was not read. A container of the machine's Docker gives every view a row of the kernel's (its
    veth, docker0), also on a machine that has none of its own."""
    dobj.container("partial")
    sock = "unix:///nonexistent/docker.sock"
    lacks = f"Docker daemon not reachable at {sock}: no socket there."
    table = netcon("--docker-host", sock, "show", view)
    assert table.returncode == 0 and table.stdout
    assert table.stderr.startswith("netcon: Docker not read") and table.stderr.strip().endswith(lacks)
    shown = json.loads(netcon("--docker-host", sock, "show", view, "--json").stdout)
    assert shown[view] and len(shown["not_read"]) == 1 and shown["not_read"][0].endswith(lacks)


def test_docker_permission_denied_says_what_to_do():
    """As user nobody (setpriv drops root) the socket cannot be opened: one sentence saying what to do."""
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    result = subprocess.run(
        [*as_nobody, sys.executable, "-m", "netcon.cli", "show", "networks"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr == (
        "netcon: Permission denied on /var/run/docker.sock: run netcon as root or as a member of the docker group.\n"
    )


def test_bad_usage_exits_2():
    assert netcon("show", "nothing").returncode == 2
    missing = netcon("show", "veths", "--netns", "netcon-no-such-ns")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "netcon: Network namespace 'netcon-no-such-ns' does not exist (looked for /var/run/netns/netcon-no-such-ns)."
    )
