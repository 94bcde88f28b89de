"""netcon --host ssh://... ping: the probe runs on the remote host (the lab's sshd per host), started by the
netcon there, and prints what a local ping from that host prints: a cross-host echo answered with TTL 62."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import docker
import pytest

from netcon.core.lab.state import LabState
from tests.hosts.lab_ssh import in_process, netcon, over_ssh, settled

pytestmark = pytest.mark.lab
TIME = re.compile(r"time=[0-9.]+ ms|time \d+ms|rtt min/avg/max/mdev = .*")


def address(state: LabState, host: str, container: str) -> str:
    api = docker.APIClient(base_url=state.host(host).docker_host)
    networks = api.inspect_container(container)["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["IPAddress"]


def test_ping_from_h2_over_ssh_prints_what_the_local_ping_prints(ssh_lab: LabState):
    h2, target = ssh_lab.host("h2"), address(ssh_lab, "h1", "h1-probe")
    ping = ("ping", "--from", "h2-probe", target, "-c", "2", "-i", "0.2")
    over = netcon(*over_ssh(ssh_lab, h2), *ping)
    here = netcon(*in_process(h2), *ping)
    assert over.returncode == here.returncode == 0, over.stderr + here.stderr
    lines = over.stdout.splitlines()
    assert lines[0] == f"PING {target} ({target}) 56(84) bytes of data."
    assert [re.sub(r"time=\S+", "time=T", line) for line in lines[1:3]] == [
        f"64 bytes from {target}: icmp_seq={seq} ttl=62 time=T ms" for seq in (1, 2)
    ]
    assert "2 packets transmitted, 2 received, 0% packet loss" in over.stdout
    assert TIME.sub("", over.stdout) == TIME.sub("", here.stdout)  # line for line, but the times
    assert settled(ssh_lab) == []


def test_ping_json_over_ssh_equals_the_local_one_in_success_and_ttl(ssh_lab: LabState):
    h2, target = ssh_lab.host("h2"), address(ssh_lab, "h1", "h1-probe")
    ping = ("ping", "--from", "h2-probe", target, "-c", "2", "-i", "0.2", "--json")
    over = json.loads(netcon(*over_ssh(ssh_lab, h2), *ping).stdout)
    here = json.loads(netcon(*in_process(h2), *ping).stdout)
    assert (over["source"], over["ip"]) == (here["source"], here["ip"]) == ("container h2-probe", target)
    assert [(r["status"], r["seq"], r["ttl"]) for r in over["replies"]] == [("reply", 1, 62), ("reply", 2, 62)]
    assert [(r["status"], r["seq"], r["ttl"]) for r in here["replies"]] == [("reply", 1, 62), ("reply", 2, 62)]
    assert over["summary"]["received"] == here["summary"]["received"] == 2


def test_a_bad_source_over_ssh_is_one_sentence_naming_the_host(ssh_lab: LabState):
    h2 = ssh_lab.host("h2")
    done = netcon(*over_ssh(ssh_lab, h2), "ping", "--from", "nosuch-ctr", "198.18.255.1", "-c", "1")
    assert done.returncode != 0 and done.stdout == "" and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("netcon: h2:") or h2.netns in line
    assert "nosuch-ctr" in line
    assert settled(ssh_lab) == []


def test_an_endless_ping_over_ssh_stops_on_ctrl_c_with_its_statistics(ssh_lab: LabState):
    """No -c: echoes until ^C, as ping; the probe on h2 is stopped and its statistics printed."""
    h2, target = ssh_lab.host("h2"), address(ssh_lab, "h1", "h1-probe")
    argv = [sys.executable, "-m", "netcon.cli", *over_ssh(ssh_lab, h2), "ping", "--from", "h2-probe", target]
    argv += ["-i", "0.2"]
    # SIGINT as a terminal's ^C gives it: a suite started in the background (``cmd &``) runs with SIGINT
    # ignored, which children inherit, and Python then leaves ^C ignored too
    ping = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert ping.stdout is not None
        lines = [ping.stdout.readline() for _ in range(4)]  # the header and three replies
        ping.send_signal(signal.SIGINT)
        out, err = ping.communicate(timeout=30)
    finally:
        if ping.poll() is None:
            ping.kill()
            ping.wait()
    assert ping.returncode == 0, err
    assert all(f"from {target}: icmp_seq={seq} ttl=62 " in lines[seq] for seq in (1, 2, 3))
    assert f"--- {target} ping statistics ---" in out and " received, 0% packet loss" in out
    assert settled(ssh_lab) == []
