"""netcon --host ssh://... capture: the netcon on the lab host (reached through its sshd) captures there and
sends the frames back; the packets equal what Debian's tcpdump, run in that host's namespace at the same time,
captures (ICMP ids, sequence numbers and addresses), the lines equal an in-process capture's, tshark reads the
file, the filter applies there, and ^C or a stop leaves no capture (no packet socket) on the host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import docker
import pytest

from netcon.core.lab import lab
from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab.state import LabHost, LabState
from netcon.core.netns import netns_inode
from tests.hosts.lab_ssh import eventually, in_process, netcon, over_ssh, settled

pytestmark = pytest.mark.lab
PINGS = 3
FIELDS = ("ip.src", "ip.dst", "icmp.type", "icmp.ident", "icmp.seq")


def address(state: LabState, host: str, container: str) -> str:
    api = docker.APIClient(base_url=state.host(host).docker_host)
    networks = api.inspect_container(container)["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["IPAddress"]


def ping(state: LabState, source: str, target: str, count: int = PINGS) -> None:
    """``ping`` in ``source`` on h1 (its own busybox ping), to ``target``."""
    api = docker.APIClient(base_url=state.host("h1").docker_host)
    run = api.exec_create(source, ["ping", "-c", str(count), "-i", "0.2", target])
    assert b"0% packet loss" in api.exec_start(run["Id"])


def veth_of(host: LabHost, container: str) -> str:
    """The host-side veth of ``container`` on ``host``, as netcon reads it in-process."""
    from netcon.core.hosts.local import LocalHost

    local = LocalHost(lab.host_context(host))
    try:
        snapshot = local.snapshot()
        owner = snapshot.container(container)
        assert owner is not None
        return next(v.ifname for v in snapshot.veths if v.container_id == owner.id)
    finally:
        local.close()


def started(argv: list[str]) -> subprocess.Popen:
    """``netcon ARGV`` running; returned once it says it captures (its first line on stderr, kept as ``said``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "netcon.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT as a terminal's ^C gives it (a suite started in the background runs with SIGINT ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if "capturing on" not in line:
        proc.kill()
        raise AssertionError(line + proc.communicate()[1])
    proc.said = line  # type: ignore[attr-defined]
    return proc


def tcpdump(host: LabHost, ifname: str, path: str, expression: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["nsenter", f"--net={host.netns_path}", "tcpdump", "-i", ifname, "-n", "--immediate-mode", "-U",
         "-c", str(2 * PINGS), "-w", path, expression],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "listening on" in line, line
    return proc


def tshark(path: str) -> list[tuple[str, ...]]:
    done = subprocess.run(
        ["tshark", "-r", path, "-T", "fields", *(a for f in FIELDS for a in ("-e", f))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [tuple(line.split("\t")) for line in done.stdout.splitlines()]


def serve_pids(host: LabHost) -> list[int]:
    """The ``netcon serve --stdio`` processes in ``host``'s namespace (the sessions of its sshd)."""
    inode, found = netns_inode(host.netns_path), []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                line = f.read().replace(b"\0", b" ").decode(errors="replace")
            if "serve --stdio" in line and os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                found.append(int(entry))
        except OSError:
            continue
    return found


def packet_sockets(pid: int, netns_of: int) -> int:
    """AF_PACKET sockets process ``pid`` holds in the namespace of process ``netns_of`` (the kernel's list of
    that namespace's packet sockets, by inode, against the process's descriptors)."""
    with open(f"/proc/{netns_of}/net/packet") as f:
        listed = {line.split()[-1] for line in f.read().splitlines()[1:]}
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target[len("socket:[") : -1])
    return len(held & listed)


def sockets_there(host: LabHost, netns_of: int | None = None) -> int:
    """Packet sockets the netcons serving over ``host``'s sshd hold in the namespace of process ``netns_of``
    (None: the host's own)."""
    return sum(packet_sockets(pid, netns_of or pid) for pid in serve_pids(host))


@pytest.fixture(scope="module")
def pair(ssh_lab: LabState) -> Iterator[tuple[str, str, str]]:
    """app1 and app2 on h1's user network (the seed's), app2's address, and its host-side veth on h1."""
    yield address(ssh_lab, "h1", "app1"), address(ssh_lab, "h1", "app2"), veth_of(ssh_lab.host("h1"), "app2")


def test_capture_over_ssh_equals_tcpdump_in_the_hosts_namespace(ssh_lab: LabState, pair, tmp_path):
    """A ping from app1 to app2 on h1, captured on app2's veth at once by netcon over SSH (-w), by netcon
    in-process (lines) and by tcpdump in h1's namespace: the same echoes, the same lines, tshark reads the file."""
    h1 = ssh_lab.host("h1")
    app1_ip, app2_ip, veth = pair
    saved, theirs = str(tmp_path / "over.pcapng"), str(tmp_path / "tcpdump.pcap")
    count = ["-c", str(2 * PINGS), "-f", "icmp"]
    over_lines = started([*over_ssh(ssh_lab, h1), "capture", f"veth:{veth}", *count])
    over_file = started([*over_ssh(ssh_lab, h1), "capture", f"veth:{veth}", *count, "-w", saved])
    here = started([*in_process(h1), "capture", f"veth:{veth}", *count])
    reference = tcpdump(h1, veth, theirs, "icmp")
    ping(ssh_lab, "app1", app2_ip)
    results = {name: proc.communicate(timeout=30) for name, proc in (("lines", over_lines), ("file", over_file),
                                                                     ("here", here))}  # fmt: skip
    assert reference.wait(timeout=30) == 0
    assert over_lines.returncode == over_file.returncode == here.returncode == 0, results

    echoes = tshark(saved)
    assert echoes == tshark(theirs)  # the same packets, in the same order, as tcpdump's
    assert [e[:3] for e in echoes] == [(app1_ip, app2_ip, "8"), (app2_ip, app1_ip, "0")] * PINGS
    assert [e[4] for e in echoes] == [str(seq) for seq in range(PINGS) for _ in (0, 1)]  # busybox counts from 0
    # the lines as netcon prints them in-process on that host (whose namespace it calls "host" there), but the
    # time: each socket stamps a packet as it reaches it
    over, local = (results[k][0].splitlines() for k in ("lines", "here"))
    untimed = [line.split(" ", 1)[1] for line in over]
    assert len(over) == 2 * PINGS and untimed == [
        line.split(" ", 1)[1].replace(f"[{h1.netns}]", "[host]") for line in local
    ]
    assert f"{veth} [host]" in over[0] and f"{app1_ip} > {app2_ip}: ICMP echo request" in over[0]
    assert results["file"][0] == ""  # -w: no lines
    assert "saved to" in results["file"][1] and "0 dropped by kernel" in results["file"][1]
    assert settled(ssh_lab) == []


def test_the_filter_applies_there_and_json_lines(ssh_lab: LabState, pair):
    h1 = ssh_lab.host("h1")
    app1_ip, app2_ip, veth = pair
    only = f"icmp and src host {app2_ip}"  # the replies only
    proc = started([*over_ssh(ssh_lab, h1), "capture", f"veth:{veth}", "-f", only, "-c", str(PINGS), "--json"])
    ping(ssh_lab, "app1", app2_ip)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    packets = [json.loads(line) for line in out.splitlines()]
    assert len(packets) == PINGS
    assert all(p["summary"].startswith(f"IP {app2_ip} > {app1_ip}: ICMP echo reply") for p in packets)
    assert {(p["ifname"], p["netns"]) for p in packets} == {(veth, "host")}
    assert proc.said == f"netcon: capturing on {veth} in host of {lab_ssh.target(h1)}, filter {only!r}; Ctrl-C stops.\n"
    assert settled(ssh_lab) == []


def test_bad_filter_and_target_are_refused_there_in_one_sentence(ssh_lab: LabState):
    h1 = ssh_lab.host("h1")
    bad = netcon(*over_ssh(ssh_lab, h1), "capture", "eth0", "-f", "icmp andd")
    assert bad.returncode == 2 and bad.stdout == ""
    said = f"netcon: {h1.netns}: Filter 'icmp andd' is not valid: can't parse filter expression: syntax error.\n"
    assert bad.stderr == said  # libpcap's words, from the host that compiles it
    missing = netcon(*over_ssh(ssh_lab, h1), "capture", "container:nosuch-ctr")
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr == f"netcon: {h1.netns}: No container named nosuch-ctr on this host.\n"
    saved = netcon(*over_ssh(ssh_lab, h1), "capture", "-r", "/etc/hostname")
    assert (
        saved.returncode == 2 and saved.stderr == "netcon: -r reads a file on this machine: give no --host with it.\n"
    )
    assert settled(ssh_lab) == []


def test_ctrl_c_ends_the_capture_there(ssh_lab: LabState, pair, tmp_path):
    """An endless capture over SSH: while it runs the netcon on h1 holds a packet socket; ^C ends it cleanly
    (counts printed, file complete) and leaves no session, netcon or socket on h1."""
    h1 = ssh_lab.host("h1")
    _app1_ip, app2_ip, veth = pair
    saved = str(tmp_path / "endless.pcapng")
    proc = started([*over_ssh(ssh_lab, h1), "capture", f"veth:{veth}", "-f", "icmp", "-w", saved])
    try:
        assert sockets_there(h1) == 1
        ping(ssh_lab, "app1", app2_ip, 1)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "netcon: 2 packets captured on 1 interface" in err and "Traceback" not in err
    assert [e[:3] for e in tshark(saved)] == [(_app1_ip, app2_ip, "8"), (app2_ip, _app1_ip, "0")]
    assert settled(ssh_lab) == []


def test_stop_closes_the_sockets_there_while_the_session_lives(ssh_lab: LabState, pair):
    """``HostCapture.close`` (what the Capture pane and the CLI call) ends the capture on h1 at once: its packet
    socket is gone while the connection itself stays up."""
    from netcon.core.aioloop import stop_loop
    from netcon.core.hosts.captures import CaptureRequest, HostCapture
    from netcon.core.hosts.remote import RemoteHost
    from netcon.core.hosts.ssh import SshSettings
    from netcon.core.hosts.target import parse_target

    h1 = ssh_lab.host("h1")
    _app1_ip, app2_ip, veth = pair
    host = RemoteHost(parse_target(lab_ssh.target(h1)), "h1", SshSettings(lab_ssh.config_path(ssh_lab)))
    try:
        capture = HostCapture(host, CaptureRequest((f"veth:{veth}",), "icmp")).open()
        assert sockets_there(h1) == 1
        ping(ssh_lab, "app1", app2_ip, 1)
        got = eventually(lambda: capture.next_raw(0.2), bool, 10)
        capture.close()
        assert sockets_there(h1) == 0 and host.connected
        assert got and capture.statistics().received == 2
        assert host.snapshot().containers  # the session serves on
    finally:
        host.close()
        stop_loop()
    assert settled(ssh_lab) == []


BLAST = """
import socket, sys, time
sock, end = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    sock.sendto(b"x" * 1400, (sys.argv[1], 9))
"""


def test_a_burst_stays_within_the_bound_and_keeps_the_session(ssh_lab: LabState, pair, tmp_path):
    """Full-size datagrams as fast as h1 sends them, captured over SSH: what comes back keeps to the bound (the
    rest counted), and the SSH session carries it (a batch of a whole second's megabyte in one line overran
    asyncssh's receive window and ended the session)."""
    h1 = ssh_lab.host("h1")
    _app1_ip, app2_ip, veth = pair
    saved = str(tmp_path / "burst.pcapng")
    blast = subprocess.Popen(["nsenter", f"--net={h1.netns_path}", sys.executable, "-c", BLAST, app2_ip, "60"])
    try:  # already at full rate when the capture opens, until the capture has ended
        time.sleep(1)
        proc = started([*over_ssh(ssh_lab, h1), "capture", f"veth:{veth}", "-f", "udp port 9", "--duration", "2",
                        "-w", saved])  # fmt: skip
        _out, err = proc.communicate(timeout=60)
    finally:
        blast.kill()
        blast.wait()
    assert proc.returncode == 0, err
    bound = "over the cap of 2000 packets and 1048576 bytes a second over SSH (not shown)"
    assert bound in err and "Traceback" not in err
    frames = subprocess.run(["capinfos", "-c", "-M", saved], capture_output=True, text=True, timeout=60).stdout
    kept = int(frames.split("Number of packets:")[1].split()[0])
    assert 0 < kept <= 4 * (1 << 20) // 1442  # at most a megabyte for each second it may straddle
    assert settled(ssh_lab) == []


def test_unreachable_host_is_one_sentence(ssh_lab: LabState):
    h1 = ssh_lab.host("h1")
    target = f"ssh://root@{h1.netns}:2"  # nothing listens on port 2 there
    done = netcon("--ssh-config", lab_ssh.config_path(ssh_lab), "--host", target, "capture", "eth0", "-c", "1")
    assert done.returncode != 0 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and target in lines[0] and "Traceback" not in done.stderr
