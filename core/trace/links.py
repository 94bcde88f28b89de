"""Where a packet goes after the device a namespace sends it out of, as the kernel forwards it:

- a container's veth: to its peer on the host, a port of a bridge, which either hands the frame to the host's
  IP stack (addressed to the bridge's own MAC: the gateway) or switches it to another port (its FDB entry);
- a bridge the host routes into: the neighbour entry gives the destination's MAC, the FDB its port, the port's
  veth the container;
- flannel's VXLAN device: the route's onlink gateway, its permanent neighbour entry (the remote VTEP's MAC), the
  FDB entry (that MAC's underlay address), the underlay route to it, and the lease in etcd that should have
  produced them; then the remote host decapsulates it on its own VXLAN device;
- any other device (a lab host's underlay): to the host that owns the next hop's address, if netcon reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from netcon.core.doctor import fixes
from netcon.core.flannel.lease import Lease
from netcon.core.model import Container, Veth
from netcon.core.netlink.routes import FdbEntry, RouteAnswer, fdb, in_subnet, neighbour, route_get
from netcon.core.netlink.rtnl import Link
from netcon.core.trace import firewall
from netcon.core.trace.firewall import Packet
from netcon.core.trace.hosts import HostView, Netns
from netcon.core.trace.legs import Arrival
from netcon.core.trace.model import MISSING, PASS, Capture

if TYPE_CHECKING:
    from netcon.core.trace.remote import RemoteView
    from netcon.core.trace.walk import Walker


@dataclass(frozen=True)
class Outcome:
    """How a walk ended: "delivered" (in ``netns``, or on host ``remote`` read over SSH, in its container
    ``place``), "failed" (the last hop says why), "left" (towards a host netcon does not read) or "handoff"
    (a host's own part of a walk, ended where the packet crosses to another host)."""

    kind: str
    netns: Netns | None
    packet: Packet  # as it arrived (after every NAT)
    remote: RemoteView | None = None
    place: str | None = None


VXLAN_PORT = 8472  # flannel's (and Linux's) VXLAN port, which the remote's INPUT chain must accept
Next = tuple[Netns, str, Packet]  # the next namespace, the interface the packet arrives on, the packet


def capture(ns: Netns, ifname: str, outer: bool = False) -> Capture:
    return Capture(ns.path, ifname, ns.label, outer)


def lease_for(leases: tuple[Lease, ...] | None, ip: str) -> Lease | None:
    return next((lease for lease in leases or () if in_subnet(ip, lease.canonical_subnet)), None)


def vxlan_device(ns: Netns) -> Link | None:
    return next((link for link in ns.links.values() if link.kind == "vxlan"), None)


def egress(walker: Walker, ns: Netns, out: Link, answer: RouteAnswer, pkt: Packet) -> Outcome | Next:
    if out.kind == "bridge":
        return _into_bridge(walker, ns, out, answer.next_hop, pkt)
    if out.kind == "vxlan":
        return _vxlan(walker, ns, out, answer, pkt)
    if out.kind == "veth" and ns.is_container:
        return _container_out(walker, ns, out, answer.next_hop, pkt)
    return _underlay(walker, ns, out, answer.next_hop, pkt)


# -- containers and bridges -------------------------------------------------------------------------------


def _host_veth(host: HostView, c: Container, ifname: str) -> Veth | None:
    """The host-side veth whose peer is ``ifname`` in container ``c``'s namespace."""
    sharing = {x.id for x in host.snapshot.containers if x.netns_inode == c.netns_inode} | {c.id}
    return next((v for v in host.snapshot.veths if v.container_id in sharing and v.peer_ifname == ifname), None)


def _port_container(host: HostView, port: str) -> tuple[Veth, Container] | None:
    veth = next((v for v in host.snapshot.veths if v.ifname == port), None)
    c = host.container(veth.container) if veth is not None else None
    return (veth, c) if veth is not None and c is not None else None


def _container_out(walker: Walker, ns: Netns, out: Link, next_hop: str, pkt: Packet) -> Outcome | Next:
    """Out of a container's veth: the peer on the host, then the bridge it is a port of."""
    host = ns.host
    assert ns.container is not None
    entry = neighbour(ns.rtnl, out.index, next_hop)
    mac = entry.mac if entry and entry.usable else None
    known = (
        f"neighbour {next_hop} lladdr {mac} {entry.state}"
        if entry and mac
        else f"no neighbour entry for {next_hop} yet (ARP)"
    )
    veth = _host_veth(host, ns.container, out.ifname)
    if veth is None:
        walker.hop(
            ns, out.ifname, "veth", f"{known}; no host-side peer found", MISSING, "the veth has no peer on the host"
        )
        return walker.fail(pkt)
    peer = f"peer {veth.ifname} on {host.name}" + (f", port of {veth.bridge}" if veth.bridge else "")
    walker.hop(ns, out.ifname, "veth", f"{known}; {peer}", capture=capture(ns, out.ifname))
    root = host.root
    if veth.bridge is None:  # a routed veth (no bridge): the host's stack receives it on the veth
        walker.hop(root, veth.ifname, "veth", f"peer of {ns.label} {out.ifname}", capture=capture(root, veth.ifname))
        return root, veth.ifname, pkt
    bridge = root.named(veth.bridge)
    walker.hop(root, veth.ifname, "veth", f"port of {veth.bridge}", capture=capture(root, veth.ifname))
    if bridge is None:
        walker.hop(root, veth.bridge, "bridge", "the bridge is gone", MISSING, "no bridge")
        return walker.fail(pkt)
    if root.owns(next_hop) or (mac is not None and mac == bridge.mac):
        walker.hop(
            root,
            bridge.ifname,
            "bridge",
            f"frame to {bridge.ifname}'s own MAC {bridge.mac} (the gateway {next_hop}): routed by {host.name}",
            capture=capture(root, bridge.ifname),
        )
        return root, bridge.ifname, pkt
    return _switch(walker, root, bridge, next_hop, mac, pkt, from_port=veth.ifname)


def _into_bridge(walker: Walker, ns: Netns, bridge: Link, next_hop: str, pkt: Packet) -> Outcome | Next:
    """Routed out into a bridge: the neighbour entry gives the MAC, the FDB the port."""
    entry = neighbour(ns.rtnl, bridge.index, next_hop)
    mac = entry.mac if entry and entry.usable else None
    return _switch(walker, ns, bridge, next_hop, mac, pkt, from_port=None, state=entry.state if entry else None)


def _switch(
    walker: Walker,
    root: Netns,
    bridge: Link,
    ip: str,
    mac: str | None,
    pkt: Packet,
    from_port: str | None,
    state: str | None = None,
) -> Outcome | Next:
    host = root.host
    owner = host.container_with(ip)
    if mac is None and owner is not None:
        mac = next((i.mac for i in owner.interfaces if ip in (a.split("/")[0] for a in i.addresses)), None)
    neigh = f"neighbour {ip} lladdr {mac} {state}" if state and mac else f"{ip} not resolved yet: the kernel ARPs"
    if owner is None:
        walker.hop(
            root,
            bridge.ifname,
            "bridge",
            f"{neigh}; no container on {host.name} has {ip}",
            MISSING,
            f"nothing on {bridge.ifname} has {ip}: ARP goes unanswered (host unreachable)",
        )
        return walker.fail(pkt)
    entries = [e for e in fdb(root.rtnl, master=bridge.index) if mac and e.mac == mac]
    placed = _port_of(host, owner)
    if placed is None:
        walker.hop(root, bridge.ifname, "bridge", f"{neigh}; {owner.name} has no veth here", MISSING, "no port")
        return walker.fail(pkt)
    veth, port_ifname = placed
    learned = _fdb_text(root, entries, mac)
    where = "switched" if from_port else "routed out"
    walker.hop(
        root,
        bridge.ifname,
        "bridge",
        f"{neigh}; {learned}",
        capture=None if from_port else capture(root, bridge.ifname),
    )
    if from_port is not None and _bridge_nf(root):
        crossing = firewall.after_routing(
            root, pkt, "forward", bridge.ifname, bridge.ifname, walker.direction, tuple(walker.records)
        )
        if not walker.firewall_hop(root, crossing, bridge.ifname, bridge.ifname):
            return walker.fail(pkt)
    walker.hop(
        root,
        port_ifname,
        "veth",
        f"{where} to port {port_ifname}, peer of {owner.name}",
        capture=capture(root, port_ifname),
    )
    target = host.of_container(owner)
    walker.hop(
        target,
        veth.peer_ifname or "eth0",
        "veth",
        f"{ip} on {veth.peer_ifname}",
        capture=capture(target, veth.peer_ifname or "eth0"),
    )
    return target, veth.peer_ifname or "eth0", pkt


def _fdb_text(root: Netns, entries: list[FdbEntry], mac: str | None) -> str:
    if not entries:
        return f"fdb has no entry for {mac}: the bridge floods the frame to every port"
    port = root.link(entries[0].ifindex)
    return f"fdb {mac} on {port.ifname if port else '?'} ({'permanent' if entries[0].permanent else 'learned'})"


def _port_of(host: HostView, c: Container) -> tuple[Veth, str] | None:
    veth = next((v for v in host.snapshot.veths if v.container_id == c.id), None)
    return (veth, veth.ifname) if veth is not None else None


def _bridge_nf(root: Netns) -> bool:
    """br_netfilter hands bridged IPv4 frames to iptables in this namespace."""
    return root.sysctl("net/bridge/bridge-nf-call-iptables") == "1"


# -- flannel's VXLAN device -------------------------------------------------------------------------------


def _vxlan(walker: Walker, ns: Netns, dev: Link, answer: RouteAnswer, pkt: Packet) -> Outcome | Next:
    gateway = answer.next_hop
    lease = lease_for(walker.leases, pkt.dst)
    target = firewall.target_of(ns)
    should = (
        f"; the lease {lease.canonical_subnet} of {lease.attrs.public_ip} (VTEP {lease.attrs.vtep_mac}) should have "
        f"produced it"
        if lease
        else ("; no lease in etcd covers it" if walker.leases is not None else "; etcd not read")
    )
    entry = neighbour(ns.rtnl, dev.index, gateway)
    if entry is None or entry.mac is None:
        fix = (
            (fixes.vxlan_neighbour(target, dev.ifname, gateway, lease.attrs.vtep_mac),)
            if lease and lease.attrs.vtep_mac
            else ()
        )
        walker.hop(
            ns, dev.ifname, "vxlan", f"route via {gateway} onlink; no neighbour entry for {gateway}{should}", MISSING,
            f"missing neighbour entry for {gateway} on {dev.ifname} (the remote VTEP's MAC)",
            fix=fix + fixes.restart_flannel(target), capture=capture(ns, dev.ifname),
        )  # fmt: skip
        return walker.fail(pkt)
    forward = next((f for f in fdb(ns.rtnl, ifindex=dev.index) if f.mac == entry.mac and f.dst), None)
    holds = f"route via {gateway} onlink; neighbour {gateway} lladdr {entry.mac} {entry.state}"
    if forward is None or forward.dst is None:
        public = lease.attrs.public_ip if lease else None
        fix = (fixes.vxlan_fdb(target, dev.ifname, entry.mac, public),) if public else ()
        walker.hop(
            ns, dev.ifname, "vxlan", f"{holds}; no FDB entry for {entry.mac}{should}", MISSING,
            f"missing FDB entry for VTEP {entry.mac} on {dev.ifname}: the kernel does not know which host to send "
            f"it to{should}",
            fix=fix + fixes.restart_flannel(target), capture=capture(ns, dev.ifname),
        )  # fmt: skip
        return walker.fail(pkt)
    holds += f"; fdb {entry.mac} dst {forward.dst}"
    if lease is not None:
        holds += f"; lease {lease.canonical_subnet} {lease.attrs.public_ip} {lease.attrs.vtep_mac}"
    walker.hop(ns, dev.ifname, "vxlan", holds, capture=capture(ns, dev.ifname))
    return _tunnel(walker, ns, dev, forward.dst, pkt)


def _tunnel(walker: Walker, ns: Netns, dev: Link, remote_ip: str, pkt: Packet) -> Outcome | Next:
    """The encapsulated packet over the underlay to ``remote_ip``, decapsulated by the host that has it."""
    under = route_get(ns.rtnl, remote_ip)
    uplink = ns.link(under.oif)
    if not under.forwards or uplink is None:
        walker.hop(ns, "", "underlay", f"ip route get {remote_ip}: {under.error or under.kind}", MISSING,
                   f"no underlay route to the remote VTEP {remote_ip}")  # fmt: skip
        return walker.fail(pkt)
    walker.hop(
        ns, uplink.ifname, "underlay", f"VXLAN to {remote_ip} via {uplink.ifname}"
        + (f" (gateway {under.gateway})" if under.gateway else ""), capture=capture(ns, uplink.ifname, outer=True),
    )  # fmt: skip
    crossed = walker.cross(Arrival("vxlan", ns.host.name, remote_ip, under.prefsrc, dev.ifname, uplink.ifname, pkt))
    if crossed is None:
        walker.hop(ns, uplink.ifname, "underlay", f"{remote_ip} is not a host netcon reads", PASS, "leaves")
        return Outcome("left", None, pkt)
    return crossed


def arrive(walker: Walker, there: Netns, arrival: Arrival) -> Outcome | Next:
    """The packet ``arrival`` describes, received by ``there`` (a host's root namespace)."""
    if arrival.kind == "vxlan":
        return _decapsulate(walker, there, arrival)
    into = there.iface_for(arrival.address)
    if into is None:
        walker.hop(
            there, "", "underlay", f"{there.host.name} has no interface in {arrival.address}'s subnet", MISSING,
            "no way in",
        )  # fmt: skip
        return walker.fail(arrival.packet)
    walker.hop(there, into.ifname, "underlay", f"from {arrival.sender}", capture=capture(there, into.ifname))
    return there, into.ifname, arrival.packet


def _decapsulate(walker: Walker, there: Netns, arrival: Arrival) -> Outcome | Next:
    remote_ip, pkt = arrival.address, arrival.packet
    into = there.iface_for(arrival.outer_src or remote_ip) or there.iface_for(remote_ip)
    peer_dev = there.named(arrival.device) or vxlan_device(there)
    if into is None or peer_dev is None:
        walker.hop(there, arrival.device, "vxlan", f"no {arrival.device} on {there.host.name}", MISSING,
                   "no VXLAN device there")  # fmt: skip
        return walker.fail(pkt)
    walker.hop(
        there,
        into.ifname,
        "underlay",
        f"VXLAN from {arrival.sender} to {remote_ip}",
        capture=capture(there, into.ifname, outer=True),
    )
    outer = Packet(arrival.outer_src, remote_ip, "udp", None, VXLAN_PORT, None, pkt.ctstate)
    crossing = firewall.after_routing(there, outer, "input", into.ifname, None, walker.direction, ())
    if not walker.firewall_hop(there, crossing, into.ifname, None):  # the doctor's vxlan-port-blocked
        return walker.fail(pkt)
    walker.hop(
        there,
        peer_dev.ifname,
        "vxlan",
        f"decapsulated by {peer_dev.ifname} ({peer_dev.mac})",
        capture=capture(there, peer_dev.ifname),
    )
    return there, peer_dev.ifname, pkt


# -- other devices: the underlay between hosts ------------------------------------------------------------


def _underlay(walker: Walker, ns: Netns, out: Link, next_hop: str, pkt: Packet) -> Outcome | Next:
    name = walker.name_of(next_hop)
    if name is None or name == ns.host.name:
        walker.hop(ns, out.ifname, "underlay", f"to {next_hop} via {out.ifname}: beyond the hosts netcon reads",
                   PASS, "leaves the hosts netcon reads", capture=capture(ns, out.ifname))  # fmt: skip
        return Outcome("left", None, pkt)
    shown = f" ({name})" if name else ""
    walker.hop(ns, out.ifname, "underlay", f"to {next_hop}{shown} via {out.ifname}", capture=capture(ns, out.ifname))
    crossed = walker.cross(Arrival("underlay", ns.host.name, next_hop, None, out.ifname, out.ifname, pkt))
    return crossed if crossed is not None else Outcome("left", None, pkt)
