"""Two flannel "hosts" as network namespaces joined by a veth pair (the underlay, 198.18.0.0/15), each with a
"container" namespace behind a veth (what docker0 and a container would be). Everything is removed in
``close()``; names carry a unique prefix."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import uuid

from pyroute2 import IPRoute

from netcon.core.context import HostContext
from netcon.core.flannel.vxlan import Netlink

UNDERLAY = ipaddress.IPv4Network("198.18.0.0/15")


def host_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network this machine has an address or a route in."""
    nets = []
    with IPRoute() as ipr:
        for addr in ipr.get_addr(family=2):
            nets.append(ipaddress.IPv4Network(f"{addr.get('IFA_ADDRESS')}/{addr['prefixlen']}", strict=False))
        for route in ipr.get_routes(family=2, table=254):
            if route.get("RTA_DST"):
                nets.append(ipaddress.IPv4Network(f"{route.get('RTA_DST')}/{route['dst_len']}", strict=False))
    return nets


def free_network(candidates: list[str]) -> str:
    """The first candidate that overlaps nothing the machine has (checked, not assumed)."""
    taken = host_networks()
    for text in candidates:
        net = ipaddress.IPv4Network(text)
        if not any(net.overlaps(t) for t in taken):
            return text
    raise RuntimeError(f"all of {candidates} overlap this machine's networks")


def nsexec(ns: str, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["nsenter", f"--net=/var/run/netns/{ns}", *argv], capture_output=True, text=True, timeout=timeout
    )


class Lab:
    def __init__(self, hosts: int = 2) -> None:
        underlay = ipaddress.IPv4Network(free_network([f"198.19.{n}.0/24" for n in range(200, 250)]))
        assert underlay.subnet_of(UNDERLAY)
        self.tag = uuid.uuid4().hex[:5]
        self.hosts = [f"nctf{self.tag}h{i}" for i in range(hosts)]
        self.containers = [f"nctf{self.tag}c{i}" for i in range(hosts)]
        self.underlay_ip = [str(underlay.network_address + i + 1) for i in range(hosts)]
        self.created: list[str] = []
        try:
            for name in self.hosts + self.containers:
                # ip(8), not pyroute2's netns.create: that forks, which gRPC's threads in this process do not survive.
                subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
                self.created.append(name)
            self._wire()
        except BaseException:
            self.close()
            raise

    def netlink(self, ns: str) -> Netlink:
        """Fork-free netlink inside ``ns`` (pyroute2's netns= forks, which gRPC's threads do not survive)."""
        return Netlink(HostContext(netns=self.path(ns)))

    def path(self, ns: str) -> str:
        return f"/var/run/netns/{ns}"

    def _wire(self) -> None:
        with IPRoute() as ipr:
            # Underlay: host0 <-> host1 directly (two hosts); named ul0 inside each.
            a, b = f"nu{self.tag}a", f"nu{self.tag}b"
            ipr.link("add", ifname=a, kind="veth", peer=b)
            for end, host in ((a, self.hosts[0]), (b, self.hosts[1])):
                ipr.link("set", index=ipr.link_lookup(ifname=end)[0], net_ns_fd=host)
            for i, host in enumerate(self.containers):
                h, c = f"nv{self.tag}{i}h", f"nv{self.tag}{i}c"
                ipr.link("add", ifname=h, kind="veth", peer=c)
                ipr.link("set", index=ipr.link_lookup(ifname=h)[0], net_ns_fd=self.hosts[i])
                ipr.link("set", index=ipr.link_lookup(ifname=c)[0], net_ns_fd=host)
        for i, (host, end) in enumerate(zip(self.hosts, (a, b))):
            with self.netlink(host) as nl:
                idx = nl.index(end)
                nl.call("rename", "link", "set", index=idx, ifname="ul0")
                nl.call("address", "addr", "add", index=idx, address=self.underlay_ip[i], prefixlen=24)
                nl.call("up", "link", "set", index=idx, state="up", mtu=1500)
                nl.call("lo up", "link", "set", index=nl.index("lo"), state="up")
                nl.call("cbr0", "link", "set", index=nl.index(f"nv{self.tag}{i}h"), ifname="cbr0", state="up")
            with self.netlink(self.containers[i]) as nl:
                nl.call("eth0", "link", "set", index=nl.index(f"nv{self.tag}{i}c"), ifname="eth0", state="up")
                nl.call("lo up", "link", "set", index=nl.index("lo"), state="up")
            forward = nsexec(host, sys.executable, "-c", "open('/proc/sys/net/ipv4/ip_forward','w').write('1')")
            if forward.returncode:
                raise RuntimeError(f"could not enable forwarding in {host}: {forward.stderr}")

    def attach_container(self, i: int, lease_subnet: str, network: str) -> str:
        """Like docker with --bip: the host side gets the lease's first address, the container the second and a
        route to the flannel network (no default route). Returns the container's address."""
        net = ipaddress.IPv4Network(lease_subnet)
        gw, ip = net.network_address + 1, net.network_address + 2
        with self.netlink(self.hosts[i]) as nl:
            nl.call("bip", "addr", "add", index=nl.index("cbr0"), address=str(gw), prefixlen=net.prefixlen)
        with self.netlink(self.containers[i]) as nl:
            idx = nl.index("eth0")
            nl.call("address", "addr", "add", index=idx, address=str(ip), prefixlen=net.prefixlen)
            nl.call("route", "route", "add", dst=network, gateway=str(gw), oif=idx)
        return str(ip)

    def ping(self, i: int, address: str, count: int = 2) -> subprocess.CompletedProcess:
        return nsexec(self.containers[i], "ping", "-c", str(count), "-W", "2", "-i", "0.2", address)

    def close(self) -> None:
        names = set(self.created)
        if os.path.exists("/var/run/netns"):
            names.update(n for n in os.listdir("/var/run/netns") if n.startswith(f"nctf{self.tag}"))
        for name in sorted(names):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.created.clear()
