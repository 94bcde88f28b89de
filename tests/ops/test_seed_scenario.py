"""The seed tutorial's walk through Docker's network types, done through netcon alone and then checked
against the engine, the kernel and netcon's snapshot."""

from __future__ import annotations

import os

from netcon.core.context import HostContext
from netcon.core.snapshot import collect


def _netns_inode(dclient, name: str) -> int:
    pid = dclient.api.inspect_container(name)["State"]["Pid"]
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def _interfaces(dclient, name: str) -> set[str]:
    result = dclient.containers.get(name).exec_run(["ls", "/sys/class/net"])
    assert result.exit_code == 0, result.output
    return set(result.output.decode().split())


def test_four_network_types(lab, netcon, dclient):
    n = lab.name

    def ok(*argv: str) -> None:
        result = netcon(*argv, "--label", lab.label)
        assert result.code == 0, f"netcon {' '.join(argv)} exited {result.code}: {result.err}"

    # bridge: a user network "app" with app1 and app2 that find each other by name
    ok("network", "create", n("app"))
    ok("container", "run", n("app1"), "--network", n("app"))
    ok("container", "run", n("app2"), "--network", n("app"))
    app2_ip = dclient.api.inspect_container(n("app2"))["NetworkSettings"]["Networks"][n("app")]["IPAddress"]
    ping = dclient.containers.get(n("app1")).exec_run(["ping", "-c", "1", "-W", "2", n("app2")])
    assert ping.exit_code == 0 and f"({app2_ip})" in ping.output.decode()

    # host: the host's own network stack, no veth of its own
    ok("container", "run", n("host"), "--network", "host")
    assert _netns_inode(dclient, n("host")) == os.stat("/proc/self/ns/net").st_ino
    assert {"lo", "eth0", "docker0"} <= _interfaces(dclient, n("host"))

    # container: busybox on the default bridge, busybox-1 and busybox-2 in its netns
    ok("container", "run", n("busybox"))
    ok("container", "run", n("busybox-1"), "--network", f"container:{n('busybox')}")
    ok("container", "run", n("busybox-2"), "--network", f"container:{n('busybox')}")
    owner_ip = dclient.api.inspect_container(n("busybox"))["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    inodes = {_netns_inode(dclient, n(s)) for s in ("busybox", "busybox-1", "busybox-2")}
    assert len(inodes) == 1
    for sharer in ("busybox-1", "busybox-2"):
        settings = dclient.api.inspect_container(n(sharer))["NetworkSettings"]
        assert settings["IPAddress"] == "" and settings["Networks"] == {}  # docker inspect shows no IP
        addr = dclient.containers.get(n(sharer)).exec_run(["ip", "-4", "addr", "show", "eth0"])
        assert f"inet {owner_ip}/" in addr.output.decode()

    # none: only the loopback
    ok("container", "run", n("none"), "--network", "none")
    assert _interfaces(dclient, n("none")) == {"lo"}

    # every object as the snapshot shows it
    snap = collect(HostContext())
    app = snap.network(n("app"))
    assert app is not None and sorted(a.container_name for a in app.attachments) == [n("app1"), n("app2")]
    host = snap.container(n("host"))
    assert host.network_mode == "host" and not [v for v in snap.veths if v.container == n("host")]
    owner = snap.container(n("busybox"))
    assert owner.network_mode == "bridge" and owner.ipv4 == (owner_ip,)
    for sharer in ("busybox-1", "busybox-2"):
        c = snap.container(n(sharer))
        assert c.network_mode == f"container:{n('busybox')}" and c.netns_owner == n("busybox")
        assert c.ipv4 == (owner_ip,) and c.ipv4_shared and c.netns_inode == owner.netns_inode
    assert set(owner.shares_netns_with) == {n("busybox-1"), n("busybox-2")}
    none = snap.container(n("none"))
    assert none.network_mode == "none" and [i.ifname for i in none.interfaces] == ["lo"]
