"""A throwaway fleet of busybox containers over user networks, for the benchmarks; always removed."""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker

from netcon.core.context import HostContext
from netcon.core.image import BUSYBOX_IMAGE, ensure_busybox

LABEL = "netcon.bench"


@contextlib.contextmanager
def fleet(n: int, per_network: int = 10):
    """Yield (client, containers, networks): ``n`` running containers over ``ceil(n/per_network)`` networks."""
    ensure_busybox(HostContext())
    client = docker.from_env(timeout=120)
    prefix = f"ncb{uuid.uuid4().hex[:6]}"
    labels = {LABEL: prefix}
    try:
        nets = [client.networks.create(f"{prefix}-n{i}", labels=labels) for i in range(max(1, -(-n // per_network)))]

        def start(i: int):
            return client.containers.run(
                BUSYBOX_IMAGE,
                ["sleep", "86400"],
                name=f"{prefix}-c{i}",
                detach=True,
                labels=labels,
                network=nets[i // per_network].name,
            )

        with ThreadPoolExecutor(4) as pool:
            containers = list(pool.map(start, range(n)))
        yield client, containers, nets
    finally:
        cleanup(client, prefix)


def cleanup(client: docker.DockerClient, prefix: str) -> None:
    found = client.api.containers(all=True, filters={"label": f"{LABEL}={prefix}"})
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda c: client.api.remove_container(c["Id"], force=True), found))
    for net in client.api.networks(filters={"label": f"{LABEL}={prefix}"}):
        client.api.remove_network(net["Id"])
