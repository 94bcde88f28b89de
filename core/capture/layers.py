"""What the decoder makes of a frame: one frozen dataclass per protocol header, in the order they were met.

A packet decodes to a flat tuple of layers, outermost first, the way Wireshark lists ``frame.protocols``:
a VXLAN frame is ``eth ip udp vxlan eth ip icmp``, an ICMP error is followed by the header it quotes
(``eth ip icmp ip udp``). Each class's ``proto`` is Wireshark's name for the protocol.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Ethernet:
    proto: ClassVar[str] = "eth"
    src: str
    dst: str
    ethertype: int


@dataclass(frozen=True, slots=True)
class Vlan:
    proto: ClassVar[str] = "vlan"
    vid: int
    priority: int
    ethertype: int


@dataclass(frozen=True, slots=True)
class Arp:
    proto: ClassVar[str] = "arp"
    op: int  # 1 request, 2 reply
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str


@dataclass(frozen=True, slots=True)
class IPv4:
    proto: ClassVar[str] = "ip"
    src: str
    dst: str
    protocol: int
    ttl: int
    length: int  # total length from the header
    ident: int
    flags: str  # "DF", "MF", "DF+MF" or ""
    fragment_offset: int


@dataclass(frozen=True, slots=True)
class IPv6:
    proto: ClassVar[str] = "ipv6"
    src: str
    dst: str
    next_header: int  # the protocol after any extension headers
    hop_limit: int
    payload_length: int
    extensions: tuple[str, ...] = ()  # extension headers passed, by Wireshark's names ("hopopts", "fraghdr")


@dataclass(frozen=True, slots=True)
class Icmp:
    """ICMP or ICMPv6 (``version``); an error (unreachable, time exceeded, ...) quotes the header of the packet
    that caused it, decoded as the layers after this one."""

    proto: ClassVar[str] = "icmp"
    version: int  # 4 or 6
    type: int
    code: int
    kind: str  # "echo request", "echo reply", "unreachable", "time exceeded", ...
    detail: str  # the code's meaning ("port unreachable", "in-transit") or ND's target, else ""
    ident: int | None  # echo id and sequence number
    seq: int | None
    length: int  # ICMP bytes (header and payload)

    @property
    def is_error(self) -> bool:
        return self.kind in ERROR_KINDS


@dataclass(frozen=True, slots=True)
class Icmpv6(Icmp):
    proto: ClassVar[str] = "icmpv6"


@dataclass(frozen=True, slots=True)
class Tcp:
    proto: ClassVar[str] = "tcp"
    sport: int
    dport: int
    flags: str  # tcpdump's letters: S F R P . (ack) U E W
    seq: int
    ack: int
    window: int
    payload: int  # bytes after the header


@dataclass(frozen=True, slots=True)
class Udp:
    proto: ClassVar[str] = "udp"
    sport: int
    dport: int
    length: int  # UDP length field (header and payload)


@dataclass(frozen=True, slots=True)
class Dns:
    proto: ClassVar[str] = "dns"
    ident: int
    response: bool
    rcode: int
    questions: tuple[tuple[str, str], ...]  # (name, type) e.g. ("app2.", "A")
    answers: tuple[tuple[str, str, str], ...]  # (name, type, data) e.g. ("app2.", "A", "172.18.0.3")


@dataclass(frozen=True, slots=True)
class Vxlan:
    """A VXLAN header; the encapsulated frame follows as the next layers, starting with its Ethernet."""

    proto: ClassVar[str] = "vxlan"
    vni: int
    flags: int


@dataclass(frozen=True, slots=True)
class Truncated:
    """Where decoding stopped: the frame ended inside a header (snap length, or a malformed packet)."""

    proto: ClassVar[str] = "truncated"
    inside: str  # the protocol whose header did not fit
    missing: int


Layer = Ethernet | Vlan | Arp | IPv4 | IPv6 | Icmp | Tcp | Udp | Dns | Vxlan | Truncated
ERROR_KINDS = frozenset({"unreachable", "time exceeded", "parameter problem", "redirect", "packet too big"})


def layer_json(layer: Layer) -> dict[str, Any]:
    """``{"proto": "ip", "src": ..., ...}``: a layer as the CLI's --json prints it."""
    return {"proto": layer.proto, **{f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)}}


def protocols(layers: tuple[Layer, ...]) -> tuple[str, ...]:
    """The protocol names of ``layers`` in order (Wireshark's ``frame.protocols`` without its
    pseudo-protocols ``ethertype`` and ``data``)."""
    names: list[str] = []
    for layer in layers:
        if not isinstance(layer, Truncated):
            names.append(layer.proto)
        if isinstance(layer, IPv6):
            names.extend(f"ipv6.{ext}" for ext in layer.extensions)
    return tuple(names)
