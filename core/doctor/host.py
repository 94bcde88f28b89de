"""Host-level checks: privileges, Docker reachable, IPv4 forwarding, the FORWARD chain, br_netfilter."""

from __future__ import annotations

import ipaddress

from netcon.core.doctor import iptables
from netcon.core.doctor.facts import HostEvidence, network_of
from netcon.core.doctor.findings import ERROR, INFO, WARNING, Finding
from netcon.core.doctor.fixes import delete_rule, in_netns, netcon, start_docker


def not_root(facts: HostEvidence) -> list[Finding]:
    if facts.euid == 0:
        return []
    unread = "; ".join(facts.problems) or "nothing else failed"
    return [
        Finding(
            "not-root",
            WARNING,
            f"uid {facts.euid}",
            (("euid", str(facts.euid)), ("could not read", unread)),
            "netcon doctor runs without root: iptables rules, other network namespaces and containers' namespaces "
            "cannot be read, so the firewall, veth and namespace checks are incomplete and a clean report proves "
            "less than it seems.",
            ("sudo " + netcon(facts.target, "doctor"),),
        )
    ]


def docker_unreachable(facts: HostEvidence) -> list[Finding]:
    snap = facts.snapshot
    if snap is None or not snap.docker_error:
        return []
    return [
        Finding(
            "docker-unreachable",
            ERROR,
            facts.target.ctx.docker_url,
            (("docker endpoint", facts.target.ctx.docker_url), ("error", snap.docker_error)),
            "The Docker daemon does not answer, so its networks and containers could not be checked (and nothing "
            "new can be started). Containers already running keep their network namespaces, but no check that "
            "needs Docker's view (subnets, which veth belongs to which container) ran.",
            start_docker(facts.target),
        )
    ]


def ip_forward_off(facts: HostEvidence) -> list[Finding]:
    value = facts.sysctl("net.ipv4.ip_forward")
    if value is None or value == "1":
        return []
    return [
        Finding(
            "ip-forward-off",
            ERROR,
            "net.ipv4.ip_forward",
            (("net.ipv4.ip_forward", value),),
            "IPv4 forwarding is off in this network namespace: the kernel drops every packet that is not for one "
            "of its own addresses, so containers reach nothing beyond their bridge (no other network, no other "
            "host, no flannel overlay), although pings between containers on one bridge still work.",
            (in_netns(facts.target, "sysctl", "-w", "net.ipv4.ip_forward=1"),),
        )
    ]


def _bridges(facts: HostEvidence) -> list[tuple[str, str | None]]:
    """(bridge, its IPv4 subnet) for Docker's non-internal bridge networks."""
    if facts.snapshot is None:
        return []
    return [
        (n.bridge, next((s for s in n.subnets if ":" not in s), None))
        for n in facts.snapshot.networks
        if n.bridge and not n.internal
    ]


def _flows(facts: HostEvidence) -> list[tuple[str, iptables.Packet]]:
    """The forwarded traffic containers need: each bridge out through the default route's device, and
    with flannel, new connections both ways between docker0 and flannel.<VNI>."""
    flows = []
    uplink = facts.default_device()
    for bridge, subnet in _bridges(facts):
        if uplink and uplink != bridge:
            flows.append(
                (
                    f"containers on {bridge} to the outside via {uplink}",
                    iptables.Packet(in_iface=bridge, out_iface=uplink, src=subnet),
                )
            )
    lease, device = facts.own_lease, facts.device_name
    if lease is not None and device and facts.flannel and facts.flannel.config:
        docker0 = _lease_bridge(facts, lease.network)
        remote = next(
            (r.canonical_subnet for r in facts.flannel.leases if r.subnet != lease.subnet), facts.flannel.config.network
        )
        if docker0:
            flows.append(
                (
                    f"overlay traffic from {remote} ({device}) to containers on {docker0}",
                    iptables.Packet(in_iface=device, out_iface=docker0, src=remote, dst=str(lease.network)),
                )
            )
            flows.append(
                (
                    f"containers on {docker0} to {remote} over {device}",
                    iptables.Packet(in_iface=docker0, out_iface=device, src=str(lease.network), dst=remote),
                )
            )
    return flows


def _lease_bridge(facts: HostEvidence, lease_net: ipaddress.IPv4Network) -> str | None:
    """The bridge holding an address inside this host's lease (docker0 when Docker runs with --bip)."""
    for iface in facts.snapshot.interfaces if facts.snapshot else ():
        if iface.kind == "bridge" and any(network_of(a).subnet_of(lease_net) for a in iface.addresses if ":" not in a):
            return iface.ifname
    return None


def forward_policy_drop(facts: HostEvidence) -> list[Finding]:
    table = facts.firewall
    if table is None or facts.sysctl("net.ipv4.ip_forward") == "0":
        return []
    dropped = [(what, iptables.verdict(table, "FORWARD", packet)) for what, packet in _flows(facts)]
    dropped = [(what, v) for what, v in dropped if not v.passes]
    if not dropped:
        return []
    network = facts.flannel.config.network if facts.flannel and facts.flannel.config else None
    by_policy = any(v.decided_by.startswith("policy") for _, v in dropped)
    fix: list[str] = []
    if by_policy and network:
        # what flanneld itself inserts: accept everything from and to the flannel Network
        fix += [
            in_netns(facts.target, "iptables", "-I", "FORWARD", "-s", network, "-j", "ACCEPT"),
            in_netns(facts.target, "iptables", "-I", "FORWARD", "-d", network, "-j", "ACCEPT"),
        ]
    elif by_policy:
        fix.append(in_netns(facts.target, "iptables", "-P", "FORWARD", "ACCEPT"))  # the seed's fix
    for _, v in dropped:
        if not v.decided_by.startswith("policy"):
            command = delete_rule(facts.target, v.decided_by)
            if command not in fix:
                fix.append(command)
    return [
        Finding(
            "forward-policy-drop",
            ERROR,
            f"iptables FORWARD (policy {table.policy('FORWARD')})",
            (
                ("FORWARD policy", table.policy("FORWARD") or "ACCEPT"),
                *((f"dropped: {what}", v.decided_by) for what, v in dropped),
            ),
            "The iptables FORWARD chain drops traffic containers need (Docker sets the policy to DROP and only "
            "accepts what it knows about its own bridges; flannel's overlay is not among it). Packets are routed "
            "but then discarded, so connections across hosts time out while pings on one bridge work; the seed "
            "fixes it with iptables -P FORWARD ACCEPT, flanneld with ACCEPT rules for its Network.",
            tuple(fix),
        )
    ]


def bridge_nf(facts: HostEvidence) -> list[Finding]:
    """br_netfilter: loaded, on, and not dropping frames between the ports of one bridge."""
    if facts.sysctl("net.ipv4.ip_forward") is None:
        return []  # sysctls not read
    value = facts.sysctl("net.bridge.bridge-nf-call-iptables")
    if value is None:
        return [
            Finding(
                "bridge-nf",
                INFO,
                "br_netfilter",
                (("net.bridge.bridge-nf-call-iptables", "absent (br_netfilter not loaded)"),),
                "br_netfilter is not loaded: frames switched inside a bridge bypass iptables, so Docker's "
                "inter-container rules (--icc=false) and published ports reached from the same bridge do not "
                "apply; forwarding between bridges and hosts is unaffected.",
                ("modprobe br_netfilter",),
            )
        ]
    if value == "0":
        return [
            Finding(
                "bridge-nf",
                WARNING,
                "net.bridge.bridge-nf-call-iptables",
                (("net.bridge.bridge-nf-call-iptables", value),),
                "Bridged IPv4 traffic bypasses iptables in this namespace (docker info warns about it too): Docker's "
                "inter-container isolation (--icc=false) and published ports reached from a container on the same "
                "bridge stop working, and whatever the firewall was meant to filter between containers passes.",
                (in_netns(facts.target, "sysctl", "-w", "net.bridge.bridge-nf-call-iptables=1"),),
            )
        ]
    return _bridges_dropping(facts, value)


def _bridges_dropping(facts: HostEvidence, value: str) -> list[Finding]:
    """With br_netfilter on, the bridges whose frames between their own ports the FORWARD chain drops."""
    if facts.firewall is None or facts.snapshot is None:
        return []
    docker_bridges = {b for b, _ in _bridges(facts)}
    findings = []
    for bridge in facts.snapshot.bridges:
        if bridge.name not in docker_bridges and len(bridge.interfaces) < 2:
            continue
        v = iptables.verdict(facts.firewall, "FORWARD", iptables.Packet(in_iface=bridge.name, out_iface=bridge.name))
        if v.passes:
            continue
        findings.append(
            Finding(
                "bridge-nf",
                ERROR,
                bridge.name,
                (
                    ("net.bridge.bridge-nf-call-iptables", value),
                    ("ports", " ".join(bridge.interfaces) or "-"),
                    ("verdict for frames between its ports", f"{v.action} by {v.decided_by}"),
                ),
                f"br_netfilter hands frames switched inside {bridge.name} to the iptables FORWARD chain, which drops "
                f"them: interfaces on this bridge cannot reach each other although they share one layer-2 segment "
                f"(Docker normally adds -i BR -o BR -j ACCEPT for its own bridges).",
                (
                    in_netns(
                        facts.target, "iptables", "-I", "FORWARD", "-i", bridge.name, "-o", bridge.name, "-j", "ACCEPT"
                    ),
                ),
            )
        )
    return findings


CHECKS = (
    (("not-root",), not_root),
    (("docker-unreachable",), docker_unreachable),
    (("ip-forward-off",), ip_forward_off),
    (("forward-policy-drop",), forward_policy_drop),
    (("bridge-nf",), bridge_nf),
)
