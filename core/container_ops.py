"""Running and removing containers in every network mode (bridge, user network, host, none, container:).

A run is create + start; when the start fails the created container is removed again, so a failed run
leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netcon.core import host_facts
from netcon.core.audit import mutation
from netcon.core.context import HostContext
from netcon.core.docker_api import Json, docker_call
from netcon.core.errors import NetconError, UsageError
from netcon.core.image import BUSYBOX_IMAGE
from netcon.core.locks import create_lock
from netcon.core.validate.forms import check_form

HOST_PUBLISH_WARNING = "Published ports are discarded when using host network mode"


@dataclass(frozen=True)
class ContainerRun:
    id: str
    name: str
    image: str
    network_mode: str  # as asked: bridge, <network>, host, none, container:<name>
    command: tuple[str, ...]  # empty: the image's own command, kept running on a terminal like docker run -itd
    published: tuple[str, ...]  # "8080:80/tcp"
    warnings: tuple[str, ...]  # what Docker warned about, e.g. published ports in host mode
    ipv4: tuple[str, ...]  # addresses Docker gave it (none for host, none and container: modes)


@dataclass(frozen=True)
class ContainerRemoved:
    id: str
    name: str
    was_running: bool


def _ipv4(inspected: Json) -> tuple[str, ...]:
    networks = ((inspected.get("NetworkSettings") or {}).get("Networks")) or {}
    return tuple(ep["IPAddress"] for ep in networks.values() if ep.get("IPAddress"))


@mutation("container.run", "container run {name}")
def run_container(
    ctx: HostContext,
    name: str,
    network: str = "bridge",
    image: str = BUSYBOX_IMAGE,
    publish: Sequence[str] = (),
    command: Sequence[str] = (),
    labels: Mapping[str, str] | Sequence[str] = (),
) -> ContainerRun:
    """``docker container run -itd --name NAME --network MODE [-p H:C] IMAGE [CMD]``; the name is checked and
    the container created under netcon's create lock (Docker itself refuses a second container of one name)."""
    with create_lock(ctx):
        facts = host_facts.gather(ctx)
        v = check_form(
            "container.run",
            {
                "name": name,
                "network": network,
                "image": image,
                "publish": publish,
                "command": command,
                "labels": labels,
            },
            facts,
        )
        created = _create(ctx, v)
    cid = created["Id"]
    try:
        docker_call(ctx, f"start container {v['name']}", lambda a: a.start(cid))
        inspected = docker_call(ctx, f"inspect container {v['name']}", lambda a: a.inspect_container(cid))
    except NetconError:
        docker_call(
            ctx, f"remove container {v['name']} after its failed start", lambda a: a.remove_container(cid, force=True)
        )
        raise
    warnings = list(created.get("Warnings") or ())
    if v["network"] == "host" and v["publish"] and HOST_PUBLISH_WARNING not in warnings:
        warnings.append(HOST_PUBLISH_WARNING)
    return ContainerRun(
        id=cid,
        name=v["name"],
        image=v["image"],
        network_mode=str(network).strip(),
        command=v["command"],
        published=tuple(f"{h}:{c}/{p}" for h, c, p in v["publish"]),
        warnings=tuple(warnings),
        ipv4=_ipv4(inspected),
    )


def _create(ctx: HostContext, v: dict[str, Any]) -> Json:
    """Create (not start) the container. The host config is built by hand: docker-py refuses port bindings
    with host mode, where Docker itself only warns."""
    host_config: dict[str, Any] = {"NetworkMode": v["network"]}
    if v["publish"]:
        host_config["PortBindings"] = {
            f"{cport}/{proto}": [{"HostIp": "", "HostPort": str(hport)}] for hport, cport, proto in v["publish"]
        }
    return docker_call(
        ctx,
        f"create container {v['name']}",
        lambda a: a.create_container(
            v["image"],
            command=list(v["command"]) or None,
            name=v["name"],
            detach=True,
            tty=True,
            stdin_open=True,
            labels=v["labels"] or None,
            host_config=host_config,
            ports=[(cport, proto) for _, cport, proto in v["publish"]] or None,
        ),
    )


@mutation("container.rm", "container rm {container}")
def remove_container(ctx: HostContext, container: str, force: bool = False) -> ContainerRemoved:
    """``docker container rm``; a running container needs ``force`` (it is then killed)."""
    facts = host_facts.gather(ctx)
    ref = str(container).strip()
    target = facts.container(ref)
    if target is None:
        raise UsageError(f"Container {ref} does not exist.", target="container")
    if target.running and not force:
        raise UsageError(f"Container {target.name} is running; stop it first or use --force.", target="container")
    docker_call(ctx, f"remove container {target.name}", lambda a: a.remove_container(target.id, force=force))
    return ContainerRemoved(id=target.id, name=target.name, was_running=target.running)
