"""What the exporter reads of the host itself: the snapshot (containers, networks, bridges, which veth is
whose) on a slow interval, the veths' counters (one rtnetlink stats dump) on a faster one. A scrape reads the
last ``Inventory`` as it was left: one frozen object replaced whole, so a scrape never sees half an update."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from netcon.core.context import HostContext
from netcon.core.counters import CounterReader
from netcon.core.model import Counters, Snapshot
from netcon.core.snapshot import SnapshotCollector


@dataclass(frozen=True)
class VethRow:
    """A container's interface as seen from the host: its veth, labelled with who and where it leads."""

    ifindex: int
    interface: str  # the host-side veth
    container: str
    container_interface: str  # eth0, eth1, ... inside the container
    network: str
    bridge: str


@dataclass(frozen=True)
class BridgeRow:
    bridge: str
    network: str
    ports: int
    stp: bool


@dataclass(frozen=True)
class Inventory:
    veths: tuple[VethRow, ...] = ()
    counters: tuple[tuple[int, Counters], ...] = ()  # by ifindex, from the last counter read
    bridges: tuple[BridgeRow, ...] = ()
    networks: tuple[tuple[str, str, int], ...] = ()  # (network, driver, running containers attached)
    containers: tuple[tuple[str, int], ...] = ()  # (state, how many)
    docker_up: bool = False
    taken_at: float = 0.0


def rows_of(snapshot: Snapshot) -> tuple[tuple[VethRow, ...], tuple[BridgeRow, ...]]:
    """The veths that lead into containers, and every bridge, labelled with their Docker network."""
    network_of_bridge = {n.bridge: n.name for n in snapshot.networks if n.bridge}
    veths = tuple(
        VethRow(
            v.ifindex,
            v.ifname,
            v.container,
            v.peer_ifname or "",
            network_of_bridge.get(v.bridge or "", ""),
            v.bridge or "",
        )
        for v in snapshot.veths
        if v.container
    )
    bridges = tuple(
        BridgeRow(b.name, b.network or network_of_bridge.get(b.name, ""), len(b.interfaces), b.stp)
        for b in snapshot.bridges
    )
    return veths, bridges


def network_counts(snapshot: Snapshot) -> tuple[tuple[str, str, int], ...]:
    running = {c.id for c in snapshot.containers if c.state == "running"}
    return tuple(
        (n.name, n.driver, sum(1 for a in n.attachments if a.container_id in running)) for n in snapshot.networks
    )


def container_counts(snapshot: Snapshot) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for c in snapshot.containers:
        counts[c.state] = counts.get(c.state, 0) + 1
    return tuple(sorted(counts.items()))


class InventoryReader:
    """Holds the last ``Inventory``; ``read_snapshot`` and ``read_counters`` are each run by a ``Loop``."""

    def __init__(self, ctx: HostContext, collector: SnapshotCollector) -> None:
        self.ctx = ctx
        self.collector = collector
        self._lock = threading.Lock()
        self._counters: CounterReader | None = None
        self.inventory = Inventory()
        self.version = 0  # bumped with every new Inventory

    def read_snapshot(self) -> None:
        snapshot = self.collector.collect()
        veths, bridges = rows_of(snapshot)
        with self._lock:
            self.inventory = Inventory(
                veths,
                self.inventory.counters,
                bridges,
                network_counts(snapshot),
                container_counts(snapshot),
                snapshot.docker_error is None,
                snapshot.taken_at,
            )
            self.version += 1

    def read_counters(self) -> None:
        if self._counters is None:
            self._counters = CounterReader(self.ctx.netns)
        try:
            counters = self._counters.read()
        except Exception:
            self._counters.close()  # a socket that failed once is not trusted again: the next run opens anew
            self._counters = None
            raise
        with self._lock:
            wanted = {v.ifindex for v in self.inventory.veths}
            self.inventory = replace(self.inventory, counters=tuple((i, c) for i, c in counters.items() if i in wanted))

    def close(self) -> None:
        if self._counters is not None:
            self._counters.close()
            self._counters = None
