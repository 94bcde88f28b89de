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
from netcon.core.naming import natural_key
from netcon.core.netlink import Address, Link, Rtnl
from netcon.core.netns import netns_inode, proc_netns

BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"


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


def _starttime(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _name(summary: dict) -> str:
    return summary["Names"][0].lstrip("/")


def _addresses(addrs: list[Address]) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = {}
    for addr in addrs:
        out.setdefault(addr.index, []).append(addr.cidr)
    return {k: tuple(v) for k, v in out.items()}


def _counters(link: Link) -> Counters:
    rx_packets, tx_packets, rx_bytes, tx_bytes = link.stats
    return Counters(rx_bytes, tx_bytes, rx_packets, tx_packets)


def _bridge_gateways(bridge: str | None, ipam: list[dict], addrs_by_name: dict) -> tuple[str, ...]:
    """The default bridge's IPAM omits its gateway; the kernel knows it: the bridge's address in the subnet."""
    subnets = [ipaddress.ip_network(c["Subnet"], strict=False) for c in ipam if c.get("Subnet")]
    return tuple(
        addr.split("/")[0]
        for addr in addrs_by_name.get(bridge, ())
        if any(ipaddress.ip_interface(addr).ip in net for net in subnets)
    )


def network_bridge(net: dict) -> str | None:
    """The Linux bridge Docker uses for a network: option, ``docker0`` for the default, else ``br-<id12>``."""
    if net.get("Driver") != "bridge":
        return None
    name = (net.get("Options") or {}).get(BRIDGE_NAME_OPTION)
    if name:
        return name
    return "docker0" if net.get("Name") == "bridge" else f"br-{net['Id'][:12]}"


class SnapshotCollector:
    """Collects ``Snapshot``s of one host; keep one per host so warm calls reuse its caches. Thread-safe."""

    def __init__(self, ctx: HostContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._inspected: dict[tuple, _Inspected] = {}
        self._docker_version: str | None = None

    def collect(self) -> Snapshot:
        with self._lock:
            return self._collect()

    # -- Docker -------------------------------------------------------------------------------------------

    def _docker_lists(self) -> tuple[list, list, str | None]:
        try:
            if self._docker_version is None:
                self._docker_version = docker_call(
                    self.ctx, "read the engine version", lambda a: a.version().get("Version")
                )
            networks = docker_call(self.ctx, "list networks", lambda a: a.networks())
            containers = docker_call(self.ctx, "list containers", lambda a: a.containers(all=True))
            return networks, containers, None
        except NetconError as error:
            self._docker_version = None
            self._inspected.clear()
            return [], [], str(error)

    def _inspect(self, summary: dict, problems: list[str]) -> _Inspected | None:
        endpoints = tuple(
            sorted(
                (n.get("EndpointID") or "")
                for n in ((summary.get("NetworkSettings") or {}).get("Networks") or {}).values()
            )
        )
        key = (summary["Id"], summary.get("State"), endpoints)
        cached = self._inspected.get(key)
        if cached and (not cached.pid or _starttime(cached.pid) == cached.starttime):
            return cached
        try:
            info = docker_call(
                self.ctx, f"inspect container {summary['Id'][:12]}", lambda a: a.inspect_container(summary["Id"])
            )
        except NotFound:
            problems.append(f"container {_name(summary)} disappeared while the snapshot was taken")
            return None
        pid = (info.get("State") or {}).get("Pid") or None
        aliases = {
            name: tuple(ep.get("Aliases") or ())
            for name, ep in ((info.get("NetworkSettings") or {}).get("Networks") or {}).items()
        }
        result = _Inspected(pid, _starttime(pid) if pid else None, aliases)
        self._inspected = {k: v for k, v in self._inspected.items() if k[0] != summary["Id"]}
        self._inspected[key] = result
        return result

    # -- kernel -------------------------------------------------------------------------------------------

    @staticmethod
    def _container_namespace(rtnl: Rtnl, inode: int, nsid: int | None) -> _Namespace:
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

    def _named_namespaces(
        self, host: Rtnl, nsids: set[int], host_inode: int, container_inodes: set[int]
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
            if nsid in nsids and nsid not in found:
                found[nsid] = (label, path)
        opened = Rtnl.open_many([path for _, path in found.values()])
        named = {}
        for nsid, (label, path) in found.items():
            rtnl = opened[path]
            if not isinstance(rtnl, BaseException):
                named[nsid] = (label, self._container_namespace(rtnl, netns_inode(path), nsid))
        return named

    def _collect(self) -> Snapshot:
        started = time.time()
        problems: list[str] = []
        networks_raw, containers_raw, docker_error = self._docker_lists()

        with Rtnl(self.ctx.netns) as host:
            links, addrs = host.links(), _addresses(host.addresses())
            host_inode = netns_inode(self.ctx.netns or "/proc/self/ns/net")

            # Running containers: pid and netns inode; then one socket per distinct netns, opened in one go.
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
            ns_by_inode: dict[int, _Namespace] = {}
            opened = Rtnl.open_many(list(path_of_inode.values()))
            for inode, path in path_of_inode.items():
                rtnl = opened[path]
                try:
                    if isinstance(rtnl, BaseException):
                        raise rtnl
                    ns_by_inode[inode] = self._container_namespace(rtnl, inode, host.netnsid_of(path))
                except (FileNotFoundError, NotFound):
                    problems.append(f"a container's netns ({path}) vanished while the snapshot was taken")
                except (OSError, NetconError) as error:
                    problems.append(f"netns {path} could not be read: {error}")
            known = {ns.nsid for ns in ns_by_inode.values()}
            unmatched = {
                link.link_netnsid for link in links if link.kind == "veth" and link.link_netnsid is not None
            } - known
            named = self._named_namespaces(host, unmatched, host_inode, set(ns_by_inode)) if unmatched else {}

        names = {c["Id"]: _name(c) for c in containers_raw}
        by_ifindex = {link.index: link for link in links}

        # Who lives in which netns: inode -> container ids, and nsid -> the netns owner (first started).
        members: dict[int, list[str]] = {}
        for cid, inode in inode_of.items():
            members.setdefault(inode, []).append(cid)
        owner_by_nsid: dict[int, str] = {}
        modes = {c["Id"]: (c.get("HostConfig") or {}).get("NetworkMode") or "" for c in containers_raw}
        for inode, cids in members.items():
            ns = ns_by_inode.get(inode)
            if ns and ns.nsid is not None:
                owners = [c for c in cids if not modes[c].startswith("container:")] or cids
                owner_by_nsid[ns.nsid] = owners[0]

        containers = tuple(
            self._container(c, names, inspected, inode_of, members, ns_by_inode, host_inode) for c in containers_raw
        )

        addrs_by_name = {link.ifname: addrs.get(link.index, ()) for link in links}
        networks = []
        for net in networks_raw:
            attachments = []
            for c in containers_raw:
                ep = ((c.get("NetworkSettings") or {}).get("Networks") or {}).get(net["Name"])
                if not ep or ep.get("NetworkID") != net["Id"] or not ep.get("EndpointID"):
                    continue
                info = inspected.get(c["Id"])
                attachments.append(
                    Attachment(
                        container_id=c["Id"],
                        container_name=names[c["Id"]],
                        ipv4=ep.get("IPAddress") or None,
                        prefixlen=ep.get("IPPrefixLen") or None,
                        mac=ep.get("MacAddress") or None,
                        aliases=info.aliases.get(net["Name"], ()) if info else (),
                        endpoint_id=ep["EndpointID"],
                    )
                )
            ipam = (net.get("IPAM") or {}).get("Config") or []
            networks.append(
                Network(
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
                    attachments=tuple(sorted(attachments, key=lambda a: natural_key(a.container_name))),
                )
            )
        networks.sort(key=lambda n: natural_key(n.name))
        network_of_bridge = {n.bridge: n.name for n in networks if n.bridge}

        interfaces, bridges, veths = [], [], []
        for link in links:
            master = by_ifindex.get(link.master) if link.master else None
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
                ports = sorted((port.ifname for port in links if port.master == link.index), key=natural_key)
                bridges.append(
                    Bridge(
                        name=link.ifname,
                        ifindex=link.index,
                        bridge_id=link.bridge_id or "",
                        stp=link.stp,
                        interfaces=tuple(ports),
                        network=network_of_bridge.get(link.ifname),
                        mtu=link.mtu,
                        state=link.state,
                    )
                )
            elif link.kind == "veth":
                veths.append(self._veth(link, master_name, by_ifindex, ns_by_inode, owner_by_nsid, names, named))
        return Snapshot(
            host=socket.gethostname() + (f" [{os.path.basename(self.ctx.netns)}]" if self.ctx.netns else ""),
            docker_version=self._docker_version,
            docker_error=docker_error,
            taken_at=started,
            networks=tuple(networks),
            containers=tuple(sorted(containers, key=lambda c: natural_key(c.name))),
            bridges=tuple(sorted(bridges, key=lambda b: natural_key(b.name))),
            veths=tuple(sorted(veths, key=lambda v: natural_key(v.ifname))),
            interfaces=tuple(interfaces),
            problems=tuple(problems),
        )

    def _container(self, c, names, inspected, inode_of, members, ns_by_inode, host_inode) -> Container:
        cid = c["Id"]
        mode = (c.get("HostConfig") or {}).get("NetworkMode") or ""
        owner = None
        if mode == "default":
            mode = "bridge"
        elif mode.startswith("container:"):
            ref = mode.split(":", 1)[1]
            owner = names.get(ref) or next((n for i, n in names.items() if i.startswith(ref)), ref)
            mode = f"container:{owner}"
        eps = (c.get("NetworkSettings") or {}).get("Networks") or {}
        inode = inode_of.get(cid)
        info = inspected.get(cid)
        shared = tuple(sorted((names[o] for o in members.get(inode, ()) if o != cid), key=natural_key)) if inode else ()
        ns = ns_by_inode.get(inode) if inode else None
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
            name=names[cid],
            state=c.get("State") or "",
            image=c.get("Image") or "",
            network_mode=mode,
            pid=info.pid if info else None,
            netns_inode=inode,
            shares_netns_with=shared,
            netns_owner=owner,
            ipv4=ipv4,
            ipv4_shared=ipv4_shared,
            networks=tuple(sorted(eps, key=natural_key)),
            interfaces=ns.interfaces if ns else (),
            labels=tuple(sorted((c.get("Labels") or {}).items())),
            problem=problem,
        )

    @staticmethod
    def _veth(link: Link, master_name, by_ifindex, ns_by_inode, owner_by_nsid, names, named) -> Veth:
        peer_name = container = container_id = peer_netns = None
        if link.link_netnsid is None:
            peer = by_ifindex.get(link.link)
            peer_name = peer.ifname if peer else None
        else:
            ns = next((n for n in ns_by_inode.values() if n.nsid == link.link_netnsid), None)
            if ns is None and link.link_netnsid in named:
                peer_netns, ns = named[link.link_netnsid]
            if ns:
                peer_name = next((i.ifname for i in ns.interfaces if i.ifindex == link.link), None)
            container_id = owner_by_nsid.get(link.link_netnsid)
            container = names.get(container_id) if container_id else None
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
