"""The snapshot against the real engine and the kernel, for every Docker network mode."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from netcon.core.context import HostContext
from netcon.core.netns import netns_inode
from netcon.core.snapshot import SnapshotCollector, collect


def sysfs(ifname: str, attr: str) -> int:
    with open(f"/sys/class/net/{ifname}/{attr}") as f:
        return int(f.read())


def container_iflink(container, ifname: str = "eth0") -> int:
    """Truth from inside the container: the ifindex of eth0's peer as the container's kernel reports it."""
    code, out = container.exec_run(["cat", f"/sys/class/net/{ifname}/iflink"])
    assert code == 0, out
    return int(out)


@pytest.fixture
def modes(dobj):
    """One container in each network mode of the seed, plus a stopped one."""
    net = dobj.network("app", driver="bridge")
    made = {
        "bridge": dobj.container("bridge"),
        "user": dobj.container("user", network=net.name),
        "host": dobj.container("host", network_mode="host"),
        "none": dobj.container("none", network_mode="none"),
    }
    made["shared"] = dobj.container("shared", network_mode=f"container:{made['bridge'].id}")
    stopped = dobj.container("stopped", command=("true",))
    stopped.wait(timeout=30)
    made["stopped"] = stopped
    for c in made.values():
        c.reload()
    return net, made


def test_every_mode(ctx, modes):
    net, made = modes
    snap = collect(ctx)
    by_name = {c.name: c for c in snap.containers}
    veth_of = {v.container: v for v in snap.veths if v.container}

    for key in ("bridge", "user"):
        c = made[key]
        veth = veth_of[c.name]
        # the host veth's ifindex is what eth0 inside the container names as its link, and vice versa
        assert veth.ifindex == container_iflink(c)
        assert sysfs(veth.ifname, "iflink") == veth.peer_ifindex
        assert veth.peer_ifname == "eth0"
        assert veth.container_id == c.id
        assert veth.bridge == ("docker0" if key == "bridge" else f"br-{net.id[:12]}")

    assert by_name[made["bridge"].name].network_mode == "bridge"
    assert by_name[made["user"].name].network_mode == net.name

    host = by_name[made["host"].name]
    assert host.network_mode == "host"
    assert host.netns_inode == netns_inode("/proc/self/ns/net")
    assert made["host"].name not in veth_of

    none = by_name[made["none"].name]
    assert none.network_mode == "none"
    assert [i.ifname for i in none.interfaces] == ["lo"]
    assert made["none"].name not in veth_of

    owner, shared = by_name[made["bridge"].name], by_name[made["shared"].name]
    assert shared.network_mode == f"container:{owner.name}"
    assert shared.netns_inode == owner.netns_inode
    assert owner.name in shared.shares_netns_with and shared.name in owner.shares_netns_with
    # docker inspect shows no IP for the container: mode one; the snapshot shows the owner's, marked shared
    assert made["shared"].attrs["NetworkSettings"]["Networks"] == {}
    assert shared.ipv4 == owner.ipv4 and shared.ipv4_shared and not owner.ipv4_shared
    assert made["shared"].name not in veth_of

    stopped = by_name[made["stopped"].name]
    assert stopped.state == "exited" and stopped.netns_inode is None and stopped.problem is None


def test_network_model(ctx, dobj):
    net = dobj.network("ipam", driver="bridge", options={"com.docker.network.bridge.name": f"{dobj.prefix}br"})
    c = dobj.container("a", network=net.name)
    c.reload()
    snap = collect(ctx)
    model = snap.network(net.name)
    assert model.bridge == f"{dobj.prefix}br"
    assert model.subnets == tuple(cfg["Subnet"] for cfg in net.attrs["IPAM"]["Config"])
    endpoint = c.attrs["NetworkSettings"]["Networks"][net.name]
    (att,) = model.attachments
    assert (att.container_name, att.ipv4, att.mac) == (c.name, endpoint["IPAddress"], endpoint["MacAddress"])
    assert set(endpoint["Aliases"] or ()) == set(att.aliases)
    bridge = next(b for b in snap.bridges if b.name == model.bridge)
    assert bridge.network == net.name and len(bridge.interfaces) == 1
    assert snap.network("bridge").bridge == "docker0"


def parse_brctl(text: str) -> dict[str, tuple[str, str, list[str]]]:
    bridges: dict[str, tuple[str, str, list[str]]] = {}
    current = None
    for line in text.splitlines()[1:]:
        fields = line.split()
        if not line.startswith(("\t", " ")):
            current = fields[0]
            bridges[current] = (fields[1], fields[2], fields[3:4])
        elif fields and current:
            bridges[current][2].append(fields[0])
    return bridges


def test_bridges_agree_with_brctl(ctx, dobj):
    net = dobj.network("brctl", driver="bridge")
    dobj.container("one", network=net.name)
    dobj.container("two", network=net.name)
    snap = collect(ctx)
    brctl = parse_brctl(subprocess.run(["brctl", "show"], capture_output=True, text=True, check=True).stdout)
    # brctl lists ports in C-locale order, netcon in natural order (veth2a.. before veth216..): compare sets.
    ours = {b.name: (b.bridge_id, "yes" if b.stp else "no", sorted(b.interfaces)) for b in snap.bridges}
    assert ours == {name: (bid, stp, sorted(ports)) for name, (bid, stp, ports) in brctl.items()}
    assert len(ours[f"br-{net.id[:12]}"][2]) == 2


def test_warm_snapshot_follows_changes(ctx, dobj):
    collector = SnapshotCollector(ctx)
    first = collector.collect()
    c = dobj.container("late")
    second = collector.collect()
    assert first.container(c.name) is None
    assert second.container(c.name).state == "running"
    c.stop(timeout=0)
    third = collector.collect()
    assert third.container(c.name).state == "exited" and not any(v.container == c.name for v in third.veths)


def test_containers_exiting_during_snapshots_do_not_crash(ctx, dobj):
    for i in range(4):
        dobj.container(f"blink{i}", command=("sh", "-c", "sleep 0.$RANDOM"))
    collector = SnapshotCollector(ctx)
    for _ in range(15):
        snap = collector.collect()
        for c in snap.containers:
            assert c.state in {"running", "exited", "created", "removing", "dead", "restarting", "paused"}


def test_other_netns(ctx, tmp_path):
    """--netns: a namespace with its own bridge and veth pair is read from inside it, not from the host."""
    name = f"nct{os.getpid()}x"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ip = ["ip", "-n", name]
        subprocess.run([*ip, "link", "add", "nctbr0", "type", "bridge"], check=True)
        subprocess.run([*ip, "link", "add", "nctv0", "type", "veth", "peer", "name", "nctv1"], check=True)
        subprocess.run([*ip, "link", "set", "nctv0", "master", "nctbr0"], check=True)
        snap = collect(HostContext.from_options(docker_host=ctx.docker_host, netns=name))
        assert [b.name for b in snap.bridges] == ["nctbr0"]
        assert snap.bridges[0].interfaces == ("nctv0",)
        veths = {v.ifname: v for v in snap.veths}
        assert veths["nctv0"].peer_ifname == "nctv1" and veths["nctv0"].bridge == "nctbr0"
        assert re.fullmatch(r"[0-9a-f]{4}\.[0-9a-f]{12}", snap.bridges[0].bridge_id)

        # a veth from the root netns into the named one: its peer is named from the root side
        root_end = f"nct{os.getpid() % 100000}r"
        subprocess.run(
            ["ip", "link", "add", root_end, "type", "veth", "peer", "name", "nctinner", "netns", name], check=True
        )
        (veth,) = [v for v in collect(ctx).veths if v.ifname == root_end]
        assert (veth.peer_ifname, veth.peer_netns, veth.container) == ("nctinner", name, None)
        # the kernel's view alone (no engine): a host-mode container of this machine's engine would otherwise
        # rightly claim the root netns as its own
        kernel_only = HostContext.from_options(docker_host="unix:///nonexistent/docker.sock", netns=name)
        inside = {v.ifname: v for v in collect(kernel_only).veths}
        assert (inside["nctinner"].peer_ifname, inside["nctinner"].peer_netns) == (root_end, "root")
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)
