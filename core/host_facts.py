"""What validation needs to know about the host before a change: Docker's networks, containers and images,
and the host's IPv4 routes.

Gathered in four Docker calls (three lists and the engine info) and one netlink route dump, so an operation
(or a console form, once when it opens) can check every field without asking Docker per keystroke.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.docker_api import Json, docker_call
from netcon.core.netlink.rtnl import MAIN_TABLE
from netcon.core.pyroute import Netlink
from netcon.core.refs import pick
from netcon.core.snapshot_join import BRIDGE_NAME_OPTION

PREDEFINED_NETWORKS = ("bridge", "host", "none")


@dataclass(frozen=True)
class NetworkFact:
    id: str
    name: str
    driver: str
    subnets: tuple[str, ...]  # IPv4 CIDRs from the IPAM config
    gateways: tuple[str, ...]
    bridge_name: str | None  # com.docker.network.bridge.name when set


@dataclass(frozen=True)
class EndpointFact:
    """A container's address on a network, as Docker records it."""

    network_id: str
    network_name: str
    ipv4: str | None
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class ContainerFact:
    id: str
    name: str
    state: str
    network_mode: str  # HostConfig.NetworkMode: bridge, default, <network>, host, none, container:<id>
    endpoints: tuple[EndpointFact, ...]

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class RouteFact:
    destination: str  # CIDR
    device: str | None


@dataclass(frozen=True)
class HostFacts:
    networks: tuple[NetworkFact, ...]
    containers: tuple[ContainerFact, ...]
    images: tuple[str, ...]  # local repo:tag names
    routes: tuple[RouteFact, ...]
    drivers: tuple[str, ...] = ()  # network drivers the engine offers (docker info), empty when unknown

    def network(self, ref: str, field: str = "network") -> NetworkFact | None:
        """By full id, name or id prefix, as Docker resolves them; an ambiguous name or prefix is refused."""
        return pick(self.networks, ref, "network", field)

    def container(self, ref: str, field: str = "container") -> ContainerFact | None:
        return pick(self.containers, ref.lstrip("/"), "container", field)

    def attached(self, network: NetworkFact) -> tuple[ContainerFact, ...]:
        """Running containers with an endpoint on ``network``, by name (Docker refuses to remove it while they
        exist)."""
        return tuple(
            sorted(
                (c for c in self.containers if c.running and any(e.network_id == network.id for e in c.endpoints)),
                key=lambda c: c.name,
            )
        )


def _network(raw: Json) -> NetworkFact:
    configs = (raw.get("IPAM") or {}).get("Config") or []
    v4 = [c for c in configs if c.get("Subnet") and ":" not in c["Subnet"]]
    return NetworkFact(
        id=raw["Id"],
        name=raw["Name"],
        driver=raw.get("Driver") or "",
        subnets=tuple(c["Subnet"] for c in v4),
        gateways=tuple(_gateway(c) for c in v4),
        bridge_name=(raw.get("Options") or {}).get(BRIDGE_NAME_OPTION),
    )


def _gateway(config: Json) -> str:
    """The configured gateway, else the one Docker's IPAM reserves: the subnet's first address after the
    network address (Docker does not show it in the IPAM config of a subnet given without a gateway)."""
    if config.get("Gateway"):
        return str(config["Gateway"])
    subnet = ipaddress.IPv4Network(config["Subnet"], strict=False)
    return str(subnet.network_address + 1) if subnet.num_addresses > 2 else str(subnet.network_address)


def _container(raw: Json) -> ContainerFact:
    networks = ((raw.get("NetworkSettings") or {}).get("Networks")) or {}
    endpoints = tuple(
        EndpointFact(
            network_id=ep.get("NetworkID") or "",
            network_name=name,
            ipv4=ep.get("IPAddress") or None,
            aliases=tuple(ep.get("Aliases") or ()),
        )
        for name, ep in networks.items()
    )
    names = raw.get("Names") or [raw["Id"][:12]]
    return ContainerFact(
        id=raw["Id"],
        name=names[0].lstrip("/"),
        state=raw.get("State") or "",
        network_mode=(raw.get("HostConfig") or {}).get("NetworkMode") or "default",
        endpoints=endpoints,
    )


def host_routes(ctx: HostContext) -> tuple[RouteFact, ...]:
    """IPv4 routes of the main table in ``ctx``'s netns, except the default route (it overlaps everything)."""
    with Netlink(ctx) as nl:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in nl.call("read links", "get_links")}
        routes = nl.call("read routes", "get_routes", family=socket.AF_INET, table=MAIN_TABLE)
    return tuple(
        RouteFact(f"{r.get_attr('RTA_DST')}/{r['dst_len']}", names.get(r.get_attr("RTA_OIF")))
        for r in routes
        if r["dst_len"] > 0 and r.get_attr("RTA_DST")
    )


def gather(ctx: HostContext) -> HostFacts:
    """Read everything validation needs. Routes are the local host's, so they are skipped for a remote engine."""
    networks = docker_call(ctx, "list networks", lambda a: a.networks())
    containers = docker_call(ctx, "list containers", lambda a: a.containers(all=True))
    images = docker_call(ctx, "list images", lambda a: a.images())
    info = docker_call(ctx, "read engine info", lambda a: a.info())
    local_engine = ctx.docker_url.startswith("unix://")
    return HostFacts(
        networks=tuple(_network(n) for n in networks),
        containers=tuple(_container(c) for c in containers),
        images=tuple(tag for img in images for tag in (img.get("RepoTags") or ()) if tag != "<none>:<none>"),
        routes=host_routes(ctx) if local_engine else (),
        drivers=tuple((info.get("Plugins") or {}).get("Network") or ()),
    )
