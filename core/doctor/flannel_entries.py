"""flannel checks of the entries on ``flannel.<VNI>``: per remote lease the neighbour, FDB and route entries
flanneld programs, and entries left from leases that are gone."""

from __future__ import annotations

from netcon.core.doctor.facts import HostEvidence, Target
from netcon.core.doctor.findings import ERROR, WARNING, Finding
from netcon.core.doctor.fixes import in_netns
from netcon.core.doctor.flannel_overlay import Overlay, checked, remotes_of
from netcon.core.flannel.vxlan import Remote


def remote_entries(facts: HostEvidence) -> list[Finding]:
    """vxlan-neigh-missing, vxlan-fdb-missing, vxlan-route-missing: per remote lease, the entry this host needs."""
    overlay = checked(facts)
    if overlay is None or overlay.state.device is None:
        return []
    findings = []
    for remote in remotes_of(facts, overlay):
        for entry in (_neighbour, _fdb, _route):
            finding = entry(overlay, facts.target, remote)
            if finding is not None:
                findings.append(finding)
    return findings


def _missing(check: str, obj: str, remote: Remote, wanted: str, found: list[str], why: str, fix: str) -> Finding:
    """The finding for a remote lease's entry that is missing or wrong: what it should be, what there is."""
    return Finding(
        check,
        ERROR,
        obj,
        (("remote lease", remote.subnet), ("wanted", wanted), ("found", ", ".join(found) or "none")),
        why,
        (fix,),
    )


def _neighbour(overlay: Overlay, target: Target, remote: Remote) -> Finding | None:
    """The remote's gateway -> its VTEP MAC, permanent (the device does no learning)."""
    name = overlay.name
    neigh = [n for n in overlay.state.neighbours if n.ip == remote.gateway]
    if any(n.mac == remote.vtep_mac and n.permanent for n in neigh):
        return None
    return _missing(
        "vxlan-neigh-missing",
        f"{name} neighbour {remote.gateway}",
        remote,
        f"{remote.gateway} lladdr {remote.vtep_mac} permanent",
        [f"{n.ip} lladdr {n.mac}{' permanent' if n.permanent else ''}" for n in neigh],
        f"The neighbour entry that maps {remote.subnet}'s gateway {remote.gateway} to the remote VTEP MAC "
        f"is missing or wrong: with nolearning the kernel cannot resolve it, so packets routed to "
        f"{remote.subnet} are never sent.",
        in_netns(
            target, "ip", "neigh", "replace", remote.gateway, "lladdr", remote.vtep_mac, "dev", name, "nud", "permanent"
        ),
    )


def _fdb(overlay: Overlay, target: Target, remote: Remote) -> Finding | None:
    """The remote's VTEP MAC -> its PublicIP: where the encapsulated frames go."""
    name = overlay.name
    fdb = [f for f in overlay.state.fdb if f.mac == remote.vtep_mac]
    if any(f.dst == remote.public_ip for f in fdb):
        return None
    return _missing(
        "vxlan-fdb-missing",
        f"{name} fdb {remote.vtep_mac}",
        remote,
        f"{remote.vtep_mac} dst {remote.public_ip}",
        [f"{f.mac} dst {f.dst}" for f in fdb],
        f"The FDB entry that tells {name} to send frames for VTEP {remote.vtep_mac} to {remote.public_ip} "
        f"is missing or points elsewhere: the encapsulated packets for {remote.subnet} are dropped or go "
        f"to the wrong host.",
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
    )


def _route(overlay: Overlay, target: Target, remote: Remote) -> Finding | None:
    """The remote's subnet via its gateway, onlink through the device."""
    name = overlay.name
    routes = [r for r in overlay.state.routes if r.dst == remote.subnet]
    if any(r.gateway == remote.gateway and r.onlink for r in routes):
        return None
    return _missing(
        "vxlan-route-missing",
        f"route {remote.subnet}",
        remote,
        f"{remote.subnet} via {remote.gateway} dev {name} onlink",
        [f"{r.dst} via {r.gateway}{' onlink' if r.onlink else ''}" for r in routes],
        f"There is no route to {remote.subnet} (the containers of the host at {remote.public_ip}) through "
        f"{name}: packets for them follow another route or are unreachable.",
        in_netns(target, "ip", "route", "replace", remote.subnet, "via", remote.gateway, "dev", name, "onlink"),
    )


def stale_entries(facts: HostEvidence) -> list[Finding]:
    overlay = checked(facts)
    if overlay is None or overlay.state.device is None:
        return []
    remotes = remotes_of(facts, overlay)
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
