"""One line for a decoded packet, in tcpdump's words where tcpdump has them (``IP a.port > b.port: Flags [S],
seq 1, win 64240, length 0``), and for VXLAN the outer and inner frames on one line:
``outer 198.18.0.31 > 198.18.0.32 vxlan vni 1 | inner IP 172.17.1.2 > 172.17.97.2: ICMP echo request, ...``.
"""

from __future__ import annotations

from netcon.core.capture.layers import (
    Arp,
    Dns,
    Ethernet,
    Icmp,
    IPv4,
    IPv6,
    Layer,
    Tcp,
    Truncated,
    Udp,
    Vlan,
    Vxlan,
)


def summary(layers: tuple[Layer, ...]) -> str:
    """The packet in one line (empty for no layers)."""
    return _frame(list(layers))


def _frame(rest: list[Layer]) -> str:
    if not rest:
        return ""
    head = rest[0]
    if isinstance(head, Truncated):
        return f"[|{head.inside}]"
    if not isinstance(head, Ethernet):
        return _network(rest)
    rest = rest[1:]
    prefix = ""
    while rest and isinstance(rest[0], Vlan):
        prefix += f"vlan {rest[0].vid}, "
        rest = rest[1:]
    if not rest:
        ethertype = head.ethertype if not prefix else 0
        return f"{prefix}{head.src} > {head.dst}, ethertype {ethertype:#06x}" if ethertype else prefix.rstrip(", ")
    return prefix + _network(rest)


def _network(rest: list[Layer]) -> str:
    head = rest[0]
    if isinstance(head, Truncated):
        return f"[|{head.inside}]"
    if isinstance(head, Arp):
        if head.op == 1:
            return f"ARP, Request who-has {head.target_ip} tell {head.sender_ip}, length 28"
        if head.op == 2:
            return f"ARP, Reply {head.sender_ip} is-at {head.sender_mac}, length 28"
        return f"ARP, op {head.op} {head.sender_ip} > {head.target_ip}, length 28"
    if isinstance(head, IPv4 | IPv6):
        return _ip(head, rest[1:])
    return head.proto


def _ip(ip: IPv4 | IPv6, rest: list[Layer]) -> str:
    word = "IP" if isinstance(ip, IPv4) else "IP6"
    if not rest:
        frag = f" (frag {ip.ident}@{ip.fragment_offset})" if isinstance(ip, IPv4) and ip.fragment_offset else ""
        return f"{word} {ip.src} > {ip.dst}: proto {_proto_of(ip)}{frag}"
    head = rest[0]
    if isinstance(head, Udp) and len(rest) > 1 and isinstance(rest[1], Vxlan):
        return f"outer {ip.src} > {ip.dst} vxlan vni {rest[1].vni} | inner {_frame(rest[2:])}"
    if isinstance(head, Tcp | Udp):
        return f"{word} {ip.src}.{head.sport} > {ip.dst}.{head.dport}: {_transport(head, rest[1:])}"
    if isinstance(head, Icmp):
        return f"{word} {ip.src} > {ip.dst}: {_icmp(head, rest[1:])}"
    if isinstance(head, Truncated):
        return f"{word} {ip.src} > {ip.dst}: [|{head.inside}]"
    return f"{word} {ip.src} > {ip.dst}: {head.proto}"


def _proto_of(ip: IPv4 | IPv6) -> int:
    return ip.protocol if isinstance(ip, IPv4) else ip.next_header


def _transport(head: Tcp | Udp, rest: list[Layer]) -> str:
    if isinstance(head, Tcp):
        if not head.flags and not head.window:  # quoted in an ICMP error: only ports and sequence number
            return f"TCP seq {head.seq}"
        ack = f", ack {head.ack}" if "." in head.flags else ""
        return f"Flags [{head.flags}], seq {head.seq}{ack}, win {head.window}, length {head.payload}"
    if rest and isinstance(rest[0], Dns):
        return _dns(rest[0])
    if rest and isinstance(rest[0], Truncated):
        return f"UDP [|{rest[0].inside}]"
    return f"UDP, length {max(0, head.length - 8)}"


def _dns(dns: Dns) -> str:
    asked = ", ".join(f"{qtype}? {name}" for name, qtype in dns.questions)
    if not dns.response:
        return f"DNS query {dns.ident:#06x} {asked}".rstrip()
    answers = ", ".join(f"{rtype} {value}" for _name, rtype, value in dns.answers)
    rcode = f" rcode {dns.rcode}" if dns.rcode else ""
    return f"DNS response {dns.ident:#06x} {asked}{rcode}" + (f" -> {answers}" if answers else "")


def _icmp(icmp: Icmp, rest: list[Layer]) -> str:
    word = "ICMP" if icmp.version == 4 else "ICMP6"
    if icmp.ident is not None:
        return f"{word} {icmp.kind}, id {icmp.ident}, seq {icmp.seq}, length {icmp.length}"
    if icmp.kind == "unreachable":
        text = f"{word} {icmp.detail}"
    else:
        text = f"{word} {icmp.kind}" + (f" {icmp.detail}" if icmp.detail else "")
    if icmp.is_error and rest:
        return f"{text} (quoting {_network(rest)})"
    return f"{text}, length {icmp.length}"
