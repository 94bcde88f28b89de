"""``netcon flannel agent``: a drop-in for flanneld with the vxlan backend.

Acquires a lease, sets up ``flannel.<VNI>``, writes subnet.env, tells systemd READY=1, then keeps the kernel's
neighbour/FDB/route entries in step with the leases in etcd. Unlike flanneld it survives its lease being
revoked (it logs it and acquires again), and while etcd is unreachable it leaves the kernel's entries alone,
so traffic keeps flowing, and retries after 1 s, then backs off to at most ``retry_interval`` seconds (as
flanneld retries within seconds). Every wait ends at once when ``stop`` is set. Keys under ``subnets/`` that
are not leases are skipped, as flanneld skips them, and logged once each.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from netcon.core.context import HostContext
from netcon.core.errors import EtcdUnavailable, NetconError, NotFound, UsageError
from netcon.core.etcd import EtcdOptions, Watch, WatchReset
from netcon.core.flannel import vxlan
from netcon.core.flannel.config import FlannelConfig
from netcon.core.flannel.host_rules import expected_mtu
from netcon.core.flannel.lease import LEASE_TTL, Lease, acquire_lease, renew_lease, vxlan_attrs
from netcon.core.flannel.registry import BrokenLease, FlannelStore, LeaseEvent
from netcon.core.flannel.subnet_file import DEFAULT_SUBNET_FILE, previous_subnet, write_subnet_file
from netcon.core.netlink.rtnl import MAIN_TABLE
from netcon.core.pyroute import Netlink

log = logging.getLogger("netcon.flannel.agent")
T = TypeVar("T")


@dataclass(frozen=True)
class AgentOptions:
    etcd: EtcdOptions
    prefix: str | None = None
    ifaces: tuple[str, ...] = ()  # names or addresses; the first that exists wins
    public_ip: str | None = None
    subnet_file: str = DEFAULT_SUBNET_FILE
    ip_masq: bool = False
    renew_margin: float = 60 * 60.0  # seconds before expiry
    retry_interval: float = 5.0  # the cap of the retry backoff, seconds
    lease_ttl: int = LEASE_TTL
    notify_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class Underlay:
    ifname: str
    ifindex: int
    address: str  # the iface address: vxlan ``local``
    public_ip: str  # what goes into the lease
    mtu: int


def sd_notify(state: str, env: dict[str, str]) -> bool:
    """Send ``state`` (e.g. READY=1) to systemd's NOTIFY_SOCKET; False when not run under Type=notify."""
    path = env.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(path)
        sock.sendall(state.encode())
    return True


def find_underlay(nl: Netlink, ifaces: tuple[str, ...], public_ip: str | None) -> Underlay:
    """flanneld's interface choice: the first ``--iface`` (name or address) present, else the default route's."""
    addrs = [(a["index"], a.get("IFA_ADDRESS")) for a in nl.call("list addresses", "get_addr", family=socket.AF_INET)]
    chosen: tuple[int, str] | None = None
    for wanted in ifaces:
        index = nl.index(wanted)
        match = [(i, a) for i, a in addrs if (i == index if index else a == wanted)]
        if match:
            chosen = match[0]
            break
    if ifaces and chosen is None:
        raise UsageError(f"None of the interfaces {', '.join(ifaces)} exists with an IPv4 address.")
    if chosen is None:
        default = [
            r
            for r in nl.call("read routes", "get_routes", family=socket.AF_INET, table=MAIN_TABLE)
            if r["dst_len"] == 0 and r.get("RTA_OIF")
        ]
        if not default:
            raise UsageError("No --iface given and no default route to choose the interface by; pass --iface.")
        index = default[0].get("RTA_OIF")
        chosen = next(((i, a) for i, a in addrs if i == index), None)
        if chosen is None:
            raise UsageError("The default route's interface has no IPv4 address; pass --iface.")
    link = nl.call("read the interface", "link", "get", index=chosen[0])[0]
    return Underlay(
        link.get_attr("IFLA_IFNAME"),
        chosen[0],
        chosen[1],
        str(ipaddress.IPv4Address(public_ip)) if public_ip else chosen[1],
        int(link.get("IFLA_MTU")),
    )


def remote_of(lease: Lease) -> vxlan.Remote | None:
    if lease.attrs.backend_type != "vxlan" or not lease.attrs.vtep_mac:
        return None
    return vxlan.Remote(lease.canonical_subnet, lease.attrs.public_ip, lease.attrs.vtep_mac)


class Backoff:
    """Waits between retries: ``first`` seconds, doubling up to ``cap``; ``reset`` after a success."""

    def __init__(self, cap: float, first: float = 1.0) -> None:
        self.cap = cap
        self.first = min(first, cap)
        self.delay = self.first

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.cap, self.delay * 2)
        return delay

    def reset(self) -> None:
        self.delay = self.first


class Agent:
    """One host's flannel agent; ``run(stop)`` blocks until ``stop`` is set."""

    def __init__(self, ctx: HostContext, options: AgentOptions) -> None:
        self.ctx = ctx
        self.options = options
        self.ready = threading.Event()
        self.lease: Lease | None = None
        self.renewals = 0
        self.reacquisitions = 0
        self._remotes: dict[str, vxlan.Remote] = {}
        self._backoff = Backoff(options.retry_interval)
        self._reported: set[tuple[str, str]] = set()  # broken keys already logged

    def run(self, stop: threading.Event) -> None:
        self.ctx.require_writable("run the flannel agent")
        with Netlink(self.ctx) as nl:
            underlay = find_underlay(nl, self.options.ifaces, self.options.public_ip)
            store = self._retry(
                stop, "connect to etcd", lambda: FlannelStore.open(self.options.etcd, self.options.prefix)
            )
            if store is None:
                return
            try:
                config = self._retry(stop, "read the flannel config", store.config)
                if config is None:
                    return
                if config.backend_type != "vxlan":
                    raise UsageError(
                        f"The flannel config asks for the {config.backend_type} backend; "
                        f"netcon's agent implements vxlan only."
                    )
                self._start(stop, nl, store, config, underlay)
            finally:
                store.close()

    def _start(
        self, stop: threading.Event, nl: Netlink, store: FlannelStore, config: FlannelConfig, underlay: Underlay
    ) -> None:
        name = vxlan.device_name(config.vni)
        existing = vxlan.read_device(nl, name)
        self.mac = existing.mac if existing and existing.vni == config.vni else vxlan.random_mac()
        self.attrs = vxlan_attrs(underlay.public_ip, config.vni, self.mac)
        lease = self._retry(
            stop,
            "acquire a lease",
            lambda: acquire_lease(
                self.ctx, store, self.attrs, previous_subnet(self.options.subnet_file), self.options.lease_ttl
            ),
        )
        if lease is None:
            return
        log.info("acquired lease %s for %s (expires in %ss)", lease.subnet, underlay.public_ip, lease.ttl_seconds())
        mtu = expected_mtu(underlay.mtu) or vxlan.vxlan_mtu(underlay.mtu)
        device = self._configure(nl, config, underlay, lease, mtu)
        if sd_notify("READY=1", self.options.notify_env):
            log.info("told systemd READY=1")
        self.ready.set()
        self._follow(stop, nl, store, config, underlay, device, mtu)

    def _configure(
        self, nl: Netlink, config: FlannelConfig, underlay: Underlay, lease: Lease, mtu: int
    ) -> vxlan.VxlanDevice:
        device = vxlan.ensure_device(
            self.ctx,
            nl,
            config.vni,
            underlay.address,
            underlay.ifindex,
            config.port,
            mtu,
            str(lease.network.network_address),
            self.mac,
            config.learning,
        )
        write_subnet_file(self.ctx, self.options.subnet_file, config.network, lease.subnet, mtu, self.options.ip_masq)
        if self.options.ip_masq:
            log.warning("--ip-masq is recorded in %s but netcon installs no masquerade rules", self.options.subnet_file)
        self.lease = lease
        return device

    def _follow(
        self,
        stop: threading.Event,
        nl: Netlink,
        store: FlannelStore,
        config: FlannelConfig,
        underlay: Underlay,
        device: vxlan.VxlanDevice,
        mtu: int,
    ) -> None:
        """Resync, then apply watch events and renew on time; any etcd failure: wait and start over."""
        while not stop.is_set():
            watch: Watch | None = None
            try:
                revision = self._resync(nl, store, config, underlay, device, mtu)
                self._backoff.reset()
                device = vxlan.read_device(nl, device.ifname) or device
                watch = store.watch(revision)
                while not stop.is_set():
                    self._renew_if_due(store)
                    for event in watch.next(timeout=min(1.0, max(0.05, self._renew_in()))):
                        lease_event = store.event(event)
                        if lease_event.broken is not None:
                            self._report((lease_event.broken,))
                        elif self._apply(nl, device.ifindex, lease_event):
                            raise _Revoked()
            except _Revoked:
                log.error(
                    "lease %s was revoked in etcd; acquiring a lease again", self.lease.subnet if self.lease else "?"
                )
                self.reacquisitions += 1
                self.lease = None
            except WatchReset as error:
                log.warning("%s Listing again.", error)
            except (EtcdUnavailable, NetconError) as error:
                if not _etcd_failure(error):
                    raise
                delay = self._backoff.next()
                log.error("%s Retrying in %gs; forwarding continues.", error, delay)
                stop.wait(delay)
            finally:
                if watch is not None:
                    watch.close()

    def _report(self, broken: Iterable[BrokenLease]) -> None:
        """Log each broken key once (flanneld skips them silently)."""
        for record in broken:
            if (record.key, record.error) not in self._reported:
                self._reported.add((record.key, record.error))
                log.warning("skipping %s: it is not a flannel lease: %s", record.key, record.error)

    def _resync(
        self,
        nl: Netlink,
        store: FlannelStore,
        config: FlannelConfig,
        underlay: Underlay,
        device: vxlan.VxlanDevice,
        mtu: int,
    ) -> int:
        listing = store.listing(ttls=False)  # only this host's TTL matters here; read below
        self._report(listing.broken)
        leases, revision = listing.leases, listing.revision
        own = self.lease.subnet if self.lease else None
        if own is None or not any(lease.subnet == own for lease in leases):
            if own is not None:
                log.error("lease %s is gone from etcd; acquiring a lease again", own)
                self.reacquisitions += 1
            lease = acquire_lease(
                self.ctx, store, self.attrs, own or previous_subnet(self.options.subnet_file), self.options.lease_ttl
            )
            log.info("acquired lease %s", lease.subnet)
            self._configure(nl, config, underlay, lease, mtu)
            listing = store.listing(ttls=False)
            leases, revision = listing.leases, listing.revision
        else:
            self.lease = store.with_ttls((next(lease for lease in leases if lease.subnet == own),))[0]
        own = self.lease.subnet if self.lease else None
        remotes = {r.subnet: r for r in map(remote_of, leases) if r is not None and r.subnet != own}
        removed = vxlan.reconcile(self.ctx, nl, device.ifname, tuple(remotes.values()))
        if removed:
            log.info("removed stale entries: %s", ", ".join(removed))
        for remote in remotes.values():
            vxlan.add_remote(self.ctx, nl, device.ifindex, remote)
        self._remotes = remotes
        return revision

    def _apply(self, nl: Netlink, ifindex: int, event: LeaseEvent) -> bool:
        """Apply one lease event; True when it removed our own lease."""
        if self.lease is not None and event.subnet == self.lease.canonical_subnet:
            if event.kind == "removed":
                return True
            self.lease = event.lease
            return False
        old = self._remotes.pop(event.subnet, None) if event.subnet else None
        new = remote_of(event.lease) if event.lease is not None else None
        if old is not None and old != new:
            vxlan.remove_remote(self.ctx, nl, ifindex, old)
            log.info("removed %s (%s)", old.subnet, old.public_ip)
        if new is not None:
            if new != old:
                vxlan.add_remote(self.ctx, nl, ifindex, new)
                log.info("added %s via %s (%s)", new.subnet, new.public_ip, new.vtep_mac)
            self._remotes[new.subnet] = new
        return False

    def _renew_in(self) -> float:
        if self.lease is None or self.lease.expires_at is None:
            return 3600.0
        return self.lease.expires_at - self.options.renew_margin - time.time()

    def _renew_if_due(self, store: FlannelStore) -> None:
        if self.lease is None or self._renew_in() > 0:
            return
        self.lease = renew_lease(self.ctx, store, self.lease, self.options.lease_ttl)
        self.renewals += 1
        log.info("renewed lease %s (expires in %ss)", self.lease.subnet, self.lease.ttl_seconds())

    def _retry(self, stop: threading.Event, what: str, fn: Callable[[], T]) -> T | None:
        """``fn()`` until it works; etcd being down or the config missing waits (backing off), interruptibly."""
        while not stop.is_set():
            try:
                result = fn()
            except NetconError as error:
                if not isinstance(error, NotFound) and not _etcd_failure(error):
                    raise
                delay = self._backoff.next()
                log.error("could not %s: %s Retrying in %gs.", what, error, delay)
                stop.wait(delay)
                continue
            self._backoff.reset()
            return result
        return None


class _Revoked(Exception):
    """Our own lease disappeared from etcd."""


def _etcd_failure(error: NetconError) -> bool:
    """True for errors that come from etcd being unreachable or unwell, which the agent waits out."""
    return isinstance(error, (EtcdUnavailable, WatchReset)) or str(error).startswith("etcd ")
