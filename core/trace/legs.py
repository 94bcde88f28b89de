"""A part of a walk one host computes on its own (``Leg``), what it answers (``LegResult``), and where a packet
crosses from one host to another (``Arrival``): the values that travel to a host read over SSH, whose netcon
walks its own kernel state (``netcon serve --stdio``, op ``trace_walk``) and answers with the core's own hops.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcon.core.flannel.lease import Lease
from netcon.core.trace.firewall import NatRecord, Packet
from netcon.core.trace.model import Hop


@dataclass(frozen=True)
class Arrival:
    """A packet sent from host ``sender`` to ``address`` (an underlay address of the receiving host)."""

    kind: str  # "vxlan": encapsulated by the sender's VXLAN device ``device``; "underlay": routed plainly
    sender: str  # the sending host's name
    address: str  # the VTEP address (vxlan) or the next hop (underlay)
    outer_src: str | None  # vxlan: the outer packet's source address
    device: str  # vxlan: the sender's VXLAN device; underlay: the sender's interface
    via: str  # the sender's interface the packet leaves by
    packet: Packet


@dataclass(frozen=True)
class Leg:
    """Walk ``direction`` on host ``host`` (the name the trace gives it): from ``arrival``, or from container
    ``start`` (a reply starting where the request was delivered)."""

    host: str
    direction: str
    packet: Packet
    records: tuple[NatRecord, ...] = ()
    leases: tuple[Lease, ...] | None = None
    arrival: Arrival | None = None
    start: str | None = None
    source_container: str | None = None
    dest_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class LegResult:
    """The host's hops and how its part ended: delivered (in container ``delivered_in``, None: the host
    itself), failed, left, or "handoff" (sent on to another host: ``handoff``)."""

    hops: tuple[Hop, ...]
    kind: str
    packet: Packet
    records: tuple[NatRecord, ...]
    handoff: Arrival | None = None
    delivered_in: str | None = None
