"""A trace across hosts with the remote host read over SSH (the lab's sshd per host): the netcon on h2 walks
h2's part from h2's own kernel state, and the hops equal the in-process lab trace, healthy and with a fault
on h2; an unreachable remote is one sentence."""

from __future__ import annotations

import dataclasses
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


def hops(result: dict, **match: str) -> list[dict]:
    return [h for h in result["hops"] if all(h[k] == v for k, v in match.items())]


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


def test_probe_over_ssh_seen_on_every_hop_by_the_netcon_there(ssh_lab: LabState):
    """The probe is sent from h1; h2's netcon captures it on h2's hops: the same hops are seen as in-process."""
    code, result, err = trace(ssh_lab, over=True)
    code_here, here, _ = trace(ssh_lab, over=False)
    assert code == code_here == 0, err
    assert result["reply_seen"] and result["last_line"] == "reached, reply seen"
    h2 = [h for h in result["hops"] if h["host"] == "h2"]
    assert h2 and all(h["over"] for h in h2)
    captured = [h for h in result["hops"] if h["seen"] is not None]
    assert all(h["seen"] for h in captured) and {h["host"] for h in captured} == {"h1", "h2"}
    assert [(h["host"], h["netns"], h["device"], h["direction"]) for h in captured] == [
        (h["host"], h["netns"], h["device"], h["direction"]) for h in here["hops"] if h["seen"] is not None
    ]
    (arrived,) = hops(result, direction="request", netns="container h2-probe", device="eth0")
    (back,) = hops(result, direction="reply", netns="container h1-probe", device="eth0")
    assert arrived["seen"]["ttl"] == 62 and back["seen"]["ttl"] == 62  # seen on h2 by h2's netcon, and here
    assert settled(ssh_lab) == []


def test_forward_drop_on_h2_named_at_the_same_hop_both_ways(ssh_lab: LabState):
    docker0 = in_netns(ssh_lab, "h2", "ip", "-4", "-o", "addr", "show", "docker0").stdout.split()[3]
    subnet = str(ipaddress.IPv4Interface(docker0).network)  # h2's flannel subnet
    rule = ("FORWARD", "-d", subnet, "-j", "DROP")
    in_netns(ssh_lab, "h2", "iptables", "-I", *rule)
    try:
        code_here, here, _ = trace(ssh_lab, "--no-probe", over=False)
        code_over, over, _ = trace(ssh_lab, "--no-probe", over=True)
        probed = trace(ssh_lab, over=True)
    finally:
        in_netns(ssh_lab, "h2", "iptables", "-D", *rule)
    assert code_here == code_over == probed[0] == 1
    assert shape(over) == shape(here)
    where = ("host", "netns", "stage", "direction", "rule")
    named = tuple(over["failed_hop"][k] for k in where)
    assert named == tuple(here["failed_hop"][k] for k in where) == tuple(probed[1]["failed_hop"][k] for k in where)
    assert named == ("h2", "h2", "firewall", "request", f"-A FORWARD -d {subnet} -j DROP")
    (decap,) = hops(probed[1], direction="request", host="h2", device="flannel.1")
    assert decap["seen"]  # seen by h2's netcon on flannel.1, the last hop before the drop
    assert f"-A FORWARD -d {subnet} -j DROP" not in in_netns(ssh_lab, "h2", "iptables", "-S", "FORWARD").stdout


def test_host_option_has_the_netcon_there_run_the_whole_trace(ssh_lab: LabState):
    """``netcon --host ssh://h2 trace h2-probe H1-PROBE-IP``: h2's netcon traces from its own kernel state, sends
    and captures the probe there and runs nftrace there; its hops are h2's part of the in-process lab trace, up to
    where the packet leaves h2. Hosts this netcon would read (--via, --lab) and a bad source: one sentence."""
    import json

    h2 = ssh_lab.host("h2")
    lab_trace = netcon("trace", "--lab", ssh_lab.prefix, "h2-probe", "h1-probe", "--no-probe", "--json")
    here = json.loads(lab_trace.stdout)  # the reference: the whole lab read in-process, from h2-probe
    ip = here["dst_ip"]
    on = ["--ssh-config", lab_ssh.config_path(ssh_lab), "--host", lab_ssh.target(h2)]
    done = netcon(*on, "trace", "h2-probe", ip, "--json")
    assert done.returncode == 0, done.stderr
    there = json.loads(done.stdout)
    assert there["reply_seen"] and {(h["host"], h["over"]) for h in there["hops"]} == {(h2.netns, lab_ssh.target(h2))}
    mine = [(h["device"], h["stage"]) for h in there["hops"]]
    reference = [(h["device"], h["stage"]) for h in here["hops"] if h["host"] == "h2" and h["direction"] == "request"]
    assert mine[: mine.index(("eth0", "underlay")) + 1] == reference[: reference.index(("eth0", "underlay")) + 1]
    (decap,) = [h for h in there["hops"] if h["device"] == "flannel.1"]
    assert decap["seen"]["ttl"] == 63  # routed once on h2, captured there by its netcon
    (firewall,) = [h for h in there["hops"] if h["stage"] == "firewall"]
    assert "FORWARD" in (firewall["traced"] or "")  # nftrace ran on h2
    refused = netcon(*on, "trace", "h2-probe", ip, "--via", lab_ssh.target(ssh_lab.host("h1")))
    assert refused.returncode == 2 and "with --host the netcon there runs the trace" in refused.stderr
    missing = netcon(*on, "trace", "nosuch", ip)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "'nosuch'" in missing.stderr
    assert settled(ssh_lab) == []


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


def test_a_host_that_cannot_capture_says_why(ssh_lab: LabState):
    """The netcon on h2 asked to capture on an interface h2 does not have (what a hop predicted from a state
    that changed before the probe would ask): a note naming the host and the interface, no sightings from it,
    and nothing of the session left behind."""
    from netcon.core.aioloop import stop_loop
    from netcon.core.hosts.remote import RemoteHost
    from netcon.core.hosts.ssh import SshSettings
    from netcon.core.hosts.target import parse_target
    from netcon.core.trace.hosts import Hosts
    from netcon.core.trace.model import Capture, Hop
    from netcon.core.trace.probe import Identity
    from netcon.core.trace.remote import open_remotes
    from netcon.core.trace.remote_proof import remote_sightings

    h2 = ssh_lab.host("h2")
    host = RemoteHost(parse_target(lab_ssh.target(h2)), "h2", SshSettings(lab_ssh.config_path(ssh_lab)))
    gone = Hop("h2", "h2", "gone0", "veth", "request", "", "passes", "passes", capture=Capture(None, "gone0", "h2"))
    hosts = Hosts([], None, open_remotes([("h2", host)]))
    try:
        with remote_sightings(
            hosts, (dataclasses.replace(gone, over=host.target),), Identity("icmp", 4242, b"")
        ) as far:
            pass
    finally:
        hosts.close()
        stop_loop()
    assert far.seen == {}
    (note,) = far.notes
    assert note.startswith("the probe was not captured on h2: ") and "gone0" in note, note
    assert settled(ssh_lab) == []


def test_a_source_on_a_host_read_over_ssh_is_refused(ssh_lab: LabState):
    h2 = ssh_lab.host("h2")
    done = netcon(
        "--ssh-config", lab_ssh.config_path(ssh_lab), "trace", "--lab", ssh_lab.prefix, "h2-probe", "h1-probe",
        "--via", lab_ssh.target(h2), "--no-probe",
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "netcon: Container h2-probe is on h2, read over SSH: trace from a host read here (or run netcon trace on h2).\n"
    )
    assert settled(ssh_lab) == []
