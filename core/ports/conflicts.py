"""The conflict rules: which bindings of one port collide, and which host ports more than one owner holds or
wants."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from netcon.core.ports.model import Claim, Conflict, PortSocket, Published, WantedPort


def comparable_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as binding compares it: an IPv4-mapped IPv6 address is its IPv4 address."""
    ip = ipaddress.ip_address(text)
    return ip.ipv4_mapped or ip if ip.version == 6 else ip


def addresses_overlap(a: str, b: str, a_v6only: bool | None = None, b_v6only: bool | None = None) -> bool:
    """Whether binding ``a`` and ``b`` (same port) collide. ``::`` also covers IPv4 unless its socket is
    IPv6-only (unknown counts as dual-stack, the Linux default, so a doubt is reported)."""
    x, y = comparable_ip(a), comparable_ip(b)
    if x.version == y.version:
        return x == y or x.is_unspecified or y.is_unspecified
    v6, v6only = (x, a_v6only) if x.version == 6 else (y, b_v6only)
    return v6.is_unspecified and not v6only


def conflicts(
    sockets: Sequence[PortSocket], published: Sequence[Published], wanted: Sequence[WantedPort]
) -> tuple[Conflict, ...]:
    """Host ports held or wanted by more than one owner (a container, or a host process) on overlapping
    addresses: host-namespace sockets, NAT-only published ports, and wanted ports."""
    claims: list[Claim] = []
    for s in sockets:
        if not s.host_netns:
            continue
        pid = s.pid
        owner = s.container or (f"pid {pid} ({s.process.name})" if s.process else f"socket {s.inode}")
        claims.append(Claim(s.proto, s.address, s.port, owner, s.container_id, pid, "listening", s.v6only))
    # Docker's "::" is IPv6 only: it claims IPv4 with a binding (or docker-proxy) of its own
    claims += [
        Claim(p.proto, p.host_ip, p.host_port, p.container, p.container_id, None, "published (nat)", True)
        for p in published
        if p.served_by == "nat"
    ]
    for w in wanted:
        if w.host_port:  # port 0: Docker picks a free one, nobody wants a particular port
            for ip in [w.host_ip] if w.host_ip else ["0.0.0.0", "::"]:
                claims.append(Claim(w.proto, ip, w.host_port, w.container, w.container_id, None, w.reason, True))
    groups: dict[tuple[str, int], list[Claim]] = {}
    for claim in claims:
        groups.setdefault((claim.proto, claim.port), []).append(claim)
    out = []
    for (proto, port), group in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        involved = [
            a
            for a in group
            if any(_who(a) != _who(b) and addresses_overlap(a.address, b.address, a.v6only, b.v6only) for b in group)
        ]
        if involved:
            out.append(Conflict(proto, port, tuple(involved)))
    return tuple(out)


def _who(claim: Claim) -> str | int:
    return claim.container_id or claim.pid or claim.owner
