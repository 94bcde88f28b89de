"""Hosts a trace reads over SSH: where the walk crosses to one, the netcon there walks that host's part from
its own kernel state (``netcon serve --stdio``, op ``trace_walk``: ``serve_leg``) and answers with the core's
own hops; nothing of that host's kernel is queried from here. Their hops keep their capture points (paths on
that host): the netcon there captures the probe on them (``remote_proof``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from netcon.core.context import HostContext
from netcon.core.errors import NotFound
from netcon.core.model import Container, Snapshot
from netcon.core.trace.hosts import Hosts, HostView, in_parallel, running_with
from netcon.core.trace.legs import Arrival, Leg, LegResult
from netcon.core.trace.links import Next, Outcome
from netcon.core.trace.model import PASS, Hop, Trace

if TYPE_CHECKING:
    from netcon.core.hosts.remote import RemoteHost
    from netcon.core.trace.firewall import Packet
    from netcon.core.trace.walk import Walker


@dataclass(frozen=True)
class RemoteView:
    """A host read over SSH: its name in the trace, the connection, its snapshot and its root's addresses."""

    name: str
    host: RemoteHost
    snapshot: Snapshot
    addresses: frozenset[str]

    def container_with(self, ip: str) -> Container | None:
        return running_with(self.snapshot, ip)


def open_remotes(hosts: list[tuple[str, RemoteHost]]) -> tuple[RemoteView, ...]:
    """Each host connected and its snapshot read, in parallel; one that cannot be reached is one sentence
    naming it (``HostUnreachable``), and every connection is closed again."""

    def read(name: str, host: RemoteHost) -> RemoteView:
        snapshot = host.snapshot()
        addresses = frozenset(a.split("/")[0] for i in snapshot.interfaces for a in i.addresses)
        return RemoteView(name, host, snapshot, addresses)

    views, errors = in_parallel([partial(read, name, host) for name, host in hosts])
    if errors:
        for _name, host in hosts:
            host.close()
        raise errors[0]
    return tuple(views)


def walk_there(walker: Walker, view: RemoteView, arrival: Arrival) -> Outcome | Next:
    """``arrival`` walked by the netcon of ``view``'s host; where it hands the packet on, the walk goes on."""
    return _ask(walker, view, _leg(walker, view, arrival.packet, arrival=arrival))


def start_there(walker: Walker, view: RemoteView, container: str | None, pkt: Packet) -> Outcome:
    """A walk (the reply) that starts in ``container`` of ``view``'s host (None: the host itself)."""
    return _go_on(walker, _ask(walker, view, _leg(walker, view, pkt, start=container)))


def _go_on(walker: Walker, step: Outcome | Next) -> Outcome:
    if isinstance(step, Outcome):
        return step
    ns, in_iface, pkt = step
    return walker.run(ns, pkt, in_iface)


def _leg(walker: Walker, view: RemoteView, pkt: Packet, **where: object) -> Leg:
    return Leg(
        view.name,
        walker.direction,
        pkt,
        tuple(walker.records),
        walker.leases,
        source_container=walker.source_container,
        dest_networks=walker.dest_networks,
        **where,  # type: ignore[arg-type]
    )


def _ask(walker: Walker, view: RemoteView, leg: Leg) -> Outcome | Next:
    from netcon.core.hosts.codec import to_wire

    result: LegResult = view.host.request("trace_walk", {"leg": to_wire(leg)})
    over = view.host.target
    walker.hops += [dataclasses.replace(h, over=over) for h in result.hops]
    walker.records = list(result.records)
    if result.kind == "delivered":
        return Outcome("delivered", None, result.packet, view, result.delivered_in)
    if result.kind != "handoff" or result.handoff is None:
        return Outcome(result.kind, None, result.packet)
    arrival = result.handoff
    crossed = walker.cross(arrival)
    if crossed is not None:
        return crossed
    walker.hops.append(
        Hop(view.name, view.name, arrival.via, "underlay", walker.direction,
            f"{arrival.address} is not a host netcon reads", PASS, "leaves", over=over)
    )  # fmt: skip
    return Outcome("left", None, arrival.packet)


def read_over(result: Trace, name: str, target: str) -> Trace:
    """A whole trace a host's netcon ran, as this side shows it: the hops it named ``local`` named ``name``, every
    hop ``over`` the ``target`` it was read through."""

    def here(host: str) -> str:
        return name if host == "local" else host

    hops = tuple(dataclasses.replace(h, host=here(h.host), over=target) for h in result.hops)
    failed = result.failed_hop and dataclasses.replace(result.failed_hop, host=here(result.failed_hop.host))
    return dataclasses.replace(result, hops=hops, failed_hop=failed)


def serve_leg(ctx: HostContext, leg: Leg) -> LegResult:
    """This host's part of a walk, for the trace that asked over SSH: read here, in-process."""
    from netcon.core.trace.links import arrive
    from netcon.core.trace.walk import Walker

    view = HostView(leg.host, ctx)
    hosts = Hosts([view], None, part=True)
    try:
        walker = Walker(hosts, leg.direction, leg.leases, leg.records)
        walker.source_container, walker.dest_networks = leg.source_container, leg.dest_networks
        if leg.arrival is not None:
            outcome = _go_on(walker, arrive(walker, view.root, leg.arrival))
        else:
            c = view.container(leg.start)
            if leg.start is not None and c is None:
                raise NotFound(f"Container {leg.start} is not on {leg.host} any more.", target="start")
            outcome = walker.run(view.of_container(c) if c is not None else view.root, leg.packet)
        place = outcome.netns.container.name if outcome.netns and outcome.netns.container else None
        return LegResult(tuple(walker.hops), outcome.kind, outcome.packet, tuple(walker.records), walker.handoff, place)
    finally:
        hosts.close()
