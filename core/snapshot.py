"""One consistent read of a host's container networking: Docker's view joined with the kernel's.

Docker gives networks, containers and their endpoints (two list calls); netlink gives links, addresses,
bridges and veths of the host, and the links inside each container's netns, which is how a host veth is
matched to its container and peer name without ``docker exec``. Containers are inspected only to learn
their pid and aliases, and that result is cached until the container restarts or changes endpoints, so a
warm snapshot costs two Docker calls plus netlink dumps.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from netcon.core.context import NETNS_RUN_DIR, HostContext
from netcon.core.docker_api import docker_call
from netcon.core.errors import NetconError, NotFound
from netcon.core.model import (
    Attachment,
    Bridge,
    Container,
    ContainerInterface,
    Counters,
    Interface,
    Network,
    Snapshot,
    Veth,
)
from netcon.core.netlink.rtnl import Address, Link, Rtnl
from netcon.core.netns import netns_inode, proc_netns

BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
Raw = dict[str, Any]  # one object of Docker's JSON, as the engine's API returns it


@dataclass(frozen=True)
class _Inspected:
    """What a container inspect tells that the list call does not."""

    pid: int | None
    starttime: str | None  # field 22 of /proc/PID/stat: tells a recycled pid apart
    aliases: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class _Namespace:
    """What netlink shows inside one container netns."""

    inode: int
    nsid: int | None
    interfaces: tuple[ContainerInterface, ...]


@dataclass(frozen=True)
class _KernelRead:
    """What the kernel showed, with what had to be asked of Docker to read it (the running containers)."""

    links: list[Link]  # the host's
    addrs: dict[int, tuple[str, ...]]  # the host's, by ifindex
    inspected: dict[str, _Inspected]  # running containers, by id
    inode_of: dict[str, int]  # container id -> its netns inode
    namespaces: dict[int, _Namespace]  # container netns (not the host's) by inode
    named: dict[int, tuple[str, _Namespace]]  # nsid -> (label, netns) of veth peers outside any container


@dataclass(frozen=True)
class _Joined:
    """The kernel's view joined with Docker's names: what the container, network and link steps share."""

    kernel: _KernelRead
    names: dict[str, str]  # container id -> name
    members: dict[int, list[str]]  # netns inode -> ids of the containers in it
    owner_by_nsid: dict[int, str]  # nsid -> id of the container that owns that netns
    by_ifindex: dict[int, Link]  # the host's links
    ns_by_nsid: dict[int, _Namespace]  # container netns by the id the host gives it


def _starttime(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _name(summary: Raw) -> str:
    name: str = summary["Names"][0]
    return name.lstrip("/")


def _endpoints(container: Raw) -> dict[str, Raw]:
    """Network name -> endpoint, from a container's list entry or its inspect."""
    endpoints: dict[str, Raw] = (container.get("NetworkSettings") or {}).get("Networks") or {}
    return endpoints


def _mode(container: Raw) -> str:
    mode: str = (container.get("HostConfig") or {}).get("NetworkMode") or ""
    return mode


def _addresses(addrs: list[Address]) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = {}
    for addr in addrs:
        out.setdefault(addr.index, []).append(addr.cidr)
    return {k: tuple(v) for k, v in out.items()}


def _counters(link: Link) -> Counters:
    rx_packets, tx_packets, rx_bytes, tx_bytes = link.stats
    return Counters(rx_bytes, tx_bytes, rx_packets, tx_packets)


def _bridge_gateways(bridge: str | None, ipam: list[Raw], addrs_by_name: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The default bridge's IPAM omits its gateway; the kernel knows it: the bridge's address in the subnet."""
    subnets = [ipaddress.ip_network(c["Subnet"], strict=False) for c in ipam if c.get("Subnet")]
    return tuple(
        addr.split("/")[0]
        for addr in (addrs_by_name.get(bridge, ()) if bridge else ())
        if any(ipaddress.ip_interface(addr).ip in net for net in subnets)
    )


def network_bridge(net: Raw) -> str | None:
    """The Linux bridge Docker uses for a network: option, ``docker0`` for the default, else ``br-<id12>``."""
    if net.get("Driver") != "bridge":
        return None
    name: str | None = (net.get("Options") or {}).get(BRIDGE_NAME_OPTION)
    if name:
        return name
    return "docker0" if net.get("Name") == "bridge" else f"br-{net['Id'][:12]}"


class SnapshotCollector:
    """Collects ``Snapshot``s of one host; keep one per host so warm calls reuse its caches. Thread-safe."""

    def __init__(self, ctx: HostContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._inspected: dict[tuple[str, str | None, tuple[str, ...]], _Inspected] = {}
        self._docker_version: str | None = None

    def collect(self) -> Snapshot:
        with self._lock:
            return self._collect()

    def _collect(self) -> Snapshot:
        """Docker's lists, then the kernel's view (which needs the running containers' pids), then the two
        joined into the model, one kind of object per step."""
        started = time.time()
        problems: list[str] = []
        networks_raw, containers_raw, docker_error = self._docker_lists()
        joined = _join(self._read_kernel(containers_raw, problems), containers_raw)
        containers = [_container(c, joined) for c in containers_raw]
        networks = _networks(networks_raw, containers_raw, joined)
        interfaces, bridges, veths = _links(joined, {n.bridge: n.name for n in networks if n.bridge})
        return Snapshot(
            host=socket.gethostname() + (f" [{os.path.basename(self.ctx.netns)}]" if self.ctx.netns else ""),
            docker_version=self._docker_version,
            docker_error=docker_error,
            taken_at=started,
            networks=tuple(networks),
            containers=tuple(sorted(containers, key=lambda c: c.name)),
            bridges=tuple(sorted(bridges, key=lambda b: b.name)),
            veths=tuple(sorted(veths, key=lambda v: v.ifname)),
            interfaces=tuple(interfaces),
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

    def _inspect(self, summary: Raw, problems: list[str]) -> _Inspected | None:
        """Pid and aliases of a running container. Inspecting is the costly call, so the answer is kept
        until the container's state or endpoints change or its pid is recycled (same pid, other start time)."""
        endpoints = tuple(sorted((n.get("EndpointID") or "") for n in _endpoints(summary).values()))
        key = (summary["Id"], summary.get("State"), endpoints)
        cached = self._inspected.get(key)
        if cached and (not cached.pid or _starttime(cached.pid) == cached.starttime):
            return cached
        try:
            info: Raw = docker_call(
                self.ctx, f"inspect container {summary['Id'][:12]}", lambda a: a.inspect_container(summary["Id"])
            )
        except NotFound:
            problems.append(f"container {_name(summary)} disappeared while the snapshot was taken")
            return None
        pid = (info.get("State") or {}).get("Pid") or None
        aliases = {name: tuple(ep.get("Aliases") or ()) for name, ep in _endpoints(info).items()}
        result = _Inspected(pid, _starttime(pid) if pid else None, aliases)
        self._inspected = {k: v for k, v in self._inspected.items() if k[0] != summary["Id"]}
        self._inspected[key] = result
        return result

    # -- kernel -------------------------------------------------------------------------------------------

    def _read_kernel(self, containers_raw: list[Raw], problems: list[str]) -> _KernelRead:
        """The host's links and addresses, then each container netns and each other netns a host veth leads
        to. One host socket serves them all: it also names (netnsid) the namespaces the others live in."""
        with Rtnl(self.ctx.netns) as host:
            links, addrs = host.links(), _addresses(host.addresses())
            host_inode = netns_inode(self.ctx.netns or "/proc/self/ns/net")
            inspected, inode_of, path_of_inode = self._running(containers_raw, host_inode, problems)
            namespaces = _container_namespaces(host, path_of_inode, problems)
            known = {ns.nsid for ns in namespaces.values()}
            unmatched = {
                link.link_netnsid for link in links if link.kind == "veth" and link.link_netnsid is not None
            } - known
            named = _named_namespaces(host, unmatched, host_inode, set(namespaces)) if unmatched else {}
        return _KernelRead(links, addrs, inspected, inode_of, namespaces, named)

    def _running(
        self, containers_raw: list[Raw], host_inode: int, problems: list[str]
    ) -> tuple[dict[str, _Inspected], dict[str, int], dict[int, str]]:
        """Running containers: (inspected by id, netns inode by id, one /proc path into each netns other than
        the host's). Containers sharing a netns (``container:`` mode) share its path."""
        inspected: dict[str, _Inspected] = {}
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
                problems.append(f"netns of {_name(summary)} could not be read: {error.strerror}")
                continue
            inode_of[summary["Id"]] = inode
            if inode != host_inode:
                path_of_inode.setdefault(inode, proc_netns(info.pid))
        return inspected, inode_of, path_of_inode


# -- kernel: other namespaces ---------------------------------------------------------------------------------


def _namespace(rtnl: Rtnl, inode: int, nsid: int | None) -> _Namespace:
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
    return _Namespace(inode, nsid, interfaces)


def _container_namespaces(host: Rtnl, path_of_inode: dict[int, str], problems: list[str]) -> dict[int, _Namespace]:
    """Each container netns, read through a socket opened inside it (all opened from one thread) and named
    by the id the host's netns gives it. A container that exits meanwhile is a problem, not a failure."""
    namespaces: dict[int, _Namespace] = {}
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
) -> dict[int, tuple[str, _Namespace]]:
    """Peers of veths that lead to no container: the root netns or one of /var/run/netns (a lab host's
    underlay link, a hand-made pair), found by the id this netns gives them."""
    candidates = {"root": "/proc/self/ns/net"}  # netcon itself runs in the root netns
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


def _join(kernel: _KernelRead, containers_raw: list[Raw]) -> _Joined:
    """Who lives in which netns: inode -> container ids, and nsid -> the netns owner (the container that is
    not in ``container:`` mode, else the first listed), which is whom a host veth leads to."""
    names = {c["Id"]: _name(c) for c in containers_raw}
    members: dict[int, list[str]] = {}
    for cid, inode in kernel.inode_of.items():
        members.setdefault(inode, []).append(cid)
    modes = {c["Id"]: _mode(c) for c in containers_raw}
    owner_by_nsid: dict[int, str] = {}
    for inode, cids in members.items():
        ns = kernel.namespaces.get(inode)
        if ns and ns.nsid is not None:
            owners = [c for c in cids if not modes[c].startswith("container:")] or cids
            owner_by_nsid[ns.nsid] = owners[0]
    ns_by_nsid: dict[int, _Namespace] = {}
    for ns in kernel.namespaces.values():
        if ns.nsid is not None:
            ns_by_nsid.setdefault(ns.nsid, ns)
    return _Joined(kernel, names, members, owner_by_nsid, {link.index: link for link in kernel.links}, ns_by_nsid)


def _container(c: Raw, joined: _Joined) -> Container:
    """One container as Docker lists it, with its pid, netns and interfaces from the kernel. A container
    in ``container:`` mode has no addresses of its own in Docker's record; it shows its netns owner's."""
    cid = c["Id"]
    mode, owner = _network_mode(c, joined.names)
    eps = _endpoints(c)
    inode = joined.kernel.inode_of.get(cid)
    info = joined.kernel.inspected.get(cid)
    shared = tuple(sorted(joined.names[o] for o in joined.members.get(inode, ()) if o != cid)) if inode else ()
    ns = joined.kernel.namespaces.get(inode) if inode else None
    own_ips = tuple(ep["IPAddress"] for ep in eps.values() if ep.get("IPAddress"))
    ipv4, ipv4_shared = own_ips, False
    if owner and not own_ips and ns:
        ipv4 = tuple(
            a.split("/")[0] for i in ns.interfaces if i.kind != "loopback" for a in i.addresses if ":" not in a
        )
        ipv4_shared = True
    problem = None
    if c.get("State") == "running" and info is None:
        problem = "disappeared while the snapshot was taken"
    elif c.get("State") == "running" and inode is None:
        problem = "its network namespace could not be read"
    return Container(
        id=cid,
        name=joined.names[cid],
        state=c.get("State") or "",
        image=c.get("Image") or "",
        network_mode=mode,
        pid=info.pid if info else None,
        netns_inode=inode,
        shares_netns_with=shared,
        netns_owner=owner,
        ipv4=ipv4,
        ipv4_shared=ipv4_shared,
        networks=tuple(sorted(eps)),
        interfaces=ns.interfaces if ns else (),
        labels=tuple(sorted((c.get("Labels") or {}).items())),
        problem=problem,
    )


def _network_mode(c: Raw, names: dict[str, str]) -> tuple[str, str | None]:
    """(mode as shown, netns owner's name): Docker's ``default`` is ``bridge``, and ``container:<id>``
    is shown by the owner's name (an id prefix is resolved; an unknown reference is kept as it is)."""
    mode = _mode(c)
    if mode == "default":
        return "bridge", None
    if mode.startswith("container:"):
        ref = mode.split(":", 1)[1]
        owner = names.get(ref) or next((n for i, n in names.items() if i.startswith(ref)), ref)
        return f"container:{owner}", owner
    return mode, None


def _networks(networks_raw: list[Raw], containers_raw: list[Raw], joined: _Joined) -> list[Network]:
    """Every network with its attachments, by name. Gateways Docker's IPAM omits (the default bridge's)
    are taken from the bridge's addresses."""
    addrs = joined.kernel.addrs
    addrs_by_name = {link.ifname: addrs.get(link.index, ()) for link in joined.kernel.links}
    networks = [_network(net, _attachments(net, containers_raw, joined), addrs_by_name) for net in networks_raw]
    networks.sort(key=lambda n: n.name)
    return networks


def _attachments(net: Raw, containers_raw: list[Raw], joined: _Joined) -> tuple[Attachment, ...]:
    """The containers with an endpoint on ``net``, by name; a stale entry (another network of the same
    name, no endpoint) is not an attachment."""
    attachments = []
    for c in containers_raw:
        ep = _endpoints(c).get(net["Name"])
        if not ep or ep.get("NetworkID") != net["Id"] or not ep.get("EndpointID"):
            continue
        info = joined.kernel.inspected.get(c["Id"])
        attachments.append(
            Attachment(
                container_id=c["Id"],
                container_name=joined.names[c["Id"]],
                ipv4=ep.get("IPAddress") or None,
                prefixlen=ep.get("IPPrefixLen") or None,
                mac=ep.get("MacAddress") or None,
                aliases=info.aliases.get(net["Name"], ()) if info else (),
                endpoint_id=ep["EndpointID"],
            )
        )
    return tuple(sorted(attachments, key=lambda a: a.container_name))


def _network(net: Raw, attachments: tuple[Attachment, ...], addrs_by_name: dict[str, tuple[str, ...]]) -> Network:
    ipam = (net.get("IPAM") or {}).get("Config") or []
    return Network(
        id=net["Id"],
        name=net["Name"],
        driver=net.get("Driver") or "",
        scope=net.get("Scope") or "",
        subnets=tuple(c["Subnet"] for c in ipam if c.get("Subnet")),
        gateways=tuple(c["Gateway"] for c in ipam if c.get("Gateway"))
        or _bridge_gateways(network_bridge(net), ipam, addrs_by_name),
        ip_ranges=tuple(c["IPRange"] for c in ipam if c.get("IPRange")),
        internal=bool(net.get("Internal")),
        attachable=bool(net.get("Attachable")),
        options=tuple(sorted((net.get("Options") or {}).items())),
        labels=tuple(sorted((net.get("Labels") or {}).items())),
        bridge=network_bridge(net),
        attachments=attachments,
    )


def _links(joined: _Joined, network_of_bridge: dict[str, str]) -> tuple[list[Interface], list[Bridge], list[Veth]]:
    """The host's links: every one as an interface, and bridges and veths again with what they connect."""
    links, addrs = joined.kernel.links, joined.kernel.addrs
    ports: dict[int, list[str]] = {}
    for link in links:
        if link.master:
            ports.setdefault(link.master, []).append(link.ifname)
    interfaces, bridges, veths = [], [], []
    for link in links:
        master = joined.by_ifindex.get(link.master) if link.master else None
        master_name = master.ifname if master else None
        interfaces.append(
            Interface(
                ifindex=link.index,
                ifname=link.ifname,
                kind=link.kind,
                mtu=link.mtu,
                state=link.state,
                mac=link.mac,
                addresses=addrs.get(link.index, ()),
                master=master_name,
            )
        )
        if link.kind == "bridge":
            bridges.append(_bridge(link, tuple(sorted(ports.get(link.index, ()))), network_of_bridge))
        elif link.kind == "veth":
            veths.append(_veth(link, master_name, joined))
    return interfaces, bridges, veths


def _bridge(link: Link, ports: tuple[str, ...], network_of_bridge: dict[str, str]) -> Bridge:
    return Bridge(
        name=link.ifname,
        ifindex=link.index,
        bridge_id=link.bridge_id or "",
        stp=link.stp,
        interfaces=ports,
        network=network_of_bridge.get(link.ifname),
        mtu=link.mtu,
        state=link.state,
    )


def _veth(link: Link, master_name: str | None, joined: _Joined) -> Veth:
    """A host veth and where its peer is: in this netns (by ifindex), in a container's netns (whose owner
    it then belongs to), or in the root or a named netns."""
    peer_name = container = container_id = peer_netns = None
    if link.link_netnsid is None:
        peer = joined.by_ifindex.get(link.link) if link.link is not None else None
        peer_name = peer.ifname if peer else None
    else:
        ns = joined.ns_by_nsid.get(link.link_netnsid)
        if ns is None and link.link_netnsid in joined.kernel.named:
            peer_netns, ns = joined.kernel.named[link.link_netnsid]
        if ns:
            peer_name = next((i.ifname for i in ns.interfaces if i.ifindex == link.link), None)
        container_id = joined.owner_by_nsid.get(link.link_netnsid)
        container = joined.names.get(container_id) if container_id else None
    return Veth(
        ifname=link.ifname,
        ifindex=link.index,
        mtu=link.mtu,
        state=link.state,
        mac=link.mac,
        bridge=master_name,
        counters=_counters(link),
        peer_ifindex=link.link,
        peer_netnsid=link.link_netnsid,
        peer_ifname=peer_name,
        peer_netns=peer_netns,
        container=container,
        container_id=container_id,
    )


def collect(ctx: HostContext) -> Snapshot:
    """A cold snapshot (no caches); long-lived callers keep a ``SnapshotCollector`` instead."""
    return SnapshotCollector(ctx).collect()
