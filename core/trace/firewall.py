"""The netfilter chains one packet crosses in one namespace, in the kernel's order, evaluated with the shared
rule model (``core.netfilter``): raw and mangle for drops, nat PREROUTING/OUTPUT for DNAT (Docker's published
ports) before the routing decision, filter INPUT/FORWARD/OUTPUT for the verdict, nat POSTROUTING for
MASQUERADE/SNAT after it. A reply is not NATed by rules but by conntrack: the walk undoes the request's
rewrites (``NatRecord``) where the kernel would.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.doctor import fixes
from netcon.core.doctor.facts import Target
from netcon.core.errors import NetconError
from netcon.core.netfilter.evaluate import Packet as RulesPacket
from netcon.core.netfilter.evaluate import Verdict, verdict
from netcon.core.netfilter.rules import Ruleset
from netcon.core.trace.hosts import Netns
from netcon.core.trace.probe import PROTOCOLS

ECHO_REQUEST, ECHO_REPLY = 8, 0


@dataclass(frozen=True)
class Packet:
    """The probe's packet as the walk follows it; addresses change where NAT rewrites them."""

    src: str | None
    dst: str
    proto: str  # icmp, tcp, udp
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = ECHO_REQUEST
    ctstate: str = "NEW"

    @property
    def number(self) -> int:
        return PROTOCOLS[self.proto]

    def reply(self) -> Packet:
        """What the destination sends back (conntrack calls it ESTABLISHED)."""
        return Packet(
            self.dst,
            self.src or "",
            self.proto,
            self.dport,
            self.sport,
            ECHO_REPLY if self.proto == "icmp" else None,
            "ESTABLISHED",
        )

    def text(self) -> str:
        ports = f":{self.sport}" if self.sport else "", f":{self.dport}" if self.dport else ""
        return f"{self.proto} {self.src or '?'}{ports[0]} > {self.dst}{ports[1]}"


@dataclass(frozen=True)
class NatRecord:
    """A rewrite of the request at one namespace, which conntrack undoes for the reply there."""

    netns: str  # Netns key: host name and label
    kind: str  # "snat" (source rewritten) or "dnat" (destination rewritten)
    before: tuple[str, int | None]
    after: tuple[str, int | None]


@dataclass(frozen=True)
class Crossing:
    """The chains crossed at one step: the packet after them, what each decided, and the drop if one did."""

    packet: Packet
    parts: tuple[str, ...]  # "filter FORWARD: ACCEPT by -A FORWARD ... (12 packets)"
    drop: Verdict | None = None
    table_chain: str = ""  # "filter FORWARD" where the drop happened
    nat: tuple[NatRecord, ...] = ()


def key(ns: Netns) -> str:
    return f"{ns.host.name}/{ns.label}"


def target_of(ns: Netns) -> Target:
    """The doctor's notion of where a fix command runs (the shared fixes take it)."""
    return Target(ns.label, HostContext(docker_host=ns.host.ctx.docker_host, netns=ns.path), ns.host.lab_prefix)


def _rules_packet(ns: Netns, pkt: Packet, in_iface: str | None, out_iface: str | None) -> RulesPacket:
    return RulesPacket(
        in_iface=in_iface,
        out_iface=out_iface,
        src=pkt.src,
        dst=pkt.dst,
        proto=pkt.proto,
        dport=pkt.dport,
        ctstate=pkt.ctstate,
        sport=pkt.sport,
        icmp_type=pkt.icmp_type if pkt.proto == "icmp" else None,
        dst_local=ns.owns(pkt.dst),
        src_local=ns.owns(pkt.src) if pkt.src else None,
    )


def _describe(table: str, chain: str, v: Verdict) -> str:
    counted = f" ({v.packets} packets)" if v.packets is not None else ""
    walked = f" via {' > '.join(v.path[1:])}" if len(v.path) > 1 else ""
    return f"{table} {chain}: {v.action} by {v.decided_by}{walked}{counted}"


def _primary(ns: Netns, ifname: str | None) -> str | None:
    link = ns.named(ifname) if ifname else None
    cidrs = ns.addresses.get(link.index, ()) if link else ()
    return cidrs[0].split("/")[0] if cidrs else None


def _nat(ns: Netns, pkt: Packet, v: Verdict, in_iface: str | None, out_iface: str | None) -> tuple[Packet, NatRecord]:
    """The packet after a NAT verdict, and the record conntrack keeps of it."""
    if v.action in ("DNAT", "REDIRECT"):
        to = v.rule.arg("--to-destination") if v.rule else None
        if v.action == "REDIRECT":
            ip, port = _primary(ns, in_iface) or pkt.dst, v.rule.arg("--to-ports") if v.rule else None
        else:
            ip, _, port = (to or pkt.dst).partition(":")
        new_port = int(port.split("-")[0]) if port else pkt.dport
        record = NatRecord(key(ns), "dnat", (pkt.dst, pkt.dport), (ip, new_port))
        return dataclasses.replace(pkt, dst=ip, dport=new_port), record
    if v.action == "SNAT":
        to = (v.rule.arg("--to-source") if v.rule else None) or pkt.src or ""
        ip, _, port = to.partition(":")
    else:  # MASQUERADE: the outgoing interface's address
        ip, port = _primary(ns, out_iface) or pkt.src or "", ""
    new_sport = int(port.split("-")[0]) if port else pkt.sport
    record = NatRecord(key(ns), "snat", (pkt.src or "", pkt.sport), (ip, new_sport))
    return dataclasses.replace(pkt, src=ip, sport=new_sport), record


def _undo(pkt: Packet, records: tuple[NatRecord, ...], ns: Netns, kind: str) -> tuple[Packet, str | None]:
    """A reply at ``ns``: conntrack restores what the request's ``kind`` rewrite changed there."""
    for r in records:
        if r.netns != key(ns) or r.kind != kind:
            continue
        if kind == "snat" and (pkt.dst, pkt.dport) == r.after:
            return dataclasses.replace(pkt, dst=r.before[0], dport=r.before[1]), (
                f"conntrack: reply to {r.after[0]} restored to {r.before[0]} (the request was {r.kind.upper()}ed here)"
            )
        if kind == "dnat" and (pkt.src, pkt.sport) == r.after:
            return dataclasses.replace(pkt, src=r.before[0], sport=r.before[1]), (
                f"conntrack: reply from {r.after[0]} rewritten to come from {r.before[0]} (undoing the DNAT)"
            )
    return pkt, None


def _rules(ns: Netns) -> Ruleset:
    """The namespace's rules; one that cannot be read ends the trace with one sentence (a prediction that
    skipped the firewall would claim a path it cannot vouch for)."""
    try:
        return ns.ruleset()
    except NetconError as error:
        where = f"{ns.label} on {ns.host.name}" if ns.is_container else ns.label
        raise type(error)(f"The firewall of {where} could not be read: {error}", target=error.target) from None


def before_routing(ns: Netns, pkt: Packet, in_iface: str, direction: str, records: tuple[NatRecord, ...]) -> Crossing:
    """raw/mangle/nat PREROUTING for a packet arriving on ``in_iface``."""
    if direction == "reply":
        undone, note = _undo(pkt, records, ns, "snat")
        rules = _rules(ns)
        drop = _drops(ns, rules, undone, in_iface, None, (("raw", "PREROUTING"), ("mangle", "PREROUTING")))
        return Crossing(undone, ((note,) if note else ()) + drop[0], *drop[1:])
    return _cross(ns, pkt, in_iface, None, (("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("nat", "PREROUTING")))


def after_routing(
    ns: Netns,
    pkt: Packet,
    kind: str,
    in_iface: str | None,
    out_iface: str | None,
    direction: str,
    records: tuple[NatRecord, ...],
) -> Crossing:
    """The chains after the routing decision: ``kind`` "input" (delivered here), "forward" or "output"."""
    chains = {
        "input": (("mangle", "INPUT"), ("filter", "INPUT")),
        "forward": (("mangle", "FORWARD"), ("filter", "FORWARD"), ("mangle", "POSTROUTING"), ("nat", "POSTROUTING")),
        "output": (
            ("raw", "OUTPUT"),
            ("mangle", "OUTPUT"),
            ("nat", "OUTPUT"),
            ("filter", "OUTPUT"),
            ("mangle", "POSTROUTING"),
            ("nat", "POSTROUTING"),
        ),
    }[kind]
    if direction == "reply":
        chains = tuple(c for c in chains if c[0] != "nat")
        crossing = _cross(ns, pkt, in_iface, out_iface, chains)
        if crossing.drop is not None or kind == "input":
            return crossing
        undone, note = _undo(crossing.packet, records, ns, "dnat")
        return dataclasses.replace(crossing, packet=undone, parts=crossing.parts + ((note,) if note else ()))
    return _cross(ns, pkt, in_iface, out_iface, chains)


def _cross(
    ns: Netns, pkt: Packet, in_iface: str | None, out_iface: str | None, chains: tuple[tuple[str, str], ...]
) -> Crossing:
    rules = _rules(ns)
    parts: list[str] = []
    records: list[NatRecord] = []
    for table_name, chain in chains:
        table = rules.table(table_name)
        if not table.rules and (table.policy(chain) or "ACCEPT") == "ACCEPT":
            continue
        v = verdict(table, chain, _rules_packet(ns, pkt, in_iface, out_iface))
        if v.action in ("DROP", "REJECT"):
            parts.append(_describe(table_name, chain, v))
            return Crossing(pkt, tuple(parts), v, f"{table_name} {chain}", nat=tuple(records))
        if table_name == "nat" and v.rule is not None and v.action not in ("ACCEPT", "RETURN"):
            before = pkt
            pkt, record = _nat(ns, pkt, v, in_iface, out_iface)
            records.append(record)
            moved = f"{before.dst} -> {pkt.dst}" if record.kind == "dnat" else f"{before.src} -> {pkt.src}"
            parts.append(f"{_describe(table_name, chain, v)}: {record.kind.upper()} {moved}")
        elif table_name == "filter" or v.rule is not None:
            parts.append(_describe(table_name, chain, v))
    return Crossing(pkt, tuple(parts), nat=tuple(records))


def _drops(
    ns: Netns,
    rules: Ruleset,
    pkt: Packet,
    in_iface: str | None,
    out_iface: str | None,
    chains: tuple[tuple[str, str], ...],
) -> tuple[tuple[str, ...], Verdict | None, str]:
    for table_name, chain in chains:
        table = rules.table(table_name)
        if not table.rules and (table.policy(chain) or "ACCEPT") == "ACCEPT":
            continue
        v = verdict(table, chain, _rules_packet(ns, pkt, in_iface, out_iface))
        if not v.passes:
            return (_describe(table_name, chain, v),), v, f"{table_name} {chain}"
    return (), None, ""


def drop_reason(crossing: Crossing) -> str:
    v = crossing.drop
    assert v is not None
    if v.by_policy:
        return f"{crossing.table_chain} policy {v.action.lower()}: no rule accepted the packet"
    if v.chain.startswith("DOCKER-ISOLATION"):
        return f"dropped by Docker's network isolation rule in chain {v.chain} (containers on different networks)"
    return f"{v.action.lower()} by a rule in {crossing.table_chain}" + (
        f" (chain {v.chain})" if v.chain != crossing.table_chain.split()[-1] else ""
    )


def drop_fix(ns: Netns, crossing: Crossing, in_iface: str | None, out_iface: str | None) -> tuple[str, ...]:
    """What would let the packet through, in the doctor's words (``core.doctor.fixes``)."""
    v = crossing.drop
    assert v is not None
    target = target_of(ns)
    chain = crossing.table_chain.split()[-1]
    if v.by_policy and chain == "FORWARD" and in_iface and out_iface:
        return fixes.accept_forwarding(target, in_iface, out_iface)
    if v.by_policy:
        return (fixes.in_netns(target, "iptables", "-P", chain, "ACCEPT"),)
    if v.chain.startswith("DOCKER-ISOLATION"):
        return ()  # the walk suggests connecting the containers to one network
    return (fixes.delete_rule(target, v.decided_by),)
