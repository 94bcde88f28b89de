"""Link checks: MTUs against the overlay, veths and bridge ports that are down or lead nowhere, and
overlapping subnets."""

from __future__ import annotations

import ipaddress
from itertools import combinations

from netcon.core.doctor.facts import HostEvidence, network_of
from netcon.core.doctor.findings import ERROR, WARNING, Finding
from netcon.core.doctor.fixes import in_netns, netcon
from netcon.core.flannel.host_rules import bridge_in_lease, expected_mtu
from netcon.core.flannel.vxlan import ENCAP_OVERHEAD

_Net = tuple[str, str | None, ipaddress.IPv4Network]  # a Docker network's name, bridge and one IPv4 subnet


def _docker_bridges(facts: HostEvidence) -> set[str]:
    return {n.bridge for n in facts.snapshot.networks if n.bridge} if facts.snapshot else set()


def mtu_mismatch(facts: HostEvidence) -> list[Finding]:
    """docker0, its veths and its containers' interfaces must not exceed the overlay's MTU."""
    device = facts.vxlan.device if facts.vxlan else None
    lease = facts.own_lease
    if device is None or lease is None or facts.snapshot is None:
        return []
    underlay_mtu = facts.mtu(next((i.ifname for i in facts.snapshot.interfaces if i.ifindex == device.link_index), ""))
    allowed = expected_mtu(underlay_mtu) or device.mtu
    basis = f"underlay MTU {underlay_mtu} - {ENCAP_OVERHEAD}" if underlay_mtu else f"{device.ifname} MTU"
    snap, target = facts.snapshot, facts.target
    too_big: list[tuple[str, int, str]] = []  # (object, mtu, fix)
    if device.mtu > allowed:
        too_big.append(
            (device.ifname, device.mtu, in_netns(target, "ip", "link", "set", device.ifname, "mtu", str(allowed)))
        )
    bridges = {
        b.name
        for b in snap.bridges
        for i in snap.interfaces
        if i.ifname == b.name and bridge_in_lease(i.addresses, lease)
    }
    for bridge in snap.bridges:
        if bridge.name in bridges and bridge.mtu > allowed:
            too_big.append(
                (bridge.name, bridge.mtu, in_netns(target, "ip", "link", "set", bridge.name, "mtu", str(allowed)))
            )
    for veth in snap.veths:
        if veth.bridge not in bridges:
            continue
        if veth.mtu > allowed:
            too_big.append(
                (veth.ifname, veth.mtu, in_netns(target, "ip", "link", "set", veth.ifname, "mtu", str(allowed)))
            )
        container = snap.container(veth.container) if veth.container else None
        peer = next((i for i in container.interfaces if i.ifindex == veth.peer_ifindex), None) if container else None
        if container is not None and peer is not None and peer.mtu > allowed and container.pid:
            too_big.append(
                (
                    f"{container.name}:{peer.ifname}",
                    peer.mtu,
                    f"nsenter --net=/proc/{container.pid}/ns/net ip link set {peer.ifname} mtu {allowed}",
                )
            )
    return [
        Finding(
            "mtu-mismatch",
            WARNING,
            obj,
            (("MTU", str(mtu)), ("overlay allows", f"{allowed} ({basis})")),
            f"{obj} has MTU {mtu}, more than the {allowed} bytes a packet may have to fit into a VXLAN frame on the "
            f"underlay: full-size packets towards other hosts must be fragmented or are dropped (with DF set, as "
            f"TCP does), so small requests work while large transfers stall. Docker takes the MTU from --mtu in "
            f"flannel's options.",
            (fix,),
        )
        for obj, mtu, fix in too_big
    ]


def veth_orphan(facts: HostEvidence) -> list[Finding]:
    snap = facts.snapshot
    if snap is None or snap.docker_error:
        return []
    bridges = _docker_bridges(facts)
    return [
        Finding(
            "veth-orphan",
            WARNING,
            veth.ifname,
            (
                ("bridge", veth.bridge or "-"),
                ("peer netnsid", str(veth.peer_netnsid)),
                ("peer ifindex", str(veth.peer_ifindex)),
                ("peer", veth.peer_ifname or "unknown"),
            ),
            f"{veth.ifname} is a port of Docker's bridge {veth.bridge}, but the namespace at its other end belongs "
            f"to no container Docker knows: a leftover of a container that died uncleanly (or something outside "
            f"Docker plugged in). It takes part in the bridge's floods and may hold an address Docker hands out "
            f"again.",
            (in_netns(facts.target, "ip", "link", "del", veth.ifname),),
        )
        for veth in snap.veths
        if veth.bridge in bridges and veth.container is None and veth.peer_netnsid is not None
    ]


def veth_down(facts: HostEvidence) -> list[Finding]:
    snap = facts.snapshot
    if snap is None:
        return []
    findings = []
    for veth in snap.veths:
        if veth.bridge is None:
            continue
        if veth.ifname not in facts.admin_up:
            findings.append(
                Finding(
                    "veth-down",
                    ERROR,
                    veth.ifname,
                    (
                        ("state", veth.state),
                        ("admin", "down"),
                        ("bridge", veth.bridge),
                        ("container", veth.container or "-"),
                    ),
                    f"{veth.ifname}, the host end of {veth.container or 'a container'}'s link to {veth.bridge}, is "
                    f"down: the container is cut off from its network although everything looks configured.",
                    (in_netns(facts.target, "ip", "link", "set", veth.ifname, "up"),),
                )
            )
            continue
        container = snap.container(veth.container) if veth.container else None
        peer = next((i for i in container.interfaces if i.ifindex == veth.peer_ifindex), None) if container else None
        if container is not None and peer is not None and peer.state == "DOWN" and container.pid:
            findings.append(
                Finding(
                    "veth-down",
                    ERROR,
                    f"{container.name}:{peer.ifname}",
                    (("state", peer.state), ("host end", veth.ifname), ("bridge", veth.bridge)),
                    f"{peer.ifname} inside {container.name} is down: the container cannot send or receive on "
                    f"{veth.bridge}.",
                    (f"nsenter --net=/proc/{container.pid}/ns/net ip link set {peer.ifname} up",),
                )
            )
    return findings


def bridge_port_down(facts: HostEvidence) -> list[Finding]:
    snap = facts.snapshot
    if snap is None:
        return []
    findings = []
    kinds = {i.ifname: i.kind for i in snap.interfaces}
    for bridge in snap.bridges:
        if bridge.interfaces and bridge.name not in facts.admin_up:
            findings.append(
                Finding(
                    "bridge-port-down",
                    ERROR,
                    bridge.name,
                    (("admin", "down"), ("state", bridge.state), ("ports", " ".join(bridge.interfaces))),
                    f"Bridge {bridge.name} is down while {len(bridge.interfaces)} port(s) are attached: it forwards "
                    f"nothing, its address and the route to its subnet are gone, so every container on it is cut off.",
                    (in_netns(facts.target, "ip", "link", "set", bridge.name, "up"),),
                )
            )
            continue
        for port in bridge.interfaces:
            if kinds.get(port) != "veth" and port not in facts.admin_up:
                findings.append(
                    Finding(
                        "bridge-port-down",
                        ERROR,
                        port,
                        (("bridge", bridge.name), ("kind", kinds.get(port) or "?"), ("admin", "down")),
                        f"{port}, a port of bridge {bridge.name}, is down: whatever is behind it is unreachable "
                        f"through the bridge.",
                        (in_netns(facts.target, "ip", "link", "set", port, "up"),),
                    )
                )
    return findings


def _remove(facts: HostEvidence, name: str) -> tuple[str, ...]:
    """``netcon network rm``; Docker's predefined default bridge cannot be removed (its --bip is the fix)."""
    return () if name == "bridge" else (netcon(facts.target, "network", "rm", name, docker=True),)


def subnet_overlap(facts: HostEvidence) -> list[Finding]:
    """Docker networks overlapping each other, a route of this host, or flannel's Network outside this host's
    lease."""
    snap = facts.snapshot
    if snap is None or snap.docker_error:
        return []
    nets = [(n.name, n.bridge, network_of(s)) for n in snap.networks for s in n.subnets if ":" not in s]
    return [*_networks_overlap(facts, nets), *_routes_overlap(facts, nets), *_flannel_overlap(facts, nets)]


def _networks_overlap(facts: HostEvidence, nets: list[_Net]) -> list[Finding]:
    findings = []
    for (a, _, net_a), (b, _, net_b) in combinations(nets, 2):
        if net_a.overlaps(net_b):
            findings.append(
                Finding(
                    "subnet-overlap",
                    ERROR,
                    f"network {a} / network {b}",
                    ((a, str(net_a)), (b, str(net_b))),
                    f"Docker networks {a} and {b} overlap: the kernel routes the shared addresses to only one of "
                    f"their bridges, so some containers of the other are unreachable.",
                    _remove(facts, b if b != "bridge" else a),
                )
            )
    return findings


def _routes_overlap(facts: HostEvidence, nets: list[_Net]) -> list[Finding]:
    findings = []
    bridges, overlay = _docker_bridges(facts), facts.device_name
    for name, _bridge, net in nets:
        for route in facts.routes:
            if route.dst == "0.0.0.0/0" or route.device in bridges:
                continue  # a bridge's own route; two networks' routes are the pair check's
            if name == "bridge" and overlay and route.device == overlay:
                continue  # docker0 outside this host's lease: docker0-outside-lease says so, with its fix
            if network_of(route.dst).overlaps(net):
                findings.append(
                    Finding(
                        "subnet-overlap",
                        ERROR,
                        f"network {name} / route {route.dst}",
                        (
                            (name, str(net)),
                            (
                                "route",
                                f"{route.dst} dev {route.device}" + (f" via {route.gateway}" if route.gateway else ""),
                            ),
                        ),
                        f"Docker network {name} ({net}) overlaps the route {route.dst} via {route.device}: one of "
                        f"the two destinations becomes unreachable from this host.",
                        _remove(facts, name),
                    )
                )
    return findings


def _flannel_overlap(facts: HostEvidence, nets: list[_Net]) -> list[Finding]:
    findings = []
    config, lease = (facts.flannel.config if facts.flannel else None), facts.own_lease
    if config is not None:
        for name, _bridge, net in nets:
            if name == "bridge" or (lease is not None and net.subnet_of(lease.network)):
                continue  # docker0 is docker0-outside-lease's business; inside the own lease is the design
            if net.overlaps(config.net):
                findings.append(
                    Finding(
                        "subnet-overlap",
                        ERROR,
                        f"network {name} / flannel {config.network}",
                        (
                            (name, str(net)),
                            ("flannel Network", config.network),
                            ("own lease", lease.subnet if lease else "none"),
                        ),
                        f"Docker network {name} ({net}) lies inside flannel's Network {config.network} but outside "
                        f"this host's lease: its addresses collide with subnets leased to other hosts, so containers "
                        f"there cannot reach (or be told apart from) containers on those hosts.",
                        _remove(facts, name),
                    )
                )
    return findings


CHECKS = (
    (("mtu-mismatch",), mtu_mismatch),
    (("veth-orphan",), veth_orphan),
    (("veth-down",), veth_down),
    (("bridge-port-down",), bridge_port_down),
    (("subnet-overlap",), subnet_overlap),
)
