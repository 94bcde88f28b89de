"""Flannel's data in etcd: ``<prefix>/config`` and ``<prefix>/subnets/<key>``, over either etcd API.

The store reads and writes raw keys; ``lease.py`` decides what to write. Undecodable subnet keys are skipped,
as flanneld skips them.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcon.core.audit import mutation
from netcon.core.context import HostContext
from netcon.core.errors import NetconError, NotFound, UsageError
from netcon.core.etcd import EtcdClient, EtcdOptions, Watch, WatchEvent, open_client
from netcon.core.flannel.config import FlannelConfig, parse_config
from netcon.core.flannel.lease import Lease, LeaseAttrs, ipv4_int, parse_subnet_key, subnet_key

DEFAULT_PREFIX = "/coreos.com/network"


def normalize_prefix(prefix: str | None) -> str:
    """``/atomic.io/network/`` -> ``/atomic.io/network`` (flanneld joins paths, so slashes do not matter)."""
    text = "/" + (prefix or DEFAULT_PREFIX).strip().strip("/")
    if text == "/":
        raise UsageError("The etcd prefix must not be empty or '/'.")
    return text


@dataclass(frozen=True)
class LeaseEvent:
    kind: str  # "added" or "removed"
    subnet: str
    lease: Lease | None  # None for "removed"


def _order(lease: Lease) -> tuple[int, int]:
    address, _, plen = lease.subnet.partition("/")
    return ipv4_int(address) or 0, int(plen)


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
        return kv.value

    def config(self) -> FlannelConfig:
        return parse_config(self.config_text())

    def leases(self) -> tuple[tuple[Lease, ...], int]:
        """All decodable leases, sorted by subnet, and the revision to watch from."""
        listing = self.client.list_prefix(self.subnets_prefix)
        leases = [lease for lease in map(self._lease, listing.items) if lease is not None]
        leases.sort(key=_order)
        return tuple(leases), listing.revision

    def lease(self, subnet: str) -> Lease | None:
        kv = self.client.get(self.lease_key(subnet))
        return None if kv is None else self._lease(kv)

    def _lease(self, kv) -> Lease | None:
        parsed = parse_subnet_key(kv.key)
        if parsed is None or not kv.key.startswith(self.subnets_prefix + "/"):
            return None
        try:
            attrs = LeaseAttrs.from_json(kv.value)
        except NetconError:
            return None
        return Lease(f"{parsed[0]}/{parsed[1]}", attrs, kv.expires_at, kv.key, kv.revision)

    def create_lease(self, ctx: HostContext, subnet: str, attrs: LeaseAttrs, ttl: int | None) -> bool:
        """Create the lease unless the key exists (v2 prevExist=false, v3 Version==0 transaction)."""
        ctx.require_writable(f"create the flannel lease {subnet}")
        return self.client.create(self.lease_key(subnet), attrs.to_json(), ttl)

    def write_lease(self, ctx: HostContext, subnet: str, attrs: LeaseAttrs, ttl: int | None) -> Lease:
        """Set the lease (renewal, reservation): a v2 set with ttl, a v3 grant and put."""
        ctx.require_writable(f"write the flannel lease {subnet}")
        kv = self.client.put(self.lease_key(subnet), attrs.to_json(), ttl)
        return Lease(subnet, attrs, kv.expires_at, kv.key, kv.revision)

    def delete_lease(self, ctx: HostContext, subnet: str) -> bool:
        ctx.require_writable(f"delete the flannel lease {subnet}")
        return self.client.delete(self.lease_key(subnet))

    def watch(self, since: int) -> Watch:
        return self.client.watch_prefix(self.subnets_prefix, since)

    def event(self, event: WatchEvent) -> LeaseEvent | None:
        """A raw watch event as a lease event; None for keys that are not leases."""
        parsed = parse_subnet_key(event.key)
        if parsed is None:
            return None
        subnet = f"{parsed[0]}/{parsed[1]}"
        if event.kind == "delete":
            return LeaseEvent("removed", subnet, None)
        try:
            attrs = LeaseAttrs.from_json(event.value)
        except NetconError:
            return None
        return LeaseEvent("added", subnet, Lease(subnet, attrs, event.expires_at, event.key, event.revision))

    def close(self) -> None:
        self.client.close()


@mutation("flannel.config.set", "set the flannel config")
def set_config(ctx: HostContext, store: FlannelStore, text: str) -> FlannelConfig:
    """Validate ``text`` and store it as the config; an invalid config is refused before anything is written."""
    config = parse_config(text)
    store.client.put(store.config_key, text.strip())
    return config
