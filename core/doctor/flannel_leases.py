"""flannel checks of this host's lease: it exists, announces an address of this host, is renewed in time, and
holds docker0's address."""

from __future__ import annotations

from netcon.core.doctor.facts import HostEvidence
from netcon.core.doctor.findings import ERROR, WARNING, Finding
from netcon.core.doctor.fixes import flannel_command, restart_docker, restart_flannel
from netcon.core.doctor.flannel_overlay import checked
from netcon.core.flannel.host_rules import DEFAULT_BRIDGE_NETWORK, bridge_in_lease, docker_bridge


def lease_missing(facts: HostEvidence) -> list[Finding]:
    overlay = checked(facts)
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
    lease = facts.own_lease if checked(facts) else None
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
    overlay = checked(facts)
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


def docker0_outside_lease(facts: HostEvidence) -> list[Finding]:
    lease = facts.own_lease if checked(facts) else None
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
