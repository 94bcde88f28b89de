"""A small synchronous rtnetlink reader for the snapshot's hot path.

pyroute2's ``IPRoute`` runs an asyncio loop per call, keeps one socket per thread, and its generic decoder
costs ~1 ms per namespace dump; the snapshot reads one namespace per container, so this module sends dump
requests on a plain socket (created inside the namespace by ``core.netns``) and decodes only the attributes
the snapshot uses. Everything that changes the kernel goes through pyroute2 (``core.pyroute``).

rtnetlink's kernel ABI numbers live here once; the monitor and the pyroute2 callers import them.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

from netcon.core.errors import NetlinkFailure
from netcon.core.netlink.framing import NLM_F_DUMP, NLM_F_REQUEST, Message, attr, attrs, open_socket, request
from netcon.core.netns import run_in_each_netns, run_in_netns

# rtnetlink's kernel ABI, from <linux/rtnetlink.h>, <linux/if_link.h>, <linux/if_addr.h>,
# <linux/neighbour.h>, <linux/net_namespace.h>: message types, attribute numbers, flags.
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 17, 18, 20, 22
RTM_NEWNEIGH, RTM_NEWNSID, RTM_GETNSID, RTM_NEWSTATS, RTM_GETSTATS = 28, 88, 90, 92, 94
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_OPERSTATE, IFLA_LINKINFO, IFLA_STATS64, IFLA_EXT_MASK, IFLA_LINK_NETNSID = 16, 18, 23, 29, 37
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_BR_STP_STATE, IFLA_BR_BRIDGE_ID = 5, 11
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFLA_STATS_LINK_64 = 1  # the attribute (and filter bit) of struct rtnl_link_stats64 in an RTM_GETSTATS dump
NETNSA_NSID, NETNSA_FD = 1, 3
NUD_NOARP, NUD_PERMANENT = 0x40, 0x80  # neighbour states: static entries (flannel programs NUD_PERMANENT ones)
MAIN_TABLE = 254  # RT_TABLE_MAIN: the routing table ``ip route`` shows
RTEXT_FILTER_VF = 1
ARPHRD_LOOPBACK = 772
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")

_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBi")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTGEN = struct.Struct("=Bxxx")  # rtgenmsg, padded: family
_IFSTATS = struct.Struct("=BBHII")  # if_stats_msg: family, pad, pad, ifindex, filter_mask
_U32, _S32 = struct.Struct("=I"), struct.Struct("=i")
_STATS = struct.Struct("=4Q")  # rtnl_link_stats64 head: rx_packets, tx_packets, rx_bytes, tx_bytes
_STATS8 = struct.Struct("=8Q")  # ... then rx_errors, tx_errors, rx_dropped, tx_dropped


@dataclass(frozen=True)
class Link:
    index: int
    ifname: str
    kind: str  # IFLA_INFO_KIND, or "loopback"/"physical" for links without one
    mtu: int
    state: str
    mac: str | None
    link: int | None  # IFLA_LINK: a veth's peer ifindex
    link_netnsid: int | None  # IFLA_LINK_NETNSID: the netns (as this netns numbers it) the peer lives in
    master: int | None
    stats: tuple[int, int, int, int]  # rx_packets, tx_packets, rx_bytes, tx_bytes
    bridge_id: str | None  # "8000.0242ac110002" for a bridge
    stp: bool


@dataclass(frozen=True)
class Address:
    index: int
    family: int
    cidr: str  # "172.17.0.1/16"


def _u32(value: bytes | None) -> int | None:
    if not value:
        return None
    number: int = _U32.unpack_from(value)[0]
    return number


def _s32(value: bytes) -> int:
    number: int = _S32.unpack_from(value)[0]
    return number


def _mac(value: bytes | None) -> str | None:
    return value.hex(":") if value else None


def _bridge(info: bytes | None) -> tuple[str | None, str | None, bool]:
    """(kind, bridge id, STP on) from IFLA_LINKINFO; the id and STP only for a bridge."""
    if not info:
        return None, None, False
    nested = attrs(info, 0, len(info))
    kind = nested.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode(errors="replace") or None
    if kind != "bridge" or IFLA_INFO_DATA not in nested:
        return kind, None, False
    br = attrs(nested[IFLA_INFO_DATA], 0, len(nested[IFLA_INFO_DATA]))
    raw = br.get(IFLA_BR_BRIDGE_ID)
    bridge_id = f"{raw[0]:02x}{raw[1]:02x}.{raw[2:8].hex()}" if raw and len(raw) >= 8 else None
    return kind, bridge_id, bool(_u32(br.get(IFLA_BR_STP_STATE)))


def _link(msg: Message) -> Link:
    _family, ifi_type, index, _flags, _change = _IFINFO.unpack_from(msg.data, msg.start)
    found = attrs(msg.data, msg.start + _IFINFO.size, msg.end)
    kind, bridge_id, stp = _bridge(found.get(IFLA_LINKINFO))
    if kind is None:
        kind = "loopback" if ifi_type == ARPHRD_LOOPBACK else "physical"
    stats64 = found.get(IFLA_STATS64)
    stats = _STATS.unpack_from(stats64) if stats64 and len(stats64) >= _STATS.size else (0, 0, 0, 0)
    operstate = found.get(IFLA_OPERSTATE)
    netnsid = found.get(IFLA_LINK_NETNSID)
    return Link(
        index=index,
        ifname=found.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(errors="replace"),
        kind=kind,
        mtu=_u32(found.get(IFLA_MTU)) or 0,
        state=OPERSTATES[operstate[0]] if operstate and operstate[0] < len(OPERSTATES) else "UNKNOWN",
        mac=_mac(found.get(IFLA_ADDRESS)),
        link=_u32(found.get(IFLA_LINK)),
        link_netnsid=_s32(netnsid) if netnsid else None,
        master=_u32(found.get(IFLA_MASTER)),
        stats=stats,
        bridge_id=bridge_id,
        stp=stp,
    )


def _address(msg: Message) -> Address | None:
    family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(msg.data, msg.start)
    found = attrs(msg.data, msg.start + _IFADDR.size, msg.end)
    raw = found.get(IFA_LOCAL) or found.get(IFA_ADDRESS)
    if not raw or family not in (socket.AF_INET, socket.AF_INET6):
        return None
    return Address(index, family, f"{socket.inet_ntop(family, raw)}/{prefixlen}")


def _new_socket() -> socket.socket:
    return open_socket(socket.NETLINK_ROUTE)


class Rtnl:
    """One rtnetlink socket in one network namespace (None: the caller's)."""

    def __init__(self, netns: str | None = None, sock: socket.socket | None = None) -> None:
        self.netns = netns
        self.sock = sock or run_in_netns(netns, _new_socket)
        self._seq = count(1)

    @classmethod
    def open_many(cls, paths: list[str]) -> dict[str, Rtnl | BaseException]:
        """One socket in each namespace of ``paths`` (one thread switches through them all)."""
        socks = run_in_each_netns(paths, _new_socket)
        return {p: cls(p, s) if isinstance(s, socket.socket) else s for p, s in socks.items()}

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dump(self, msg_type: int, body: bytes, what: str) -> Iterator[Message]:
        return request(self.sock, next(self._seq), msg_type, NLM_F_REQUEST | NLM_F_DUMP, body, what)

    def ask(self, msg_type: int, body: bytes, what: str, dump: bool = False) -> Iterator[Message]:
        """One request on this socket (a dump when ``dump``): for readers in other modules (core.netlink.routes)."""
        return request(self.sock, next(self._seq), msg_type, NLM_F_REQUEST | (NLM_F_DUMP if dump else 0), body, what)

    def links(self) -> list[Link]:
        body = _IFINFO.pack(0, 0, 0, 0, 0) + attr(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_VF))
        return [_link(msg) for msg in self._dump(RTM_GETLINK, body, "link dump") if msg.kind == RTM_NEWLINK]

    def link_stats(self) -> dict[int, tuple[int, ...]]:
        """ifindex -> (rx_packets, tx_packets, rx_bytes, tx_bytes, rx_errors, tx_errors, rx_dropped, tx_dropped)
        of every link, from one RTM_GETSTATS dump (only the 64-bit counters: a tenth of a link dump's bytes and
        no attributes to decode)."""
        body = _IFSTATS.pack(0, 0, 0, 0, 1 << (IFLA_STATS_LINK_64 - 1))
        found: dict[int, tuple[int, ...]] = {}
        for msg in self._dump(RTM_GETSTATS, body, "stats dump"):
            if msg.kind != RTM_NEWSTATS:
                continue
            stats64 = attrs(msg.data, msg.start + _IFSTATS.size, msg.end).get(IFLA_STATS_LINK_64)
            if stats64 and len(stats64) >= _STATS8.size:
                found[_IFSTATS.unpack_from(msg.data, msg.start)[3]] = _STATS8.unpack_from(stats64)
        return found

    def addresses(self) -> list[Address]:
        body = _IFADDR.pack(0, 0, 0, 0, 0)
        found = (_address(msg) for msg in self._dump(RTM_GETADDR, body, "address dump") if msg.kind == RTM_NEWADDR)
        return [a for a in found if a]

    def netnsid_of(self, path: str) -> int | None:
        """The id this namespace gives the namespace at ``path`` (what IFLA_LINK_NETNSID refers to); None
        when it gives none."""
        fd = os.open(path, os.O_RDONLY)
        try:
            body = _RTGEN.pack(socket.AF_UNSPEC) + attr(NETNSA_FD, _U32.pack(fd))
            replies = request(self.sock, next(self._seq), RTM_GETNSID, NLM_F_REQUEST, body, "netnsid lookup")
            for msg in replies:
                if msg.kind == RTM_NEWNSID:
                    nsid = _s32(attrs(msg.data, msg.start + _RTGEN.size, msg.end).get(NETNSA_NSID, b"\xff" * 4))
                    return nsid if nsid >= 0 else None
        except NetlinkFailure as error:
            if error.code in (errno.ENOENT, errno.EINVAL):
                return None
            raise
        finally:
            os.close(fd)
        return None
