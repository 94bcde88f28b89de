"""netcon's capture against Debian's tshark and tcpdump on real traffic between two namespaces: ARP, ICMP
echo, an ICMP port unreachable and a time exceeded quoting the packets that caused them, DNS, TCP, 802.1Q,
VXLAN (IANA port 4789, which tshark decodes without being told) and IPv6. The pcapng netcon writes is read by
``tshark -r`` and ``tcpdump -r`` without error, with the same packets and the same protocols per packet as
netcon's own decoding of it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from tests.capture.netpair import NetPair
from tests.capture.responder import TCP_PORT

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOT_DECODED = {"ethertype", "data"}  # tshark's pseudo-protocols: the next header's type, and leftover bytes


def netcon(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "netcon.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def start_capture(*args: str) -> subprocess.Popen:
    """``netcon capture ARGS`` in the background, returned once its sockets are open."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "netcon.cli", "capture", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    line = proc.stderr.readline()
    assert "capturing on" in line, line + proc.stderr.read()
    return proc


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out, err


def traffic(pair: NetPair, beyond: str, vxlan_b: str) -> None:
    """One of each kind of packet, from a towards b, each made by the real tool."""
    pair.ping(count=2)
    pair.nsexec(pair.ns_a, "busybox", "nslookup", "app2.test", pair.addr_b, check=False)
    pair.nsexec(pair.ns_a, "sh", "-c", f"echo hello | busybox nc -w 2 {pair.addr_b} {TCP_PORT}", check=False)
    udp = f"import socket, time; socket.socket(2, 2).sendto(b'hi', ({pair.addr_b!r}, 40999)); time.sleep(0.3)"
    pair.nsexec(pair.ns_a, sys.executable, "-c", udp)  # to a closed port: b answers port unreachable
    pair.nsexec(pair.ns_a, "ping", "-c", "1", "-t", "1", "-W", "1", beyond, check=False)
    pair.send_tagged_echo(vid=10)
    pair.nsexec(pair.ns_a, "ping", "-c", "2", "-i", "0.2", "-W", "2", vxlan_b)
    pair.nsexec(pair.ns_a, "ping", "-6", "-c", "1", "-W", "2", "-I", pair.if_a, "ff02::1", check=False)


def tshark_protocols(path: str, *decode_as: str) -> list[tuple[str, ...]]:
    args = ["tshark", "-r", path, "-T", "fields", "-e", "frame.protocols"]
    for rule in decode_as:
        args += ["-d", rule]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [tuple(p for p in line.split(":") if p not in NOT_DECODED) for line in result.stdout.splitlines()]


def netcon_protocols(path: str) -> tuple[list[tuple[str, ...]], list[dict]]:
    read = netcon("capture", "-r", path, "--json")
    assert read.returncode == 0, read.stderr
    packets = [json.loads(line) for line in read.stdout.splitlines()]
    protocols = []
    for packet in packets:
        names = []
        for layer in packet["layers"]:
            names.append(layer["proto"])
            names += [f"ipv6.{ext}" for ext in layer.get("extensions", ())]
        protocols.append(tuple(names))
    return protocols, packets


@pytest.fixture
def pair():
    with NetPair() as made:
        yield made


def test_pcapng_matches_tshark_and_tcpdump(pair, tmp_path):
    vxlan_a, vxlan_b = pair.add_vxlan(vni=7, port=4789)
    beyond = pair.route_beyond()
    responder = subprocess.Popen(
        [
            "nsenter",
            f"--net={pair.path(pair.ns_b)}",
            sys.executable,
            "-m",
            "tests.capture.responder",
            pair.addr_b,
            "60",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert responder.stdout.readline().strip() == "ready"
        saved = str(tmp_path / "a.pcapng")
        capture = start_capture(f"netns:{pair.ns_a}", f"netns:{pair.ns_b}", "-w", saved)
        traffic(pair, beyond, vxlan_b)
        out, err = stop(capture)
    finally:
        responder.kill()
        responder.wait()
    assert out == ""  # -w writes the file, no lines
    captured = int(re.search(r"netcon: (\d+) packets captured", err)[1])

    ours, packets = netcon_protocols(saved)
    theirs = tshark_protocols(saved)
    assert len(ours) == len(theirs) == captured > 20
    mismatched = [(i, o, t) for i, (o, t) in enumerate(zip(ours, theirs)) if o != t]
    assert not mismatched, mismatched[:5]

    seen = set(ours)
    for expected in [
        ("eth", "arp"),
        ("eth", "ip", "icmp"),
        ("eth", "ip", "udp", "dns"),
        ("eth", "ip", "tcp"),
        ("eth", "ip", "icmp", "ip", "udp"),  # port unreachable quoting the datagram
        ("eth", "ip", "icmp", "ip", "icmp"),  # time exceeded quoting the echo
        ("eth", "vlan", "ip", "icmp"),  # 802.1Q
        ("eth", "ip", "udp", "vxlan", "eth", "ip", "icmp"),
    ]:
        assert expected in seen, f"no {expected} in {sorted(seen)}"
    assert any(p[:2] == ("eth", "ipv6") and "icmpv6" in p for p in seen)

    # every interface of the namespace is its own interface block, named, with the namespace in its comment
    interfaces = {(p["ifname"], p["netns"]) for p in packets}
    assert {(pair.if_a, pair.ns_a), ("vx0", pair.ns_a), (pair.if_b, pair.ns_b), ("vx0", pair.ns_b)} <= interfaces
    described = subprocess.run(["capinfos", saved], capture_output=True, text=True, timeout=30).stdout
    assert f"Comment = netns {pair.ns_a}" in described

    # the summaries say what tcpdump says about the same packets
    summaries = [p["summary"] for p in packets]
    assert any(
        f"outer {pair.addr_a} > {pair.addr_b} vxlan vni 7 | inner IP {vxlan_a} > {vxlan_b}: ICMP echo request" in s
        for s in summaries
    )
    exceeded = f"IP {pair.addr_b} > {pair.addr_a}: ICMP time exceeded in-transit (quoting IP {pair.addr_a} > {beyond}:"
    assert any(s.startswith(exceeded + " ICMP echo request") for s in summaries), [
        s for s in summaries if "quoting" in s
    ]
    assert any(f"ICMP port unreachable (quoting IP {pair.addr_a}." in s for s in summaries)
    assert any("DNS query" in s and "A? app2.test." in s for s in summaries)
    assert any("DNS response" in s and "A 198.51.100.7" in s for s in summaries)
    # sent with the tag in the frame, received with the tag in the kernel's metadata: both show it
    tagged = [
        p for p in packets if p["summary"].startswith(f"vlan 10, IP {pair.addr_a} > {pair.addr_b}: ICMP echo request")
    ]
    assert {p["ifname"] for p in tagged} == {pair.if_a, pair.if_b}
    tcpdump = subprocess.run(["tcpdump", "-r", saved, "-n", "-q"], capture_output=True, text=True, timeout=30)
    assert tcpdump.returncode == 0, tcpdump.stderr
    assert len(tcpdump.stdout.splitlines()) == captured
