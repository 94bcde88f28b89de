"""flannel checks: etcd, this host's lease, the ``flannel.<VNI>`` device, per remote lease the neighbour, FDB
and route entries flanneld programs, stale entries, docker0 inside the lease, and the VXLAN port's firewall."""

from __future__ import annotations

from dataclasses import dataclass

from netcon.core.doctor import iptables
from netcon.core.doctor.facts import FlannelView, HostEvidence
from netcon.core.doctor.findings import ERROR, WARNING, Finding
from netcon.core.doctor.fixes import (
    delete_rule,
    flannel_command,
    in_netns,
    restart_docker,
    restart_flannel,
)
from netcon.core.flannel.agent import remote_of
from netcon.core.flannel.config import FlannelConfig
from netcon.core.flannel.host_rules import DEFAULT_BRIDGE_NETWORK, bridge_in_lease, docker_bridge
from netcon.core.flannel.vxlan import Remote, VxlanState, device_name


@dataclass(frozen=True)
class Overlay:
    """What the flannel checks need, all read: etcd's view with its config, and this host's flannel device."""

    view: FlannelView
    config: FlannelConfig
    state: VxlanState
    name: str  # flannel.<VNI>


def _checked(facts: HostEvidence) -> Overlay | None:
    """The overlay when flannel is checked on this host (etcd read, a config, the kernel side read), else None."""
    view, state = facts.flannel, facts.vxlan
    if view is None or view.config is None or state is None:
        return None
    return Overlay(view, view.config, state, device_name(view.config.vni))


def _remotes(facts: HostEvidence, overlay: Overlay) -> list[Remote]:
    own = facts.own_lease
    return [
        r
        for r in map(remote_of, overlay.view.leases)
        if r is not None and (own is None or r.subnet != own.canonical_subnet)
    ]


def lease_missing(facts: HostEvidence) -> list[Finding]:
    overlay = _checked(facts)
    if overlay is None or facts.own_lease is not None:
        return []
    device, leases = overlay.state.device, overlay.view.leases
    return [
        Finding(
            "lease-missing",
            ERROR,
            f"{overlay.view.prefix}/subnets",
            (
                ("addresses of this host", " ".join(facts.addresses) or "-"),
                ("VTEP MAC of " + overlay.name, device.mac if device else "no device"),
                ("leases in etcd", " ".join(f"{x.subnet}={x.attrs.public_ip}" for x in leases) or "none"),
            ),
            "flannel is configured but no lease carries this host's PublicIP or VTEP MAC: the other hosts have no "
            "route, FDB or neighbour entry for this host's containers, and its Docker subnet may be handed to "
            "another host. The flannel agent is not running or lost its lease and did not acquire a new one.",
            restart_flannel(facts.target),
        )
    ]


def lease_publicip_mismatch(facts: HostEvidence) -> list[Finding]:
    lease = facts.own_lease if _checked(facts) else None
    if lease is None or lease.attrs.public_ip in facts.addresses:
        return []
    fix: tuple[str, ...] = (flannel_command(facts, "lease", "revoke", lease.subnet),)
    if not facts.target.lab_prefix:
        fix += restart_flannel(facts.target)
    return [
        Finding(
            "lease-publicip-mismatch",
            ERROR,
            f"lease {lease.subnet}",
            (
                ("PublicIP", lease.attrs.public_ip),
                ("VtepMAC", lease.attrs.vtep_mac or "-"),
                ("addresses of this host", " ".join(facts.addresses) or "-"),
            ),
            f"This host's lease announces PublicIP {lease.attrs.public_ip}, which is not an address of this host: "
            f"every other host sends VXLAN packets for {lease.subnet} there, so traffic to this host's containers "
            f"goes nowhere. Revoking the lease makes the agent acquire it again with its real address.",
            fix,
        )
    ]


def lease_expiring(facts: HostEvidence) -> list[Finding]:
    overlay = _checked(facts)
    lease = facts.own_lease if overlay else None
    if overlay is None or lease is None or lease.reservation:
        return []
    margin = overlay.view.renew_margin
    ttl = lease.ttl_seconds(overlay.view.read_at)
    if ttl is None or ttl > margin:
        return []
    return [
        Finding(
            "lease-expiring",
            WARNING,
            f"lease {lease.subnet}",
            (("TTL", f"{ttl} s"), ("renew margin", f"{int(margin)} s"), ("PublicIP", lease.attrs.public_ip)),
            f"This host's lease expires in {ttl} s and should already have been renewed (the agent renews it "
            f"{int(margin)} s before expiry): the agent is stuck or cannot write to etcd. When the lease expires the "
            f"other hosts remove their routes to {lease.subnet} and the subnet may go to another host.",
            (flannel_command(facts, "lease", "renew", lease.subnet),),
        )
    ]


def vxlan_device(facts: HostEvidence) -> list[Finding]:
    overlay = _checked(facts)
    if overlay is None:
        return []
    config, name, device = overlay.config, overlay.name, overlay.state.device
    lease = facts.own_lease
    if device is None:
        return [
            Finding(
                "vxlan-device",
                ERROR,
                name,
                (("device", "missing"), ("VNI in config", str(config.vni))),
                f"{name} does not exist: this host has no VXLAN endpoint, so nothing reaches or leaves its containers "
                f"across hosts. The flannel agent creates it when it starts.",
                restart_flannel(facts.target),
            )
        ]
    evidence, wrong = (
        [
            ("VNI", str(device.vni)),
            ("local", device.local or "-"),
            ("port", str(device.port)),
            ("up", "yes" if device.up else "no"),
            ("MAC", device.mac),
        ],
        [],
    )
    if device.vni != config.vni:
        wrong.append(f"VNI {device.vni} is not the config's {config.vni}")
    if device.port != config.port:
        wrong.append(f"port {device.port} is not the config's {config.port}")
    if lease is not None and device.local != lease.attrs.public_ip:
        wrong.append(f"local {device.local} is not the lease's PublicIP {lease.attrs.public_ip}")
    if lease is not None and lease.attrs.vtep_mac and device.mac != lease.attrs.vtep_mac:
        wrong.append(f"MAC {device.mac} is not the lease's VtepMAC {lease.attrs.vtep_mac}")
    underlay = _underlay(facts)
    if lease is not None and underlay and device.local not in underlay[1]:
        wrong.append(f"local {device.local} is not an address of its underlay device {underlay[0]}")
    if wrong:
        return [
            Finding(
                "vxlan-device",
                ERROR,
                name,
                (*tuple(evidence), ("disagrees", "; ".join(wrong))),
                f"{name} disagrees with the flannel config or this host's lease ({'; '.join(wrong)}): the other hosts "
                f"send to what the lease says, so packets are dropped or never leave. Restarting the agent recreates "
                f"the device to match.",
                (in_netns(facts.target, "ip", "link", "del", name), *restart_flannel(facts.target)),
            )
        ]
    if not device.up:
        return [
            Finding(
                "vxlan-device",
                ERROR,
                name,
                tuple(evidence),
                f"{name} is administratively down: the routes through it are unusable, so containers on this host "
                f"reach no container on another host, and VXLAN packets arriving for it are dropped.",
                (in_netns(facts.target, "ip", "link", "set", name, "up"),),
            )
        ]
    return []


def _underlay(facts: HostEvidence) -> tuple[str, tuple[str, ...]] | None:
    device = facts.vxlan.device if facts.vxlan else None
    if device is None or device.link_index is None or facts.snapshot is None:
        return None
    link = next((i for i in facts.snapshot.interfaces if i.ifindex == device.link_index), None)
    if link is None:
        return None
    return link.ifname, tuple(a.split("/")[0] for a in link.addresses)


def remote_entries(facts: HostEvidence) -> list[Finding]:
    """vxlan-neigh-missing, vxlan-fdb-missing, vxlan-route-missing: per remote lease, the entry this host needs."""
    overlay = _checked(facts)
    if overlay is None or overlay.state.device is None:
        return []
    name, state, target = overlay.name, overlay.state, facts.target
    findings = []
    for remote in _remotes(facts, overlay):
        neigh = [n for n in state.neighbours if n.ip == remote.gateway]
        if not any(n.mac == remote.vtep_mac and n.permanent for n in neigh):
            findings.append(
                Finding(
                    "vxlan-neigh-missing",
                    ERROR,
                    f"{name} neighbour {remote.gateway}",
                    (
                        ("remote lease", remote.subnet),
                        ("wanted", f"{remote.gateway} lladdr {remote.vtep_mac} permanent"),
                        (
                            "found",
                            ", ".join(f"{n.ip} lladdr {n.mac}{' permanent' if n.permanent else ''}" for n in neigh)
                            or "none",
                        ),
                    ),
                    f"The neighbour entry that maps {remote.subnet}'s gateway {remote.gateway} to the remote VTEP MAC "
                    f"is missing or wrong: with nolearning the kernel cannot resolve it, so packets routed to "
                    f"{remote.subnet} are never sent.",
                    (
                        in_netns(
                            target,
                            "ip",
                            "neigh",
                            "replace",
                            remote.gateway,
                            "lladdr",
                            remote.vtep_mac,
                            "dev",
                            name,
                            "nud",
                            "permanent",
                        ),
                    ),
                )
            )
        fdb = [f for f in state.fdb if f.mac == remote.vtep_mac]
        if not any(f.dst == remote.public_ip for f in fdb):
            findings.append(
                Finding(
                    "vxlan-fdb-missing",
                    ERROR,
                    f"{name} fdb {remote.vtep_mac}",
                    (
                        ("remote lease", remote.subnet),
                        ("wanted", f"{remote.vtep_mac} dst {remote.public_ip}"),
                        ("found", ", ".join(f"{f.mac} dst {f.dst}" for f in fdb) or "none"),
                    ),
                    f"The FDB entry that tells {name} to send frames for VTEP {remote.vtep_mac} to {remote.public_ip} "
                    f"is missing or points elsewhere: the encapsulated packets for {remote.subnet} are dropped or go "
                    f"to the wrong host.",
                    (
                        in_netns(
                            target,
                            "bridge",
                            "fdb",
                            "replace",
                            remote.vtep_mac,
                            "dev",
                            name,
                            "dst",
                            remote.public_ip,
                            "self",
                            "permanent",
                        ),
                    ),
                )
            )
        routes = [r for r in state.routes if r.dst == remote.subnet]
        if not any(r.gateway == remote.gateway and r.onlink for r in routes):
            findings.append(
                Finding(
                    "vxlan-route-missing",
                    ERROR,
                    f"route {remote.subnet}",
                    (
                        ("remote lease", remote.subnet),
                        ("wanted", f"{remote.subnet} via {remote.gateway} dev {name} onlink"),
                        (
                            "found",
                            ", ".join(f"{r.dst} via {r.gateway}{' onlink' if r.onlink else ''}" for r in routes)
                            or "none",
                        ),
                    ),
                    f"There is no route to {remote.subnet} (the containers of the host at {remote.public_ip}) through "
                    f"{name}: packets for them follow another route or are unreachable.",
                    (
                        in_netns(
                            target,
                            "ip",
                            "route",
                            "replace",
                            remote.subnet,
                            "via",
                            remote.gateway,
                            "dev",
                            name,
                            "onlink",
                        ),
                    ),
                )
            )
    return findings


def stale_entries(facts: HostEvidence) -> list[Finding]:
    overlay = _checked(facts)
    if overlay is None or overlay.state.device is None:
        return []
    remotes = _remotes(facts, overlay)
    gateways, macs, subnets = ({r.gateway for r in remotes}, {r.vtep_mac for r in remotes}, {r.subnet for r in remotes})
    name, state, target = overlay.name, overlay.state, facts.target
    stale = []
    for n in state.neighbours:
        if n.permanent and n.ip not in gateways:
            stale.append(
                (
                    f"{name} neighbour {n.ip}",
                    f"{n.ip} lladdr {n.mac}",
                    in_netns(target, "ip", "neigh", "del", n.ip, "dev", name),
                )
            )
    for f in state.fdb:
        if f.mac not in macs:
            stale.append(
                (
                    f"{name} fdb {f.mac}",
                    f"{f.mac} dst {f.dst}",
                    in_netns(target, "bridge", "fdb", "del", f.mac, "dev", name, "dst", f.dst, "self"),
                )
            )
    for r in state.routes:
        if r.dst not in subnets:
            stale.append(
                (
                    f"route {r.dst}",
                    f"{r.dst} via {r.gateway} dev {name}",
                    in_netns(target, "ip", "route", "del", r.dst, "dev", name),
                )
            )
    leases = " ".join(x.subnet for x in overlay.view.leases) or "none"
    return [
        Finding(
            "vxlan-stale-entry",
            WARNING,
            obj,
            (("entry", entry), ("leases in etcd", leases)),
            f"{name} holds an entry for a lease that no longer exists: traffic for that subnet is still sent into "
            f"the overlay towards a host that gave it up, and a host that later gets the subnet is unreachable "
            f"from here until the entry goes.",
            (fix,),
        )
        for obj, entry, fix in stale
    ]


def docker0_outside_lease(facts: HostEvidence) -> list[Finding]:
    lease = facts.own_lease if _checked(facts) else None
    if lease is None or facts.snapshot is None or facts.snapshot.docker_error:
        return []
    if not any(n.name == DEFAULT_BRIDGE_NETWORK and n.bridge for n in facts.snapshot.networks):
        return []
    bridge = docker_bridge(facts.snapshot.networks)
    iface = next((i for i in facts.snapshot.interfaces if i.ifname == bridge), None)
    addresses = tuple(a for a in (iface.addresses if iface else ()) if ":" not in a)
    if bridge_in_lease(addresses, lease):
        return []
    return [
        Finding(
            "docker0-outside-lease",
            ERROR,
            bridge,
            (
                (f"{bridge} addresses", " ".join(addresses) or "none"),
                ("lease", lease.subnet),
                ("wanted", f"--bip={lease.first_address}"),
            ),
            f"{bridge}'s address is not inside this host's flannel lease {lease.subnet}: Docker was not "
            f"started with flannel's options (--bip from subnet.env). Containers get addresses the other hosts "
            f"route elsewhere, so replies never come back (the seed's check: docker0's subnet must become "
            f"flannel's subnet).",
            restart_docker(facts.target),
        )
    ]


def vxlan_port_blocked(facts: HostEvidence) -> list[Finding]:
    overlay = _checked(facts)
    device = overlay.state.device if overlay else None
    if overlay is None or facts.firewall is None or device is None:
        return []
    port, underlay = overlay.config.port, _underlay(facts)
    remotes = _remotes(facts, overlay)
    packet = iptables.Packet(
        in_iface=underlay[0] if underlay else None,
        proto="udp",
        dport=port,
        src=remotes[0].public_ip if remotes else None,
        dst=device.local,
    )
    v = iptables.verdict(facts.firewall, "INPUT", packet)
    if v.passes:
        return []
    if v.decided_by.startswith("policy"):
        fix = in_netns(facts.target, "iptables", "-I", "INPUT", "-p", "udp", "--dport", str(port), "-j", "ACCEPT")
    else:
        fix = delete_rule(facts.target, v.decided_by)
    return [
        Finding(
            "vxlan-port-blocked",
            ERROR,
            f"iptables INPUT udp/{port}",
            (
                ("VXLAN port", str(port)),
                ("packet", f"udp {packet.src or 'any'} -> {packet.dst}:{port} in {packet.in_iface or 'any'}"),
                ("verdict", f"{v.action} by {v.decided_by}"),
            ),
            f"The INPUT chain drops VXLAN packets (UDP port {port}) arriving from the other hosts: everything they "
            f"send to this host's containers over the overlay is discarded, while this host's own packets still "
            f"leave, so connections look one-sided.",
            (fix,),
        )
    ]


CHECKS = (
    (("lease-missing",), lease_missing),
    (("lease-publicip-mismatch",), lease_publicip_mismatch),
    (("lease-expiring",), lease_expiring),
    (("vxlan-device",), vxlan_device),
    (("vxlan-neigh-missing", "vxlan-fdb-missing", "vxlan-route-missing"), remote_entries),
    (("vxlan-stale-entry",), stale_entries),
    (("docker0-outside-lease",), docker0_outside_lease),
    (("vxlan-port-blocked",), vxlan_port_blocked),
)
