"""The immutable picture of one host's container networking, as the core hands it to CLI and console.

Everything is a frozen dataclass of plain values (tuples, strings, ints), so a snapshot can be shared between
threads, compared, and turned into JSON with ``to_json``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from netcon.core.refs import pick


@dataclass(frozen=True)
class Attachment:
    """One container's endpoint on one Docker network."""

    container_id: str
    container_name: str
    ipv4: str | None  # "172.19.0.3" (no prefix), None when Docker gave none
    prefixlen: int | None
    mac: str | None
    aliases: tuple[str, ...] = ()
    endpoint_id: str = ""


@dataclass(frozen=True)
class Network:
    """A Docker network and the Linux bridge behind it."""

    id: str
    name: str
    driver: str
    scope: str
    subnets: tuple[str, ...]
    gateways: tuple[str, ...]
    ip_ranges: tuple[str, ...]
    internal: bool
    attachable: bool
    options: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    bridge: str | None  # backing Linux bridge name, None for drivers without one
    attachments: tuple[Attachment, ...]

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass(frozen=True)
class ContainerInterface:
    """An interface seen inside a container's network namespace."""

    ifindex: int
    ifname: str
    kind: str | None
    mtu: int
    state: str
    mac: str | None
    addresses: tuple[str, ...]  # CIDR strings
    peer_ifindex: int | None  # for a veth: its host-side peer's ifindex (IFLA_LINK)


@dataclass(frozen=True)
class Container:
    """A Docker container as its network sees it."""

    id: str
    name: str
    state: str  # running, exited, created, paused, ...
    image: str
    network_mode: str  # bridge, <user network>, host, none, container:<name>
    pid: int | None
    netns_inode: int | None
    shares_netns_with: tuple[str, ...]  # names of other containers in the same netns
    netns_owner: str | None  # for container: mode, the name whose netns (and addresses) it uses
    ipv4: tuple[str, ...]  # own addresses, or the owner's when ``ipv4_shared``
    ipv4_shared: bool  # True when ``ipv4`` are the netns owner's addresses, not Docker's record for it
    networks: tuple[str, ...]
    interfaces: tuple[ContainerInterface, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    problem: str | None = None  # why something about it could not be read

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass(frozen=True)
class Bridge:
    """A Linux bridge, as ``brctl show`` prints it."""

    name: str
    ifindex: int
    bridge_id: str  # "8000.0242ac110002"
    stp: bool
    interfaces: tuple[str, ...]
    network: str | None  # Docker network it backs, if any
    mtu: int
    state: str


@dataclass(frozen=True)
class Counters:
    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    rx_errors: int = 0  # the error and drop counters come from the stats dump (core.counters), not the snapshot
    tx_errors: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0


@dataclass(frozen=True)
class Veth:
    """A host-side veth and what is at its other end."""

    ifname: str
    ifindex: int
    mtu: int
    state: str
    mac: str | None
    bridge: str | None
    counters: Counters
    peer_ifindex: int | None
    peer_netnsid: int | None
    peer_ifname: str | None
    peer_netns: str | None  # for a peer outside any container: "root" or its /var/run/netns name
    container: str | None
    container_id: str | None


@dataclass(frozen=True)
class Interface:
    """A network interface of the host (or the netns netcon looks at)."""

    ifindex: int
    ifname: str
    kind: str  # bridge, veth, vxlan, loopback, physical, ...
    mtu: int
    state: str
    mac: str | None
    addresses: tuple[str, ...]
    master: str | None


@dataclass(frozen=True)
class Snapshot:
    """One host's container networking, read in one call."""

    host: str
    docker_version: str | None
    docker_error: str | None  # why Docker could not be read (networks/containers are then empty)
    taken_at: float
    networks: tuple[Network, ...]
    containers: tuple[Container, ...]
    bridges: tuple[Bridge, ...]
    veths: tuple[Veth, ...]
    interfaces: tuple[Interface, ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def not_read(self) -> tuple[str, ...]:
        """What this snapshot lacks, one sentence each: a partial answer says so."""
        docker = (f"Docker not read: {self.docker_error}",) if self.docker_error else ()
        return docker + tuple(f"Not read: {problem}." for problem in self.problems)

    def network(self, ref: str, field: str | None = None) -> Network | None:
        """By full id, name or id prefix, as Docker resolves them; an ambiguous name or prefix is refused."""
        return pick(self.networks, ref, "network", field)

    def container(self, ref: str, field: str | None = None) -> Container | None:
        return pick(self.containers, ref.lstrip("/"), "container", field)


def to_json(value: Any) -> Any:
    """Plain JSON-ready structure of a dataclass tree (tuples become lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value
