"""The lab brought up for real: namespaces, underlay, one dockerd per host, etcd, the seed's scene; and a
teardown that leaves the machine exactly as before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import docker
import pytest

from netcon.core.context import HostContext
from netcon.core.errors import PermissionDenied, UsageError
from netcon.core.lab import lab
from netcon.core.lab import state as lab_state
from netcon.core.lab.scenario import SEED


def netcon(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netcon.cli", *args], capture_output=True, text=True, timeout=120)


def machine() -> dict:
    """What the lab must leave as it found it."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=True).stdout
    return {
        "links": sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines()),
        "netns": sorted(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else [],
        "iptables": rules.splitlines(),
    }


def lab_processes(directory: str) -> list[int]:
    from netcon.core.lab.procs import processes_mentioning

    return processes_mentioning(directory)


def test_full_lab_lifecycle():
    """up, inspect through netcon and Docker, break a daemon and repair it, down: machine as before."""
    ctx = HostContext()
    prefix = f"u{uuid.uuid4().hex[:5]}"
    before = machine()
    try:
        state = lab.up(ctx, prefix, hosts=2)
        h1, h2 = state.hosts

        # the underlay: each host reaches the other over the bridge, and none has a default route
        ping = netcon("lab", "exec", "--prefix", prefix, "h2", "--", "ping", "-c", "1", "-W", "2", h1.address)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        routes = netcon("lab", "exec", "--prefix", prefix, "h1", "--", "ip", "route").stdout
        assert "default" not in routes
        assert netcon("lab", "exec", "--prefix", prefix, "h1", "--", "false").returncode == 1  # its exit code

        # lab exec runs any command, so read-only refuses it like every change: exit 3, audited, host unchanged
        add = ("lab", "exec", "--prefix", prefix, "h1", "--", "ip", "link", "add", "ro0", "type", "dummy")
        refused = netcon("--read-only", *add)
        assert refused.returncode == 3 and refused.stderr == (
            "netcon: Refused run a command in lab host h1: netcon runs in read-only mode.\n"
        )
        links = netcon("lab", "exec", "--prefix", prefix, "h1", "--", "ip", "-o", "link").stdout
        assert "ro0" not in links
        with open(os.environ["NETCON_AUDIT_LOG"]) as f:
            records = [json.loads(line) for line in f]
        assert [r["outcome"] for r in records if r["arguments"].get("command") == list(add[6:])] == ["read-only"]

        # etcd holds the seed's flannel config under the seed's prefix (v2 API)
        with urllib.request.urlopen(f"{state.etcd_endpoint}/v2/keys/atomic.io/network/config", timeout=5) as r:
            assert json.loads(json.load(r)["node"]["value"]) == {
                "Network": "172.17.0.0/16",
                "Backend": {"Type": "vxlan"},
            }

        # the seed's scenario on h1, seen through netcon show with --netns/--docker-host and the Docker API
        client = docker.APIClient(base_url=h1.docker_host)
        names = {c["Names"][0].lstrip("/"): c for c in client.containers()}
        assert {p.name for p in SEED} <= set(names)
        shown = json.loads(
            netcon("--docker-host", h1.docker_host, "--netns", h1.netns, "show", "containers", "--json").stdout
        )["containers"]
        modes = {c["name"]: c["network_mode"] for c in shown}
        assert modes["app1"] == modes["app2"] == "app"
        assert modes["nginx"] == "host" and modes["busybox-3"] == "none" and modes["busybox"] == "bridge"
        assert modes["busybox-1"] == modes["busybox-2"] == "container:busybox"
        veths = json.loads(
            netcon("--docker-host", h1.docker_host, "--netns", h1.netns, "show", "veths", "--json").stdout
        )["veths"]
        assert {v["container"] for v in veths if v["container"]} == {"app1", "app2", "busybox", "h1-probe"}
        exec_id = client.exec_create(names["app1"]["Id"], ["ping", "-c", "1", "app2"])
        assert b"1 packets received" in client.exec_start(exec_id)
        # the host-mode web server answers on port 80 of lab host 1's own address
        web = netcon(
            "lab", "exec", "--prefix", prefix, "h1", "--", "busybox", "wget", "-q", "-O", "-", f"http://{h1.address}/"
        )
        assert web.returncode == 0 and "netcon busybox httpd" in web.stdout
        # who holds port 80 on h1: the host-mode web server, attributed to its container
        ports = json.loads(
            netcon("--docker-host", h1.docker_host, "--netns", h1.netns, "show", "ports", "--json").stdout
        )["ports"]
        (web80,) = [p for p in ports if p["port"] == 80 and p["proto"].startswith("tcp") and p["pid"]]
        assert web80["container"] == "nginx" and web80["process"] == "httpd"
        assert [c["Names"] for c in docker.APIClient(base_url=h2.docker_host).containers()] == [["/h2-probe"]]

        check_overlay(state)

        status = json.loads(netcon("lab", "status", "--prefix", prefix, "--json").stdout)
        assert [h["docker_up"] for h in status["hosts"]] == [True, True] and status["etcd_up"]

        # a dockerd killed from outside shows as down, and lab up repairs it
        os.kill(h2.dockerd_pid, signal.SIGKILL)
        time.sleep(0.5)
        down = netcon("lab", "status", "--prefix", prefix)
        assert down.returncode == 1 and "DOWN" in down.stdout
        again = netcon("lab", "up", "--prefix", prefix)
        assert again.returncode == 0, again.stderr
        assert all(
            h["docker_up"] for h in json.loads(netcon("lab", "status", "--prefix", prefix, "--json").stdout)["hosts"]
        )
    finally:
        removed = netcon("lab", "down", "--prefix", prefix)
    assert removed.returncode == 0, removed.stderr
    after = machine()
    assert after == before
    assert lab_state.load(prefix) is None
    assert lab_processes(f"lab-{prefix}") == []


def lab_traces() -> dict:
    """Everything on the machine that would carry a default-prefix lab's name."""
    state = machine()
    return {
        "links": [x for x in state["links"] if x.startswith(lab.DEFAULT_PREFIX)],
        "netns": [n for n in state["netns"] if n.startswith(lab.DEFAULT_PREFIX)],
        "iptables": [r for r in state["iptables"] if "netcon lab" in r],
        "state": lab_state.load(lab.DEFAULT_PREFIX) is not None,
    }


def check_overlay(state) -> None:
    """The seed's flannel half: docker0 took the host's lease (FLANNEL_SUBNET), flannel.1 has MTU 1450, and a
    container on h1 pings one on h2 across the overlay with TTL 62 (two routed hops)."""
    subnets = []
    for host in state.hosts:
        with open(os.path.join(host.directory, "subnet.env")) as f:
            env = f.read()
        subnet = next(line.split("=", 1)[1] for line in env.splitlines() if line.startswith("FLANNEL_SUBNET="))
        subnets.append(subnet)
        docker0 = netcon(
            "lab", "exec", "--prefix", state.prefix, host.name, "--", "ip", "-o", "-4", "addr", "show", "docker0"
        ).stdout
        assert f"inet {subnet} " in docker0
        bridges = json.loads(
            netcon("--docker-host", host.docker_host, "--netns", host.netns, "show", "bridges", "--json").stdout
        )["bridges"]
        assert any(b["name"] == "docker0" for b in bridges)
        flannel = netcon(
            "lab", "exec", "--prefix", state.prefix, host.name, "--", "ip", "-d", "link", "show", "flannel.1"
        ).stdout
        assert "mtu 1450" in flannel and "vxlan id 1 " in flannel and f"local {host.address} " in flannel
    assert len(set(subnets)) == len(subnets)
    h1, h2 = state.hosts[:2]
    target = docker.APIClient(base_url=h2.docker_host).inspect_container("h2-probe")["NetworkSettings"]["IPAddress"]
    client = docker.APIClient(base_url=h1.docker_host)
    out = client.exec_start(client.exec_create("h1-probe", ["ping", "-c", "2", "-W", "2", target])).decode()
    assert "2 packets received" in out and "ttl=62" in out, out
    # the same through netcon's own probe engine, from inside h1-probe's netns without docker exec
    probe = netcon(
        "--docker-host",
        h1.docker_host,
        "--netns",
        h1.netns,
        "ping",
        "--from",
        "h1-probe",
        target,
        "-c",
        "2",
        "-i",
        "0.2",
        "--json",
    )
    assert probe.returncode == 0, probe.stderr
    result = json.loads(probe.stdout)
    assert result["summary"]["received"] == 2 and {r["ttl"] for r in result["replies"]} == {62}


def test_overlay_on_the_v3_api_with_flannels_default_prefix():
    ctx = HostContext()
    prefix = f"v{uuid.uuid4().hex[:5]}"
    try:
        state = lab.up(ctx, prefix, hosts=2, etcd_api=3, flannel_prefix="/coreos.com/network", seed=False)
        check_overlay(state)
        leases = json.loads(
            netcon("show", "leases", "--json", "--etcd-endpoints", state.etcd_endpoint, "--etcd-api", "3").stdout
        )["leases"]
        assert sorted(lease["public_ip"] for lease in leases) == sorted(h.address for h in state.hosts)
    finally:
        lab.down(ctx, prefix)


def test_bad_input_changes_nothing():
    before = lab_traces()
    for args, message in (
        (("--hosts", "0"), "--hosts 0 is out of range"),
        (("--underlay", "192.0.2.0/24"), "overlaps 192.0.2.0/24, a network of this machine"),
        (("--underlay", "10.0.0.0/33"), "is not a valid IPv4 CIDR"),
        (("--prefix", "bad/name"), "must be 1 to 8 letters"),
    ):
        result = netcon("lab", "up", *args)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert lab_traces() == before


def test_down_without_lab_is_harmless():
    result = netcon("lab", "down", "--prefix", "nolab")
    assert result.returncode == 0 and "nothing to remove" in result.stdout


def test_not_root_is_refused(monkeypatch):
    # Mocked: the tests run as root, and a real unprivileged run would not even reach the venv under /root.
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(PermissionDenied, match="run netcon lab as root"):
        lab.up(HostContext(), "nroot")
    assert lab_state.load("nroot") is None


def test_read_only_refuses_lab_changes():
    with pytest.raises(Exception, match="read-only"):
        lab.up(HostContext(read_only=True), "nro")
    assert lab_state.load("nro") is None
    with pytest.raises(UsageError):
        lab.up(HostContext(), "nro", hosts=0)
