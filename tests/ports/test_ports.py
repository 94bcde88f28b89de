"""The ports view against the truth: ``ss -lntup`` inside each namespace, Docker's own port bindings, and the
process tree (``containerd-shim`` ancestry), with real containers, real docker-proxy processes and real
vanishing processes."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import time

import docker.errors
import pytest

from netcon.core import procfs
from netcon.core.netlink import sockdiag
from netcon.core.netns import run_in_netns
from netcon.core.ports.collector import PortsCollector
from netcon.core.ports.conflicts import addresses_overlap
from netcon.core.procfs import ancestry, process_info, shim_container_id
from netcon.core.snapshot import SnapshotCollector


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_view(collector: PortsCollector, ready, timeout: float = 15.0):
    """The first view where ``ready(view)`` holds (servers in fresh containers take a moment to bind)."""
    deadline = time.monotonic() + timeout
    while True:
        view = collector.collect()
        if ready(view) or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def ss_sockets(pid: int | None) -> set[tuple]:
    """``ss -H -lntup`` in the netns of ``pid`` (None: ours): {(proto, ip, port, dual-stack, pids)}."""
    cmd = ["ss", "-H", "-lntup"]
    if pid:
        cmd = ["nsenter", f"--net=/proc/{pid}/ns/net", *cmd]
    out = set()
    for line in subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines():
        proto, _state, _rq, _sq, local, _peer, *process = line.split(None, 6)
        addr, port = local.rsplit(":", 1)
        addr = addr.split("%")[0].strip("[]")  # "0.0.0.0%eth0" (bound to a device), "[::1]"
        dual = addr == "*"  # ss prints "::" as "*" when the socket is not IPV6_V6ONLY, else "[::]"
        pids = frozenset(int(p) for p in re.findall(r"pid=(\d+)", process[0] if process else ""))
        out.add((proto, ipaddress.ip_address("::" if dual else addr), int(port), dual, pids))
    return out


def ours(view, inode: int) -> set[tuple]:
    return {
        (
            s.proto,
            ipaddress.ip_address(s.address),
            s.port,
            s.address == "::" and s.v6only is False,
            frozenset(h.pid for h in s.holders),
        )
        for s in view.sockets
        if s.netns_inode == inode
    }


def agree_with_ss(collector: PortsCollector, pid: int | None, inode_of) -> tuple[set, set]:
    """Compare ours with ss; other engineers' processes come and go on this host, so a mismatch is retried
    until two reads in a row of ours agree with ss's read in between."""
    for _ in range(6):
        view = collector.collect()
        theirs = ss_sockets(pid)
        again = collector.collect()
        mine, mine_again = ours(view, inode_of(view)), ours(again, inode_of(again))
        if mine == theirs == mine_again:
            break
        time.sleep(0.3)
    return mine, theirs


def test_every_namespace_matches_ss(ctx, dobj):
    net = dobj.network("fid")
    web = dobj.container("web", network=net.name, command=["httpd", "-f", "-p", "80"])
    v6 = dobj.container("v6", command=["sh", "-c", "httpd -p 127.0.0.1:81 && httpd -f -p [::]:82"])
    side = dobj.container("side", network_mode=f"container:{v6.id}", command=["httpd", "-f", "-p", "83"])
    alone = dobj.container("none", network_mode="none", command=["httpd", "-f", "-p", "127.0.0.1:84"])
    for c in (web, v6, alone):
        c.reload()
    pids = {c.name: c.attrs["State"]["Pid"] for c in (web, v6, alone)}

    def udp(family, address):  # a host process's UDP socket made inside the container's netns
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind((address, 0))
        return s

    udp_sockets = [
        run_in_netns(f"/proc/{pids[web.name]}/ns/net", lambda: udp(socket.AF_INET, "0.0.0.0")),
        run_in_netns(f"/proc/{pids[web.name]}/ns/net", lambda: udp(socket.AF_INET6, "::")),
    ]
    host_udp = udp(socket.AF_INET, "127.0.0.1")
    try:
        collector = PortsCollector(ctx)
        view = listening_view(collector, lambda v: {83, 84} <= {s.port for s in v.sockets})
        inode = {c.name: c.netns_inode for c in collector.snapshots.collect().containers}

        mine, theirs = agree_with_ss(collector, None, lambda v: v.host_netns_inode)
        assert mine == theirs
        assert (
            "udp",
            ipaddress.ip_address("127.0.0.1"),
            host_udp.getsockname()[1],
            False,
            frozenset({os.getpid()}),
        ) in mine
        for name, pid in pids.items():
            mine, theirs = agree_with_ss(collector, pid, lambda v, n=name: inode[n])
            assert mine == theirs, name
            assert mine, f"{name} shows no sockets"

        by_port = {(s.port, s.netns_inode): s for s in view.sockets}
        assert by_port[(80, inode[web.name])].container_id == web.id
        assert by_port[(80, inode[web.name])].attributed_by == "cgroup"
        assert by_port[(83, inode[v6.name])].container_id == side.id  # shared netns: its cgroup says whose
        assert by_port[(82, inode[v6.name])].container_id == v6.id
        assert by_port[(84, inode[alone.name])].container_id == alone.id
        udp_ports = {s.getsockname()[1] for s in udp_sockets}
        ours_udp = [s for s in view.sockets if s.proto == "udp" and s.port in udp_ports]
        assert {(s.version, s.container_id, s.attributed_by, s.pid) for s in ours_udp} == {
            (4, web.id, "netns", os.getpid()),
            (6, web.id, "netns", os.getpid()),
        }
    finally:
        for s in (*udp_sockets, host_udp):
            s.close()


def test_host_mode_server_is_its_containers_through_cgroup_and_shim(ctx, dobj, dclient):
    port, asked = free_port(), free_port()
    # docker-py refuses -p with --network host client-side; the engine (like the docker CLI) accepts and
    # discards it, which is the case to flag, so the host config is written by hand
    host_config = dclient.api.create_host_config(network_mode="host")
    host_config["PortBindings"] = {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(asked)}]}
    created = dclient.api.create_container(
        dobj.image,
        ["httpd", "-f", "-p", f"127.0.0.1:{port}"],
        name=dobj.name("hostweb"),
        labels={"netcon.test": dobj.prefix},
        host_config=host_config,
    )
    dobj.containers.append(created["Id"])
    dclient.api.start(created["Id"])
    web = dclient.containers.get(created["Id"])
    view = listening_view(PortsCollector(ctx), lambda v: v.holding(port))
    (sock,) = view.holding(port, "tcp")
    assert sock.host_netns and sock.container_id == web.id and sock.container == web.name
    assert sock.attributed_by == "cgroup" and sock.process.name == "httpd"

    chain = ancestry(sock.pid)
    assert chain[-1].pid == sock.pid and chain[-1].cmdline.startswith("httpd")
    assert chain[-2].name.startswith("containerd-shim") and f"-id {web.id}" in chain[-2].cmdline
    assert shim_container_id(chain) == web.id  # the seed's ps -axf way agrees with the cgroup

    (flag,) = [w for w in view.wanted if w.container_id == web.id]
    assert flag.discarded and (flag.host_ip, flag.host_port, flag.container_port) == ("127.0.0.1", asked, 80)


def test_published_port_and_its_docker_proxy(ctx, dobj):
    port = free_port()
    web = dobj.container("pub", ports={"80/tcp": ("127.0.0.1", port)}, command=["httpd", "-f", "-p", "80"])
    view = listening_view(PortsCollector(ctx), lambda v: v.holding(port))
    (pub,) = [p for p in view.published if p.container_id == web.id]
    assert (pub.proto, pub.host_ip, pub.host_port, pub.container_port) == ("tcp", "127.0.0.1", port, 80)
    assert pub.served_by == "docker-proxy"
    proxy = process_info(pub.proxy_pid)
    assert proxy.name == "docker-proxy" and f"-host-port {port}" in proxy.cmdline

    (sock,) = view.holding(port)
    assert sock.host_netns and sock.pid == pub.proxy_pid and sock.published == pub
    assert (sock.container_id, sock.attributed_by) == (web.id, "docker-proxy")
    assert not view.conflicts or all(web.id not in {c.container_id for c in x.claims} for x in view.conflicts)

    rows = json.loads(
        subprocess.run(
            [sys.executable, "-m", "netcon.cli", "show", "ports", "--json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )["ports"]
    (row,) = [r for r in rows if r["port"] == port and r["state"] == "LISTEN"]
    assert {
        "proto",
        "address",
        "port",
        "pid",
        "process",
        "container",
        "container_id",
        "netns",
        "published_from",
    } <= set(row)
    assert (row["process"], row["container"], row["published_from"]) == ("docker-proxy", web.name, f"{web.name}:80/tcp")
    table = subprocess.run(
        [sys.executable, "-m", "netcon.cli", "show", "ports"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert table.splitlines()[0].split()[:3] == ["PROTO", "LOCAL", "ADDRESS"]
    assert any(f"127.0.0.1:{port}" in line and "docker-proxy" in line for line in table.splitlines())


def test_conflicts_between_containers_and_with_a_host_process(ctx, dobj, dclient):
    held, shared = free_port(), free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", held))
    holder.listen()
    try:
        # the host process has the port: Docker creates the container but cannot start it (docker-proxy fails)
        with pytest.raises(docker.errors.APIError):
            dobj.container("late", ports={"80/tcp": ("127.0.0.1", held)}, command=["httpd", "-f", "-p", "80"])
        first = dobj.container("first", ports={"80/tcp": ("127.0.0.1", shared)}, command=["httpd", "-f", "-p", "80"])
        second = dclient.api.create_container(
            dobj.image,
            ["httpd", "-f", "-p", "80"],
            name=dobj.name("second"),
            labels={"netcon.test": dobj.prefix},
            host_config=dclient.api.create_host_config(port_bindings={80: ("127.0.0.1", shared)}),
        )
        dobj.containers.append(second["Id"])
        late = dclient.api.containers(all=True, filters={"name": dobj.name("late")})[0]

        view = listening_view(PortsCollector(ctx), lambda v: v.holding(shared))
        conflicts = {(c.proto, c.port): c for c in view.conflicts}
        on_held = {(c.container_id, c.pid, c.how) for c in conflicts[("tcp", held)].claims}
        assert (None, os.getpid(), "listening") in on_held
        assert (late["Id"], None, "container is created") in on_held
        on_shared = {c.container_id for c in conflicts[("tcp", shared)].claims}
        assert on_shared == {first.id, second["Id"]}

        rows = json.loads(
            subprocess.run(
                [sys.executable, "-m", "netcon.cli", "show", "ports", "--json"],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        )["ports"]
        (mine,) = [r for r in rows if r["port"] == held and r["state"] == "LISTEN"]
        assert mine["pid"] == os.getpid() and mine["conflicts_with"] == [dobj.name("late")]
    finally:
        holder.close()


def test_proc_tables_agree_with_sock_diag(dobj):
    """The /proc fallback (kernels without sock_diag) reads the same sockets, here and in a container."""
    c = dobj.container("tables", command=["httpd", "-f", "-p", "80"])
    c.reload()
    pid = c.attrs["State"]["Pid"]

    def strip(sockets):
        return {dataclasses.replace(s, v6only=None) for s in sockets}

    for net_dir, netns in (("/proc/self/net", None), (f"/proc/{pid}/net", f"/proc/{pid}/ns/net")):
        for _ in range(6):  # other engineers' sockets come and go in the host netns
            diag = run_in_netns(netns, sockdiag.listening_sockets)
            if diag and strip(diag) == strip(procfs.listening_sockets(net_dir)) == strip(
                run_in_netns(netns, sockdiag.listening_sockets)
            ):
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"/proc tables and sock_diag disagree (or show nothing) in {net_dir}")


def test_addresses_overlap():
    assert addresses_overlap("0.0.0.0", "127.0.0.1") and addresses_overlap("::", "127.0.0.1")
    assert not addresses_overlap("::", "127.0.0.1", a_v6only=True)
    assert addresses_overlap("::ffff:127.0.0.1", "127.0.0.1")
    assert not addresses_overlap("127.0.0.1", "127.0.0.2") and not addresses_overlap("0.0.0.0", "::1")


def test_vanishing_processes_and_namespaces_do_not_crash(ctx, dobj):
    c = dobj.container("gone", command=["httpd", "-f", "-p", "80"])
    snaps = SnapshotCollector(ctx)
    collector = PortsCollector(ctx, snaps)
    stale = snaps.collect()
    c.kill()
    c.wait(timeout=30)
    view = collector.collect(stale)  # the snapshot still names the dead container's pid and netns
    assert view.skipped_vanished >= 1 and any("could not be read" in p for p in view.problems)

    reaped = subprocess.Popen(["true"])
    reaped.wait()
    assert ancestry(reaped.pid) == ()
    with pytest.raises(OSError):
        process_info(reaped.pid)

    # short-lived processes fork and exit all the time while views are taken
    churn = subprocess.Popen(["sh", "-c", "while :; do /bin/true; done"])
    try:
        for _ in range(10):
            collector.collect()
    finally:
        churn.kill()
        churn.wait()


def test_docker_embedded_dns_is_told_apart_and_hidden_unless_asked(ctx, dobj):
    """A container on a user network gets Docker's DNS server inside its netns (dockerd on 127.0.0.11, TCP and
    UDP); ``ss`` inside that netns is the reference. ``show ports`` leaves them out and says how many; --dns
    lists them."""
    net = dobj.network("dns")
    box = dobj.container("dns", network=net.name)
    box.reload()
    pid = box.attrs["State"]["Pid"]
    ss = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "ss", "-H", "-lntu"], capture_output=True, text=True, check=True
    ).stdout
    expected = {
        (line.split()[0], int(line.split()[4].rsplit(":", 1)[1])) for line in ss.splitlines() if "127.0.0.11" in line
    }
    assert {proto for proto, _ in expected} == {"tcp", "udp"}

    view = PortsCollector(ctx).collect()
    dns = [s for s in view.sockets if s.embedded_dns and s.container_id == box.id]
    assert {(s.proto, s.port) for s in dns} == expected
    assert all(s.address == "127.0.0.11" and not s.host_netns for s in dns)
    assert not [s for s in view.sockets if s.embedded_dns and s.host_netns]

    def show(*flags: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "netcon.cli", "show", "ports", *flags],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    hidden = json.loads(show("--json"))["ports"]
    assert not [r for r in hidden if r["container_id"] == box.id and r["address"] == "127.0.0.11"]
    shown = json.loads(show("--json", "--dns"))["ports"]
    assert {
        (r["proto"], r["port"]) for r in shown if r["container_id"] == box.id and r["address"] == "127.0.0.11"
    } == expected
    table = show()
    assert not [line for line in table.splitlines() if line.split()[1:2] and line.split()[1].startswith("127.0.0.11:")]
    assert "listeners of Docker's embedded DNS on 127.0.0.11 not shown; --dns lists them" in table
    assert f"127.0.0.11:{next(iter(expected))[1]}" in show("--dns")
