"""What a capture TARGET names, resolved against the snapshot into interfaces and the namespaces they live in.

``IFNAME`` an interface of the host netcon looks at; ``container:REF`` every interface but ``lo`` in the
container's namespace (also for ``container:``-mode containers, which share their owner's); ``veth:NAME`` a
host-side veth by name, or ``veth:REF`` the host-side veths of a container; ``bridge:NAME`` a Linux bridge,
or the bridge of Docker network REF; ``netns:NAME|PATH`` every interface but ``lo`` in a named namespace
(a lab host); ``flannel`` the host's flannel VXLAN device(s). A reference that fits several containers or
networks is refused with their ids (``core.refs.pick``); a target that names nothing is one sentence.
"""

from __future__ import annotations

import os
import socket

from netcon.core.capture.ring import Endpoint
from netcon.core.context import HostContext, resolve_netns
from netcon.core.errors import NetconError, UsageError
from netcon.core.model import Container, Snapshot
from netcon.core.netns import netns_inode, proc_netns, run_in_netns
from netcon.core.validate import values

KINDS = ("container", "veth", "bridge", "netns")
FLANNEL_PREFIX = "flannel."


def host_label(ctx: HostContext) -> str:
    """How output names the namespace netcon looks at: "host", or the ``--netns`` name (a lab host)."""
    return "host" if ctx.netns is None else os.path.basename(ctx.netns)


def resolve(ctx: HostContext, snapshot: Snapshot, target: str) -> tuple[Endpoint, ...]:
    """The interfaces ``target`` names (one or more), or NetconError naming what was not found."""
    given = values.text(target, "target", "Capture target")
    kind, colon, ref = given.partition(":")
    if colon and kind in KINDS:
        ref = values.text(ref, "target", f"The name after {kind}:")
        if kind == "container":
            return _container(snapshot, ref)
        if kind == "veth":
            return _veth(ctx, snapshot, ref)
        if kind == "bridge":
            return _bridge(ctx, snapshot, ref)
        return _netns(ref)
    if given == "flannel":
        return _flannel(ctx, snapshot)
    ifname = values.interface_name(given, "target", "Capture target")
    if not any(i.ifname == ifname for i in snapshot.interfaces):
        hint = " (for a container, write container:NAME)" if _container_named(snapshot, ifname) else ""
        raise NetconError(f"No interface {ifname} on {host_label(ctx)}{hint}.", target=ifname)
    return (Endpoint(ifname, ctx.netns, host_label(ctx)),)


def resolve_all(ctx: HostContext, snapshot: Snapshot, targets: list[str]) -> tuple[Endpoint, ...]:
    """Every target's interfaces, in the order given, each interface once."""
    found: dict[Endpoint, None] = {}
    for target in targets:
        found.update(dict.fromkeys(resolve(ctx, snapshot, target)))
    return tuple(found)


def _container_named(snapshot: Snapshot, ref: str) -> Container | None:
    try:
        return snapshot.container(ref)
    except UsageError:
        return None


def _find_container(snapshot: Snapshot, ref: str) -> Container:
    container = snapshot.container(ref, "target")
    if container is None:
        docker = f" (Docker could not be read: {snapshot.docker_error})" if snapshot.docker_error else ""
        raise NetconError(f"No container named {ref} on this host{docker}.", target=ref)
    return container


def _container(snapshot: Snapshot, ref: str) -> tuple[Endpoint, ...]:
    c = _find_container(snapshot, ref)
    if c.state != "running" or not c.pid:
        raise NetconError(
            f"Container {c.name} is not running ({c.state}): it has no network namespace to capture in.",
            target=ref,
        )
    if c.network_mode == "host":
        raise NetconError(
            f"Container {c.name} uses the host's network (network mode host): capture on a host interface instead.",
            target=ref,
        )
    if c.problem or c.netns_inode is None:
        raise NetconError(f"Container {c.name}: {c.problem or 'its network namespace could not be read'}.", target=ref)
    path = proc_netns(c.pid)
    try:
        if netns_inode(path) != c.netns_inode:
            raise FileNotFoundError
    except OSError:
        raise NetconError(f"Container {c.name} stopped or restarted since the host was read.", target=ref) from None
    names = [i.ifname for i in c.interfaces if i.kind != "loopback" and i.ifname != "lo"]
    if not names:
        why = " (network mode none)" if c.network_mode == "none" else ""
        raise NetconError(
            f"Container {c.name} has only lo in its network namespace{why}: there is no traffic to capture.",
            target=ref,
        )
    label = f"container {c.netns_owner or c.name}"
    return tuple(Endpoint(name, path, label) for name in sorted(names))


def _veth(ctx: HostContext, snapshot: Snapshot, ref: str) -> tuple[Endpoint, ...]:
    by_name = [v for v in snapshot.veths if v.ifname == ref]
    if not by_name:
        c = snapshot.container(ref, "target")  # refuses an ambiguous name with the matching ids
        if c is None:
            raise NetconError(f"No veth and no container named {ref} on {host_label(ctx)}.", target=ref)
        same_netns = {x.id for x in snapshot.containers if c.netns_inode and x.netns_inode == c.netns_inode}
        by_name = [v for v in snapshot.veths if v.container_id and v.container_id in (same_netns or {c.id})]
        if not by_name:
            raise NetconError(
                f"Container {c.name} has no veth on {host_label(ctx)} ({c.state}, network mode {c.network_mode}).",
                target=ref,
            )
    return tuple(Endpoint(v.ifname, ctx.netns, host_label(ctx)) for v in by_name)


def _bridge(ctx: HostContext, snapshot: Snapshot, ref: str) -> tuple[Endpoint, ...]:
    bridge = next((b.name for b in snapshot.bridges if b.name == ref), None)
    if bridge is None:
        network = snapshot.network(ref, "target")
        if network is None:
            raise NetconError(f"No bridge and no Docker network named {ref} on {host_label(ctx)}.", target=ref)
        if network.bridge is None or not any(b.name == network.bridge for b in snapshot.bridges):
            raise NetconError(
                f"Docker network {network.name} has no Linux bridge here (driver {network.driver}).", target=ref
            )
        bridge = network.bridge
    return (Endpoint(bridge, ctx.netns, host_label(ctx)),)


def _netns(ref: str) -> tuple[Endpoint, ...]:
    try:
        path = resolve_netns(ref)
    except UsageError as error:
        raise NetconError(str(error), target=ref) from None
    assert path is not None
    label = os.path.basename(path)
    names = sorted(name for _index, name in run_in_netns(path, socket.if_nameindex) if name != "lo")
    if not names:
        raise NetconError(f"Network namespace {label} has only lo: there is no traffic to capture.", target=ref)
    return tuple(Endpoint(name, path, label) for name in names)


def _flannel(ctx: HostContext, snapshot: Snapshot) -> tuple[Endpoint, ...]:
    names = sorted(i.ifname for i in snapshot.interfaces if i.kind == "vxlan" and i.ifname.startswith(FLANNEL_PREFIX))
    if not names:
        raise NetconError(
            f"No flannel VXLAN device (flannel.1) on {host_label(ctx)}: flannel does not run here.", target="flannel"
        )
    return tuple(Endpoint(name, ctx.netns, host_label(ctx)) for name in names)
