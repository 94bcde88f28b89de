"""What the console shows between two snapshots: the latest data, what is stale and why, and veth rates.

Plain Python, no widgets, so the rules (keep Docker's last view while the daemon is away, tick rates at
most once a second) are testable without a screen.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from netcon.core.model import Counters, Snapshot

RATE_PERIOD = 1.0  # seconds; counters never tick faster than this


def hms(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def age_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


RATE_WIDTH = len("999.9 KB/s")  # every rate_text fits: a column this wide never needs a relayout


def rate_text(bps: float | None) -> str:
    if bps is None:
        return "-"
    for unit in ("B/s", "KB/s", "MB/s", "GB/s"):
        if bps < 1000 or unit == "GB/s":
            return f"{bps:.0f} {unit}" if unit == "B/s" else f"{bps:.1f} {unit}"
        bps /= 1000
    return "-"


@dataclass
class RateMeter:
    """Bytes per second of each link, from two counter reads (ifindex -> ``Counters``) at least
    ``RATE_PERIOD`` apart; ``update`` says whether the rates changed."""

    rates: dict[int, tuple[float | None, float | None]] = field(default_factory=dict)
    _base: Mapping[int, Counters] = field(default_factory=dict)
    _base_at: float | None = None

    def update(self, counters: Mapping[int, Counters], taken_at: float) -> bool:
        if self._base_at is not None and taken_at - self._base_at < RATE_PERIOD:
            return False
        ticked = self._base_at is not None
        if ticked:
            dt = taken_at - self._base_at
            self.rates = {
                ifindex: (_rate(now.rx_bytes - before.rx_bytes, dt), _rate(now.tx_bytes - before.tx_bytes, dt))
                for ifindex, now in counters.items()
                if (before := self._base.get(ifindex)) is not None
            }
        self._base, self._base_at = counters, taken_at
        return ticked

    def of(self, ifindex: int) -> tuple[float | None, float | None]:
        return self.rates.get(ifindex, (None, None))


def _rate(delta: int, dt: float) -> float | None:
    return delta / dt if delta >= 0 and dt > 0 else None  # a negative delta is a counter reset


@dataclass
class LiveState:
    """The snapshot on screen and how fresh each part of it is."""

    snapshot: Snapshot | None = None
    docker_error: str | None = None
    docker_stale_since: float | None = None  # taken_at of the last snapshot that had Docker's data
    netlink_error: str | None = None
    netlink_stale_since: float | None = None

    def accept(self, new: Snapshot) -> Snapshot:
        """Take a new snapshot; while Docker is away keep its last networks and containers, marked stale."""
        previous = self.snapshot
        self.netlink_error = self.netlink_stale_since = None
        if new.docker_error is None:
            self.docker_error = self.docker_stale_since = None
            shown = new
        else:
            self.docker_error = new.docker_error
            if previous is not None and previous.docker_error is None:
                self.docker_stale_since = previous.taken_at
            shown = new if previous is None or self.docker_stale_since is None else _keep_docker(previous, new)
        self.snapshot = shown
        return shown

    def failed(self, error: str) -> None:
        """The kernel side could not be read: keep everything, say since when it is stale."""
        self.netlink_error = error
        if self.snapshot is not None and self.netlink_stale_since is None:
            self.netlink_stale_since = self.snapshot.taken_at

    def problems(self) -> list[str]:
        lines = []
        if self.docker_error:
            if self.docker_stale_since is not None:
                lines.append(f"Docker unreachable — showing stale data from {hms(self.docker_stale_since)}")
            else:
                lines.append(f"Docker unreachable: {self.docker_error}")
        if self.netlink_error:
            since = f" — showing stale data from {hms(self.netlink_stale_since)}" if self.netlink_stale_since else ""
            lines.append(f"Cannot read the host: {self.netlink_error}{since}")
        return lines


def _keep_docker(previous: Snapshot, new: Snapshot) -> Snapshot:
    """``new`` (kernel side fresh) with ``previous``'s Docker side and veth owners."""
    owners = {(v.ifindex, v.ifname): v for v in previous.veths}
    veths = []
    for v in new.veths:
        old = owners.get((v.ifindex, v.ifname))
        if v.container is None and old is not None and old.container is not None:
            v = dataclasses.replace(
                v, container=old.container, container_id=old.container_id, peer_ifname=v.peer_ifname or old.peer_ifname
            )
        veths.append(v)
    return dataclasses.replace(
        new,
        docker_version=previous.docker_version,
        networks=previous.networks,
        containers=previous.containers,
        veths=tuple(veths),
    )
