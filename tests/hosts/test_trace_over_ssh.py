"""A trace across hosts with the remote host read over SSH (the lab's sshd per host): the netcon on h2 walks
h2's part from h2's own kernel state, and the hops equal the in-process lab trace, healthy and with a fault
on h2; an unreachable remote is one sentence."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest

from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab.state import LabState
from tests.hosts.lab_ssh import netcon, settled

pytestmark = pytest.mark.lab
KEYS = ("host", "netns", "device", "stage", "direction", "holds", "predicted", "verdict", "rule")


def trace(state: LabState, *args: str, over: bool) -> tuple[int, dict, str]:
    """``netcon trace --lab P h1-probe h2-probe --json``, h2 read in-process or over SSH."""
    import json

    h2 = state.host("h2")
    via = ["--via", lab_ssh.target(h2)] if over else []
    done = netcon(
        "--ssh-config", lab_ssh.config_path(state), "trace", "--lab", state.prefix, "h1-probe", "h2-probe",
        *via, *args, "--json",
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


def shape(result: dict) -> list[tuple]:
    return [tuple(h[k] for k in KEYS) for h in result["hops"]]


def in_netns(state: LabState, host: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["nsenter", f"--net={state.host(host).netns_path}", *argv], capture_output=True, text=True, check=check
    )


def test_prediction_over_ssh_equals_the_in_process_trace(ssh_lab: LabState):
    code_here, here, err_here = trace(ssh_lab, "--no-probe", over=False)
    code_over, over, err_over = trace(ssh_lab, "--no-probe", over=True)
    assert code_here == 0 and code_over == 0, err_here + err_over
    assert shape(over) == shape(here)
    h2 = [h for h in over["hops"] if h["host"] == "h2"]
    assert {h["direction"] for h in h2} == {"request", "reply"}
    assert {"underlay", "firewall", "vxlan", "route", "deliver"} <= {h["stage"] for h in h2}
    assert all(h["over"] == lab_ssh.target(ssh_lab.host("h2")) for h in h2)
    assert all(h["over"] is None for h in over["hops"] if h["host"] == "h1")
    assert settled(ssh_lab) == []


def test_probe_over_ssh_reply_seen_and_remote_hops_say_not_captured(ssh_lab: LabState):
    code, result, err = trace(ssh_lab, over=True)
    assert code == 0, err
    assert result["reply_seen"] and result["last_line"] == "reached, reply seen"
    h2 = [h for h in result["hops"] if h["host"] == "h2"]
    assert h2 and all(h["verdict"].startswith("not captured: read over SSH; ") for h in h2)
    (back,) = [
        h
        for h in result["hops"]
        if (h["direction"], h["netns"], h["device"]) == ("reply", "container h1-probe", "eth0")
    ]
    assert back["seen"]["ttl"] == 62  # captured here: the reply was forwarded by h2 and h1


def test_forward_drop_on_h2_named_at_the_same_hop_both_ways(ssh_lab: LabState):
    docker0 = in_netns(ssh_lab, "h2", "ip", "-4", "-o", "addr", "show", "docker0").stdout.split()[3]
    subnet = str(ipaddress.IPv4Interface(docker0).network)  # h2's flannel subnet
    rule = ("FORWARD", "-d", subnet, "-j", "DROP")
    in_netns(ssh_lab, "h2", "iptables", "-I", *rule)
    try:
        code_here, here, _ = trace(ssh_lab, "--no-probe", over=False)
        code_over, over, _ = trace(ssh_lab, "--no-probe", over=True)
    finally:
        in_netns(ssh_lab, "h2", "iptables", "-D", *rule)
    assert code_here == code_over == 1
    assert shape(over) == shape(here)
    failed = over["failed_hop"]
    named = tuple(failed[k] for k in ("host", "netns", "stage", "direction", "rule"))
    assert named == tuple(here["failed_hop"][k] for k in ("host", "netns", "stage", "direction", "rule"))
    assert named == ("h2", "h2", "firewall", "request", f"-A FORWARD -d {subnet} -j DROP")
    assert f"-A FORWARD -d {subnet} -j DROP" not in in_netns(ssh_lab, "h2", "iptables", "-S", "FORWARD").stdout


def test_unreachable_remote_is_one_sentence(ssh_lab: LabState):
    h2 = ssh_lab.host("h2")
    target = f"ssh://root@{h2.netns}:2"  # nothing listens on port 2 there
    done = netcon(
        "--ssh-config", lab_ssh.config_path(ssh_lab), "trace", "--lab", ssh_lab.prefix, "h1-probe", "h2-probe",
        "--via", target, "--no-probe",
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and target in lines[0] and "Traceback" not in done.stderr
    assert settled(ssh_lab) == []
