"""Who holds which port: every listening socket on the host and in every container, with its process and its
container; the ports Docker publishes and what serves them; and host ports wanted twice.

The seed answers "who holds port 80?" with ``netstat -lntup`` (nginx) and ``ps -axf`` (its parent is a
``containerd-shim``, so it is a container). Here: sockets come from sock_diag once per network namespace
(``core.netlink.sockdiag``; /proc tables if the kernel lacks it), their processes from one pass over ``/proc/*/fd``
(``core.procfs``); the container from the process's cgroup, else
its ``containerd-shim`` ancestor, else the namespace it lives in (which is how a socket of a container
without a process of its own, or of a process we may not read, still has a container). Published ports come
from Docker's container list (``Ports``) and, for host-mode and stopped containers, from their
``HostConfig.PortBindings`` (read once per container: bindings never change after creation).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.docker_api import docker_call
from netcon.core.errors import NetconError, NetlinkFailure, NotFound
from netcon.core.model import Snapshot
from netcon.core.netlink.sockdiag import listening_sockets
from netcon.core.netns import OWN_NETNS, netns_inode, proc_netns, run_in_each_netns, run_in_netns
from netcon.core.ports.conflicts import comparable_ip, conflicts
from netcon.core.ports.model import PortSocket, PortsView, Published, WantedPort
from netcon.core.procfs import (
    ProcessInfo,
    RawSocket,
    Skipped,
    ancestry,
    cgroup_container_ids,
    process_info,
    shim_container_id,
    socket_owners,
)
from netcon.core.procfs import listening_sockets as proc_listening_sockets
from netcon.core.snapshot import SnapshotCollector
from netcon.core.snapshot_join import Raw, docker_name

DOCKER_PROXY = "docker-proxy"
_PublishedRaw = tuple[str, str, int, str, str, int]  # proto, host ip, host port, container id and name, its port
_Attribution = tuple[str | None, str | None]  # container id, and how it was found (cgroup, containerd-shim, ...)


def _owner_pid(pids: list[int], infos: dict[int, ProcessInfo]) -> list[int]:
    """Holders ordered owner first: the one whose parent does not hold the socket (nginx master), then pid."""
    held = set(pids)
    return sorted(pids, key=lambda p: (p in infos and infos[p].ppid in held, p))


def _sockets_here() -> list[RawSocket] | NetlinkFailure:
    """sock_diag in the calling thread's netns; its failure is returned, not raised, to tell a refused dump
    (read /proc instead) from a namespace that could not be entered."""
    try:
        return listening_sockets()
    except NetlinkFailure as error:
        return error


def _proc_sockets(path: str | None) -> list[RawSocket]:
    """The /proc tables of the netns at ``path`` (None: ours), for kernels without sock_diag."""
    if path is None:
        return proc_listening_sockets("/proc/self/net")
    if path.startswith("/proc/"):
        return proc_listening_sockets(path.rsplit("/ns/", 1)[0] + "/net")
    return run_in_netns(path, lambda: proc_listening_sockets("/proc/thread-self/net"))


class PortsCollector:
    """Collects ``PortsView``s of one host; keep one so warm calls reuse the snapshot's and its own caches."""

    def __init__(self, ctx: HostContext, snapshots: SnapshotCollector | None = None) -> None:
        self.ctx = ctx
        self.snapshots = snapshots or SnapshotCollector(ctx)
        self._lock = threading.Lock()
        self._bindings: dict[str, tuple[tuple[str, str, int, int], ...]] = {}  # id -> (proto, ip, port, cport)

    def collect(self, snapshot: Snapshot | None = None) -> PortsView:
        """A fresh view; pass a ``snapshot`` just taken to avoid taking another. Docker's container list and
        the pass over every process's fds do not need the snapshot, so they run beside it (all three mostly
        wait on the kernel or the engine)."""
        with self._lock, ThreadPoolExecutor(2, thread_name_prefix="ports") as pool:
            started = time.time()
            fd_skipped = Skipped()
            listing = pool.submit(self._list_containers)
            owners = pool.submit(socket_owners, fd_skipped)
            snap = snapshot or self.snapshots.collect()
            return self._collect(snap, started, listing.result(), owners.result(), fd_skipped)

    # -- Docker -------------------------------------------------------------------------------------------

    def _port_bindings(self, cid: str) -> tuple[tuple[str, str, int, int], ...]:
        if cid not in self._bindings:
            info: Raw = docker_call(self.ctx, f"inspect container {cid[:12]}", lambda a: a.inspect_container(cid))
            out = []
            for spec, binds in ((info.get("HostConfig") or {}).get("PortBindings") or {}).items():
                cport, _, proto = spec.partition("/")
                for bind in binds or ():
                    host_port = (bind.get("HostPort") or "").split("-")[0]
                    out.append((proto or "tcp", bind.get("HostIp") or "", int(host_port or 0), int(cport)))
            self._bindings[cid] = tuple(out)
        return self._bindings[cid]

    def _list_containers(self) -> list[Raw] | NetconError:
        try:
            containers: list[Raw] = docker_call(self.ctx, "list containers", lambda a: a.containers(all=True))
        except NetconError as error:
            return error
        return containers

    def _docker_ports(
        self, snap: Snapshot, summaries: list[Raw] | NetconError, problems: list[str]
    ) -> tuple[list[_PublishedRaw], list[WantedPort]]:
        """(published as (proto, ip, port, cid, name, cport) from the list, wanted ports from bindings)."""
        if snap.docker_error:
            problems.append(
                f"Docker not read, so containers' published and wanted ports are missing: {snap.docker_error}"
            )
            return [], []
        if isinstance(summaries, NetconError):
            problems.append(str(summaries))
            return [], []
        published: list[_PublishedRaw] = []
        wanted: list[WantedPort] = []
        mode = {c.id: c.network_mode for c in snap.containers}
        live = set()
        for c in summaries:
            cid, name, state = c["Id"], docker_name(c), c.get("State") or ""
            live.add(cid)
            for p in c.get("Ports") or ():
                if p.get("PublicPort"):
                    published.append(
                        (p.get("Type") or "tcp", p.get("IP") or "0.0.0.0", p["PublicPort"], cid, name, p["PrivatePort"])
                    )
            host_mode = mode.get(cid) == "host" or (c.get("HostConfig") or {}).get("NetworkMode") == "host"
            if state == "running" and not host_mode:
                continue
            try:
                bindings = self._port_bindings(cid)
            except NotFound:
                continue  # removed since the list: it wants nothing any more
            except NetconError as error:
                problems.append(str(error))
                continue
            reason = "host network: Docker discarded it" if host_mode else f"container is {state}"
            wanted.extend(
                WantedPort(proto, ip, port, cid, name, cport, reason, host_mode) for proto, ip, port, cport in bindings
            )
        self._bindings = {k: v for k, v in self._bindings.items() if k in live}
        return published, wanted

    # -- kernel -------------------------------------------------------------------------------------------

    def _namespaces(
        self, snap: Snapshot, host_inode: int, skipped: Skipped, problems: list[str]
    ) -> dict[int, list[RawSocket]]:
        """Listening sockets per netns inode: the host's, and each distinct container namespace's."""
        found: dict[int, list[RawSocket]] = {}
        pending: dict[int, list[str]] = {}  # netns inode -> paths into it, tried in turn
        if self.ctx.netns:
            pending[host_inode] = [self.ctx.netns]
        else:
            here = _sockets_here()
            found[host_inode] = _proc_sockets(None) if isinstance(here, NetlinkFailure) else here
        for c in snap.containers:
            if c.pid and c.netns_inode and c.netns_inode not in found:
                pending.setdefault(c.netns_inode, []).append(proc_netns(c.pid))
        while pending:
            batch = {}
            for inode, paths in pending.items():
                path = paths.pop(0)
                try:
                    if path.startswith("/proc/") and netns_inode(path) != inode:
                        raise FileNotFoundError(path)  # that process is gone (and its pid perhaps reused)
                    batch[path] = inode
                except OSError as error:
                    skipped.count(error)
            results = run_in_each_netns(list(batch), _sockets_here)
            for path, result in results.items():
                inode = batch[path]
                if isinstance(result, NetlinkFailure):  # returned: sock_diag refused, read the netns's /proc tables
                    try:
                        result = _proc_sockets(path)
                    except (OSError, NetconError) as error:
                        result = error
                if isinstance(result, BaseException):  # raised: the namespace could not be entered or read
                    skipped.count(result)
                    continue
                found[inode] = result
            pending = {inode: paths for inode, paths in pending.items() if paths and inode not in found}
        if host_inode not in found:
            problems.append(f"the sockets of netns {self.ctx.netns} could not be read")
        for c in snap.containers:
            if c.pid and c.netns_inode and c.netns_inode not in found:
                found[c.netns_inode] = []
                problems.append(f"the sockets of {c.name}'s netns could not be read (its processes are gone)")
        return found

    def _collect(
        self,
        snap: Snapshot,
        started: float,
        summaries: list[Raw] | NetconError,
        owners: dict[int, list[int]],
        skipped: Skipped,
    ) -> PortsView:
        problems: list[str] = []
        host_inode = netns_inode(self.ctx.netns or OWN_NETNS)
        by_netns = self._namespaces(snap, host_inode, skipped, problems)
        published_raw, wanted = self._docker_ports(snap, summaries, problems)
        infos = _process_infos(owners, skipped)
        names = {c.id: c.name for c in snap.containers}
        container_of = _ContainerOf(names, infos, skipped)
        held = _held_sockets(by_netns, owners, infos, container_of, _netns_owners(snap, host_inode))
        published = _published(published_raw, held, host_inode)
        sockets = _port_sockets(held, published, names, host_inode)
        wanted.sort(key=lambda w: (w.host_port, w.proto, w.container))
        return PortsView(
            taken_at=started,
            host_netns_inode=host_inode,
            sockets=tuple(sockets),
            published=published,
            wanted=tuple(wanted),
            conflicts=conflicts(sockets, published, wanted),
            skipped_vanished=skipped.vanished,
            skipped_unreadable=skipped.unreadable,
            problems=tuple(problems) + tuple(snap.problems),
        )


# -- the steps of one collection, after the reads ----------------------------------------------------------


@dataclass(frozen=True)
class _Held:
    """A socket as first attributed: its netns, its holders (owner first) and its container, before
    docker-proxy sockets are matched to the ports they publish."""

    raw: RawSocket
    netns_inode: int
    holders: tuple[ProcessInfo, ...]
    container_id: str | None
    attributed_by: str | None

    def is_proxy(self, host_inode: int) -> bool:
        """A docker-proxy in the host's netns: it serves a published port."""
        return bool(self.holders) and self.holders[0].name == DOCKER_PROXY and self.netns_inode == host_inode


def _process_infos(owners: dict[int, list[int]], skipped: Skipped) -> dict[int, ProcessInfo]:
    """Every process holding a listening socket (those that vanish or refuse are counted, not raised)."""
    infos: dict[int, ProcessInfo] = {}
    for pid in {p for pids in owners.values() for p in pids}:
        try:
            infos[pid] = process_info(pid)
        except OSError as error:
            skipped.count(error)
    return infos


def _netns_owners(snap: Snapshot, host_inode: int) -> dict[int, str]:
    """netns inode -> the container that owns it (not one that joined it with ``--network container:``)."""
    ns_owner: dict[int, str] = {}
    for c in sorted(snap.containers, key=lambda c: c.network_mode.startswith("container:")):
        if c.netns_inode and c.netns_inode != host_inode and c.network_mode != "host":
            ns_owner.setdefault(c.netns_inode, c.id)
    return ns_owner


class _ContainerOf:
    """The container of a process: its cgroup, else its ``containerd-shim`` ancestor; remembered per pid."""

    def __init__(self, names: dict[str, str], infos: dict[int, ProcessInfo], skipped: Skipped) -> None:
        self.names = names
        self.chains: dict[int, ProcessInfo] = dict(infos)  # grows with the ancestors read
        self.skipped = skipped
        self.found: dict[int, _Attribution] = {}

    def __call__(self, pid: int) -> _Attribution:
        if pid not in self.found:
            found: _Attribution = (None, None)
            try:
                ids = cgroup_container_ids(pid) & self.names.keys()
                if ids:
                    found = (ids.pop(), "cgroup")
            except OSError as error:
                self.skipped.count(error)
            if found[0] is None:
                shim = shim_container_id(ancestry(pid, self.chains))
                if shim in self.names:
                    found = (shim, "containerd-shim")
            self.found[pid] = found
        return self.found[pid]


def _held_sockets(
    by_netns: dict[int, list[RawSocket]],
    owners: dict[int, list[int]],
    infos: dict[int, ProcessInfo],
    container_of: Callable[[int], _Attribution],
    ns_owner: dict[int, str],
) -> list[_Held]:
    """Each socket with its holders and container: its owner process's, else its namespace's."""
    held = []
    for inode, socks in by_netns.items():
        for s in socks:
            holders = tuple(infos[p] for p in _owner_pid(owners.get(s.inode, []), infos) if p in infos)
            cid, how = container_of(holders[0].pid) if holders else (None, None)
            if cid is None and inode in ns_owner:
                cid, how = ns_owner[inode], "netns"
            held.append(_Held(s, inode, holders, cid, how))
    return held


def _published(published_raw: list[_PublishedRaw], held: list[_Held], host_inode: int) -> tuple[Published, ...]:
    """Docker's published ports, each served by the docker-proxy listening on it, else by NAT alone."""
    proxies = {
        (h.raw.proto, comparable_ip(h.raw.address), h.raw.port): h.holders[0].pid
        for h in held
        if h.is_proxy(host_inode)
    }
    return tuple(
        sorted(
            (
                Published(
                    proto,
                    ip,
                    port,
                    cid,
                    name,
                    cport,
                    "docker-proxy" if (proto, comparable_ip(ip), port) in proxies else "nat",
                    proxies.get((proto, comparable_ip(ip), port)),
                )
                for proto, ip, port, cid, name, cport in published_raw
            ),
            key=lambda p: (p.host_port, p.proto, p.host_ip),
        )
    )


def _port_sockets(
    held: list[_Held], published: tuple[Published, ...], names: dict[str, str], host_inode: int
) -> list[PortSocket]:
    """The sockets, a docker-proxy's attributed to the container whose published port it serves; sorted."""
    by_key = {(p.proto, comparable_ip(p.host_ip), p.host_port): p for p in published}
    sockets = []
    for h in held:
        s, cid, how = h.raw, h.container_id, h.attributed_by
        pub = by_key.get((s.proto, comparable_ip(s.address), s.port)) if h.is_proxy(host_inode) else None
        if pub:
            cid, how = pub.container_id, "docker-proxy"
        sockets.append(
            PortSocket(
                proto=s.proto,
                version=s.version,
                address=s.address,
                port=s.port,
                state=s.state,
                inode=s.inode,
                v6only=s.v6only,
                netns_inode=h.netns_inode,
                host_netns=h.netns_inode == host_inode,
                holders=h.holders,
                container_id=cid,
                container=names.get(cid) if cid else None,
                attributed_by=how,
                published=pub,
            )
        )
    sockets.sort(key=lambda s: (s.port, s.proto, s.version, s.address, s.netns_inode))
    return sockets


def collect_ports(ctx: HostContext) -> PortsView:
    """A cold view (no caches); long-lived callers keep a ``PortsCollector``."""
    return PortsCollector(ctx).collect()
