"""Decoding a captured Ethernet frame into ``layers``: Ethernet, 802.1Q, ARP, IPv4, IPv6, ICMP and ICMPv6
(with the header an error quotes), TCP, UDP, DNS names, and VXLAN on UDP 8472 (Linux and flannel) and 4789
(IANA) with the inner frame decoded the same way.

A small hand-written decoder rather than dpkt: it reads only the fields netcon shows, with ``struct`` at
offsets into the captured bytes, and is ~4x faster per packet (docs/performance.md, capture section).
Decoding never raises on bad input: a header that does not fit ends the tuple with ``Truncated``.
"""

from __future__ import annotations

import socket
import struct

from netcon.core.capture.layers import (
    Arp,
    Dns,
    Ethernet,
    Icmp,
    Icmpv6,
    IPv4,
    IPv6,
    Layer,
    Tcp,
    Truncated,
    Udp,
    Vlan,
    Vxlan,
)

VXLAN_PORTS = frozenset({8472, 4789})
DNS_PORTS = frozenset({53, 5353})
ETH_IPV4, ETH_ARP, ETH_IPV6 = 0x0800, 0x0806, 0x86DD
VLAN_TYPES = frozenset({0x8100, 0x88A8})
MAX_DEPTH = 4  # VXLAN in VXLAN in ...: a crafted packet cannot make us recurse for ever
MAX_DNS_RECORDS = 32

_ETH = struct.Struct("!6s6sH")
_VLAN = struct.Struct("!HH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_IP4 = struct.Struct("!BBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_ICMP = struct.Struct("!BBHHH")
_TCP = struct.Struct("!HHIIBBH")
_UDP = struct.Struct("!HHH")
_VXLAN = struct.Struct("!B3xI")
_DNS = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_U16 = struct.Struct("!H")
_ntoa, _ntop, _AF6 = socket.inet_ntoa, socket.inet_ntop, socket.AF_INET6

ICMP4_KINDS = {
    0: "echo reply",
    3: "unreachable",
    5: "redirect",
    8: "echo request",
    11: "time exceeded",
    12: "parameter problem",
}
IP6_EXTENSIONS = {0: "hopopts", 43: "routing", 44: "fraghdr", 60: "dstopts"}
ICMP6_KINDS = {
    1: "unreachable",
    2: "packet too big",
    3: "time exceeded",
    4: "parameter problem",
    128: "echo request",
    129: "echo reply",
    130: "multicast listener query",
    131: "multicast listener report",
    132: "multicast listener done",
    143: "multicast listener report v2",
    133: "router solicitation",
    134: "router advertisement",
    135: "neighbor solicitation",
    136: "neighbor advertisement",
}
UNREACH4 = {
    0: "net",
    1: "host",
    2: "protocol",
    3: "port",
    4: "need to frag",
    9: "net prohibited",
    10: "host prohibited",
    13: "filtered",
}
UNREACH6 = {0: "no route", 1: "prohibited", 3: "address", 4: "port"}
EXCEEDED = {0: "in-transit", 1: "reassembly"}
DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 255: "ANY"}
TCP_FLAGS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."), (0x20, "U"), (0x40, "E"), (0x80, "W"))


def decode(data: bytes) -> tuple[Layer, ...]:
    """Every layer of an Ethernet frame, outermost first."""
    out: list[Layer] = []
    _ethernet(data, 0, out, 0)
    return tuple(out)


def _mac(raw: bytes) -> str:
    return raw.hex(":")


def _ethernet(data: bytes, o: int, out: list[Layer], depth: int) -> None:
    if len(data) - o < 14:
        out.append(Truncated("eth", 14 - (len(data) - o)))
        return
    dst, src, ethertype = _ETH.unpack_from(data, o)
    out.append(Ethernet(_mac(src), _mac(dst), ethertype))
    o += 14
    while ethertype in VLAN_TYPES:
        if len(data) - o < 4:
            out.append(Truncated("vlan", 4 - (len(data) - o)))
            return
        tci, ethertype = _VLAN.unpack_from(data, o)
        out.append(Vlan(tci & 0x0FFF, tci >> 13, ethertype))
        o += 4
    if ethertype == ETH_IPV4:
        _ipv4(data, o, out, depth)
    elif ethertype == ETH_IPV6:
        _ipv6(data, o, out, depth, quoted=False)
    elif ethertype == ETH_ARP:
        _arp(data, o, out)


def _arp(data: bytes, o: int, out: list[Layer]) -> None:
    if len(data) - o < 28:
        out.append(Truncated("arp", 28 - (len(data) - o)))
        return
    _htype, _ptype, _hlen, _plen, op, smac, sip, tmac, tip = _ARP.unpack_from(data, o)
    out.append(Arp(op, _mac(smac), _ntoa(sip), _mac(tmac), _ntoa(tip)))


def _ipv4(data: bytes, o: int, out: list[Layer], depth: int, quoted: bool = False) -> None:
    if len(data) - o < 20:
        out.append(Truncated("ip", 20 - (len(data) - o)))
        return
    vihl, _tos, total, ident, frag, ttl, proto, _csum, src, dst = _IP4.unpack_from(data, o)
    flags = "+".join(name for bit, name in ((0x4000, "DF"), (0x2000, "MF")) if frag & bit)
    offset = (frag & 0x1FFF) * 8
    out.append(IPv4(_ntoa(src), _ntoa(dst), proto, ttl, total, ident, flags, offset))
    if offset:  # a later fragment: no transport header in it
        return
    header = (vihl & 0x0F) * 4
    end = len(data) if quoted else min(len(data), o + max(total, header))
    _transport(data, o + header, end, proto, out, depth, quoted, 4)


def _ipv6(data: bytes, o: int, out: list[Layer], depth: int, quoted: bool) -> None:
    if len(data) - o < 40:
        out.append(Truncated("ipv6", 40 - (len(data) - o)))
        return
    _vtf, plen, nxt, hops, src, dst = _IP6.unpack_from(data, o)
    end = len(data) if quoted else min(len(data), o + 40 + plen)
    o += 40
    extensions: list[str] = []
    while nxt in IP6_EXTENSIONS and end - o >= 8 and len(extensions) < 8:
        extensions.append(IP6_EXTENSIONS[nxt])
        if nxt == 44:  # fragment header: fixed 8 bytes; a later fragment carries no upper header
            later = _U16.unpack_from(data, o + 2)[0] & 0xFFF8
            nxt, o = data[o], o + 8
            if later:
                out.append(IPv6(_ntop(_AF6, src), _ntop(_AF6, dst), nxt, hops, plen, tuple(extensions)))
                return
            continue
        nxt, o = data[o], o + (data[o + 1] + 1) * 8
    out.append(IPv6(_ntop(_AF6, src), _ntop(_AF6, dst), nxt, hops, plen, tuple(extensions)))
    _transport(data, o, end, nxt, out, depth, quoted, 6)


def _transport(data: bytes, o: int, end: int, proto: int, out: list[Layer], depth: int, quoted: bool, v: int) -> None:
    if proto == 17:
        _udp(data, o, end, out, depth, quoted)
    elif proto == 6:
        _tcp(data, o, end, out, quoted)
    elif proto == 1 and v == 4:
        _icmp(data, o, end, out, depth, quoted, 4)
    elif proto == 58 and v == 6:
        _icmp(data, o, end, out, depth, quoted, 6)


def _icmp(data: bytes, o: int, end: int, out: list[Layer], depth: int, quoted: bool, v: int) -> None:
    if end - o < 8 and (end - o < 4 or not quoted):  # a quoted header may stop after type and code
        out.append(Truncated("icmp" if v == 4 else "icmpv6", 8 - (end - o)))
        return
    kind_of, unreach = (ICMP4_KINDS, UNREACH4) if v == 4 else (ICMP6_KINDS, UNREACH6)
    itype, code = data[o], data[o + 1]
    kind = kind_of.get(itype, f"type {itype}")
    ident = seq = None
    detail = ""
    if kind in ("echo request", "echo reply") and end - o >= 8:
        _t, _c, _s, ident, seq = _ICMP.unpack_from(data, o)
    elif kind == "unreachable":
        detail = f"{unreach.get(code, f'code {code}')} unreachable"
    elif kind == "time exceeded":
        detail = EXCEEDED.get(code, f"code {code}")
    elif kind in ("neighbor solicitation", "neighbor advertisement") and end - o >= 24:
        detail = _ntop(_AF6, data[o + 8 : o + 24])
    cls = Icmp if v == 4 else Icmpv6
    layer = cls(v, itype, code, kind, detail, ident, seq, end - o)
    out.append(layer)
    if layer.is_error and not quoted and depth < MAX_DEPTH:  # the offending packet's header follows
        q = o + 8
        if v == 4 and end - q >= 20 and data[q] >> 4 == 4:
            _ipv4(data[:end], q, out, depth + 1, quoted=True)
        elif v == 6 and end - q >= 40 and data[q] >> 4 == 6:
            _ipv6(data[:end], q, out, depth + 1, quoted=True)


def _tcp(data: bytes, o: int, end: int, out: list[Layer], quoted: bool) -> None:
    if end - o < 20:
        if quoted and end - o >= 8:  # an ICMP error quotes at least 8 bytes: ports and sequence number
            sport, dport, seq = struct.unpack_from("!HHI", data, o)
            out.append(Tcp(sport, dport, "", seq, 0, 0, 0))
            return
        out.append(Truncated("tcp", 20 - (end - o)))
        return
    sport, dport, seq, ack, off, bits, window = _TCP.unpack_from(data, o)
    flags = "".join(letter for bit, letter in TCP_FLAGS if bits & bit)
    out.append(Tcp(sport, dport, flags, seq, ack, window, max(0, end - o - (off >> 4) * 4)))


def _udp(data: bytes, o: int, end: int, out: list[Layer], depth: int, quoted: bool) -> None:
    if end - o < 8:
        out.append(Truncated("udp", 8 - (end - o)))
        return
    sport, dport, length = _UDP.unpack_from(data, o)
    out.append(Udp(sport, dport, length))
    if quoted:
        return
    body = o + 8
    if (dport in VXLAN_PORTS or sport in VXLAN_PORTS) and depth < MAX_DEPTH and end - body >= 8:
        flags, vni = _VXLAN.unpack_from(data, body)
        if flags & 0x08:  # the I flag: a valid VNI follows
            out.append(Vxlan(vni >> 8, flags))
            _ethernet(data[:end], body + 8, out, depth + 1)
            return
    if dport in DNS_PORTS or sport in DNS_PORTS:
        dns = _dns(data[body:end])
        if dns is not None:
            out.append(dns)


def _dns(msg: bytes) -> Dns | None:
    """Header, question names and the answers' names and data; None when it does not parse as DNS."""
    if len(msg) < 12:
        return None
    ident, flags, qd, an, _ns, _ar = _DNS.unpack(msg[:12])
    o = 12
    questions: list[tuple[str, str]] = []
    answers: list[tuple[str, str, str]] = []
    try:
        for _ in range(min(qd, MAX_DNS_RECORDS)):
            name, o = _name(msg, o)
            qtype = _U16.unpack_from(msg, o)[0]
            questions.append((name, DNS_TYPES.get(qtype, str(qtype))))
            o += 4
        for _ in range(min(an, MAX_DNS_RECORDS)):
            name, o = _name(msg, o)
            rtype, _cls, _ttl, rdlen = _RR.unpack_from(msg, o)
            o += 10
            rdata = msg[o : o + rdlen]
            if rtype == 1 and rdlen == 4:
                value = _ntoa(rdata)
            elif rtype == 28 and rdlen == 16:
                value = _ntop(_AF6, rdata)
            elif rtype in (2, 5, 12):
                value = _name(msg, o)[0]
            else:
                value = f"{rdlen} bytes"
            answers.append((name, DNS_TYPES.get(rtype, str(rtype)), value))
            o += rdlen
    except (struct.error, IndexError, ValueError):
        if not questions:
            return None
    return Dns(ident, bool(flags & 0x8000), flags & 0x000F, tuple(questions), tuple(answers))


def _name(msg: bytes, o: int) -> tuple[str, int]:
    """A (possibly compressed) domain name at ``o``: (``"app2.example."``, offset after it)."""
    labels: list[str] = []
    after = None
    for _ in range(128):  # pointer loops end here
        length = msg[o]
        if length == 0:
            o += 1
            break
        if length & 0xC0 == 0xC0:
            if after is None:
                after = o + 2
            o = ((length & 0x3F) << 8) | msg[o + 1]
            continue
        if length > 63 or o + 1 + length > len(msg):
            raise ValueError("bad label")
        labels.append(msg[o + 1 : o + 1 + length].decode("ascii", "backslashreplace"))
        o += 1 + length
    else:
        raise ValueError("name too long")
    return ".".join(labels) + ".", after if after is not None else o
