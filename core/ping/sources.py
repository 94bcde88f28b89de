"""Where a probe is sent from: the host, a container, or a named network namespace (a lab host), each turned
into the namespace file to open sockets in and the directories whose ``hosts``/``resolv.conf`` it reads."""

from __future__ import annotations

import os
from dataclasses import dataclass

from netcon.core.context import NETNS_RUN_DIR, HostContext, resolve_netns
from netcon.core.docker_api import docker_call
from netcon.core.errors import NetconError, NotFound, UsageError
from netcon.core.model import Container
from netcon.core.netns import OWN_NETNS, netns_inode, proc_netns
from netcon.core.validate import values


@dataclass(frozen=True)
class Source:
    """A namespace probes leave from, and how names are looked up there."""

    kind: str  # "host", "container", "netns"
    name: str
    netns: str | None  # namespace file; None: netcon's own namespace
    netns_key: int  # inode of the namespace: probes from one namespace share one socket
    etc: tuple[str, ...]  # directories searched in order for hosts and resolv.conf
    networks: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "the host" if self.kind == "host" else f"{self.kind} {self.name}"


def host_source(ctx: HostContext) -> Source:
    """The host netcon looks at: our own namespace, or ``--netns`` (a lab host) with ``ip netns``' /etc overlay."""
    if ctx.netns is None:
        return Source("host", "host", None, netns_inode(OWN_NETNS), ("/etc",))
    return netns_source(ctx.netns)


def netns_source(name_or_path: str) -> Source:
    path = resolve_netns(name_or_path) or OWN_NETNS
    name = os.path.basename(path)
    overlay = os.path.join("/etc/netns", name)  # what `ip netns exec NAME` bind-mounts over /etc
    etc = (overlay, "/etc") if os.path.dirname(path) == NETNS_RUN_DIR and os.path.isdir(overlay) else ("/etc",)
    return Source("netns", name, path, netns_inode(path), etc)


def check_container(name: str, state: str, mode: str, pid: int | None) -> int:
    """Refuse, in one sentence, a container probes cannot usefully leave from; its pid otherwise."""
    if state != "running" or not pid:
        raise UsageError(f"Container {name} is not running ({state}); start it to ping from it.", target=name)
    if mode == "host":
        raise UsageError(
            f"Container {name} uses the host's network (network mode host): ping from the host instead (--from host).",
            target=name,
        )
    if mode == "none":
        raise UsageError(
            f"Container {name} has network mode none: its namespace holds only loopback, so it can "
            f"reach nothing but itself.",
            target=name,
        )
    return pid


def _container(name: str, pid: int, networks: tuple[str, ...]) -> Source:
    path = proc_netns(pid)
    try:
        key = netns_inode(path)
    except OSError as error:
        raise NetconError(f"Container {name} stopped while its namespace was being opened.", target=name) from error
    return Source("container", name, path, key, (f"/proc/{pid}/root/etc",), networks)


def container_source(ctx: HostContext, ref: str) -> Source:
    """A container by name or id, through one inspect call."""
    try:
        info = docker_call(ctx, f"inspect container {ref}", lambda a: a.inspect_container(ref))
    except NotFound:
        raise NotFound(f"No container named {ref!r} on this host.", target=ref) from None
    name = info["Name"].lstrip("/")
    state = info.get("State") or {}
    mode = (info.get("HostConfig") or {}).get("NetworkMode") or ""
    pid = check_container(
        name, state.get("Status") or "unknown", mode, state.get("Pid") if state.get("Running") else None
    )
    networks = tuple(sorted((info.get("NetworkSettings") or {}).get("Networks") or {}))
    return _container(name, pid, networks)


def snapshot_source(c: Container) -> Source:
    """A container as the snapshot shows it (the matrix has the snapshot already)."""
    mode = "host" if c.network_mode == "host" else "none" if c.network_mode == "none" else c.network_mode
    return _container(c.name, check_container(c.name, c.state, mode, c.pid), c.networks)


def find_source(ctx: HostContext, spec: str) -> Source:
    """``--from`` value: ``host``, ``netns:NAME|PATH``, a namespace path, or a container name or id (a name with
    no such container but a ``/var/run/netns/NAME`` is that lab host)."""
    spec = values.text(spec, "source", "Source (--from)")
    if spec == "host":
        return host_source(ctx)
    if spec.startswith("netns:"):
        return netns_source(spec.split(":", 1)[1])
    if spec.startswith("/"):
        return netns_source(spec)
    try:
        return container_source(ctx, spec)
    except NotFound:
        if os.path.exists(os.path.join(NETNS_RUN_DIR, spec)):
            return netns_source(spec)
        raise NotFound(f"No container and no network namespace named {spec!r} on this host.", target=spec) from None
