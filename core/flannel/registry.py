"""Flannel's data in etcd: ``<prefix>/config`` and ``<prefix>/subnets/<key>``, over either etcd API.

The store reads and writes raw keys; ``lease.py`` decides what to write. A key under ``subnets/`` that is not a
lease (a name that is not a subnet, a value that is not flannel's JSON or not UTF-8) is listed as a
``BrokenLease`` with its key and the reason, never dropped: flanneld skips such keys silently, and a user then
sees nothing of them. One bad record never hides the good ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from netcon.core.context import HostContext
from netcon.core.errors import NetconError, NotFound
from netcon.core.etcd import EtcdOptions, KeyValue, Watch, WatchEvent, open_client
from netcon.core.flannel.config import FlannelConfig, parse_config
from netcon.core.flannel.lease import LEASE_FIELDS, Lease, LeaseAttrs, ipv4_int, parse_subnet_key, subnet_key
from netcon.core.validate.values import shown

if TYPE_CHECKING:
    from netcon.core.etcd import EtcdClient  # v2's or v3's: v3 (aetcd, grpc) is imported only when used

DEFAULT_PREFIX = "/coreos.com/network"


def normalize_prefix(prefix: str | None) -> str:
    """``/atomic.io/network/`` -> ``/atomic.io/network`` (flanneld joins paths, so slashes do not matter);
    None: the default. An empty or root prefix is refused (core.validate.flannel.etcd_prefix)."""
    from netcon.core.validate.flannel import etcd_prefix

    return DEFAULT_PREFIX if prefix is None else etcd_prefix(prefix)


@dataclass(frozen=True)
class BrokenLease:
    """A key under ``<prefix>/subnets/`` that is not a flannel lease, and why (one sentence)."""

    key: str
    error: str
    subnet: str | None = None  # when the key's name is a subnet (its value is what is broken)
    revision: int = 0

    @property
    def ident(self) -> str:
        """What a table keys the row by: the subnet when the name is one (so a lease whose value breaks
        replaces its own row), else the key."""
        return self.subnet or self.key

    def row(self) -> dict[str, Any]:
        """The ``show leases --json`` record: the key, the reason, every lease field null."""
        return {"key": self.key, "broken": True, "error": self.error, **dict.fromkeys(LEASE_FIELDS)}


@dataclass(frozen=True)
class LeaseListing:
    """Every key under ``subnets/``: the leases sorted by subnet, the broken keys, and the revision read at."""

    leases: tuple[Lease, ...]
    broken: tuple[BrokenLease, ...]
    revision: int

    def not_read(self, subnets_prefix: str) -> tuple[str, ...]:
        """What could not be read, one sentence each (empty when every key was a lease)."""
        if not self.broken:
            return ()
        count = len(self.broken)
        return (
            f"{count} key{'s' if count > 1 else ''} under {subnets_prefix} could not be read as "
            f"flannel lease{'s' if count > 1 else ''} (marked broken).",
        )


@dataclass(frozen=True)
class LeaseEvent:
    """A watch event as the lease table sees it: ``added`` (a lease), ``removed`` or ``broken``."""

    kind: str  # "added", "removed" or "broken"
    subnet: str | None  # None for a key whose name is not a subnet
    lease: Lease | None  # set for "added"
    key: str = ""
    broken: BrokenLease | None = None  # set for "broken"

    @property
    def ident(self) -> str:
        return self.subnet or self.key


def _order(lease: Lease) -> tuple[int, int]:
    address, _, plen = lease.subnet.partition("/")
    return ipv4_int(address) or 0, int(plen)


def _utf8(value: str) -> bool:
    """False for a value the etcd client decoded with surrogate escapes (its bytes are not UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class FlannelStore:
    """One flannel network in etcd: its config and its subnet leases."""

    def __init__(self, client: EtcdClient, prefix: str | None = None) -> None:
        self.client = client
        self.prefix = normalize_prefix(prefix)

    @classmethod
    def open(cls, options: EtcdOptions, prefix: str | None = None) -> FlannelStore:
        """Connect; with ``api="auto"`` use the API under which ``<prefix>/config`` exists."""
        prefix = normalize_prefix(prefix)
        return cls(open_client(options, f"{prefix}/config"), prefix)

    @property
    def config_key(self) -> str:
        return f"{self.prefix}/config"

    @property
    def subnets_prefix(self) -> str:
        return f"{self.prefix}/subnets"

    def lease_key(self, subnet: str) -> str:
        return f"{self.subnets_prefix}/{subnet_key(subnet)}"

    def __str__(self) -> str:  # how the audit log names the store an operation used
        return f"{self.where()} {self.prefix}"

    def where(self) -> str:
        return f"etcd v{self.client.api} at {self.client.endpoint}"

    def config_text(self) -> str:
        kv = self.client.get(self.config_key)
        if kv is None:
            raise NotFound(
                f"No flannel config at {self.config_key} ({self.where()}); check --etcd-prefix and "
                f"--etcd-api, or set one with 'netcon flannel config set'.",
                target=self.config_key,
            )
        if not _utf8(kv.value):
            raise NetconError(
                f"The flannel config at {self.config_key} ({self.where()}) is not UTF-8 text.", target=self.config_key
            )
        return kv.value

    def config(self) -> FlannelConfig:
        return parse_config(self.config_text())

    def listing(self, ttls: bool = True) -> LeaseListing:
        """Every key under ``subnets/``: leases sorted by subnet, broken keys in key order, and the revision to
        watch from. Without ``ttls`` a v3 lease whose expiry the client has not read yet has ``expires_at``
        None (``ttl_known`` False) and ``with_ttls`` fills it in: one request lists 10,000 leases, while
        their TTLs are one request each."""
        listing = self.client.list_prefix(self.subnets_prefix, ttls)
        leases: list[Lease] = []
        broken: list[BrokenLease] = []
        for kv in listing.items:
            read = self.read_lease(kv)
            if isinstance(read, Lease):
                leases.append(read)
            else:
                broken.append(read)
        leases.sort(key=_order)
        return LeaseListing(tuple(leases), tuple(broken), listing.revision)

    def with_ttls(self, leases: tuple[Lease, ...]) -> tuple[Lease, ...]:
        """``leases`` with every unknown expiry read (v3; concurrent, cached by the client)."""
        known = self.client.expiries(lease.lease_id for lease in leases if not lease.ttl_known)
        if not known:
            return leases
        return tuple(
            lease if lease.ttl_known else replace(lease, expires_at=known.get(lease.lease_id)) for lease in leases
        )

    def leases(self) -> tuple[tuple[Lease, ...], int]:
        """The valid leases, sorted by subnet, and the revision to watch from (what flanneld allocates
        around: it skips broken keys too)."""
        listing = self.listing()
        return listing.leases, listing.revision

    def lease(self, subnet: str) -> Lease | None:
        kv = self.client.get(self.lease_key(subnet))
        if kv is None:
            return None
        read = self.read_lease(kv)
        return read if isinstance(read, Lease) else None

    def read_lease(self, kv: KeyValue) -> Lease | BrokenLease:
        """One key as a lease, or as a broken record saying what is wrong with it."""
        name = kv.key[len(self.subnets_prefix) + 1 :] if kv.key.startswith(self.subnets_prefix + "/") else kv.key
        parsed = parse_subnet_key(name) if "/" not in name else None
        if parsed is None:
            return BrokenLease(
                kv.key, f"The key name {shown(name)} is not a subnet like 10.5.34.0-24.", revision=kv.revision
            )
        subnet = f"{parsed[0]}/{parsed[1]}"
        if not _utf8(kv.value):
            return BrokenLease(kv.key, "The value is not UTF-8 text.", subnet, kv.revision)
        try:
            attrs = LeaseAttrs.from_json(kv.value)
        except NetconError as error:
            return BrokenLease(kv.key, str(error), subnet, kv.revision)
        return Lease(subnet, attrs, kv.expires_at, kv.key, kv.revision, kv.lease_id)

    def create_lease(self, ctx: HostContext, subnet: str, attrs: LeaseAttrs, ttl: int | None) -> bool:
        """Create the lease unless the key exists (v2 prevExist=false, v3 Version==0 transaction)."""
        ctx.require_writable(f"create the flannel lease {subnet}")
        return self.client.create(self.lease_key(subnet), attrs.to_json(), ttl)

    def write_lease(self, ctx: HostContext, subnet: str, attrs: LeaseAttrs, ttl: int | None) -> Lease:
        """Set the lease (renewal, reservation): a v2 set with ttl, a v3 grant and put."""
        ctx.require_writable(f"write the flannel lease {subnet}")
        kv = self.client.put(self.lease_key(subnet), attrs.to_json(), ttl)
        return Lease(subnet, attrs, kv.expires_at, kv.key, kv.revision, kv.lease_id)

    def delete_lease(self, ctx: HostContext, subnet: str) -> bool:
        ctx.require_writable(f"delete the flannel lease {subnet}")
        return self.client.delete(self.lease_key(subnet))

    def watch(self, since: int) -> Watch:
        return self.client.watch_prefix(self.subnets_prefix, since)

    def event(self, event: WatchEvent) -> LeaseEvent:
        """A raw watch event as a lease event: a lease added or changed, a key removed, or a broken key."""
        read = self.read_lease(KeyValue(event.key, event.value, event.expires_at, event.revision))
        subnet = read.subnet if isinstance(read, (Lease, BrokenLease)) else None
        if event.kind == "delete":
            return LeaseEvent("removed", subnet, None, event.key)
        if isinstance(read, BrokenLease):
            return LeaseEvent("broken", subnet, None, event.key, read)
        return LeaseEvent("added", subnet, read, event.key)

    def close(self) -> None:
        self.client.close()


def set_config(ctx: HostContext, store: FlannelStore, text: str) -> FlannelConfig:
    """Validate ``text`` and store it as the config; an invalid config is refused before anything is written.
    (The audited operation a user calls is ``core.flannel.operations.config_set``.)"""
    config = parse_config(text)
    ctx.require_writable(f"set the flannel config at {store.config_key}")
    store.client.put(store.config_key, text.strip())
    return config
