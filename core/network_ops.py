"""Docker network changes: create, remove, connect, disconnect — validated against the host first, so bad
input is refused before Docker is asked and a refusal leaves nothing half-made."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import docker.types

from netcon.core import host_facts
from netcon.core.audit import mutation
from netcon.core.context import HostContext
from netcon.core.docker_api import Json, docker_call
from netcon.core.errors import DockerRefused, NetconError, NotFound, UsageError
from netcon.core.host_facts import PREDEFINED_NETWORKS, ContainerFact
from netcon.core.locks import create_lock
from netcon.core.validate.forms import check_form

KeyValues = Mapping[str, str] | Sequence[str]


@dataclass(frozen=True)
class NetworkCreated:
    id: str
    name: str
    driver: str
    subnet: str | None
    gateway: str | None
    ip_range: str | None
    internal: bool
    attachable: bool
    labels: tuple[tuple[str, str], ...]
    options: tuple[tuple[str, str], ...]
    warning: str | None  # what Docker said besides creating it


@dataclass(frozen=True)
class NetworkRemoved:
    id: str
    name: str
    disconnected: tuple[str, ...]  # containers disconnected first (with force)


@dataclass(frozen=True)
class Connected:
    network: str
    container: str
    ip: str | None  # the address Docker gave the container on the network
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Disconnected:
    network: str
    container: str


SWARM_HINT = (
    "overlay networks span hosts and need swarm mode, and this engine is not a swarm manager "
    "(docker swarm init makes it one)"
)


@mutation("network.create", "network create {name}")
def create_network(
    ctx: HostContext,
    name: str,
    driver: str = "bridge",
    subnet: str | None = None,
    gateway: str | None = None,
    ip_range: str | None = None,
    internal: bool = False,
    attachable: bool = False,
    labels: KeyValues = (),
    options: KeyValues = (),
) -> NetworkCreated:
    """``docker network create``, under netcon's create lock, and checked afterwards: a network of the same name
    made meanwhile by someone else (Docker does not refuse it) makes netcon remove its own again."""
    with create_lock(ctx):
        facts = host_facts.gather(ctx)
        v = check_form(
            "network.create",
            {
                "name": name,
                "driver": driver,
                "subnet": subnet,
                "gateway": gateway,
                "ip_range": ip_range,
                "labels": labels,
                "options": options,
            },
            facts,
        )
        created = _create(ctx, v, internal, attachable)
        _keep_if_unique(ctx, v["name"], created["Id"])
    return NetworkCreated(
        id=created["Id"],
        name=v["name"],
        driver=v["driver"],
        subnet=_str(v["subnet"]),
        gateway=_str(v["gateway"]),
        ip_range=_str(v["ip_range"]),
        internal=internal,
        attachable=attachable,
        labels=tuple(sorted(v["labels"].items())),
        options=tuple(sorted(v["options"].items())),
        warning=created.get("Warning") or None,
    )


def _connect(
    api: docker.APIClient, container_id: str, network_id: str, ip: str | None, aliases: list[str] | None
) -> None:
    api.connect_container_to_network(container_id, network_id, ipv4_address=ip, aliases=aliases)


def _create(ctx: HostContext, v: dict[str, Any], internal: bool, attachable: bool) -> Json:
    """The Docker call itself, with Docker's refusals translated for the two cases users meet."""
    ipam = None
    if v["subnet"] is not None:
        pool = docker.types.IPAMPool(
            subnet=str(v["subnet"]),
            gateway=str(v["gateway"]) if v["gateway"] else None,
            iprange=str(v["ip_range"]) if v["ip_range"] else None,
        )
        ipam = docker.types.IPAMConfig(pool_configs=[pool])
    what = f"create network {v['name']}"
    try:
        return docker_call(
            ctx,
            what,
            lambda a: a.create_network(
                v["name"],
                driver=v["driver"],
                options=v["options"] or None,
                ipam=ipam,
                check_duplicate=True,
                internal=internal,
                labels=v["labels"] or None,
                attachable=attachable,
            ),
        )
    except DockerRefused as error:
        if v["driver"] == "overlay" and "swarm" in str(error):
            raise DockerRefused(
                f"Docker refused to create overlay network {v['name']} ({_docker_reason(error)}): {SWARM_HINT}.",
                target=what,
            ) from error
        raise
    except NotFound as error:
        raise UsageError(
            f"Driver {v['driver']} is not available on this engine ({_docker_reason(error)}).", target="driver"
        ) from error


def _keep_if_unique(ctx: HostContext, name: str, created_id: str) -> None:
    """Remove the network just made when another one has its name (the other creator wins)."""
    listed = docker_call(ctx, f"list networks named {name}", lambda a: a.networks(names=[name]))
    others = sorted(n["Id"] for n in listed if n.get("Name") == name and n["Id"] != created_id)
    if not others:
        return
    docker_call(ctx, f"remove the duplicate network {name}", lambda a: a.remove_network(created_id))
    raise DockerRefused(
        f"Network name {name} was taken by another creator at the same moment (network {others[0][:12]}); "
        f"netcon removed the network it had just made ({created_id[:12]}), so the name stays unique.",
        target="name",
    )


def _docker_reason(error: NetconError) -> str:
    """Docker's own words, without the request name docker_call put in front."""
    explanation = getattr(error.__cause__, "explanation", None) or str(error)
    return str(explanation).strip().rstrip(".")


def _str(value: object) -> str | None:
    return str(value) if value is not None else None


@mutation("network.rm", "network rm {network}")
def remove_network(ctx: HostContext, network: str, force: bool = False) -> NetworkRemoved:
    """``docker network rm``; with ``force`` the attached containers are disconnected first, and reconnected
    (same address and aliases) if the removal then fails."""
    facts = host_facts.gather(ctx)
    ref = str(network).strip()
    net = facts.network(ref)
    if net is None:
        raise UsageError(f"Network {ref} does not exist.", target="network")
    if net.name in PREDEFINED_NETWORKS:
        raise UsageError(f"Network {net.name} is predefined by Docker and cannot be removed.", target="network")
    attached = facts.attached(net)
    if attached and not force:
        names = ", ".join(c.name for c in attached)
        raise UsageError(
            f"Network {net.name} still has containers attached ({names}); disconnect them or use "
            "--force to disconnect them first.",
            target="network",
        )
    done: list[tuple[ContainerFact, Json]] = []
    try:
        for container in attached:
            endpoint = _endpoint(ctx, container.id, net.id)
            docker_call(
                ctx,
                f"disconnect {container.name} from {net.name}",
                partial(_disconnect, container_id=container.id, network_id=net.id),
            )
            done.append((container, endpoint))
        docker_call(ctx, f"remove network {net.name}", lambda a: a.remove_network(net.id))
    except NetconError as error:
        restored = _reconnect(ctx, net.id, done)
        if done:
            raise type(error)(
                f"{error} Reconnected {', '.join(restored) or 'none'} of the "
                f"{len(done)} containers disconnected before.",
                target=error.target,
            ) from error
        raise
    return NetworkRemoved(id=net.id, name=net.name, disconnected=tuple(c.name for c, _ in done))


def _disconnect(api: docker.APIClient, container_id: str, network_id: str) -> None:
    api.disconnect_container_from_network(container_id, network_id, force=True)


def _endpoint(ctx: HostContext, container_id: str, network_id: str) -> Json:
    """The container's endpoint settings on the network (to reconnect it as it was)."""
    inspected = docker_call(ctx, "inspect container", lambda a: a.inspect_container(container_id))
    for settings in ((inspected.get("NetworkSettings") or {}).get("Networks") or {}).values():
        if settings.get("NetworkID") == network_id:
            return dict(settings)
    return {}


def _reconnect(ctx: HostContext, network_id: str, done: list[tuple[ContainerFact, Json]]) -> list[str]:
    restored = []
    for container, endpoint in done:
        config = endpoint.get("IPAMConfig") or {}
        # Docker adds the short id as an alias by itself; pass only the user's.
        aliases = [a for a in endpoint.get("Aliases") or () if not container.id.startswith(a)] or None
        ip = config.get("IPv4Address") or None
        try:
            docker_call(
                ctx,
                f"reconnect {container.name}",
                partial(_connect, container_id=container.id, network_id=network_id, ip=ip, aliases=aliases),
            )
            restored.append(container.name)
        except NetconError:
            continue
    return restored


@mutation("network.connect", "network connect {container} to {network}")
def connect(
    ctx: HostContext, network: str, container: str, ip: str | None = None, aliases: Sequence[str] = ()
) -> Connected:
    """``docker network connect``: refused up front for host/none/container: mode containers, for the host
    and none networks, and for an address outside the subnet or already in use."""
    facts = host_facts.gather(ctx)
    v = check_form("network.connect", {"network": network, "container": container, "ip": ip, "aliases": aliases}, facts)
    net, target = v["network"], v["container"]
    docker_call(
        ctx,
        f"connect {target.name} to {net.name}",
        lambda a: a.connect_container_to_network(
            target.id, net.id, ipv4_address=str(v["ip"]) if v["ip"] else None, aliases=list(v["aliases"]) or None
        ),
    )
    endpoint = _endpoint(ctx, target.id, net.id)
    return Connected(
        network=net.name, container=target.name, ip=endpoint.get("IPAddress") or _str(v["ip"]), aliases=v["aliases"]
    )


@mutation("network.disconnect", "network disconnect {container} from {network}")
def disconnect(ctx: HostContext, network: str, container: str, force: bool = False) -> Disconnected:
    """``docker network disconnect`` (``force`` as Docker's: also when the container is not running)."""
    facts = host_facts.gather(ctx)
    v = check_form("network.disconnect", {"network": network, "container": container}, facts)
    net, target = v["network"], v["container"]
    docker_call(
        ctx,
        f"disconnect {target.name} from {net.name}",
        lambda a: a.disconnect_container_from_network(target.id, net.id, force=force),
    )
    return Disconnected(network=net.name, container=target.name)
