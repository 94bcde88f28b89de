"""The join that makes a ``Snapshot``: Docker's lists and inspects joined with what netlink read.

``core.snapshot`` reads (Docker's lists and inspects, the host's links, every container netns); this module
only combines: a host veth belongs to the container that owns the netns its peer lives in (by the netns id
the host gives that namespace), a bridge to the network whose bridge name it carries, and a ``container:``
mode container shows its netns owner's addresses.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from netcon.core.model import (
    Attachment,
    Bridge,
    Container,
    ContainerInterface,
    Counters,
    Interface,
    Network,
    Veth,
)
from netcon.core.netlink.rtnl import Link

BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
Raw = dict[str, Any]  # one object of Docker's JSON, as the engine's API returns it


@dataclass(frozen=True)
class Inspected:
    """What a container inspect tells that the list call does not."""

    pid: int | None
    starttime: str | None  # field 22 of /proc/PID/stat: tells a recycled pid apart
    aliases: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Namespace:
    """What netlink shows inside one container netns."""

    inode: int
    nsid: int | None
    interfaces: tuple[ContainerInterface, ...]


@dataclass(frozen=True)
class KernelRead:
    """What the kernel showed, with what had to be asked of Docker to read it (the running containers)."""

    links: list[Link]  # the host's
    addrs: dict[int, tuple[str, ...]]  # the host's, by ifindex
    inspected: dict[str, Inspected]  # running containers, by id
    inode_of: dict[str, int]  # container id -> its netns inode
    namespaces: dict[int, Namespace]  # container netns (not the host's) by inode
    named: dict[int, tuple[str, Namespace]]  # nsid -> (label, netns) of veth peers outside any container


@dataclass(frozen=True)
class _Joined:
    """The kernel's view joined with Docker's names: what the container, network and link steps share."""

    kernel: KernelRead
    names: dict[str, str]  # container id -> name
    members: dict[int, list[str]]  # netns inode -> ids of the containers in it
    owner_by_nsid: dict[int, str]  # nsid -> id of the container that owns that netns
    by_ifindex: dict[int, Link]  # the host's links
    ns_by_nsid: dict[int, Namespace]  # container netns by the id the host gives it


@dataclass(frozen=True)
class Model:
    """The joined objects, each kind in the order the snapshot shows it."""

    networks: tuple[Network, ...]
    containers: tuple[Container, ...]
    bridges: tuple[Bridge, ...]
    veths: tuple[Veth, ...]
    interfaces: tuple[Interface, ...]


def assemble(networks_raw: list[Raw], containers_raw: list[Raw], kernel: KernelRead) -> Model:
    """Every container, network and host link as the model shows them, joined one kind per step."""
    joined = _join(kernel, containers_raw)
    containers = [_container(c, joined) for c in containers_raw]
    networks = _networks(networks_raw, containers_raw, joined)
    interfaces, bridges, veths = _links(joined, {n.bridge: n.name for n in networks if n.bridge})
    return Model(
        networks=tuple(networks),
        containers=tuple(sorted(containers, key=lambda c: c.name)),
        bridges=tuple(sorted(bridges, key=lambda b: b.name)),
        veths=tuple(sorted(veths, key=lambda v: v.ifname)),
        interfaces=tuple(interfaces),
    )


def docker_name(summary: Raw) -> str:
    """A container's name from its list entry (the API gives it with a leading slash)."""
    name: str = summary["Names"][0]
    return name.lstrip("/")


def endpoints(container: Raw) -> dict[str, Raw]:
    """Network name -> endpoint, from a container's list entry or its inspect."""
    found: dict[str, Raw] = (container.get("NetworkSettings") or {}).get("Networks") or {}
    return found


def _mode(container: Raw) -> str:
    mode: str = (container.get("HostConfig") or {}).get("NetworkMode") or ""
    return mode


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


def _join(kernel: KernelRead, containers_raw: list[Raw]) -> _Joined:
    """Who lives in which netns: inode -> container ids, and nsid -> the netns owner (the container that is
    not in ``container:`` mode, else the first listed), which is whom a host veth leads to."""
    names = {c["Id"]: docker_name(c) for c in containers_raw}
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
    ns_by_nsid: dict[int, Namespace] = {}
    for ns in kernel.namespaces.values():
        if ns.nsid is not None:
            ns_by_nsid.setdefault(ns.nsid, ns)
    return _Joined(kernel, names, members, owner_by_nsid, {link.index: link for link in kernel.links}, ns_by_nsid)


def _container(c: Raw, joined: _Joined) -> Container:
    """One container as Docker lists it, with its pid, netns and interfaces from the kernel. A container
    in ``container:`` mode has no addresses of its own in Docker's record; it shows its netns owner's."""
    cid = c["Id"]
    mode, owner = _network_mode(c, joined.names)
    eps = endpoints(c)
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
        ep = endpoints(c).get(net["Name"])
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
