"""What the Flannel pane draws, as pure functions of what it has read: a lease's (or a broken key's) cells, the
kernel's entries as lookup sets, TTL texts, the config line with flanneld's defaults marked. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rich.text import Text

from netcon.core.flannel.lease import Lease, ipv4_int
from netcon.core.flannel.registry import BrokenLease
from netcon.core.flannel.vxlan import VxlanState
from netcon.core.model import Snapshot

Row = Lease | BrokenLease
WIDE = 100  # columns from which BACKEND and VNI are shown

# (key, label, shown when narrow)
COLUMNS = (
    ("mark", " ", True),
    ("subnet", "SUBNET", True),
    ("public_ip", "PUBLIC IP", True),
    ("backend", "BACKEND", False),
    ("vni", "VNI", False),
    ("vtep_mac", "VTEP MAC", True),
    ("ttl", "TTL", True),
    ("kernel", "ON THIS HOST", True),
)


def duration(seconds: int) -> str:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def ttl_text(lease: Lease, now: float) -> str:
    if lease.reservation:
        return "reserved"
    if not lease.ttl_known:
        return "…"
    seconds = lease.ttl_seconds(now) or 0
    return duration(seconds) if seconds else "expired"


def row_order(row: Row) -> tuple[int, int, str]:
    """Leases by address (``c2`` before ``c10`` alike), broken keys without a subnet last, by key."""
    subnet = row.subnet
    if subnet is None:
        return 1 << 33, 0, row.key
    address, _, plen = subnet.partition("/")
    return ipv4_int(address) or 0, int(plen or 0), ""


@dataclass(frozen=True)
class KernelView:
    """The kernel's flannel entries as lookup sets, built once per read of the kernel."""

    state: VxlanState
    neigh: frozenset[tuple[str, str]]
    fdb: frozenset[tuple[str, str]]
    routes: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, state: VxlanState) -> KernelView:
        return cls(
            state,
            frozenset((n.ip, n.mac) for n in state.neighbours if n.permanent),
            frozenset((f.mac, f.dst) for f in state.fdb),
            frozenset((r.dst, r.gateway) for r in state.routes if r.onlink),
        )

    def missing(self, lease: Lease) -> list[str]:
        subnet, mac = lease.canonical_subnet, lease.attrs.vtep_mac or ""
        gateway = subnet.partition("/")[0]
        return [
            name
            for name, present in (
                ("route", (subnet, gateway) in self.routes),
                ("fdb", (mac, lease.attrs.public_ip) in self.fdb),
                ("neigh", (gateway, mac) in self.neigh),
            )
            if not present
        ]

    def changed_rows(self, new: KernelView, rows: dict[str, Row]) -> list[str]:
        """The keys of the leases whose route, FDB or neighbour entries differ between this read and ``new``."""
        gateways = {ip for ip, _ in self.neigh ^ new.neigh} | {d.partition("/")[0] for d, _ in self.routes ^ new.routes}
        macs = {mac for mac, _ in self.fdb ^ new.fdb}
        if not gateways and not macs:
            return []
        return [
            key
            for key, row in rows.items()
            if isinstance(row, Lease) and (key.partition("/")[0] in gateways or row.attrs.vtep_mac in macs)
        ]


def host_addresses(snapshot: Snapshot | None) -> dict[str, str]:
    """IPv4 address -> interface name, of the host (or netns) the console looks at."""
    if snapshot is None:
        return {}
    return {
        a.split("/")[0]: i.ifname
        for i in snapshot.interfaces
        for a in i.addresses
        if ":" not in a and not a.startswith("127.")
    }


def broken_cells(row: BrokenLease) -> dict[str, object]:
    """A key that is not a lease: its subnet (or key), BROKEN, and the reason where the kernel column is."""
    return {
        "mark": Text("!", style="bold red"),
        "subnet": Text(row.subnet or row.key, style="red"),
        "public_ip": Text("BROKEN", style="bold red"),
        "backend": "-",
        "vni": "-",
        "vtep_mac": "-",
        "ttl": "-",
        "kernel": Text(row.error, style="red"),
    }


def matches(row: Row, needle: str) -> bool:
    if not needle:
        return True
    if isinstance(row, BrokenLease):
        values: tuple[object, ...] = (row.key, row.subnet, row.error, "broken")
    else:
        attrs = row.attrs
        values = (row.subnet, attrs.public_ip, attrs.backend_type, attrs.vtep_mac, attrs.vni)
    return any(needle in str(v).lower() for v in values if v is not None)


def stored_keys(text: str) -> set[str]:
    """Lower-cased keys present in the stored config (``backend.vni`` for Backend's), to mark defaults."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return set()
    if not isinstance(data, dict):
        return set()
    keys = {k.lower() for k in data}
    backend = next((v for k, v in data.items() if k.lower() == "backend"), None)
    if isinstance(backend, dict):
        keys |= {f"backend.{k.lower()}" for k in backend}
    return keys
