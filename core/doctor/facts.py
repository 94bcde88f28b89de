"""The evidence the checks look at (``HostEvidence``, from ``read_evidence``), read once per host (and etcd
function of these facts and a full run costs one snapshot, one netlink session, one iptables-save and one
etcd listing per host.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from dataclasses import dataclass
from functools import partial

from netcon.core.context import HostContext
from netcon.core.doctor import iptables
from netcon.core.errors import EtcdUnavailable, NetconError, NotFound
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel import vxlan
from netcon.core.flannel.config import FlannelConfig
from netcon.core.flannel.host_rules import own_lease
from netcon.core.flannel.lease import Lease
from netcon.core.flannel.registry import BrokenLease, FlannelStore, normalize_prefix
from netcon.core.model import Snapshot
from netcon.core.netlink.rtnl import MAIN_TABLE
from netcon.core.netns import run_in_netns
from netcon.core.pyroute import Netlink
from netcon.core.snapshot import SnapshotCollector

SYSCTLS = ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables")
IFF_UP = 0x1
RENEW_MARGIN_S = 3600.0  # flanneld's --subnet-lease-renew-margin default (60 min)


@dataclass(frozen=True)
class Target:
    """A host to examine. ``lab_prefix`` marks a lab host: its daemons are repaired with ``netcon lab up``."""

    label: str
    ctx: HostContext
    lab_prefix: str | None = None


@dataclass(frozen=True)
class FlannelView:
    """flannel's data in etcd as read once for the whole run; ``error`` says why it could not be read."""

    endpoints: tuple[str, ...]
    prefix: str
    api: str  # the API asked for ("auto", "2", "3")
    where: str  # "etcd v2 at http://...", or the endpoints when unreachable
    config: FlannelConfig | None
    leases: tuple[Lease, ...]
    read_at: float
    error: str | None = None
    broken: tuple[BrokenLease, ...] = ()  # keys under subnets/ that are not leases
    unreachable: bool = False  # error is etcd not answering (rather than, e.g., no config)
    renew_margin: float = RENEW_MARGIN_S  # a lease with less TTL left should have been renewed

    @property
    def flags(self) -> str:
        """The etcd options a ``netcon flannel`` fix command needs to reach the same store."""
        return f"--etcd-endpoints {','.join(self.endpoints)} --etcd-prefix {self.prefix} --etcd-api {self.api}"


@dataclass(frozen=True)
class Route:
    dst: str  # CIDR
    device: str | None
    gateway: str | None


@dataclass(frozen=True)
class HostEvidence:
    target: Target
    euid: int
    snapshot: Snapshot | None
    sysctls: tuple[tuple[str, str | None], ...]  # None: the file does not exist (module not loaded)
    firewall: iptables.FilterTable | None
    routes: tuple[Route, ...]  # IPv4, main table, default route included
    admin_up: frozenset[str]  # names of links whose IFF_UP is set
    mtus: tuple[tuple[str, int], ...]  # every link's MTU by name
    vxlan: vxlan.VxlanState | None  # the flannel device and its entries, None when flannel is not checked
    flannel: FlannelView | None
    problems: tuple[str, ...]  # what could not be read, one sentence each
    read_s: float = 0.0  # how long reading took

    def sysctl(self, name: str) -> str | None:
        return dict(self.sysctls).get(name)

    def mtu(self, ifname: str) -> int | None:
        return dict(self.mtus).get(ifname)

    @property
    def addresses(self) -> tuple[str, ...]:
        """This host's IPv4 addresses (no prefix)."""
        if self.snapshot is None:
            return ()
        return tuple(a.split("/")[0] for i in self.snapshot.interfaces for a in i.addresses if ":" not in a)

    @property
    def device_name(self) -> str | None:
        if self.flannel is None or self.flannel.config is None:
            return None
        return vxlan.device_name(self.flannel.config.vni)

    @property
    def own_lease(self) -> Lease | None:
        """This host's lease, by the one rule (core.flannel.host_rules.own_lease)."""
        if self.flannel is None:
            return None
        device = self.vxlan.device if self.vxlan else None
        return own_lease(self.flannel.leases, device.mac if device else None, self.addresses)

    def default_device(self) -> str | None:
        return next((r.device for r in self.routes if r.dst == "0.0.0.0/0"), None)


def read_flannel(options: EtcdOptions, prefix: str | None, renew_margin: float = RENEW_MARGIN_S) -> FlannelView:
    """The flannel config and all leases; an unreachable etcd or a missing config is recorded, not raised."""
    view = partial(FlannelView, options.endpoints, renew_margin=renew_margin)
    started = time.time()
    try:
        store = FlannelStore.open(options, prefix)
    except EtcdUnavailable as error:
        return view(
            normalize_prefix(prefix),
            options.api,
            ", ".join(options.endpoints),
            None,
            (),
            started,
            str(error),
            unreachable=True,
        )
    try:
        where = store.where()
        config = store.config()
        listing = store.listing()
        return view(store.prefix, options.api, where, config, listing.leases, time.time(), broken=listing.broken)
    except EtcdUnavailable as error:
        return view(store.prefix, options.api, where, None, (), started, str(error), unreachable=True)
    except NotFound as error:
        return view(store.prefix, options.api, where, None, (), started, str(error))
    except NetconError as error:
        unreachable = str(error).startswith("etcd ")
        return view(store.prefix, options.api, where, None, (), started, str(error), unreachable=unreachable)
    finally:
        store.close()


def _sysctls() -> tuple[tuple[str, str | None], ...]:
    """Read inside the target netns: /proc/sys/net is per network namespace (resolved for the reading thread)."""
    out: list[tuple[str, str | None]] = []
    for name in SYSCTLS:
        try:
            with open("/proc/sys/" + name.replace(".", "/")) as f:
                out.append((name, f.read().strip()))
        except FileNotFoundError:
            out.append((name, None))
    return tuple(out)


NetlinkFacts = tuple[frozenset[str], tuple[tuple[str, int], ...], tuple["Route", ...], vxlan.VxlanState | None]


def _netlink(ctx: HostContext, device: str | None) -> NetlinkFacts:
    """Links (admin state, MTU), IPv4 routes and, when flannel is checked, its device and entries."""
    with Netlink(ctx) as nl:
        links = nl.call("read links", "get_links")
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in links}
        admin_up = frozenset(names[link["index"]] for link in links if link["flags"] & IFF_UP)
        mtus = tuple((link.get_attr("IFLA_IFNAME"), int(link.get_attr("IFLA_MTU") or 0)) for link in links)
        routes = tuple(
            Route(
                f"{r.get_attr('RTA_DST') or '0.0.0.0'}/{r['dst_len']}",
                names.get(r.get_attr("RTA_OIF")),
                r.get_attr("RTA_GATEWAY"),
            )
            for r in nl.call("read routes", "get_routes", family=socket.AF_INET, table=MAIN_TABLE)
        )
        state = vxlan.read_state(ctx, device, nl) if device else None
    return admin_up, mtus, routes, state


def read_evidence(
    target: Target, flannel: FlannelView | None, collector: SnapshotCollector | None = None
) -> HostEvidence:
    ctx = target.ctx
    started = time.perf_counter()
    problems: list[str] = []
    snapshot = None
    try:
        snapshot = (collector or SnapshotCollector(ctx)).collect()
    except NetconError as error:
        problems.append(f"The snapshot could not be taken: {error}")
    try:
        sysctls = run_in_netns(ctx.netns, _sysctls)
    except NetconError as error:
        problems.append(f"Sysctls could not be read: {error}")
        sysctls = ()
    firewall = None
    try:
        firewall = iptables.read(ctx.netns)
    except NetconError as error:
        problems.append(str(error))
    device = vxlan.device_name(flannel.config.vni) if flannel and flannel.config else None
    read: NetlinkFacts = (frozenset(), (), (), None)
    try:
        read = _netlink(ctx, device)
    except NetconError as error:
        problems.append(f"Links and routes could not be read: {error}")
    admin_up, mtus, routes, state = read
    return HostEvidence(
        target,
        os.geteuid(),
        snapshot,
        sysctls,
        firewall,
        routes,
        admin_up,
        mtus,
        state,
        flannel,
        tuple(problems),
        time.perf_counter() - started,
    )


def network_of(cidr: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(cidr, strict=False)
