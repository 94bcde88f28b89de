"""The hosts a trace can read and the namespaces on them: this host (or the ``--netns`` one), or every host of
a lab, each with its snapshot (which veth is whose, which container has which address), and per namespace
one rtnetlink socket, its links and addresses, and its iptables rules read on first use. Hosts are read in
parallel, one thread each; everything is closed by ``Hosts.close``.
"""

from __future__ import annotations

import glob
import ipaddress
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from netcon.core.context import HostContext
from netcon.core.errors import NetconError, UsageError
from netcon.core.lab import state as lab_state
from netcon.core.model import Container, Snapshot
from netcon.core.netfilter.read import read_all
from netcon.core.netfilter.rules import Ruleset
from netcon.core.netlink.rtnl import Link, Rtnl
from netcon.core.netns import proc_netns, run_in_netns
from netcon.core.refs import SHORT_ID
from netcon.core.snapshot import SnapshotCollector

T = TypeVar("T")

if TYPE_CHECKING:
    from netcon.core.trace.remote import RemoteView

LOCAL = "local"


def running_with(snapshot: Snapshot, ip: str) -> Container | None:
    """The running container (not host-mode) whose own netns holds ``ip``."""
    for c in snapshot.containers:
        if c.state == "running" and c.network_mode != "host" and not c.netns_owner and ip in c.ipv4:
            return c
    return None


class Netns:
    """One namespace on a host: its rtnetlink socket, links and addresses, and its rules (read lazily)."""

    def __init__(self, host: HostView, path: str | None, label: str, container: Container | None = None) -> None:
        self.host = host
        self.path = path
        self.label = label
        self.container = container
        self.rtnl = Rtnl(path)
        self.links = {link.index: link for link in self.rtnl.links()}
        self.addresses: dict[int, tuple[str, ...]] = {}
        for addr in self.rtnl.addresses():
            if ":" not in addr.cidr:
                self.addresses[addr.index] = (*self.addresses.get(addr.index, ()), addr.cidr)
        self._rules: Ruleset | NetconError | None = None

    @property
    def is_container(self) -> bool:
        return self.container is not None

    def link(self, index: int | None) -> Link | None:
        return self.links.get(index) if index is not None else None

    def named(self, ifname: str) -> Link | None:
        return next((link for link in self.links.values() if link.ifname == ifname), None)

    def owns(self, ip: str) -> bool:
        """``ip`` is an address of this namespace (the kernel delivers it locally)."""
        return any(c.split("/")[0] == ip for cidrs in self.addresses.values() for c in cidrs)

    def iface_for(self, ip: str) -> Link | None:
        """The interface whose subnet holds ``ip`` (where a packet from a neighbour at ``ip`` arrives)."""
        addr = ipaddress.IPv4Address(ip)
        for index, cidrs in self.addresses.items():
            if any(addr in ipaddress.IPv4Interface(c).network for c in cidrs) and index in self.links:
                return self.links[index]
        return None

    def sysctl(self, name: str) -> str | None:
        """``/proc/sys/NAME`` as this namespace sees it (None when it cannot be read)."""

        def read() -> str | None:
            try:
                with open(f"/proc/sys/{name}") as f:
                    return f.read().strip()
            except OSError:
                return None

        try:
            return run_in_netns(self.path, read)
        except NetconError:
            return None

    def ruleset(self) -> Ruleset:
        """The namespace's iptables rules (``iptables-save -c``), read once; a failure is raised each time."""
        if self._rules is None:
            try:
                self._rules = read_all(self.path)
            except NetconError as error:
                self._rules = error
        if isinstance(self._rules, NetconError):
            raise self._rules
        return self._rules

    def close(self) -> None:
        self.rtnl.close()


class HostView:
    """One host: its context, its snapshot and the namespaces opened on it so far."""

    def __init__(self, name: str, ctx: HostContext, lab_prefix: str | None = None) -> None:
        self.name = name
        self.ctx = ctx
        self.lab_prefix = lab_prefix
        self.snapshot: Snapshot = SnapshotCollector(ctx).collect()
        self.root = Netns(self, ctx.netns, name if name != LOCAL else "host")
        self._namespaces: dict[int, Netns] = {}

    def of_container(self, c: Container) -> Netns:
        """The namespace of a running container (a ``container:`` one: its owner's), opened once."""
        if c.pid is None or c.netns_inode is None:
            raise UsageError(f"Container {c.name} on {self.name} is not running ({c.state}).", target=c.name)
        if c.netns_inode not in self._namespaces:
            owner = self.container(c.netns_owner) if c.netns_owner else c
            label = f"container {(owner or c).name}"
            self._namespaces[c.netns_inode] = Netns(self, proc_netns((owner or c).pid or c.pid), label, owner or c)
        return self._namespaces[c.netns_inode]

    def namespaces(self) -> list[Netns]:
        return [self.root, *self._namespaces.values()]

    def container(self, name: str | None) -> Container | None:
        return next((c for c in self.snapshot.containers if c.name == name), None) if name else None

    def container_with(self, ip: str) -> Container | None:
        """The running container (not host-mode) whose own netns holds ``ip``."""
        return running_with(self.snapshot, ip)

    def close(self) -> None:
        self.root.close()
        for ns in self._namespaces.values():
            ns.close()


@dataclass(frozen=True)
class Lab:
    prefix: str
    state: lab_state.LabState


def lab_of(ctx: HostContext, prefix: str | None) -> Lab | None:
    """The lab to read: ``prefix`` when given (it must exist), else the lab whose host ``--netns`` names."""
    if prefix is not None:
        return Lab(prefix, lab_state.require(prefix))
    if ctx.netns is None:
        return None
    for path in sorted(glob.glob(os.path.join(lab_state.LAB_ROOT, "lab-*", "state.json"))):
        name = os.path.basename(os.path.dirname(path))[len("lab-") :]
        try:
            state = lab_state.load(name)
        except (NetconError, UsageError):
            continue
        if state and any(h.netns_path == ctx.netns for h in state.hosts):
            return Lab(name, state)
    return None


def in_parallel(jobs: Sequence[Callable[[], T]]) -> tuple[list[T], list[NetconError]]:
    """Each job in a thread of its own (hosts are read at once, so a slow one delays no other): the results of
    those that worked, in order, and the errors of the others."""
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        results: list[T] = []
        errors: list[NetconError] = []
        for future in futures:
            try:
                results.append(future.result())
            except NetconError as error:
                errors.append(error)
    return results, errors


class Hosts:
    """Every host the trace reads: ``views`` in-process, ``remotes`` over SSH (their netcon walks their part).
    ``part``: one host's own part of a walk, asked for by a trace elsewhere. ``Hosts.read(ctx, lab)``; close
    when done."""

    def __init__(
        self, views: list[HostView], lab: Lab | None, remotes: tuple[RemoteView, ...] = (), part: bool = False
    ) -> None:
        self.views = views
        self.lab = lab
        self.remotes = remotes
        self.part = part

    @classmethod
    def read(cls, ctx: HostContext, lab: Lab | None, skip: frozenset[str] = frozenset()) -> Hosts:
        """This host, or every host of ``lab`` but those named in ``skip`` (read over SSH instead)."""
        if lab is None:
            return cls([HostView(LOCAL, ctx)], None)
        contexts = [
            (h.name, HostContext(docker_host=h.docker_host, netns=h.netns_path, read_only=ctx.read_only))
            for h in lab.state.hosts
            if h.name not in skip
        ]
        views, errors = in_parallel([partial(HostView, name, c, lab.prefix) for name, c in contexts])
        if errors:
            for view in views:
                view.close()
            raise errors[0]
        return cls(views, lab)

    def host(self, name: str) -> HostView | None:
        return next((h for h in self.views if h.name == name), None)

    def find_container(self, ref: str, field: str) -> tuple[HostView | RemoteView, Container] | None:
        """The container ``ref`` names on any host; a name found on several hosts is refused."""
        every: list[HostView | RemoteView] = [*self.views, *self.remotes]
        found = [(h, c) for h in every if (c := h.snapshot.container(ref, field)) is not None]
        if len(found) > 1:
            where = ", ".join(f"{c.id[:SHORT_ID]} on {h.name}" for h, c in found)
            raise UsageError(f"Container {ref} is ambiguous: {len(found)} hosts have one ({where}).", target=field)
        return found[0] if found else None

    def owner(self, ip: str) -> tuple[HostView | RemoteView, Container | None] | None:
        """Which host (and container there) holds ``ip`` as its own address."""
        every: list[HostView | RemoteView] = [*self.views, *self.remotes]
        for view in every:
            c = running_with(view.snapshot, ip)
            if c is not None:
                return view, c
        for view in self.views:
            if view.root.owns(ip):
                return view, None
        remote = self.remote_with_address(ip)
        return (remote, None) if remote is not None else None

    def host_with_address(self, ip: str) -> HostView | None:
        return next((v for v in self.views if v.root.owns(ip)), None)

    def remote_with_address(self, ip: str) -> RemoteView | None:
        return next((r for r in self.remotes if ip in r.addresses), None)

    def close(self) -> None:
        for view in self.views:
            view.close()
        for remote in self.remotes:
            remote.host.close()
