"""The lab's underlay: a bridge in the root netns, one netns per host joined to it by a veth pair.

The address range is taken among documentation/benchmark ranges and must overlap no address or route of the
machine (whose own uplink may sit in such a range). Lab namespaces get no default route.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket

from netcon.core.context import NETNS_RUN_DIR, HostContext
from netcon.core.errors import NetconError, UsageError
from netcon.core.netlink.rtnl import MAIN_TABLE
from netcon.core.netns import create_named, remove_named
from netcon.core.pyroute import Netlink
from netcon.core.validate import values

CANDIDATES = (
    *(f"198.18.{i}.0/24" for i in range(0, 256, 17)),
    "198.51.100.0/24",
    "203.0.113.0/24",
    "192.0.2.0/24",
)
HOST_OFFSET = 30  # h1 gets .31 like the seed's 10.10.110.31


def machine_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 address (as its subnet) and every route destination of the root netns."""
    with Netlink(HostContext()) as nl:
        nets = [
            ipaddress.IPv4Interface(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}").network
            for a in nl.call("read addresses", "get_addr", family=socket.AF_INET)
        ]
        for route in nl.call("read routes", "get_routes", family=socket.AF_INET, table=MAIN_TABLE):
            dst = route.get_attr("RTA_DST")
            if dst:
                nets.append(ipaddress.IPv4Network(f"{dst}/{route['dst_len']}", strict=False))
    return nets


def overlaps(cidr: ipaddress.IPv4Network, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network | None:
    return next((net for net in taken if net.overlaps(cidr)), None)


def choose(requested: str | None, hosts: int) -> ipaddress.IPv4Network:
    taken = machine_networks()
    if requested is not None:
        cidr = values.ipv4_network(requested, "underlay", "--underlay")
        if cidr.num_addresses < HOST_OFFSET + hosts + 2:
            raise UsageError(f"--underlay {requested} is too small for {hosts} hosts (use a /24).")
        clash = overlaps(cidr, taken)
        if clash:
            raise UsageError(f"--underlay {requested} overlaps {clash}, a network of this machine.")
        return cidr
    for candidate in CANDIDATES:
        cidr = ipaddress.IPv4Network(candidate)
        if not overlaps(cidr, taken):
            return cidr
    raise NetconError("No documentation range is free of this machine's networks; give one with --underlay.")


def _index(nl: Netlink, name: str) -> int:
    """The ifindex of ``name``, which the caller has just made or found."""
    index = nl.index(name)
    if index is None:
        raise NetconError(f"Interface {name} vanished while the lab was being built.", target=name)
    return index


def _address(nl: Netlink, index: int, address: str, prefixlen: int) -> None:
    if not any(
        a.get_attr("IFA_ADDRESS") == address
        for a in nl.call("read addresses", "get_addr", index=index, family=socket.AF_INET)
    ):
        nl.call(f"add {address}", "addr", "add", index=index, address=address, prefixlen=prefixlen)


def ensure_bridge(name: str, address: str, prefixlen: int) -> None:
    with Netlink(HostContext()) as nl:
        if nl.index(name) is None:
            nl.call(f"create bridge {name}", "link", "add", ifname=name, kind="bridge")
        index = _index(nl, name)
        _address(nl, index, address, prefixlen)
        nl.call(f"bring {name} up", "link", "set", index=index, state="up")


def ensure_host(ns: str, root_veth: str, bridge: str, address: str, prefixlen: int) -> None:
    """netns ``ns`` with ``eth0`` at ``address``, its peer ``root_veth`` enslaved to ``bridge``; no default route."""
    path = os.path.join(NETNS_RUN_DIR, ns)
    if not os.path.exists(path):
        create_named(ns)
    inside = HostContext(netns=path)
    with Netlink(HostContext()) as nl:
        if nl.index(root_veth) is None:
            with Netlink(inside) as inner:
                stale = inner.index("eth0")
                if stale is not None:
                    inner.call("remove a stale eth0", "link", "del", index=stale)
            fd = os.open(path, os.O_RDONLY)
            try:
                nl.call(
                    f"create veth {root_veth}",
                    "link",
                    "add",
                    ifname=root_veth,
                    kind="veth",
                    peer={"ifname": f"{root_veth}p", "net_ns_fd": fd},
                )
            finally:
                os.close(fd)
        nl.call(
            f"attach {root_veth} to {bridge}",
            "link",
            "set",
            index=nl.index(root_veth),
            master=nl.index(bridge),
            state="up",
        )
    with Netlink(inside) as inner:
        if inner.index("eth0") is None:
            renamed = _index(inner, f"{root_veth}p")
            inner.call("rename the underlay link to eth0", "link", "set", index=renamed, ifname="eth0")
        eth0 = _index(inner, "eth0")
        _address(inner, eth0, address, prefixlen)
        inner.call("bring eth0 up", "link", "set", index=eth0, state="up")
        inner.call("bring lo up", "link", "set", index=inner.index("lo"), state="up")


def remove_host(ns: str, root_veth: str) -> None:
    remove_named(ns)
    remove_link(root_veth)


def remove_link(name: str) -> None:
    with Netlink(HostContext()) as nl:
        index = nl.index(name)
        if index is not None:
            nl.call(f"remove {name}", "link", "del", index=index, ignore=(errno.ENODEV,))


def exists(name: str) -> bool:
    with Netlink(HostContext()) as nl:
        return nl.index(name) is not None


def netns_exists(ns: str) -> bool:
    return os.path.exists(os.path.join(NETNS_RUN_DIR, ns))
