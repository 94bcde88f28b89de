"""A throwaway lab whose hosts each run sshd (``lab up --ssh``), for the cluster benchmarks: built with a unique
prefix and removed on the way out, also on failure, Ctrl-C or SIGTERM; and containers added to its hosts."""

from __future__ import annotations

import contextlib
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import docker
import psutil

from netcon.core.context import HostContext
from netcon.core.image import BUSYBOX_IMAGE
from netcon.core.lab import lab
from netcon.core.lab import state as lab_state

LABEL = "netcon.bench"


def free_mb() -> int:
    """Memory in use on the machine (``free -m``'s used column: total - available)."""
    memory = psutil.virtual_memory()
    return (memory.total - memory.available) >> 20


def interrupted(signum: int, frame: object) -> None:
    """SIGTERM ends the run as Ctrl-C does, through the ``finally`` that removes the lab."""
    raise KeyboardInterrupt


@contextlib.contextmanager
def throwaway_lab(hosts: int, existing: str | None) -> Iterator[lab_state.LabState]:
    """The lab to measure: ``existing`` as it is, or a new one with sshd, removed on the way out (Ctrl-C and
    SIGTERM included)."""
    if existing:
        yield lab_state.require(existing)
        return
    prefix = f"bc{uuid.uuid4().hex[:5]}"
    previous = signal.signal(signal.SIGTERM, interrupted)
    before = free_mb()
    t0 = time.perf_counter()
    try:
        state = lab.up(HostContext(), prefix, hosts=hosts, ssh=True)
        print(f"lab {prefix}: {hosts} hosts with sshd up in {time.perf_counter() - t0:.1f} s", flush=True)
        time.sleep(3)  # the daemons' start-up work settles before memory is read
        print(
            f"memory: the lab's processes {lab_memory(state)}; the machine's used memory grew {free_mb() - before} MB "
            "(other people's processes move it too)",
            flush=True,
        )
        yield state
    finally:
        lab.down(HostContext(), prefix)
        signal.signal(signal.SIGTERM, previous)
        print(f"lab {prefix} removed", flush=True)


def lab_memory(state: lab_state.LabState) -> str:
    """The lab's processes' memory (found by their cmdlines naming the lab's directory): PSS, each shared page
    counted once across them, in all and by kind (dockerd, containerd, sshd, flannel agent...)."""
    totals: dict[str, int] = {}
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        if state.directory not in cmdline:
            continue
        with contextlib.suppress(psutil.Error):
            kind = "flannel-agent" if "flannel" in cmdline and "agent" in cmdline else proc.info["name"]
            totals[kind] = totals.get(kind, 0) + proc.memory_full_info().pss
    kinds = ", ".join(f"{k} {v >> 20}" for k, v in sorted(totals.items()))
    return f"PSS {sum(totals.values()) >> 20} MB: {kinds}"


def add_containers(state: lab_state.LabState, per_host: int, tag: str) -> None:
    """``per_host`` sleeping busybox containers on each host, besides what the lab runs there."""

    def fill(host: lab_state.LabHost) -> None:
        client = docker.DockerClient(base_url=host.docker_host, timeout=120)
        for i in range(per_host):
            client.containers.run(
                BUSYBOX_IMAGE, ["sleep", "86400"], name=f"{tag}-{host.name}-c{i}", detach=True, labels={LABEL: tag}
            )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(fill, state.hosts))


def remove_containers(state: lab_state.LabState, tag: str) -> None:
    for host in state.hosts:
        with contextlib.suppress(docker.errors.DockerException):
            client = docker.DockerClient(base_url=host.docker_host, timeout=60)
            for found in client.api.containers(all=True, filters={"label": f"{LABEL}={tag}"}):
                client.api.remove_container(found["Id"], force=True)
            for net in client.api.networks(filters={"label": f"{LABEL}={tag}"}):
                client.api.remove_network(net["Id"])
