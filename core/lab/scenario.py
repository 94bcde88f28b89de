"""The seed's single-host walk-through, built on lab host 1 with the core's own operations."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import docker

from netcon.core.container_ops import run_container
from netcon.core.context import HostContext
from netcon.core.docker_api import docker_call
from netcon.core.network_ops import create_network

LAB_LABEL = "netcon.lab"
APP_NETWORK = "app"


@dataclass(frozen=True)
class Planned:
    name: str
    network: str
    command: tuple[str, ...] = ("sleep", "2147483647")


# user network `app` with app1/app2; an nginx-like httpd in host mode on port 80; busybox on the default bridge
# with busybox-1/-2 sharing its netns; busybox-3 with no network.
SEED = (
    Planned("app1", APP_NETWORK),
    Planned("app2", APP_NETWORK),
    Planned("nginx", "host", ("httpd", "-f", "-p", "80", "-h", "/var/www")),
    Planned("busybox", "bridge"),
    Planned("busybox-1", "container:busybox"),
    Planned("busybox-2", "container:busybox"),
    Planned("busybox-3", "none"),
)


def _start(api: docker.APIClient, container_id: str) -> None:
    api.start(container_id)


def ensure_seed(ctx: HostContext, prefix: str) -> list[str]:
    """Create what is missing of the seed scene (start what is stopped); the names of what was made."""
    labels = {LAB_LABEL: prefix}
    made = []
    networks = {n["Name"] for n in docker_call(ctx, "list networks", lambda a: a.networks())}
    if APP_NETWORK not in networks:
        create_network(ctx, APP_NETWORK, labels=labels)
        made.append(APP_NETWORK)
    existing = {
        c["Names"][0].lstrip("/"): c for c in docker_call(ctx, "list containers", lambda a: a.containers(all=True))
    }
    for planned in SEED:
        found = existing.get(planned.name)
        if found is None:
            run_container(ctx, planned.name, network=planned.network, command=planned.command, labels=labels)
            made.append(planned.name)
        elif found["State"] != "running":
            docker_call(ctx, f"start container {planned.name}", partial(_start, container_id=found["Id"]))
            made.append(planned.name)
    return made


def ensure_probe(ctx: HostContext, prefix: str, name: str) -> None:
    """One container on the default bridge for cross-host pings (the flannel half of the seed)."""
    labels = {LAB_LABEL: prefix}
    existing = {
        c["Names"][0].lstrip("/"): c for c in docker_call(ctx, "list containers", lambda a: a.containers(all=True))
    }
    if name not in existing:
        run_container(ctx, name, network="bridge", labels=labels)
    elif existing[name]["State"] != "running":
        docker_call(ctx, f"start container {name}", lambda a: a.start(existing[name]["Id"]))
