"""flannel's vxlan backend in the kernel, through pyroute2: the ``flannel.<VNI>`` device and, per remote lease,
a neighbour entry, an FDB entry and a route (added in that order, as flanneld does, so the route never makes
the kernel ARP for the gateway), plus read-back of all of it as frozen dataclasses for a pane or a doctor.
"""

from __future__ import annotations

import errno
import ipaddress
import random
import socket
from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.netlink.rtnl import MAIN_TABLE, NUD_PERMANENT
from netcon.core.pyroute import Netlink

NTF_SELF = 0x02
RTNH_F_ONLINK = 0x04
ENCAP_OVERHEAD = 50


@dataclass(frozen=True)
class VxlanDevice:
    ifname: str
    ifindex: int
    vni: int
    local: str | None
    port: int
    link_index: int | None  # the underlay interface (``dev``)
    learning: bool
    mtu: int
    mac: str
    addresses: tuple[str, ...]  # IPv4 CIDRs
    up: bool


@dataclass(frozen=True)
class NeighbourEntry:
    ip: str
    mac: str
    permanent: bool


@dataclass(frozen=True)
class FdbEntry:
    mac: str
    dst: str
    permanent: bool


@dataclass(frozen=True)
class RouteEntry:
    dst: str  # "10.5.35.0/24"
    gateway: str | None
    onlink: bool


@dataclass(frozen=True)
class VxlanState:
    """What the kernel has for one flannel device (``device`` None when it does not exist)."""

    device: VxlanDevice | None
    neighbours: tuple[NeighbourEntry, ...] = ()
    fdb: tuple[FdbEntry, ...] = ()
    routes: tuple[RouteEntry, ...] = ()


@dataclass(frozen=True)
class Remote:
    """What one remote vxlan lease needs on this host."""

    subnet: str  # "10.5.35.0/24"
    public_ip: str
    vtep_mac: str

    @property
    def gateway(self) -> str:
        """The remote's flannel.<VNI> address: the subnet's network address (``subnet`` is canonical)."""
        return self.subnet.partition("/")[0]


@dataclass(frozen=True)
class RemoteCheck:
    """For one remote lease: whether this host has its neighbour, FDB and route entries."""

    subnet: str
    public_ip: str
    vtep_mac: str
    neighbour: bool
    fdb: bool
    route: bool

    @property
    def complete(self) -> bool:
        return self.neighbour and self.fdb and self.route


def device_name(vni: int) -> str:
    return f"flannel.{vni}"


def random_mac(rng: random.Random | None = None) -> str:
    """A random locally administered unicast MAC, as flanneld gives a new vxlan device."""
    octets = [(rng or random).randrange(256) for _ in range(6)]
    octets[0] = (octets[0] & 0xFE) | 0x02
    return ":".join(f"{o:02x}" for o in octets)


def read_device(nl: Netlink, ifname: str) -> VxlanDevice | None:
    index = nl.index(ifname)
    if index is None:
        return None
    link = nl.call(f"read {ifname}", "link", "get", index=index)[0]
    info = link.get("IFLA_LINKINFO")
    data = info.get("IFLA_INFO_DATA") if info is not None else None
    kind = info.get("IFLA_INFO_KIND") if info is not None else None
    addresses = tuple(
        f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
        for a in nl.call(f"read addresses of {ifname}", "get_addr", index=index, family=socket.AF_INET)
    )
    get = data.get if (kind == "vxlan" and data is not None) else (lambda _k: None)
    return VxlanDevice(
        ifname=ifname,
        ifindex=index,
        vni=int(get("IFLA_VXLAN_ID") or 0) if kind == "vxlan" else -1,
        local=get("IFLA_VXLAN_LOCAL"),
        port=get("IFLA_VXLAN_PORT") or 0,
        link_index=get("IFLA_VXLAN_LINK"),
        learning=bool(get("IFLA_VXLAN_LEARNING")),
        mtu=link.get("IFLA_MTU"),
        mac=(link.get("IFLA_ADDRESS") or "").lower(),
        addresses=addresses,
        up=bool(link["flags"] & 1),
    )


def read_state(ctx: HostContext, ifname: str = "flannel.1", nl: Netlink | None = None) -> VxlanState:
    """The device and its neighbour/FDB/route entries as the kernel has them (read-only)."""
    own = nl is None
    nl = nl or Netlink(ctx)
    try:
        device = read_device(nl, ifname)
        if device is None:
            return VxlanState(None)
        index = device.ifindex
        neighbours = tuple(
            NeighbourEntry(n.get("NDA_DST"), (n.get("NDA_LLADDR") or "").lower(), bool(n["state"] & NUD_PERMANENT))
            for n in nl.call(f"read neighbours of {ifname}", "get_neighbours", ifindex=index, family=socket.AF_INET)
            if n.get("NDA_DST") and n.get("NDA_LLADDR")
        )
        fdb = tuple(
            FdbEntry((n.get("NDA_LLADDR") or "").lower(), n.get("NDA_DST"), bool(n["state"] & NUD_PERMANENT))
            for n in nl.call(f"read the FDB of {ifname}", "fdb", "dump", ifindex=index)
            if n.get("NDA_DST") and n["ifindex"] == index
        )
        routes = tuple(
            RouteEntry(f"{r.get('RTA_DST')}/{r['dst_len']}", r.get("RTA_GATEWAY"), bool(r["flags"] & RTNH_F_ONLINK))
            for r in nl.call(f"read routes via {ifname}", "get_routes", family=socket.AF_INET, table=MAIN_TABLE)
            if r.get("RTA_OIF") == index and r.get("RTA_GATEWAY") and r.get("RTA_DST")
        )
        return VxlanState(device, neighbours, fdb, routes)
    finally:
        if own:
            nl.close()


def check_remotes(state: VxlanState, remotes: tuple[Remote, ...]) -> tuple[RemoteCheck, ...]:
    """For each remote lease, whether the kernel holds the entries flanneld would have programmed."""
    neigh = {(n.ip, n.mac) for n in state.neighbours if n.permanent}
    fdb = {(f.mac, f.dst) for f in state.fdb}
    routes = {(r.dst, r.gateway) for r in state.routes if r.onlink}
    return tuple(
        RemoteCheck(
            r.subnet,
            r.public_ip,
            r.vtep_mac,
            (r.gateway, r.vtep_mac) in neigh,
            (r.vtep_mac, r.public_ip) in fdb,
            (r.subnet, r.gateway) in routes,
        )
        for r in remotes
    )


def ensure_device(
    ctx: HostContext,
    nl: Netlink,
    vni: int,
    local: str,
    link_index: int,
    port: int,
    mtu: int,
    address: str,
    mac: str | None = None,
    learning: bool = False,
) -> VxlanDevice:
    """Create ``flannel.<vni>`` (or keep a compatible one and its MAC), give it ``address``/32 and bring it up."""
    ctx.require_writable(f"set up {device_name(vni)}")
    name = device_name(vni)
    existing = read_device(nl, name)
    if existing is not None and (
        existing.vni != vni
        or existing.local != local
        or existing.port != port
        or (existing.link_index or link_index) != link_index
    ):
        nl.call(f"delete the incompatible {name}", "link", "del", index=existing.ifindex)
        existing = None
    if existing is None:
        nl.call(
            f"create {name}",
            "link",
            "add",
            ifname=name,
            kind="vxlan",
            vxlan_id=vni,
            vxlan_local=local,
            vxlan_link=link_index,
            vxlan_port=port,
            vxlan_learning=int(learning),
            address=mac or random_mac(),
            mtu=mtu,
        )
    index = nl.index(name)
    nl.call(f"set the MTU of {name}", "link", "set", index=index, mtu=mtu)
    _only_address(nl, name, index, address)
    nl.call(f"bring {name} up", "link", "set", index=index, state="up")
    device = read_device(nl, name)
    assert device is not None
    return device


def _only_address(nl: Netlink, name: str, index: int | None, address: str) -> None:
    """Give the device ``address``/32 and remove every other IPv4 address it has."""
    wanted = ipaddress.IPv4Interface(f"{address}/32")
    for addr in nl.call(f"read addresses of {name}", "get_addr", index=index, family=socket.AF_INET):
        if (addr.get("IFA_ADDRESS"), addr["prefixlen"]) != (str(wanted.ip), 32):
            nl.call(
                f"remove an old address of {name}",
                "addr",
                "del",
                index=index,
                address=addr.get("IFA_ADDRESS"),
                prefixlen=addr["prefixlen"],
                ignore=(errno.EADDRNOTAVAIL,),
            )
    nl.call(
        f"add {wanted} to {name}",
        "addr",
        "add",
        index=index,
        address=str(wanted.ip),
        prefixlen=32,
        ignore=(errno.EEXIST,),
    )


def add_remote(ctx: HostContext, nl: Netlink, ifindex: int, remote: Remote) -> None:
    """Neighbour, then FDB, then route; a failure undoes the earlier entries (as flanneld does)."""
    ctx.require_writable(f"program the route to {remote.subnet}")
    nl.call(
        f"add the neighbour {remote.gateway}",
        "neigh",
        "replace",
        ifindex=ifindex,
        dst=remote.gateway,
        lladdr=remote.vtep_mac,
        state=NUD_PERMANENT,
    )
    try:
        nl.call(
            f"add the FDB entry {remote.vtep_mac}",
            "fdb",
            "replace",
            ifindex=ifindex,
            lladdr=remote.vtep_mac,
            dst=remote.public_ip,
            state=NUD_PERMANENT,
            flags=NTF_SELF,
        )
        try:
            nl.call(
                f"add the route to {remote.subnet}",
                "route",
                "replace",
                dst=remote.subnet,
                gateway=remote.gateway,
                oif=ifindex,
                flags=RTNH_F_ONLINK,
            )
        except Exception:
            _del_fdb(nl, ifindex, remote.vtep_mac, remote.public_ip)
            raise
    except Exception:
        _del_neigh(nl, ifindex, remote.gateway)
        raise


def remove_remote(ctx: HostContext, nl: Netlink, ifindex: int, remote: Remote) -> None:
    """Remove all three entries; missing ones are fine."""
    ctx.require_writable(f"remove the route to {remote.subnet}")
    _del_neigh(nl, ifindex, remote.gateway)
    _del_fdb(nl, ifindex, remote.vtep_mac, remote.public_ip)
    nl.call(
        f"remove the route to {remote.subnet}",
        "route",
        "del",
        dst=remote.subnet,
        oif=ifindex,
        ignore=(errno.ESRCH, errno.ENOENT),
    )


def reconcile(ctx: HostContext, nl: Netlink, ifname: str, remotes: tuple[Remote, ...]) -> tuple[str, ...]:
    """Remove entries on ``ifname`` that belong to no wanted remote; returns what was removed."""
    ctx.require_writable(f"reconcile {ifname}")
    state = read_state(ctx, ifname, nl)
    if state.device is None:
        return ()
    index = state.device.ifindex
    neigh = {(r.gateway, r.vtep_mac) for r in remotes}
    fdb = {(r.vtep_mac, r.public_ip) for r in remotes}
    routes = {(r.subnet, r.gateway) for r in remotes}
    removed = []
    for n in state.neighbours:
        if (n.ip, n.mac) not in neigh:
            _del_neigh(nl, index, n.ip)
            removed.append(f"neighbour {n.ip}")
    for f in state.fdb:
        if (f.mac, f.dst) not in fdb:
            _del_fdb(nl, index, f.mac, f.dst)
            removed.append(f"fdb {f.mac} dst {f.dst}")
    for r in state.routes:
        if (r.dst, r.gateway) not in routes:
            nl.call(
                f"remove the route to {r.dst}", "route", "del", dst=r.dst, oif=index, ignore=(errno.ESRCH, errno.ENOENT)
            )
            removed.append(f"route {r.dst}")
    return tuple(removed)


def _del_neigh(nl: Netlink, ifindex: int, ip: str) -> None:
    nl.call(f"remove the neighbour {ip}", "neigh", "del", ifindex=ifindex, dst=ip, ignore=(errno.ENOENT, errno.ESRCH))


def _del_fdb(nl: Netlink, ifindex: int, mac: str, dst: str) -> None:
    nl.call(
        f"remove the FDB entry {mac}",
        "fdb",
        "del",
        ifindex=ifindex,
        lladdr=mac,
        dst=dst,
        flags=NTF_SELF,
        ignore=(errno.ENOENT, errno.ESRCH),
    )


def underlay_mtu(nl: Netlink, ifindex: int) -> int:
    link = nl.call("read the underlay interface", "link", "get", index=ifindex)[0]
    return int(link.get("IFLA_MTU"))


def vxlan_mtu(underlay: int) -> int:
    return underlay - ENCAP_OVERHEAD
