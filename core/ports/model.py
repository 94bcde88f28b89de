"""What the ports view holds: listening sockets with their processes and containers, the ports Docker publishes
and the host ports containers want, and the conflicts between them."""

from __future__ import annotations

from dataclasses import dataclass

from netcon.core.procfs import ProcessInfo

DOCKER_DNS_ADDRESS = "127.0.0.11"  # Docker's embedded DNS server, in every container on a user network
DOCKERD = "dockerd"


@dataclass(frozen=True)
class Published:
    """A port Docker publishes (``-p``): host address and port -> container port, and what serves it."""

    proto: str  # tcp or udp
    host_ip: str  # "0.0.0.0", "::" or one address
    host_port: int
    container_id: str
    container: str
    container_port: int
    served_by: str  # "docker-proxy", or "nat" when only the DNAT rule serves it (userland-proxy off)
    proxy_pid: int | None

    @property
    def target(self) -> str:
        return f"{self.container}:{self.container_port}/{self.proto}"


@dataclass(frozen=True)
class WantedPort:
    """A host port a container asked for (``-p``) but does not hold: Docker discarded it because the container
    uses the host's network, or the container is not running."""

    proto: str
    host_ip: str  # "" in Docker's bindings means every address
    host_port: int
    container_id: str
    container: str
    container_port: int
    reason: str  # "host network: Docker discarded it" or "container is <state>"
    discarded: bool  # True for host-mode containers (the flag the issue asks for)


@dataclass(frozen=True)
class PortSocket:
    """One listening TCP or bound UDP socket, in the host's namespace or a container's."""

    proto: str  # tcp or udp
    version: int  # 4 or 6
    address: str
    port: int
    state: str  # LISTEN (tcp) or UNCONN (udp), as ss prints it
    inode: int
    v6only: bool | None  # IPV6_V6ONLY of an IPv6 socket: False means "::" takes IPv4 too
    netns_inode: int
    host_netns: bool
    holders: tuple[ProcessInfo, ...]  # processes with it open, the owner first (nginx master before workers)
    container_id: str | None
    container: str | None
    attributed_by: str | None  # cgroup, containerd-shim, netns or docker-proxy
    published: Published | None  # set on a docker-proxy socket: the port it serves

    @property
    def pid(self) -> int | None:
        return self.holders[0].pid if self.holders else None

    @property
    def process(self) -> ProcessInfo | None:
        return self.holders[0] if self.holders else None

    @property
    def embedded_dns(self) -> bool:
        """Docker's embedded DNS server: dockerd listens on 127.0.0.11 (TCP and UDP, a random port behind
        the netns's own DNAT from port 53) inside every container on a user network, so at 50 containers
        these are two thirds of all listeners. Views hide them unless asked."""
        return (
            not self.host_netns and self.address == DOCKER_DNS_ADDRESS and all(h.name == DOCKERD for h in self.holders)
        )


@dataclass(frozen=True)
class Claim:
    """Someone who holds or wants a host port: a container, or a host process."""

    proto: str
    address: str
    port: int
    owner: str  # container name, or "pid N (name)"
    container_id: str | None
    pid: int | None
    how: str  # listening, published (nat), or the WantedPort reason
    v6only: bool | None = None


@dataclass(frozen=True)
class Conflict:
    """Two or more owners holding or wanting the same host port and protocol on overlapping addresses."""

    proto: str
    port: int
    claims: tuple[Claim, ...]


@dataclass(frozen=True)
class PortsView:
    """Every listening socket of the host and its containers, published and wanted ports, and conflicts."""

    taken_at: float
    host_netns_inode: int
    sockets: tuple[PortSocket, ...]
    published: tuple[Published, ...]
    wanted: tuple[WantedPort, ...]
    conflicts: tuple[Conflict, ...]
    skipped_vanished: int  # processes or namespaces that disappeared while being read
    skipped_unreadable: int  # /proc entries this process may not read
    problems: tuple[str, ...]

    @property
    def not_read(self) -> tuple[str, ...]:
        """What this view lacks, one sentence each (the CLI prints them; a partial answer says so)."""
        skipped = []  # processes that ended while being read lack nothing: they are gone
        if self.skipped_unreadable:
            skipped.append(f"Not read: {self.skipped_unreadable} /proc entries this user may not read (run as root).")
        return tuple(f"{p[0].upper()}{p[1:]}." if not p.endswith(".") else p for p in self.problems) + tuple(skipped)

    def holding(self, port: int, proto: str | None = None) -> tuple[PortSocket, ...]:
        """The seed's question, "who holds port 80?": sockets bound to ``port``."""
        return tuple(s for s in self.sockets if s.port == port and proto in (None, s.proto))
