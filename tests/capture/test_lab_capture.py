"""The tutorial's cross-host ping captured on a real two-host lab (flannel over etcd, one dockerd per host):
on h1's flannel.1 the inner ICMP, on h1's underlay link the same packets in VXLAN with VNI 1 between the two
VTEPs; the counts equal what Debian's tcpdump sees on the same interfaces with the same filter in the same
run, and the pcapng netcon writes decodes in tshark (told that flannel's port 8472 is VXLAN) as in netcon."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid

import docker
import pytest

from netcon.core.context import HostContext
from netcon.core.lab import lab
from tests.capture.test_fidelity import netcon, netcon_protocols, start_capture, tshark_protocols

pytestmark = pytest.mark.lab
FILTER = "icmp or udp port 8472"
PINGS = 3


def tcpdump(netns: str, ifname: str, path: str) -> subprocess.Popen:
    """Debian's tcpdump on ``ifname`` in ``netns``, writing ``path``; returned once it listens."""
    proc = subprocess.Popen(
        ["nsenter", f"--net={netns}", "tcpdump", "-i", ifname, "-n", "--immediate-mode", "-U", "-w", path, FILTER],
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()
    assert "listening on" in line, line
    return proc


def counted(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    return int(next(line for line in err.splitlines() if "packets captured" in line).split()[0])


def test_flannel_and_underlay_against_tcpdump(tmp_path):
    prefix = f"u{uuid.uuid4().hex[:5]}"
    try:
        state = lab.up(HostContext(), prefix, hosts=2, seed=False)
        h1, h2 = state.hosts
        target = docker.APIClient(base_url=h2.docker_host).inspect_container("h2-probe")["NetworkSettings"]["IPAddress"]
        saved = str(tmp_path / "lab.pcapng")
        ours = start_capture(
            "--docker-host", h1.docker_host, "--netns", h1.netns_path, "flannel", "eth0", "-f", FILTER, "--json"
        )
        theirs = {name: tcpdump(h1.netns_path, name, str(tmp_path / f"{name}.pcap")) for name in ("flannel.1", "eth0")}
        written = start_capture("--netns", h1.netns_path, "flannel", "eth0", "-f", FILTER, "-w", saved)
        ping = netcon(
            "--docker-host", h1.docker_host, "--netns", h1.netns_path,
            "ping", "--from", "h1-probe", target, "-c", str(PINGS), "-i", "0.2",
        )  # fmt: skip
        assert ping.returncode == 0, ping.stdout + ping.stderr
        tcpdump_counts = {name: counted(proc) for name, proc in theirs.items()}
        written.send_signal(signal.SIGTERM)
        assert written.wait(timeout=30) == 0
        ours.send_signal(signal.SIGTERM)
        out, err = ours.communicate(timeout=30)
        assert ours.returncode == 0, err
    finally:
        lab.down(HostContext(), prefix)

    packets = [json.loads(line) for line in out.splitlines()]
    on = {name: [p for p in packets if p["ifname"] == name] for name in ("flannel.1", "eth0")}
    assert {p["netns"] for p in packets} == {h1.netns}
    # the same number as tcpdump on each interface: the echoes and their replies, nothing lost
    assert len(on["flannel.1"]) == tcpdump_counts["flannel.1"] == 2 * PINGS
    assert len(on["eth0"]) == tcpdump_counts["eth0"] == 2 * PINGS
    assert "0 dropped by kernel" in err

    # flannel.1: the ICMP between the probes (h1's Docker masquerades the source behind flannel.1's address)
    for packet in on["flannel.1"]:
        ip, icmp = packet["layers"][1:3]
        assert ip["proto"] == "ip" and icmp["proto"] == "icmp"
        assert (ip["dst"] if icmp["kind"] == "echo request" else ip["src"]) == target
    # the underlay: VXLAN with VNI 1 between the two VTEPs, the same ICMP inside
    for packet in on["eth0"]:
        outer, udp, vxlan, inner = (packet["layers"][i] for i in (1, 2, 3, 5))
        assert {outer["src"], outer["dst"]} == {h1.address, h2.address}
        assert udp["dport"] == 8472 and vxlan == {"proto": "vxlan", "vni": 1, "flags": 8}
        assert target in (inner["src"], inner["dst"])
        assert packet["summary"].startswith(f"outer {outer['src']} > {outer['dst']} vxlan vni 1 | inner IP ")
    requests = [p for p in on["eth0"] if "echo request" in p["summary"]]
    assert requests and all(p["summary"].startswith(f"outer {h1.address} > {h2.address}") for p in requests)

    # the saved file: tshark (with flannel's port as VXLAN) sees what netcon decodes, packet by packet
    mine, _ = netcon_protocols(saved)
    assert mine == tshark_protocols(saved, "udp.port==8472,vxlan")
    assert ("eth", "ip", "udp", "vxlan", "eth", "ip", "icmp") in mine
