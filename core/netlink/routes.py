"""The kernel's own answers about where a packet goes, over rtnetlink: the route it chooses (RTM_GETROUTE, the
query behind ``ip route get``), the neighbour table (``ip neigh``) and a bridge's or VXLAN device's forwarding
database (``bridge fdb``). The trace asks the kernel rather than re-implementing routing, so policy routing,
onlink routes and unreachable/prohibit/blackhole routes are answered as the kernel would forward.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

from netcon.core.errors import NetlinkFailure
from netcon.core.netlink.framing import Message, attr, attrs
from netcon.core.netlink.rtnl import Rtnl

# <linux/rtnetlink.h>, <linux/neighbour.h>: message types, attributes, route types, neighbour states and flags
RTM_NEWROUTE, RTM_GETROUTE, RTM_GETNEIGH = 24, 26, 30
RTA_DST, RTA_SRC, RTA_IIF, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_TABLE = 1, 2, 3, 4, 5, 7, 15
RTA_IP_PROTO, RTA_SPORT, RTA_DPORT = 27, 28, 29
RTM_F_LOOKUP_TABLE = 0x1000
ROUTE_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole"}
ROUTE_TYPES |= {7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
NDA_DST, NDA_LLADDR, NDA_MASTER = 1, 2, 9
NUD_STATES: tuple[tuple[int, str], ...] = (
    (0x01, "INCOMPLETE"),
    (0x02, "REACHABLE"),
    (0x04, "STALE"),
    (0x08, "DELAY"),
    (0x10, "PROBE"),
    (0x20, "FAILED"),
    (0x40, "NOARP"),
    (0x80, "PERMANENT"),
)
NTF_SELF, NTF_MASTER = 0x02, 0x04
AF_BRIDGE = 7

_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_NDMSG = struct.Struct("=BxxxiHBB")  # ndmsg: family, pad, ifindex, state, flags, type
_U32 = struct.Struct("=I")
_PORT = struct.Struct("!H")


@dataclass(frozen=True)
class RouteAnswer:
    """What ``ip route get`` says: the route type and, for a unicast route, device, gateway and source address;
    or the kernel's refusal (``error``: "Network is unreachable"). ``oif`` is an ifindex of the asked netns."""

    dst: str
    kind: str  # unicast, local, broadcast, blackhole, unreachable, prohibit, ... or "error"
    oif: int | None
    gateway: str | None
    prefsrc: str | None
    table: int | None
    error: str | None = None
    errno: int = 0

    @property
    def forwards(self) -> bool:
        return self.kind == "unicast"

    @property
    def next_hop(self) -> str:
        """The address the packet is handed to on ``oif``: the gateway, or the destination itself."""
        return self.gateway or self.dst


@dataclass(frozen=True)
class Neighbour:
    ifindex: int
    ip: str
    mac: str | None
    state: str  # "REACHABLE", "PERMANENT", "FAILED", ... (several joined with "+")

    @property
    def usable(self) -> bool:
        return self.mac is not None and self.state not in ("FAILED", "INCOMPLETE")


@dataclass(frozen=True)
class FdbEntry:
    """One forwarding entry: ``mac`` reached through port ``ifindex`` (a bridge port, or a VXLAN device whose
    ``dst`` is the remote underlay address); ``master`` is the bridge it belongs to."""

    ifindex: int
    mac: str
    master: int | None
    dst: str | None
    state: str
    self_entry: bool  # NTF_SELF: the device's own table (a VXLAN FDB), not the bridge's

    @property
    def permanent(self) -> bool:
        return "PERMANENT" in self.state or "NOARP" in self.state


def _state(value: int) -> str:
    return "+".join(name for bit, name in NUD_STATES if value & bit) or "NONE"


def _ip(raw: bytes | None) -> str | None:
    if not raw:
        return None
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _u32(raw: bytes | None) -> int | None:
    return _U32.unpack_from(raw)[0] if raw and len(raw) >= 4 else None


def route_get(
    rtnl: Rtnl,
    dst: str,
    *,
    src: str | None = None,
    iif: int | None = None,
    proto: int | None = None,
    dport: int | None = None,
) -> RouteAnswer:
    """The route the kernel of ``rtnl``'s namespace picks for a packet to ``dst`` — sent from this namespace
    (``iif`` None) or arriving on ifindex ``iif`` from ``src``, as ``ip route get DST from SRC iif DEV``."""
    body = _RTMSG.pack(socket.AF_INET, 32, 32 if src else 0, 0, 0, 0, 0, 0, RTM_F_LOOKUP_TABLE)
    body += attr(RTA_DST, socket.inet_aton(dst))
    if src:
        body += attr(RTA_SRC, socket.inet_aton(src))
    if iif is not None:
        body += attr(RTA_IIF, _U32.pack(iif))
    if proto is not None:
        body += attr(RTA_IP_PROTO, bytes([proto]))
        if dport is not None and proto in (socket.IPPROTO_TCP, socket.IPPROTO_UDP):
            body += attr(RTA_DPORT, _PORT.pack(dport))
    try:
        for msg in rtnl.ask(RTM_GETROUTE, body, "route lookup"):
            if msg.kind == RTM_NEWROUTE:
                return _answer(dst, msg)
    except NetlinkFailure as failure:
        if failure.code in (errno.ENODEV,) or not failure.code:
            raise
        kinds = {errno.ENETUNREACH: "unreachable", errno.EHOSTUNREACH: "unreachable", errno.EACCES: "prohibit"}
        kinds |= {errno.EINVAL: "blackhole", errno.EXDEV: "error"}
        kind = kinds.get(failure.code, "error")
        return RouteAnswer(dst, kind, None, None, None, None, os.strerror(failure.code), failure.code)
    raise NetlinkFailure("netlink route lookup failed: the kernel sent no route.")


def _answer(dst: str, msg: Message) -> RouteAnswer:
    _f, _dl, _sl, _tos, table, _proto, _scope, kind, _flags = _RTMSG.unpack_from(msg.data, msg.start)
    found = attrs(msg.data, msg.start + _RTMSG.size, msg.end)
    return RouteAnswer(
        dst=dst,
        kind=ROUTE_TYPES.get(kind, f"type {kind}"),
        oif=_u32(found.get(RTA_OIF)),
        gateway=_ip(found.get(RTA_GATEWAY)),
        prefsrc=_ip(found.get(RTA_PREFSRC)),
        table=_u32(found.get(RTA_TABLE)) or table,
    )


def neighbours(rtnl: Rtnl, ifindex: int | None = None) -> tuple[Neighbour, ...]:
    """The IPv4 neighbour table (``ip -4 neigh``), of one device when ``ifindex`` is given."""
    body = _NDMSG.pack(socket.AF_INET, ifindex or 0, 0, 0, 0)
    found = []
    for msg in rtnl.ask(RTM_GETNEIGH, body, "neighbour dump", dump=True):
        family, index, state, _flags, _type = _NDMSG.unpack_from(msg.data, msg.start)
        if family != socket.AF_INET or (ifindex is not None and index != ifindex):
            continue
        nested = attrs(msg.data, msg.start + _NDMSG.size, msg.end)
        ip = _ip(nested.get(NDA_DST))
        if ip is None:
            continue
        mac = nested.get(NDA_LLADDR)
        found.append(Neighbour(index, ip, mac.hex(":") if mac else None, _state(state)))
    return tuple(found)


def neighbour(rtnl: Rtnl, ifindex: int, ip: str) -> Neighbour | None:
    return next((n for n in neighbours(rtnl, ifindex) if n.ip == ip), None)


def fdb(rtnl: Rtnl, ifindex: int | None = None, master: int | None = None) -> tuple[FdbEntry, ...]:
    """Forwarding entries (``bridge fdb show``): of one port or device (``ifindex``), or of every port of the
    bridge ``master``."""
    body = _NDMSG.pack(AF_BRIDGE, 0, 0, 0, 0)
    if master is not None:
        body += attr(NDA_MASTER, _U32.pack(master))
    found = []
    for msg in rtnl.ask(RTM_GETNEIGH, body, "FDB dump", dump=True):
        family, index, state, flags, _type = _NDMSG.unpack_from(msg.data, msg.start)
        if family != AF_BRIDGE or (ifindex is not None and index != ifindex):
            continue
        nested = attrs(msg.data, msg.start + _NDMSG.size, msg.end)
        mac = nested.get(NDA_LLADDR)
        if not mac:
            continue
        owner = _u32(nested.get(NDA_MASTER))
        if master is not None and owner != master:
            continue
        found.append(
            FdbEntry(index, mac.hex(":"), owner, _ip(nested.get(NDA_DST)), _state(state), bool(flags & NTF_SELF))
        )
    return tuple(found)


def in_subnet(ip: str, cidr: str) -> bool:
    """``ip`` lies in ``cidr`` (a lease's subnet)."""
    return ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(cidr, strict=False)
