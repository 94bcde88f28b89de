"""A small synchronous rtnetlink reader for the snapshot's hot path.

pyroute2's ``IPRoute`` runs an asyncio loop per call, keeps one socket per thread, and its generic decoder
costs ~1 ms per namespace dump; the snapshot reads one namespace per container, so this module sends dump
requests on a plain socket (created inside the namespace by ``core.netns``) and decodes only the attributes
the snapshot uses. Everything that changes the kernel goes through pyroute2.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass
from itertools import count

from netcon.core.errors import NetlinkFailure
from netcon.core.netns import run_in_each_netns, run_in_netns

NETLINK_ROUTE = 0
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR, RTM_NEWNSID, RTM_GETNSID = 16, 18, 20, 22, 88, 90
RTM_NEWSTATS, RTM_GETSTATS = 92, 94
IFLA_STATS_LINK_64 = 1  # <linux/if_link.h>: the attribute (and filter bit) of struct rtnl_link_stats64
# attribute numbers from <linux/if_link.h>, <linux/if_addr.h>, <linux/net_namespace.h> (kernel ABI)
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_OPERSTATE, IFLA_LINKINFO, IFLA_STATS64, IFLA_EXT_MASK, IFLA_LINK_NETNSID = 16, 18, 23, 29, 37
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_BR_STP_STATE, IFLA_BR_BRIDGE_ID = 5, 11
IFA_ADDRESS, IFA_LOCAL = 1, 2
NETNSA_NSID, NETNSA_FD = 1, 3
RTEXT_FILTER_VF = 1
ARPHRD_LOOPBACK = 772
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")

_HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBi")  # ifaddrmsg: family, prefixlen, flags, scope, index
_IFSTATS = struct.Struct("=BBHII")  # if_stats_msg: family, pad, pad, ifindex, filter_mask
_RTA = struct.Struct("=HH")
_RECV = 1 << 20


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


def _attrs(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    out = {}
    while offset + 4 <= end:
        length, kind = _RTA.unpack_from(data, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4 : offset + length]  # strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
        offset += (length + 3) & ~3
    return out


def _u32(value: bytes | None) -> int | None:
    return struct.unpack("=I", value[:4])[0] if value else None


def _mac(value: bytes | None) -> str | None:
    return ":".join(f"{b:02x}" for b in value) if value else None


def _link(data: bytes, offset: int, end: int) -> Link:
    _family, ifi_type, index, _flags, _change = _IFINFO.unpack_from(data, offset)
    attrs = _attrs(data, offset + _IFINFO.size, end)
    kind, bridge_id, stp = None, None, False
    info = attrs.get(IFLA_LINKINFO)
    if info:
        nested = _attrs(info, 0, len(info))
        kind = nested.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode() or None
        if kind == "bridge" and IFLA_INFO_DATA in nested:
            br = _attrs(nested[IFLA_INFO_DATA], 0, len(nested[IFLA_INFO_DATA]))
            raw = br.get(IFLA_BR_BRIDGE_ID)
            if raw and len(raw) >= 8:
                bridge_id = f"{raw[0]:02x}{raw[1]:02x}.{raw[2:8].hex()}"
            stp = bool(_u32(br.get(IFLA_BR_STP_STATE)))
    if kind is None:
        kind = "loopback" if ifi_type == ARPHRD_LOOPBACK else "physical"
    stats64 = attrs.get(IFLA_STATS64)
    stats = struct.unpack_from("=4Q", stats64) if stats64 and len(stats64) >= 32 else (0, 0, 0, 0)
    operstate = attrs.get(IFLA_OPERSTATE)
    netnsid = attrs.get(IFLA_LINK_NETNSID)
    return Link(
        index=index,
        ifname=attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(errors="replace"),
        kind=kind,
        mtu=_u32(attrs.get(IFLA_MTU)) or 0,
        state=OPERSTATES[operstate[0]] if operstate and operstate[0] < len(OPERSTATES) else "UNKNOWN",
        mac=_mac(attrs.get(IFLA_ADDRESS)),
        link=_u32(attrs.get(IFLA_LINK)),
        link_netnsid=struct.unpack("=i", netnsid[:4])[0] if netnsid else None,
        master=_u32(attrs.get(IFLA_MASTER)),
        stats=stats,
        bridge_id=bridge_id,
        stp=stp,
    )


def _address(data: bytes, offset: int, end: int) -> Address | None:
    family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(data, offset)
    attrs = _attrs(data, offset + _IFADDR.size, end)
    raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if not raw or family not in (socket.AF_INET, socket.AF_INET6):
        return None
    return Address(index, family, f"{socket.inet_ntop(family, raw)}/{prefixlen}")


def _rta(kind: int, payload: bytes) -> bytes:
    data = _RTA.pack(4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def _new_socket() -> socket.socket:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)


class Rtnl:
    """One rtnetlink socket in one network namespace (None: the caller's)."""

    def __init__(self, netns: str | None = None, sock: socket.socket | None = None) -> None:
        self.netns = netns
        self.sock = sock or run_in_netns(netns, _new_socket)
        self.sock.bind((0, 0))
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

    def _request(self, msg_type: int, flags: int, body: bytes, what: str):
        """Send one request; yield (type, data, payload offset, end) of each reply message."""
        seq = next(self._seq)
        try:
            self.sock.send(_HDR.pack(_HDR.size + len(body), msg_type, flags, seq, 0) + body)
        except OSError as error:
            raise NetlinkFailure(f"netlink {what} failed: {error.strerror}.", code=error.errno or 0) from error
        while True:
            data = self.sock.recv(_RECV)
            offset = 0
            while offset + _HDR.size <= len(data):
                length, kind, _flags, mseq, _pid = _HDR.unpack_from(data, offset)
                if length < _HDR.size:
                    break
                if mseq == seq:
                    if kind == NLMSG_DONE:
                        return
                    if kind == NLMSG_ERROR:
                        code = -struct.unpack_from("=i", data, offset + _HDR.size)[0]
                        if code:
                            raise NetlinkFailure(f"netlink {what} failed: {os.strerror(code)}.", code=code)
                        return
                    yield kind, data, offset + _HDR.size, offset + length
                    if not flags & NLM_F_DUMP:
                        return
                offset += (length + 3) & ~3

    def links(self) -> list[Link]:
        body = _IFINFO.pack(0, 0, 0, 0, 0) + _rta(IFLA_EXT_MASK, struct.pack("=I", RTEXT_FILTER_VF))
        return [
            _link(data, start, end)
            for kind, data, start, end in self._request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, body, "link dump")
            if kind == RTM_NEWLINK
        ]

    def link_stats(self) -> dict[int, tuple[int, int, int, int]]:
        """ifindex -> (rx_packets, tx_packets, rx_bytes, tx_bytes) of every link, from one RTM_GETSTATS dump
        (only the 64-bit counters: a tenth of a link dump's bytes and no attributes to decode)."""
        body = _IFSTATS.pack(0, 0, 0, 0, 1 << (IFLA_STATS_LINK_64 - 1))
        found = {}
        for kind, data, start, end in self._request(RTM_GETSTATS, NLM_F_REQUEST | NLM_F_DUMP, body, "stats dump"):
            if kind != RTM_NEWSTATS:
                continue
            stats64 = _attrs(data, start + _IFSTATS.size, end).get(IFLA_STATS_LINK_64)
            if stats64 and len(stats64) >= 32:
                found[_IFSTATS.unpack_from(data, start)[3]] = struct.unpack_from("=4Q", stats64)
        return found

    def addresses(self) -> list[Address]:
        body = _IFADDR.pack(0, 0, 0, 0, 0)
        found = (
            _address(data, start, end)
            for kind, data, start, end in self._request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, body, "address dump")
            if kind == RTM_NEWADDR
        )
        return [a for a in found if a]

    def netnsid_of(self, path: str) -> int | None:
        """The id this namespace gives the namespace at ``path`` (what IFLA_LINK_NETNSID refers to)."""
        fd = os.open(path, os.O_RDONLY)
        try:
            body = struct.pack("=Bxxx", socket.AF_UNSPEC) + _rta(NETNSA_FD, struct.pack("=I", fd))
            try:
                for kind, data, start, end in self._request(RTM_GETNSID, NLM_F_REQUEST, body, "netnsid lookup"):
                    if kind == RTM_NEWNSID:
                        nsid = struct.unpack(
                            "=i", _attrs(data, start + 4, end).get(NETNSA_NSID, b"\xff\xff\xff\xff")[:4]
                        )[0]
                        return nsid if nsid >= 0 else None
            except NetlinkFailure as error:
                if error.code in (errno.ENOENT, errno.EINVAL):
                    return None
                raise
        finally:
            os.close(fd)
        return None
