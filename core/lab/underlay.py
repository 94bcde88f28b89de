"""The lab's underlay: a bridge in the root netns, one netns per host joined to it by a veth pair.

The address range is taken among documentation/benchmark ranges and must overlap no address or route of the
machine (whose own uplink may sit in such a range). Lab namespaces get no default route.
"""

from __future__ import annotations

import ipaddress
import os

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

from core.errors import NetconError, UsageError

CANDIDATES = tuple(f"198.18.{i}.0/24" for i in range(0, 256, 17)) + (
    "198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24")
HOST_OFFSET = 30  # h1 gets .31 like the seed's 10.10.110.31


def machine_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 address (as its subnet) and every route destination of the root netns."""
    with IPRoute() as ipr:
        nets = [ipaddress.ip_interface(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}").network
                for a in ipr.get_addr(family=2)]
        for route in ipr.get_routes(family=2, table=254):
            dst = route.get_attr("RTA_DST")
            if dst:
                nets.append(ipaddress.ip_network(f"{dst}/{route['dst_len']}", strict=False))
    return nets


def overlaps(cidr: ipaddress.IPv4Network, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network | None:
    return next((net for net in taken if net.overlaps(cidr)), None)


def choose(requested: str | None, hosts: int) -> ipaddress.IPv4Network:
    taken = machine_networks()
    if requested:
        try:
            cidr = ipaddress.ip_network(requested, strict=True)
        except ValueError as error:
            raise UsageError(f"--underlay {requested!r} is not a valid IPv4 network ({error}).") from error
        if not isinstance(cidr, ipaddress.IPv4Network):
            raise UsageError(f"--underlay {requested} must be an IPv4 network.")
        if cidr.num_addresses < HOST_OFFSET + hosts + 2:
            raise UsageError(f"--underlay {requested} is too small for {hosts} hosts (use a /24).")
        clash = overlaps(cidr, taken)
        if clash:
            raise UsageError(f"--underlay {requested} overlaps {clash}, a network of this machine.")
        return cidr
    for candidate in CANDIDATES:
        cidr = ipaddress.ip_network(candidate)
        if not overlaps(cidr, taken):
            return cidr
    raise NetconError("No documentation range is free of this machine's networks; give one with --underlay.")


def _lookup(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(name: str, address: str, prefixlen: int) -> None:
    with IPRoute() as ipr:
        index = _lookup(ipr, name)
        if index is None:
            ipr.link("add", ifname=name, kind="bridge")
            index = _lookup(ipr, name)
        if not any(a.get_attr("IFA_ADDRESS") == address for a in ipr.get_addr(index=index, family=2)):
            ipr.addr("add", index=index, address=address, prefixlen=prefixlen)
        ipr.link("set", index=index, state="up")


def ensure_host(ns: str, root_veth: str, bridge: str, address: str, prefixlen: int) -> None:
    """netns ``ns`` with ``eth0`` at ``address``, its peer ``root_veth`` enslaved to ``bridge``; no default route."""
    if ns not in netns.listnetns():
        netns.create(ns)
    with IPRoute() as ipr:
        index = _lookup(ipr, root_veth)
        if index is None:
            with IPRoute(netns=ns) as inner:
                stale = _lookup(inner, "eth0")
                if stale is not None:
                    inner.link("del", index=stale)
            ipr.link("add", ifname=root_veth, kind="veth", peer={"ifname": f"{root_veth}p", "net_ns_fd": ns})
            index = _lookup(ipr, root_veth)
        ipr.link("set", index=index, master=_lookup(ipr, bridge), state="up")
    with IPRoute(netns=ns) as inner:
        eth0 = _lookup(inner, "eth0")
        if eth0 is None:
            eth0 = _lookup(inner, f"{root_veth}p")
            inner.link("set", index=eth0, ifname="eth0")
        if not any(a.get_attr("IFA_ADDRESS") == address for a in inner.get_addr(index=eth0, family=2)):
            inner.addr("add", index=eth0, address=address, prefixlen=prefixlen)
        inner.link("set", index=eth0, state="up")
        inner.link("set", index=_lookup(inner, "lo"), state="up")


def remove_host(ns: str, root_veth: str) -> None:
    if ns in netns.listnetns():
        netns.remove(ns)
    with IPRoute() as ipr:
        index = _lookup(ipr, root_veth)
        if index is not None:
            try:
                ipr.link("del", index=index)
            except NetlinkError:
                pass  # went with its peer's namespace


def remove_bridge(name: str) -> None:
    with IPRoute() as ipr:
        index = _lookup(ipr, name)
        if index is not None:
            ipr.link("del", index=index)


def exists(name: str) -> bool:
    with IPRoute() as ipr:
        return _lookup(ipr, name) is not None


def netns_exists(ns: str) -> bool:
    return os.path.exists(f"/var/run/netns/{ns}")
