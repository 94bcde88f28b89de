"""The prediction: one packet walked hop by hop from a namespace, asking each namespace's kernel where it goes
(RTM_GETROUTE, as ``ip route get``), evaluating the netfilter chains it crosses there (``trace.firewall``),
then following the device it leaves by into the next namespace (``trace.links``) — until it is delivered
(the route is ``local``), dies (no route, a drop, a missing entry) or leaves the hosts netcon can read.
"""

from __future__ import annotations

import dataclasses

from netcon.core.doctor import fixes
from netcon.core.errors import NetconError
from netcon.core.flannel.lease import Lease
from netcon.core.netlink.routes import RouteAnswer, route_get
from netcon.core.netlink.sockdiag import listening_sockets
from netcon.core.netns import run_in_netns
from netcon.core.trace import firewall, links
from netcon.core.trace.firewall import Crossing, NatRecord, Packet
from netcon.core.trace.hosts import Hosts, Netns
from netcon.core.trace.legs import Arrival
from netcon.core.trace.links import Next, Outcome
from netcon.core.trace.model import DROP, PASS, UNKNOWN, Capture, Hop

MAX_NAMESPACES = 12  # a path through more is a routing loop


class Walker:
    """Walks one direction (request or reply); ``hops`` grows as it goes. ``leases``: flannel's leases, which
    say what a VXLAN device should hold (None when etcd was not read)."""

    def __init__(
        self, hosts: Hosts, direction: str, leases: tuple[Lease, ...] | None, records: tuple[NatRecord, ...] = ()
    ) -> None:
        self.hosts = hosts
        self.direction = direction
        self.leases = leases
        self.records = list(records)
        self.hops: list[Hop] = []
        self.source_container: str | None = None  # for the fix of Docker's isolation: connect it to ...
        self.dest_networks: tuple[str, ...] = ()  # ... the destination container's network
        self.source_ip: str | None = None  # the source address the kernel chose for the request
        self.handoff: Arrival | None = None  # where this host's part ended, on a host read over SSH

    def hop(
        self,
        ns: Netns,
        device: str,
        stage: str,
        holds: str,
        predicted: str = PASS,
        reason: str = "passes",
        rule: str | None = None,
        fix: tuple[str, ...] = (),
        capture: Capture | None = None,
    ) -> Hop:
        made = Hop(ns.host.name, ns.label, device, stage, self.direction, holds, predicted, reason, rule, fix, capture)
        self.hops.append(made)
        return made

    def fail(self, pkt: Packet) -> Outcome:
        return Outcome("failed", None, pkt)

    def name_of(self, ip: str) -> str | None:
        """The name of the host that has ``ip``: read here or over SSH; "" when this walk is one host's part
        (the trace that asked for it knows the others); None when no host the trace reads has it."""
        view = self.hosts.host_with_address(ip)
        if view is not None:
            return view.name
        remote = self.hosts.remote_with_address(ip)
        if remote is not None:
            return remote.name
        return "" if self.hosts.part else None

    def cross(self, arrival: Arrival) -> Outcome | Next | None:
        """The packet sent to another host: received by it here, walked by the netcon of a host read over SSH,
        or — in one host's part of a walk — handed back to the trace that asked; None when no host has it."""
        view = self.hosts.host_with_address(arrival.address)
        if view is not None:
            return links.arrive(self, view.root, arrival)
        remote = self.hosts.remote_with_address(arrival.address)
        if remote is not None:
            from netcon.core.trace.remote import walk_there

            return walk_there(self, remote, arrival)
        if self.hosts.part:
            self.handoff = arrival
            return Outcome("handoff", None, arrival.packet)
        return None

    def run(self, start: Netns, pkt: Packet, in_iface: str | None = None) -> Outcome:
        ns: Netns = start
        for _ in range(MAX_NAMESPACES):
            step = self._step(ns, in_iface, pkt)
            if isinstance(step, Outcome):
                return step
            ns, in_iface, pkt = step
        self.hop(ns, "", "route", "the path passes through more namespaces than any real one", DROP, "routing loop")
        return self.fail(pkt)

    # -- one namespace ----------------------------------------------------------------------------------------

    def _step(self, ns: Netns, in_iface: str | None, pkt: Packet) -> Outcome | tuple[Netns, str, Packet]:
        pre = Crossing(pkt, ())
        if in_iface is None:
            answer = route_get(ns.rtnl, pkt.dst, proto=pkt.number, dport=pkt.dport)
            if pkt.src is None and answer.prefsrc:
                pkt = dataclasses.replace(pkt, src=answer.prefsrc)
            self.source_ip = self.source_ip or pkt.src
        else:
            pre = firewall.before_routing(ns, pkt, in_iface, self.direction, tuple(self.records))
            if pre.drop is not None:
                self.firewall_hop(ns, pre, in_iface, None)
                return self.fail(pkt)
            pkt = pre.packet
            self.records += pre.nat
            iif = ns.named(in_iface)
            answer = route_get(
                ns.rtnl, pkt.dst, src=pkt.src, iif=iif.index if iif else None, proto=pkt.number, dport=pkt.dport
            )
        out = ns.link(answer.oif)
        if not self._route_hop(ns, answer, in_iface, pkt, pre):
            return self.fail(pkt)
        if answer.kind == "local":
            after = firewall.after_routing(ns, pkt, "input", in_iface, None, self.direction, tuple(self.records))
            if not self.firewall_hop(ns, after, in_iface, None, pre):
                return self.fail(pkt)
            self._deliver_hop(ns, after.packet)
            return Outcome("delivered", ns, after.packet)
        kind = "output" if in_iface is None else "forward"
        assert out is not None
        after = firewall.after_routing(ns, pkt, kind, in_iface, out.ifname, self.direction, tuple(self.records))
        if not self.firewall_hop(ns, after, in_iface, out.ifname, pre):
            return self.fail(pkt)
        self.records += after.nat
        return links.egress(self, ns, out, answer, after.packet)

    def _route_hop(self, ns: Netns, answer: RouteAnswer, in_iface: str | None, pkt: Packet, pre: Crossing) -> bool:
        out = ns.link(answer.oif)
        arriving = f" from {pkt.src} iif {in_iface}" if in_iface else ""
        if answer.kind == "local":
            self.hop(
                ns, "", "route", f"local {pkt.dst}{arriving}: an address of this namespace", PASS, "delivered here"
            )
            return True
        if answer.forwards and out is not None:
            via = f" via {answer.gateway}" if answer.gateway else ""
            src = f" src {answer.prefsrc}" if answer.prefsrc and not in_iface else ""
            table = f" table {'main' if answer.table == 254 else answer.table}" if answer.table else ""
            dnat = " (after DNAT)" if any("DNAT" in p for p in pre.parts) else ""
            self.hop(ns, "", "route", f"{pkt.dst}{dnat}{via} dev {out.ifname}{src}{arriving}{table}", PASS, "routed")
            return True
        what = answer.error or answer.kind
        reason = {
            "unreachable": f"no route to {pkt.dst}: the kernel answers ICMP network unreachable",
            "prohibit": f"the route to {pkt.dst} is prohibit: the kernel answers ICMP prohibited",
            "blackhole": f"the route to {pkt.dst} is a blackhole: dropped silently",
        }.get(answer.kind, f"the kernel will not route to {pkt.dst}: {what}")
        lease = links.lease_for(self.leases, pkt.dst)
        if lease is not None and not ns.is_container and links.vxlan_device(ns) is not None:
            reason += (
                f"; the lease {lease.canonical_subnet} of {lease.attrs.public_ip} in etcd should have produced a "
                f"route via {links.vxlan_device(ns).ifname}"  # type: ignore[union-attr]
            )
        self.hop(
            ns, "", "route", f"ip route get {pkt.dst}{arriving}: {what}", DROP, reason, fix=self._route_fix(ns, pkt)
        )
        return False

    def _route_fix(self, ns: Netns, pkt: Packet) -> tuple[str, ...]:
        """A missing flannel route: the lease that should have produced it, and the command flannel would run."""
        lease = links.lease_for(self.leases, pkt.dst)
        device = links.vxlan_device(ns)
        if lease is None or device is None or ns.is_container:
            return ()
        target = firewall.target_of(ns)
        gateway = str(lease.network.network_address)
        return (
            fixes.vxlan_route(target, device.ifname, lease.canonical_subnet, gateway),
            *fixes.restart_flannel(target),
        )

    def firewall_hop(
        self, ns: Netns, crossing: Crossing, in_iface: str | None, out_iface: str | None, pre: Crossing | None = None
    ) -> bool:
        parts = (pre.parts if pre else ()) + crossing.parts
        if crossing.drop is not None:
            reason = firewall.drop_reason(crossing)
            rule = crossing.drop.decided_by
            fix = firewall.drop_fix(ns, crossing, in_iface, out_iface) or self._isolation_fix(ns)
            self.hop(ns, "", "firewall", " · ".join(parts), DROP, reason, rule, fix)
            return False
        if parts:
            self.hop(ns, "", "firewall", " · ".join(parts), PASS, "accepted")
        return True

    def _isolation_fix(self, ns: Netns) -> tuple[str, ...]:
        """Docker isolates its networks from each other: connect the source container to the destination's."""
        if self.direction != "request" or not self.source_container or not self.dest_networks:
            return ()
        target = firewall.target_of(ns.host.root)
        connect = fixes.netcon(target, "network", "connect", self.dest_networks[0], self.source_container, docker=True)
        return (connect,)

    def _deliver_hop(self, ns: Netns, pkt: Packet) -> None:
        if self.direction != "request":
            self.hop(ns, "", "deliver", f"{pkt.text()} delivered to the probe's socket", PASS, "reply delivered")
            return
        if pkt.proto == "icmp":
            ignore = ns.sysctl("net/ipv4/icmp_echo_ignore_all")
            if ignore == "1":
                self.hop(ns, "", "deliver", "net.ipv4.icmp_echo_ignore_all = 1", DROP, "the kernel ignores echoes here")
                return
            self.hop(ns, "", "deliver", f"{pkt.text()}: the kernel answers echo requests", PASS, "reached")
            return
        try:
            listening = run_in_netns(ns.path, listening_sockets)
        except NetconError as error:
            self.hop(ns, "", "deliver", f"listeners not read: {error}", UNKNOWN, "reached")
            return
        found = [s for s in listening if s.proto == pkt.proto and s.port == pkt.dport and s.version == 4]
        found += [s for s in listening if s.proto == pkt.proto and s.port == pkt.dport and s.version == 6]
        if found:
            self.hop(ns, "", "deliver", f"{pkt.proto} {found[0].address}:{pkt.dport} {found[0].state}", PASS, "reached")
        else:
            answer = "a TCP reset" if pkt.proto == "tcp" else "ICMP port unreachable"
            self.hop(
                ns, "", "deliver", f"nothing listens on {pkt.proto}/{pkt.dport}", PASS, f"reached; answered by {answer}"
            )
