"""``netcon capture`` on real Docker containers, their veths and their bridge, and every kind of bad input the
issue names: one sentence, the exit code, nothing left open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from netcon.cli.main import main
from netcon.core.capture.targets import resolve
from netcon.core.context import HostContext
from netcon.core.snapshot import collect
from tests.capture.test_core import open_fds
from tests.capture.test_fidelity import netcon, start_capture, stop


@pytest.fixture
def scene(dobj):
    """A user network with c1, c2 in c1's namespace (container: mode), c3 with none, c4 created, not started."""
    net = dobj.network("net")
    c1 = dobj.container("c1", network=net.name)
    dobj.container("c2", network=f"container:{c1.id}")
    dobj.container("c3", network="none")
    dobj.client.containers.create(
        dobj.image, ["sleep", "60"], name=dobj.name("c4"), labels={"netcon.test": dobj.prefix}
    )
    c1.reload()
    return dobj, c1.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    """``netcon`` in this process, so what it leaves open shows in this process's fds and threads (after one
    snapshot: its first read opens sockets it keeps for the next)."""
    collect(HostContext())
    fds, threads = open_fds(), threading.active_count()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert open_fds() == fds and threading.active_count() == threads
    return code, out, err


def test_targets_resolve_through_the_snapshot(scene):
    dobj, _ip = scene
    ctx = HostContext()
    snap = collect(ctx)
    c1 = snap.container(dobj.name("c1"))
    (own,) = resolve(ctx, snap, f"container:{dobj.name('c1')}")
    (shared,) = resolve(ctx, snap, f"container:{dobj.name('c2')}")  # container: mode: c1's namespace
    assert own.ifname == "eth0" and own.netns == f"/proc/{c1.pid}/ns/net" and own.netns_label == f"container {c1.name}"
    assert shared.ifname == "eth0" and shared.netns_label == f"container {c1.name}"
    (veth,) = resolve(ctx, snap, f"veth:{dobj.name('c1')}")
    network = snap.network(dobj.name("net"))
    assert veth.netns is None and next(v for v in snap.veths if v.ifname == veth.ifname).bridge == network.bridge
    assert resolve(ctx, snap, f"veth:{veth.ifname}") == (veth,)
    assert resolve(ctx, snap, f"bridge:{dobj.name('net')}")[0].ifname == network.bridge
    assert resolve(ctx, snap, f"bridge:{network.bridge}")[0].ifname == network.bridge
    assert resolve(ctx, snap, f"container:{c1.id[:12]}") == (own,)


def test_capture_a_container_its_veth_and_its_bridge_at_once(scene):
    dobj, address = scene
    targets = [f"container:{dobj.name('c1')}", f"veth:{dobj.name('c1')}", f"bridge:{dobj.name('net')}"]
    capture = start_capture(*targets, "-f", "icmp", "--json")
    subprocess.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", address], check=True, capture_output=True, timeout=20)
    out, err = stop(capture)
    packets = [json.loads(line) for line in out.splitlines()]
    where = {(p["ifname"], p["netns"]) for p in packets}
    assert ("eth0", f"container {dobj.name('c1')}") in where and len(where) == 3
    for ifname, netns in where:  # the echoes and the replies on each of the three interfaces
        assert sum(1 for p in packets if (p["ifname"], p["netns"]) == (ifname, netns)) == 4, (ifname, out)
    inside = [p for p in packets if p["netns"] != "host"]
    assert {p["summary"].split(",")[0] for p in inside} == {
        f"IP {p['layers'][1]['src']} > {address}: ICMP echo request" for p in inside if p["direction"] == "in"
    } | {f"IP {address} > {p['layers'][1]['dst']}: ICMP echo reply" for p in inside if p["direction"] == "out"}
    assert "12 packets captured on 3 interfaces" in err and "0 dropped by kernel" in err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["nosuch0"], 1, "No interface nosuch0 on host."),
        (["container:nct-no-such-container"], 1, "No container named nct-no-such-container on this host."),
        (["veth:nct-no-such"], 1, "No veth and no container named nct-no-such on host."),
        (["bridge:nct-no-such"], 1, "No bridge and no Docker network named nct-no-such on host."),
        (
            ["netns:nct-no-such"],
            1,
            "Network namespace 'nct-no-such' does not exist (looked for /var/run/netns/nct-no-such).",
        ),
        (["lo", "-f", ""], 2, "Filter (-f) is empty."),
        (["lo", "-c", "0"], 2, "-c 0 is out of range: it must be from 1 to 1000000000."),
        (["lo", "--duration", "soon"], 2, "--duration 'soon' is not a number."),
        (
            ["lo", "-w", "/nonexistent-dir/x.pcapng"],
            2,
            "Output file (-w) /nonexistent-dir/x.pcapng cannot be written: the directory /nonexistent-dir does not "
            "exist.",
        ),
        (
            ["lo", "-w", "/proc/netcon-test.pcapng"],
            2,
            "Output file /proc/netcon-test.pcapng cannot be written: No such file or directory.",
        ),
        (["lo", "-r", "/etc/hostname"], 2, "-r reads a file: give no TARGET, -f, -w or --duration with it."),
        (["-r", "/nonexistent.pcapng"], 2, "Capture file (-r) /nonexistent.pcapng does not exist."),
        ([], 2, "Give at least one TARGET to capture on (or -r FILE to read a saved capture)."),
    ],
)
def test_bad_input(capsys, argv, code, message):
    assert run_main(capsys, "capture", *argv) == (code, "", f"netcon: {message}\n")


def test_bad_filter_is_libpcaps_message(capsys):
    tcpdump = subprocess.run(["tcpdump", "-d", "udp portt 8472"], capture_output=True, text=True)
    reason = tcpdump.stderr.strip().splitlines()[-1].removeprefix("tcpdump: ")
    assert run_main(capsys, "capture", "lo", "-f", "udp portt 8472") == (
        2,
        "",
        f"netcon: Filter 'udp portt 8472' is not valid: {reason}.\n",
    )


def test_containers_without_a_namespace_to_capture_in(capsys, scene):
    dobj, _ip = scene
    c3, c4 = dobj.name("c3"), dobj.name("c4")
    assert run_main(capsys, "capture", f"container:{c3}") == (
        1,
        "",
        f"netcon: Container {c3} has only lo in its network namespace (network mode none): there is no traffic "
        "to capture.\n",
    )
    assert run_main(capsys, "capture", f"container:{c4}") == (
        1,
        "",
        f"netcon: Container {c4} is not running (created): it has no network namespace to capture in.\n",
    )
    assert run_main(capsys, "capture", f"veth:{c3}")[0] == 1


def test_capture_without_root_says_so(tmp_path):
    """As nobody: a packet socket needs CAP_NET_RAW."""
    env = {**os.environ, "HOME": str(tmp_path), "NETCON_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    tmp_path.chmod(0o777)
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "netcon.cli",
         "capture", "lo", "-c", "1"],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "netcon: Capturing on lo in host needs root (CAP_NET_RAW).\n",
    )


def test_read_only_mode_allows_capture(capsys):
    code, _out, err = run_main(capsys, "--read-only", "capture", "lo", "--duration", "0.2")
    assert code == 0 and "0 dropped by kernel" in err


def test_file_read_back(tmp_path):
    saved = str(tmp_path / "lo.pcapng")
    capture = start_capture("lo", "-f", "icmp", "-w", saved)
    subprocess.run(["ping", "-c", "1", "127.0.0.1"], check=True, capture_output=True, timeout=20)
    stop(capture)
    read = netcon("capture", "-r", saved)
    assert read.returncode == 0
    assert [line.split(" ", 1)[1] for line in read.stdout.splitlines()] == [
        "lo [host] In  IP 127.0.0.1 > 127.0.0.1: ICMP echo request, id "
        + read.stdout.split("id ")[1].split(",")[0]
        + ", seq 1, length 64",
        "lo [host] In  IP 127.0.0.1 > 127.0.0.1: ICMP echo reply, id "
        + read.stdout.split("id ")[1].split(",")[0]
        + ", seq 1, length 64",
    ]
    garbage = tmp_path / "garbage.pcapng"
    garbage.write_bytes(b"not a capture")
    refused = netcon("capture", "-r", str(garbage))
    assert (refused.returncode, refused.stderr) == (
        2,
        f"netcon: {garbage} is not a pcap or pcapng file (it starts with 6e6f7420).\n",
    )
