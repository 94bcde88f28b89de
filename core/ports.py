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

import ipaddress
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.docker_api import docker_call
from netcon.core.errors import NetconError, NetlinkFailure, NotFound
from netcon.core.model import Snapshot
from netcon.core.netlink.sockdiag import listening_sockets
from netcon.core.netns import OWN_NETNS, netns_inode, proc_netns, run_in_each_netns, run_in_netns
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


@dataclass(frozen=True)
class Published:
    """A port Docker publishes (``-p``): host address and port -> container port, and what serves it."""

    proto: str  # tcp or udp
    host_ip: str  # "0.0.0.0", "::" or one address
    host_port: int
    container_id: str
    container: str
    container_port: int
    served_by: str  # "docker-proxy", or "nat" when only the DNAT rule serves it (userland-proxy off)
    proxy_pid: int | None

    @property
    def target(self) -> str:
        return f"{self.container}:{self.container_port}/{self.proto}"


@dataclass(frozen=True)
class WantedPort:
    """A host port a container asked for (``-p``) but does not hold: Docker discarded it because the container
    uses the host's network, or the container is not running."""

    proto: str
    host_ip: str  # "" in Docker's bindings means every address
    host_port: int
    container_id: str
    container: str
    container_port: int
    reason: str  # "host network: Docker discarded it" or "container is <state>"
    discarded: bool  # True for host-mode containers (the flag the issue asks for)


@dataclass(frozen=True)
class PortSocket:
    """One listening TCP or bound UDP socket, in the host's namespace or a container's."""

    proto: str  # tcp or udp
    version: int  # 4 or 6
    address: str
    port: int
    state: str  # LISTEN (tcp) or UNCONN (udp), as ss prints it
    inode: int
    v6only: bool | None  # IPV6_V6ONLY of an IPv6 socket: False means "::" takes IPv4 too
    netns_inode: int
    host_netns: bool
    holders: tuple[ProcessInfo, ...]  # processes with it open, the owner first (nginx master before workers)
    container_id: str | None
    container: str | None
    attributed_by: str | None  # cgroup, containerd-shim, netns or docker-proxy
    published: Published | None  # set on a docker-proxy socket: the port it serves

    @property
    def pid(self) -> int | None:
        return self.holders[0].pid if self.holders else None

    @property
    def process(self) -> ProcessInfo | None:
        return self.holders[0] if self.holders else None


@dataclass(frozen=True)
class Claim:
    """Someone who holds or wants a host port: a container, or a host process."""

    proto: str
    address: str
    port: int
    owner: str  # container name, or "pid N (name)"
    container_id: str | None
    pid: int | None
    how: str  # listening, published (nat), or the WantedPort reason
    v6only: bool | None = None


@dataclass(frozen=True)
class Conflict:
    """Two or more owners holding or wanting the same host port and protocol on overlapping addresses."""

    proto: str
    port: int
    claims: tuple[Claim, ...]


@dataclass(frozen=True)
class PortsView:
    """Every listening socket of the host and its containers, published and wanted ports, and conflicts."""

    taken_at: float
    host_netns_inode: int
    sockets: tuple[PortSocket, ...]
    published: tuple[Published, ...]
    wanted: tuple[WantedPort, ...]
    conflicts: tuple[Conflict, ...]
    skipped_vanished: int  # processes or namespaces that disappeared while being read
    skipped_unreadable: int  # /proc entries this process may not read
    problems: tuple[str, ...]

    @property
    def not_read(self) -> tuple[str, ...]:
        """What this view lacks, one sentence each (the CLI prints them; a partial answer says so)."""
        skipped = []  # processes that ended while being read lack nothing: they are gone
        if self.skipped_unreadable:
            skipped.append(f"Not read: {self.skipped_unreadable} /proc entries this user may not read (run as root).")
        return tuple(f"{p[0].upper()}{p[1:]}." if not p.endswith(".") else p for p in self.problems) + tuple(skipped)

    def holding(self, port: int, proto: str | None = None) -> tuple[PortSocket, ...]:
        """The seed's question, "who holds port 80?": sockets bound to ``port``."""
        return tuple(s for s in self.sockets if s.port == port and proto in (None, s.proto))


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(text)
    return ip.ipv4_mapped or ip if ip.version == 6 else ip


def addresses_overlap(a: str, b: str, a_v6only: bool | None = None, b_v6only: bool | None = None) -> bool:
    """Whether binding ``a`` and ``b`` (same port) collide. ``::`` also covers IPv4 unless its socket is
    IPv6-only (unknown counts as dual-stack, the Linux default, so a doubt is reported)."""
    x, y = _ip(a), _ip(b)
    if x.version == y.version:
        return x == y or x.is_unspecified or y.is_unspecified
    v6, v6only = (x, a_v6only) if x.version == 6 else (y, b_v6only)
    return v6.is_unspecified and not v6only


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
        infos: dict[int, ProcessInfo] = {}
        for pid in {p for pids in owners.values() for p in pids}:
            try:
                infos[pid] = process_info(pid)
            except OSError as error:
                skipped.count(error)

        names = {c.id: c.name for c in snap.containers}
        ns_owner: dict[int, str] = {}
        for c in sorted(snap.containers, key=lambda c: c.network_mode.startswith("container:")):
            if c.netns_inode and c.netns_inode != host_inode and c.network_mode != "host":
                ns_owner.setdefault(c.netns_inode, c.id)
        chains: dict[int, ProcessInfo] = dict(infos)
        container_of: dict[int, tuple[str | None, str | None]] = {}

        def attribute(pid: int) -> tuple[str | None, str | None]:
            if pid not in container_of:
                found: tuple[str | None, str | None] = (None, None)
                try:
                    ids = cgroup_container_ids(pid) & names.keys()
                    if ids:
                        found = (ids.pop(), "cgroup")
                except OSError as error:
                    skipped.count(error)
                if found[0] is None:
                    shim = shim_container_id(ancestry(pid, chains))
                    if shim in names:
                        found = (shim, "containerd-shim")
                container_of[pid] = found
            return container_of[pid]

        sockets_raw = []
        for inode, socks in by_netns.items():
            for s in socks:
                holders = tuple(infos[p] for p in _owner_pid(owners.get(s.inode, []), infos) if p in infos)
                cid, how = attribute(holders[0].pid) if holders else (None, None)
                if cid is None and inode in ns_owner:
                    cid, how = ns_owner[inode], "netns"
                sockets_raw.append((s, inode, holders, cid, how))

        proxies = {
            (s.proto, _ip(s.address), s.port): h[0].pid
            for s, inode, h, _, _ in sockets_raw
            if inode == host_inode and h and h[0].name == DOCKER_PROXY
        }
        published = tuple(
            sorted(
                (
                    Published(
                        proto,
                        ip,
                        port,
                        cid,
                        name,
                        cport,
                        "docker-proxy" if (proto, _ip(ip), port) in proxies else "nat",
                        proxies.get((proto, _ip(ip), port)),
                    )
                    for proto, ip, port, cid, name, cport in published_raw
                ),
                key=lambda p: (p.host_port, p.proto, p.host_ip),
            )
        )
        by_key = {(p.proto, _ip(p.host_ip), p.host_port): p for p in published}

        sockets = []
        for s, inode, holders, cid, how in sockets_raw:
            pub = (
                by_key.get((s.proto, _ip(s.address), s.port))
                if holders and holders[0].name == DOCKER_PROXY and inode == host_inode
                else None
            )
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
                    netns_inode=inode,
                    host_netns=inode == host_inode,
                    holders=holders,
                    container_id=cid,
                    container=names.get(cid) if cid else None,
                    attributed_by=how,
                    published=pub,
                )
            )
        sockets.sort(key=lambda s: (s.port, s.proto, s.version, s.address, s.netns_inode))
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


def conflicts(
    sockets: Sequence[PortSocket], published: Sequence[Published], wanted: Sequence[WantedPort]
) -> tuple[Conflict, ...]:
    """Host ports held or wanted by more than one owner (a container, or a host process) on overlapping
    addresses: host-namespace sockets, NAT-only published ports, and wanted ports."""
    claims: list[Claim] = []
    for s in sockets:
        if not s.host_netns:
            continue
        pid = s.pid
        owner = s.container or (f"pid {pid} ({s.process.name})" if s.process else f"socket {s.inode}")
        claims.append(Claim(s.proto, s.address, s.port, owner, s.container_id, pid, "listening", s.v6only))
    # Docker's "::" is IPv6 only: it claims IPv4 with a binding (or docker-proxy) of its own
    claims += [
        Claim(p.proto, p.host_ip, p.host_port, p.container, p.container_id, None, "published (nat)", True)
        for p in published
        if p.served_by == "nat"
    ]
    for w in wanted:
        if w.host_port:  # port 0: Docker picks a free one, nobody wants a particular port
            for ip in [w.host_ip] if w.host_ip else ["0.0.0.0", "::"]:
                claims.append(Claim(w.proto, ip, w.host_port, w.container, w.container_id, None, w.reason, True))
    groups: dict[tuple[str, int], list[Claim]] = {}
    for claim in claims:
        groups.setdefault((claim.proto, claim.port), []).append(claim)
    out = []
    for (proto, port), group in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        involved = [
            a
            for a in group
            if any(_who(a) != _who(b) and addresses_overlap(a.address, b.address, a.v6only, b.v6only) for b in group)
        ]
        if involved:
            out.append(Conflict(proto, port, tuple(involved)))
    return tuple(out)


def _who(claim: Claim) -> str | int:
    return claim.container_id or claim.pid or claim.owner


def collect_ports(ctx: HostContext) -> PortsView:
    """A cold view (no caches); long-lived callers keep a ``PortsCollector``."""
    return PortsCollector(ctx).collect()
