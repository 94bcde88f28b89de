"""One consistent read of a host's container networking: Docker's view joined with the kernel's.

Docker gives networks, containers and their endpoints (two list calls); netlink gives links, addresses,
bridges and veths of the host, and the links inside each container's netns, which is how a host veth is
matched to its container and peer name without ``docker exec``. Containers are inspected only to learn
their pid and aliases, and that result is cached until the container restarts or changes endpoints, so a
warm snapshot costs two Docker calls plus netlink dumps. This module reads; ``core.snapshot_join`` joins.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from netcon.core.context import NETNS_RUN_DIR, HostContext
from netcon.core.docker_api import docker_call
from netcon.core.errors import NetconError, NotFound
from netcon.core.model import ContainerInterface, Snapshot
from netcon.core.netlink.rtnl import Address, Rtnl
from netcon.core.netns import OWN_NETNS, netns_inode, proc_netns, root_netns
from netcon.core.snapshot_join import Inspected, KernelRead, Namespace, Raw, assemble, docker_name, endpoints


def _starttime(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _addresses(addrs: list[Address]) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = {}
    for addr in addrs:
        out.setdefault(addr.index, []).append(addr.cidr)
    return {k: tuple(v) for k, v in out.items()}


class SnapshotCollector:
    """Collects ``Snapshot``s of one host; keep one per host so warm calls reuse its caches. Thread-safe."""

    def __init__(self, ctx: HostContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._inspected: dict[tuple[str, str | None, tuple[str, ...]], Inspected] = {}
        self._docker_version: str | None = None

    def collect(self) -> Snapshot:
        with self._lock:
            return self._collect()

    def _collect(self) -> Snapshot:
        """Docker's lists, then the kernel's view (which needs the running containers' pids), then the two
        joined into the model."""
        started = time.time()
        problems: list[str] = []
        networks_raw, containers_raw, docker_error = self._docker_lists()
        model = assemble(networks_raw, containers_raw, self._read_kernel(containers_raw, problems))
        return Snapshot(
            host=socket.gethostname() + (f" [{os.path.basename(self.ctx.netns)}]" if self.ctx.netns else ""),
            docker_version=self._docker_version,
            docker_error=docker_error,
            taken_at=started,
            networks=model.networks,
            containers=model.containers,
            bridges=model.bridges,
            veths=model.veths,
            interfaces=model.interfaces,
            problems=tuple(problems),
        )

    # -- Docker -------------------------------------------------------------------------------------------

    def _docker_lists(self) -> tuple[list[Raw], list[Raw], str | None]:
        """Networks and containers (two list calls); an engine that does not answer leaves both empty and
        its reason as the snapshot's ``docker_error``, and drops the caches tied to it."""
        try:
            if self._docker_version is None:
                self._docker_version = docker_call(
                    self.ctx, "read the engine version", lambda a: a.version().get("Version")
                )
            networks: list[Raw] = docker_call(self.ctx, "list networks", lambda a: a.networks())
            containers: list[Raw] = docker_call(self.ctx, "list containers", lambda a: a.containers(all=True))
            return networks, containers, None
        except NetconError as error:
            self._docker_version = None
            self._inspected.clear()
            return [], [], str(error)

    def _inspect(self, summary: Raw, problems: list[str]) -> Inspected | None:
        """Pid and aliases of a running container. Inspecting is the costly call, so the answer is kept
        until the container's state or endpoints change or its pid is recycled (same pid, other start time)."""
        endpoint_ids = tuple(sorted((n.get("EndpointID") or "") for n in endpoints(summary).values()))
        key = (summary["Id"], summary.get("State"), endpoint_ids)
        cached = self._inspected.get(key)
        if cached and (not cached.pid or _starttime(cached.pid) == cached.starttime):
            return cached
        try:
            info: Raw = docker_call(
                self.ctx, f"inspect container {summary['Id'][:12]}", lambda a: a.inspect_container(summary["Id"])
            )
        except NotFound:
            problems.append(f"container {docker_name(summary)} disappeared while the snapshot was taken")
            return None
        pid = (info.get("State") or {}).get("Pid") or None
        aliases = {name: tuple(ep.get("Aliases") or ()) for name, ep in endpoints(info).items()}
        result = Inspected(pid, _starttime(pid) if pid else None, aliases)
        self._inspected = {k: v for k, v in self._inspected.items() if k[0] != summary["Id"]}
        self._inspected[key] = result
        return result

    # -- kernel -------------------------------------------------------------------------------------------

    def _read_kernel(self, containers_raw: list[Raw], problems: list[str]) -> KernelRead:
        """The host's links and addresses, then each container netns and each other netns a host veth leads
        to. One host socket serves them all: it also names (netnsid) the namespaces the others live in."""
        with Rtnl(self.ctx.netns) as host:
            links, addrs = host.links(), _addresses(host.addresses())
            host_inode = netns_inode(self.ctx.netns or OWN_NETNS)
            inspected, inode_of, path_of_inode = self._running(containers_raw, host_inode, problems)
            namespaces = _container_namespaces(host, path_of_inode, problems)
            known = {ns.nsid for ns in namespaces.values()}
            unmatched = {
                link.link_netnsid for link in links if link.kind == "veth" and link.link_netnsid is not None
            } - known
            named = _named_namespaces(host, unmatched, host_inode, set(namespaces)) if unmatched else {}
        return KernelRead(links, addrs, inspected, inode_of, namespaces, named)

    def _running(
        self, containers_raw: list[Raw], host_inode: int, problems: list[str]
    ) -> tuple[dict[str, Inspected], dict[str, int], dict[int, str]]:
        """Running containers: (inspected by id, netns inode by id, one /proc path into each netns other than
        the host's). Containers sharing a netns (``container:`` mode) share its path."""
        inspected: dict[str, Inspected] = {}
        inode_of: dict[str, int] = {}
        path_of_inode: dict[int, str] = {}
        for summary in containers_raw:
            if summary.get("State") != "running":
                continue
            info = self._inspect(summary, problems)
            if info is None:
                continue
            inspected[summary["Id"]] = info
            if not info.pid:
                continue
            try:
                inode = netns_inode(proc_netns(info.pid))
            except OSError as error:
                problems.append(f"netns of {docker_name(summary)} could not be read: {error.strerror}")
                continue
            inode_of[summary["Id"]] = inode
            if inode != host_inode:
                path_of_inode.setdefault(inode, proc_netns(info.pid))
        return inspected, inode_of, path_of_inode


# -- kernel: other namespaces ---------------------------------------------------------------------------------


def _namespace(rtnl: Rtnl, inode: int, nsid: int | None) -> Namespace:
    """The links of one netns, as a container's interfaces; closes ``rtnl``."""
    with rtnl:
        links, addrs = rtnl.links(), _addresses(rtnl.addresses())
    interfaces = tuple(
        ContainerInterface(
            ifindex=link.index,
            ifname=link.ifname,
            kind=link.kind,
            mtu=link.mtu,
            state=link.state,
            mac=link.mac,
            addresses=addrs.get(link.index, ()),
            peer_ifindex=link.link if link.kind == "veth" else None,
        )
        for link in links
    )
    return Namespace(inode, nsid, interfaces)


def _container_namespaces(host: Rtnl, path_of_inode: dict[int, str], problems: list[str]) -> dict[int, Namespace]:
    """Each container netns, read through a socket opened inside it (all opened from one thread) and named
    by the id the host's netns gives it. A container that exits meanwhile is a problem, not a failure."""
    namespaces: dict[int, Namespace] = {}
    opened = Rtnl.open_many(list(path_of_inode.values()))
    for inode, path in path_of_inode.items():
        rtnl = opened[path]
        try:
            if isinstance(rtnl, BaseException):
                raise rtnl
            namespaces[inode] = _namespace(rtnl, inode, host.netnsid_of(path))
        except (FileNotFoundError, NotFound):
            problems.append(f"a container's netns ({path}) vanished while the snapshot was taken")
        except (OSError, NetconError) as error:
            problems.append(f"netns {path} could not be read: {error}")
    return namespaces


def _named_namespaces(
    host: Rtnl, nsids: set[int], host_inode: int, container_inodes: set[int]
) -> dict[int, tuple[str, Namespace]]:
    """Peers of veths that lead to no container: the root netns or one of /var/run/netns (a lab host's
    underlay link, a hand-made pair), found by the id this netns gives them."""
    candidates = {"root": root_netns()}  # netcon's own, or the one a lab host's sshd names
    if os.path.isdir(NETNS_RUN_DIR):
        candidates.update({name: os.path.join(NETNS_RUN_DIR, name) for name in sorted(os.listdir(NETNS_RUN_DIR))})
    found: dict[int, tuple[str, str]] = {}
    for label, path in candidates.items():
        try:
            inode = netns_inode(path)
            nsid = host.netnsid_of(path) if inode not in container_inodes | {host_inode} else None
        except (OSError, NetconError):
            continue
        if nsid is not None and nsid in nsids and nsid not in found:
            found[nsid] = (label, path)
    opened = Rtnl.open_many([path for _, path in found.values()])
    named = {}
    for nsid, (label, path) in found.items():
        rtnl = opened[path]
        if not isinstance(rtnl, BaseException):
            named[nsid] = (label, _namespace(rtnl, netns_inode(path), nsid))
    return named


# -- the join -----------------------------------------------------------------------------------------------


def collect(ctx: HostContext) -> Snapshot:
    """A cold snapshot (no caches); long-lived callers keep a ``SnapshotCollector`` instead."""
    return SnapshotCollector(ctx).collect()
