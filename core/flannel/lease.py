"""Subnet leases exactly as flanneld writes them, and flanneld's allocation, renewal and revocation.

Key ``<prefix>/subnets/10.5.34.0-24``; value ``{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan",
"BackendData":{"VNI":1,"VtepMAC":"d6:80:cc:3a:bc:2e"}}`` (Go's field order, compact); TTL 24 h; a key without
TTL or lease is a reservation that flanneld never lets expire.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import time
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from netcon.core.context import HostContext
from netcon.core.errors import NetconError, UsageError
from netcon.core.flannel.config import FlannelConfig
from netcon.core.validate.values import shown

LEASE_TTL = 24 * 3600
RACE_RETRIES = 10
MAX_CANDIDATES = 100
# flanneld's subnetRegex, dots and all; \Z because Go's $ never matches before a trailing newline.
if TYPE_CHECKING:  # the store reads and writes leases; this module decides what to write
    from netcon.core.flannel.registry import FlannelStore

# The fields of a lease's ``show leases --json`` record (a broken key has them all null).
LEASE_FIELDS = ("subnet", "public_ip", "backend_type", "vni", "vtep_mac", "expires_at", "ttl_seconds", "reservation")
_KEY_RE = re.compile(r"(\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?\Z", re.ASCII)


class OutOfSubnets(NetconError):
    """Every subnet of the pool is leased or reserved."""


def subnet_key(subnet: str) -> str:
    """``10.5.34.0/24`` -> ``10.5.34.0-24`` (flanneld's MakeSubnetKey, IPv4 only)."""
    iface = ipaddress.IPv4Interface(subnet)
    return f"{iface.ip}-{iface.network.prefixlen}"


def parse_subnet_key(key: str) -> tuple[str, int] | None:
    """flanneld's ParseSubnetKey: (address, prefix length) of the IPv4 part, None when it is not a lease key."""
    match = _KEY_RE.search(key)
    if not match:
        return None
    address, plen, v6, v6len = match.groups()
    if ipv4_int(address) is None or int(plen) > 31:
        return None
    if v6:
        try:
            ipaddress.IPv6Address(v6)
        except ValueError:
            return None
        if int(v6len) > 127:
            return None
    return address, int(plen)


def ipv4_int(text: str) -> int | None:
    """A dotted quad as an int, strict like Go's ParseIP (no leading zeros); None otherwise. Fast: listings of
    10,000 leases parse one per key."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part.isascii() or not part.isdigit() or (len(part) > 1 and part[0] == "0") or int(part) > 255:
            return None
        value = value << 8 | int(part)
    return value


def compact_json(text: str) -> str:
    """Go's json.Compact: drop insignificant whitespace, keep every literal as written."""
    out, in_string, escaped = [], False, False
    for ch in text:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch not in " \t\r\n":
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class LeaseAttrs:
    """What a lease carries: the host's public IP and its backend's data (raw compact JSON)."""

    public_ip: str
    backend_type: str = ""
    backend_data: str | None = None
    public_ipv6: str | None = None

    def to_json(self) -> str:
        """Byte-for-byte what flanneld's json.Marshal(LeaseAttrs) writes."""
        parts = [f'"PublicIP":{json.dumps(self.public_ip)}', f'"PublicIPv6":{json.dumps(self.public_ipv6)}']
        if self.backend_type:
            parts.append(f'"BackendType":{json.dumps(self.backend_type)}')
        if self.backend_data:
            parts.append(f'"BackendData":{compact_json(self.backend_data)}')
        return "{" + ",".join(parts) + "}"

    @classmethod
    def from_json(cls, text: str) -> LeaseAttrs:
        """flanneld's json.Unmarshal of a lease value; UsageError (one sentence quoting the value) otherwise."""
        try:
            fields_raw = json.loads(text)
        except ValueError as error:
            raise UsageError(
                f"The value is not JSON ({getattr(error, 'msg', error)} at column {getattr(error, 'colno', '?')}): "
                f"{shown(text)}."
            ) from None
        except RecursionError:
            raise UsageError(f"The value is JSON nested too deeply to be a lease: {shown(text)}.") from None
        if not isinstance(fields_raw, dict):
            raise UsageError(f"The value is not a JSON object: {shown(text)}.")
        fields = {key.lower(): value for key, value in fields_raw.items()}  # Go matches names case-insensitively
        public_ip = fields.get("publicip")
        if not isinstance(public_ip, str) or ipv4_int(public_ip) is None:
            raise UsageError(f"The value has no valid PublicIP: {shown(text)}.")
        backend_type, v6 = fields.get("backendtype") or "", fields.get("publicipv6")
        if not isinstance(backend_type, str) or not (v6 is None or isinstance(v6, str)):
            raise UsageError(f"The value's BackendType or PublicIPv6 is not a string: {shown(text)}.")
        data = fields.get("backenddata")
        return cls(
            public_ip=public_ip,
            backend_type=backend_type,
            backend_data=None if data is None else json.dumps(data, separators=(",", ":"), ensure_ascii=False),
            public_ipv6=v6,
        )

    @cached_property
    def _data(self) -> dict[str, Any]:
        try:
            data = json.loads(self.backend_data or "null", object_pairs_hook=lambda p: {k.lower(): v for k, v in p})
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def vni(self) -> int | None:
        value = self._data.get("vni")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def vtep_mac(self) -> str | None:
        value = self._data.get("vtepmac")
        return value.lower() if isinstance(value, str) else None


def vxlan_attrs(public_ip: str, vni: int, vtep_mac: str) -> LeaseAttrs:
    """The attributes flanneld's vxlan backend puts in its lease."""
    from netcon.core.validate import flannel as check

    mac = check.vtep_mac(vtep_mac)
    return LeaseAttrs(
        public_ip=check.public_ip(public_ip),
        backend_type="vxlan",
        backend_data=json.dumps({"VNI": vni, "VtepMAC": mac}, separators=(",", ":")),
    )


@dataclass(frozen=True)
class Lease:
    """One subnet lease as etcd holds it; ``expires_at`` None without a ``lease_id`` marks a reservation."""

    subnet: str  # "10.5.34.0/24"
    attrs: LeaseAttrs
    expires_at: float | None
    key: str = ""
    revision: int = 0
    lease_id: int = 0  # v3: the etcd lease the key is attached to (its expiry may not be read yet)

    @property
    def reservation(self) -> bool:
        return self.expires_at is None and not self.lease_id

    @property
    def ttl_known(self) -> bool:
        """False for a v3 lease listed without its TTL (``FlannelStore.with_ttls`` reads it)."""
        return self.expires_at is not None or not self.lease_id

    @property
    def canonical_subnet(self) -> str:
        """``subnet`` with host bits cleared (keys written by hand may carry them); cheap for the usual case."""
        address, _, plen = self.subnet.partition("/")
        value, bits = ipv4_int(address) or 0, int(plen)
        if value & ((1 << (32 - bits)) - 1):
            return str(self.network)
        return self.subnet

    @cached_property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Interface(self.subnet).network

    @property
    def first_address(self) -> str:
        """The address flanneld writes to FLANNEL_SUBNET (and docker's --bip): the lease's first host."""
        return f"{ipaddress.IPv4Interface(self.subnet).ip + 1}/{self.network.prefixlen}"

    def ttl_seconds(self, now: float | None = None) -> int | None:
        if self.expires_at is None:
            return None
        return max(0, int(self.expires_at - (time.time() if now is None else now)))

    def row(self, now: float | None = None) -> dict[str, Any]:
        """The ``show leases --json`` record (a broken key's record has the same fields, see BrokenLease)."""
        return {
            "key": self.key,
            "broken": False,
            "error": None,
            "subnet": self.subnet,
            "public_ip": self.attrs.public_ip,
            "backend_type": self.attrs.backend_type,
            "vni": self.attrs.vni,
            "vtep_mac": self.attrs.vtep_mac,
            "expires_at": self.expires_at,
            "ttl_seconds": self.ttl_seconds(now),
            "reservation": self.reservation,
        }


@dataclass(frozen=True)
class LeaseDiff:
    """What changed between two listings, keyed by subnet (what a live view redraws)."""

    added: tuple[Lease, ...]
    removed: tuple[Lease, ...]
    changed: tuple[Lease, ...]


def diff_leases(old: tuple[Lease, ...], new: tuple[Lease, ...]) -> LeaseDiff:
    before = {lease.subnet: lease for lease in old}
    after = {lease.subnet: lease for lease in new}
    return LeaseDiff(
        added=tuple(lease for subnet, lease in after.items() if subnet not in before),
        removed=tuple(lease for subnet, lease in before.items() if subnet not in after),
        changed=tuple(
            lease
            for subnet, lease in after.items()
            if subnet in before and (before[subnet].attrs, before[subnet].expires_at) != (lease.attrs, lease.expires_at)
        ),
    )


def free_subnets(config: FlannelConfig, leases: tuple[Lease, ...], limit: int = MAX_CANDIDATES) -> list[str]:
    """flanneld's allocateSubnet walk: up to ``limit`` subnets from SubnetMin on that overlap no lease."""
    taken = sorted((int(lease.network.network_address), int(lease.network.broadcast_address)) for lease in leases)
    starts = [start for start, _ in taken]
    ends_max: list[int] = []
    for _, end in taken:
        ends_max.append(max(end, ends_max[-1]) if ends_max else end)
    size = 1 << (32 - config.subnet_len)
    current = int(ipaddress.IPv4Address(config.subnet_min))
    last = int(ipaddress.IPv4Address(config.subnet_max))
    free: list[str] = []
    while current <= last and len(free) < limit:
        end = current + size - 1
        # Overlap: some lease starting at or before ``end`` ends at or after ``current``.
        i = bisect_right(starts, end)
        if i and ends_max[i - 1] >= current:
            current += size
            continue
        free.append(f"{ipaddress.IPv4Address(current)}/{config.subnet_len}")
        current += size
    return free


def pick_subnet(config: FlannelConfig, leases: tuple[Lease, ...], rng: random.Random | None = None) -> str:
    free = free_subnets(config, leases)
    if not free:
        raise OutOfSubnets(
            f"out of subnets: every subnet of the pool {config.pool} is leased or reserved.", target=config.network
        )
    return (rng or random).choice(free)


def acquire_lease(
    ctx: HostContext,
    store: FlannelStore,
    attrs: LeaseAttrs,
    previous_subnet: str | None = None,
    ttl: int = LEASE_TTL,
    rng: random.Random | None = None,
) -> Lease:
    """flanneld's AcquireLease: reuse the lease carrying ``attrs.public_ip`` if it fits the config (else delete
    it), else the previous subnet if free and fitting, else a random one of up to 100 free; a lost race retries.
    Broken keys are skipped, as flanneld skips them (a create on such a key loses like a race)."""
    config = store.config()
    for _ in range(RACE_RETRIES):
        leases = store.listing(ttls=False).leases
        mine = next((lease for lease in leases if lease.attrs.public_ip == attrs.public_ip), None)
        if mine is not None:
            if config.fits(mine.subnet):
                return store.write_lease(ctx, mine.subnet, attrs, None if mine.reservation else ttl)
            store.delete_lease(ctx, mine.subnet)
            leases = tuple(lease for lease in leases if lease.subnet != mine.subnet)
        subnet = None
        if (
            previous_subnet
            and config.fits(previous_subnet)
            and not any(lease.subnet == previous_subnet for lease in leases)
        ):
            subnet = previous_subnet
        subnet = subnet or pick_subnet(config, leases, rng)
        if store.create_lease(ctx, subnet, attrs, ttl):
            created = store.lease(subnet)
            return created if created is not None else Lease(subnet, attrs, time.time() + ttl, store.lease_key(subnet))
    raise NetconError(f"Gave up acquiring a subnet of {config.pool} after {RACE_RETRIES} lost races.")


def renew_lease(ctx: HostContext, store: FlannelStore, lease: Lease, ttl: int = LEASE_TTL) -> Lease:
    """flanneld's RenewLease: write the lease again with a fresh TTL (v2 set with ttl, v3 new grant and put)."""
    return store.write_lease(ctx, lease.subnet, lease.attrs, None if lease.reservation else ttl)


def revoke_lease(ctx: HostContext, store: FlannelStore, subnet: str) -> None:
    """Delete the lease of ``subnet``; its host's agent sees it vanish."""
    if not store.delete_lease(ctx, _canonical(subnet)):
        raise NetconError(f"There is no lease for {subnet} under {store.subnets_prefix}.", target=subnet)


def reserve_subnet(ctx: HostContext, store: FlannelStore, subnet: str, public_ip: str | None = None) -> Lease:
    """Make ``subnet`` a reservation (a key without TTL): an existing lease keeps its attributes and loses its
    TTL; otherwise a new key for ``public_ip`` is written. The host with that PublicIP then always gets it."""
    subnet = _canonical(subnet)
    config = store.config()
    if not config.fits(subnet):
        raise UsageError(f"Subnet {subnet} is not a /{config.subnet_len} inside the pool {config.pool}.")
    current = store.lease(subnet)
    if current is not None:
        if public_ip and current.attrs.public_ip != public_ip:
            raise UsageError(
                f"Subnet {subnet} is leased to {current.attrs.public_ip}, not {public_ip}; revoke it first."
            )
        return store.write_lease(ctx, subnet, current.attrs, None)
    if not public_ip:
        raise UsageError(f"Subnet {subnet} has no lease; give the PublicIP of the host to reserve it for.")
    from netcon.core.validate.flannel import public_ip as checked_ip

    return store.write_lease(ctx, subnet, LeaseAttrs(public_ip=checked_ip(public_ip)), None)


def _canonical(subnet: str) -> str:
    from netcon.core.validate.flannel import lease_subnet

    return lease_subnet(subnet)
