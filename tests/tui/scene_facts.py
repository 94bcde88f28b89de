"""``HostFacts`` of the fixture scene (tests/fixtures/scene.py), for forms opened over the scene: what
``core.host_facts.gather`` would read on that host. Test data only, like the scene itself; the console is
handed it through its ``facts`` argument."""

from __future__ import annotations

import ipaddress

from netcon.core.context import HostContext
from netcon.core.host_facts import (
    ContainerFact,
    EndpointFact,
    HostFacts,
    NetworkFact,
    RouteFact,
)
from netcon.core.model import Snapshot
from tests.fixtures.scene import scene

DRIVERS = ("bridge", "host", "ipvlan", "macvlan", "null", "overlay")


def facts_of(snapshot: Snapshot) -> HostFacts:
    options = {net.id: dict(net.options) for net in snapshot.networks}
    networks = tuple(
        NetworkFact(
            net.id,
            net.name,
            net.driver,
            net.subnets,
            net.gateways,
            options[net.id].get("com.docker.network.bridge.name"),
        )
        for net in snapshot.networks
    )
    endpoints: dict[str, list[EndpointFact]] = {}
    for net in snapshot.networks:
        for a in net.attachments:
            endpoints.setdefault(a.container_id, []).append(EndpointFact(net.id, net.name, a.ipv4, a.aliases))
    containers = tuple(
        ContainerFact(c.id, c.name, c.state, c.network_mode, tuple(endpoints.get(c.id, ())))
        for c in snapshot.containers
    )
    images = tuple(sorted({c.image if ":" in c.image else f"{c.image}:latest" for c in snapshot.containers}))
    routes = tuple(
        RouteFact(str(ipaddress.IPv4Interface(address).network), i.ifname)  # the connected routes
        for i in snapshot.interfaces
        for address in i.addresses
        if i.ifname != "lo" and ":" not in address
    )
    return HostFacts(networks, containers, images, routes, DRIVERS)


def scene_facts(ctx: HostContext | None = None) -> HostFacts:
    """The scene's facts; takes the context like ``core.host_facts.gather``."""
    return facts_of(scene())
