"""Which verdict a chain gives a described packet, walked as the kernel walks it: rules in order, jumps into
user chains and back on RETURN or at their end, a goto's chain ending the caller too, the built-in chain's
policy when nothing decided. Filter verdicts (ACCEPT, DROP, REJECT) and NAT's (DNAT, SNAT, MASQUERADE,
REDIRECT) end the walk; LOG, MARK and other non-terminal targets do not.

A packet field left None is "not known": a rule matching on it is taken not to match (the doctor describes
whole classes of packets that way). A rule with a match the model does not understand is also taken not to
match, and the verdict lists it in ``skipped`` so a reader knows the answer rests on that assumption.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from netcon.core.netfilter.rules import FilterTable, Rule

TERMINAL = ("ACCEPT", "DROP", "REJECT")
NAT_TARGETS = ("DNAT", "SNAT", "MASQUERADE", "REDIRECT")
ICMP_TYPES = {
    "echo-reply": 0,
    "pong": 0,
    "destination-unreachable": 3,
    "redirect": 5,
    "echo-request": 8,
    "ping": 8,
    "time-exceeded": 11,
    "parameter-problem": 12,
    "any": -1,
}
MAX_DEPTH = 16


@dataclass(frozen=True)
class Packet:
    """What a verdict is asked for; None fields are "any" for the evaluator's purposes (a rule matching on
    them is taken not to match)."""

    in_iface: str | None = None
    out_iface: str | None = None
    src: str | None = None  # an address or a CIDR (a whole range of sources)
    dst: str | None = None
    proto: str | None = None  # "tcp", "udp", "icmp"
    dport: int | None = None
    ctstate: str = "NEW"
    sport: int | None = None
    icmp_type: int | None = None  # 8 echo request, 0 echo reply
    dst_local: bool | None = None  # the destination is an address of this namespace (-m addrtype --dst-type LOCAL)
    src_local: bool | None = None


@dataclass(frozen=True)
class Verdict:
    action: str  # ACCEPT, DROP, REJECT, or a NAT target (DNAT, SNAT, MASQUERADE, REDIRECT)
    decided_by: str  # "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT" or "policy FORWARD DROP"
    rule: Rule | None = None  # None: the policy decided
    path: tuple[str, ...] = ()  # the chains walked to the deciding one ("FORWARD", "DOCKER-USER")
    skipped: tuple[str, ...] = field(default=())  # rules passed over because a match of theirs is not understood
    packets: int | None = None  # the deciding rule's (or policy's) packet counter, when read with -c

    @property
    def passes(self) -> bool:
        return self.action not in ("DROP", "REJECT")

    @property
    def chain(self) -> str:
        return self.path[-1] if self.path else ""

    @property
    def by_policy(self) -> bool:
        return self.rule is None


def _iface_match(pattern: str, name: str | None) -> bool | None:
    if name is None:
        return None
    return name.startswith(pattern[:-1]) if pattern.endswith("+") else name == pattern


def _net_match(value: str, given: str | None) -> bool | None:
    if given is None:
        return None
    rule_net = ipaddress.IPv4Network(value, strict=False)
    packet_net = ipaddress.IPv4Network(given, strict=False)
    if packet_net.subnet_of(rule_net):
        return True
    return False if not packet_net.overlaps(rule_net) else None  # partly inside: undecided


def _port_match(value: str, port: int | None) -> bool | None:
    if port is None:
        return None
    for part in value.split(","):
        low, _, high = part.partition(":")
        if int(low or 0) <= port <= int(high or low or 65535):
            return True
    return False


def _icmp_match(value: str, given: int | None) -> bool | None:
    if given is None:
        return None
    kind = value.split("/")[0]
    wanted = ICMP_TYPES.get(kind, int(kind) if kind.isdigit() else -2)
    return wanted == -1 or wanted == given


def _match(option: str, value: str, packet: Packet) -> bool | None:
    """Whether one match of a rule holds; None when the packet's field is not known."""
    if option == "in":
        return _iface_match(value, packet.in_iface)
    if option == "out":
        return _iface_match(value, packet.out_iface)
    if option in ("src", "dst"):
        return _net_match(value, packet.src if option == "src" else packet.dst)
    if option == "proto":
        return None if packet.proto is None else value.lower() in (packet.proto, "all")
    if option in ("dport", "sport"):
        return _port_match(value, packet.dport if option == "dport" else packet.sport)
    if option == "icmp_type":
        return _icmp_match(value, packet.icmp_type)
    if option in ("dst_type", "src_type"):
        local = packet.dst_local if option == "dst_type" else packet.src_local
        return None if local is None else (value.upper() == "LOCAL") == local
    return packet.ctstate in value.split(",")  # ctstate


def matches(rule: Rule, packet: Packet) -> bool:
    if rule.unknown:
        return False
    for option, negated, value in rule.matches:
        hit = _match(option, value, packet)
        if hit is None or hit == negated:
            return False
    return True


def verdict(table: FilterTable, chain: str, packet: Packet) -> Verdict:
    """Walk ``chain`` (a built-in chain) as the kernel would for ``packet``."""
    skipped: list[str] = []
    found = _walk(table, chain, packet, (chain,), skipped)
    if found is not None:
        return found
    policy = table.policy(chain) or "ACCEPT"
    return Verdict(policy, f"policy {chain} {policy}", None, (chain,), tuple(skipped), table.policy_packets(chain))


def _walk(table: FilterTable, chain: str, packet: Packet, path: tuple[str, ...], skipped: list[str]) -> Verdict | None:
    if len(path) > MAX_DEPTH:
        return None
    for rule in table.chain(chain):
        if rule.unknown and rule.target:
            skipped.append(rule.text)
        if not rule.target or not matches(rule, packet):
            continue
        if rule.target in TERMINAL or rule.target in NAT_TARGETS:
            return Verdict(rule.target, rule.text, rule, path, tuple(skipped), rule.packets)
        if rule.target == "RETURN":
            return None
        if table.has_chain(rule.target) and table.policy(rule.target) is None:
            found = _walk(table, rule.target, packet, (*path, rule.target), skipped)
            if found is not None:
                return found
            if rule.goto:
                return None
    return None
