"""flannel as the exporter reads it on its interval: every lease with its expiry, the keys that are not leases,
and whether this host's kernel matches its own lease (``core.flannel.host_match``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel import vxlan
from netcon.core.flannel.host_match import KernelMatch, kernel_match
from netcon.core.flannel.registry import FlannelStore
from netcon.core.pyroute import Netlink
from netcon.core.snapshot import SnapshotCollector


@dataclass(frozen=True)
class LeaseRow:
    subnet: str
    public_ip: str
    expires_at: float | None  # wall clock; None for a reservation (no TTL)


@dataclass(frozen=True)
class FlannelReading:
    leases: tuple[LeaseRow, ...] = ()
    broken: int = 0
    match: KernelMatch | None = None
    read: bool = False  # False until the first successful read (and after a failed one)


class FlannelReader:
    """Keeps one etcd client open between runs (a failed run drops it; the next one connects anew)."""

    def __init__(
        self, ctx: HostContext, options: EtcdOptions, prefix: str | None, collector: SnapshotCollector
    ) -> None:
        self.ctx = ctx
        self.options = options
        self.prefix = prefix
        self.collector = collector
        self._store: FlannelStore | None = None
        self._lock = threading.Lock()
        self.reading = FlannelReading()
        self.version = 0

    def run(self) -> None:
        try:
            if self._store is None:
                self._store = FlannelStore.open(self.options, self.prefix)
            config = self._store.config()
            listing = self._store.listing(ttls=True)
        except NetconError:
            self.close()
            with self._lock:
                self.reading = FlannelReading()
                self.version += 1
            raise
        snapshot = self.collector.collect()
        with Netlink(self.ctx) as nl:
            device = vxlan.read_device(nl, vxlan.device_name(config.vni))
        reading = FlannelReading(
            tuple(LeaseRow(lease.subnet, lease.attrs.public_ip, lease.expires_at) for lease in listing.leases),
            len(listing.broken),
            kernel_match(config, listing.leases, snapshot, device),
            True,
        )
        with self._lock:
            self.reading = reading
            self.version += 1

    def close(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            store.close()
