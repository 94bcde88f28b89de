"""Pane -: every host of the console, one row each (``core.hosts.cluster.row``: reachable and for how long not,
Docker, containers, flannel lease, VTEP MAC, the doctor's count, round trip). Rows are read by each host's own
worker (``tui.cluster_feed``) and change one by one as hosts report; Enter switches every pane to a host."""

from __future__ import annotations

import time
from typing import Any

from textual.timer import Timer
from textual.widgets import DataTable

from netcon.core.flannel.host_rules import DEFAULT_BRIDGE_NETWORK
from netcon.core.hosts.cluster import HostRow
from netcon.tui.actions import Action, bindings
from netcon.tui.cluster_ping import all_hosts
from netcon.tui.panes.base import Column, TablePane
from netcon.tui.ping_screens import MatrixScreen
from netcon.tui.state import LiveState, age_text


def reachable_text(row: HostRow, now: float) -> str:
    if row.reachable:
        return "yes"
    if row.error == "reading…":
        return "reading…"
    return f"NO for {age_text(now - row.down_since)}" if row.down_since else "NO"


def cells(row: HostRow, current: bool, now: float) -> dict[str, Any]:
    def text(value: object, unit: str = "") -> str:
        return "-" if value is None else f"{value}{unit}"

    return {
        "name": f"▶ {row.name}" if current else f"  {row.name}",
        "address": row.address or row.target,
        "reachable": reachable_text(row, now),
        "docker": text(row.docker_version),
        "containers": text(row.containers),
        "subnet": text(row.subnet),
        "ttl": "-" if row.lease_ttl_s is None else age_text(row.lease_ttl_s),  # 23h59m: a cell redrawn once a minute
        "vtep": text(row.vtep_mac),
        "doctor": "-" if row.errors is None else f"{row.errors}/{row.warnings}",
        "rtt": "-" if row.rtt_ms is None else f"{row.rtt_ms:.1f}ms",
        "error": row.error or "",
    }


class ClusterPane(TablePane):
    title = "Cluster"
    COLUMNS = (
        Column("name", "HOST"),
        Column("address", "ADDRESS", narrow=False),
        Column("reachable", "REACHABLE"),
        Column("docker", "DOCKER", narrow=False),
        Column("containers", "CONTAINERS"),
        Column("subnet", "SUBNET"),
        Column("ttl", "LEASE TTL", narrow=False),  # narrow: these move to the strip below the table
        Column("vtep", "VTEP MAC"),
        Column("doctor", "ERR/WARN"),
        Column("rtt", "RTT", narrow=False),
        Column("error", "PROBLEM", narrow=False),
    )
    ACTIONS = (
        Action(
            "details",
            "enter",
            "Switch",
            "switch every pane to the highlighted host",
            key_display="Enter",
            priority=True,
        ),
        Action(
            "ping_matrix",
            "m",
            "Matrix",
            "ping every pair of containers on Docker's default network (bridge) across every host",
        ),
    )
    BINDINGS = bindings(ACTIONS)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ticker: Timer | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self.ticker = self.set_interval(1.0, self.tick, pause=True)
        self.refresh_rows()

    def visibility_changed(self, visible: bool) -> None:
        if visible:
            self.app.cluster_shown()
            self.refresh_rows()

    def show(self, state: LiveState) -> None:
        self.refresh_rows()

    def rows(self, state: LiveState | None) -> list[tuple[str, dict[str, Any]]]:
        cluster, now = self.app.cluster, time.time()
        return [(n, cells(f.row, n == self.app.host.name, now)) for n, f in cluster.feeds.items()]

    def refresh_rows(self) -> None:
        """Bring the table in line with every host's last row (only the cells that changed are redrawn)."""
        if not self.is_mounted or not self.query(DataTable):  # (being taken down)
            return
        self.full = dict(self.rows(None))
        self._fit(self.size.width)
        self._sync()
        if self.ticker is not None:  # "NO for 12s" counts up while a host is down
            down = any(not f.row.reachable and f.row.down_since for f in self.app.cluster.feeds.values())
            self.ticker.resume() if down else self.ticker.pause()

    def tick(self) -> None:
        self.refresh_rows()

    def details(self, key: str) -> str:
        feed = self.app.cluster.feeds.get(key)
        if feed is None:
            return ""
        shown = cells(feed.row, False, time.time())
        text = (
            f"{feed.row.name}: {feed.row.target} at {shown['address']}  Docker {shown['docker']}  "
            f"lease TTL {shown['ttl']}  RTT {shown['rtt']}"
        )
        return text + (f"\nproblem: {feed.row.error}" if feed.row.error else "")

    def open_details(self, key: str) -> None:
        self.app.switch_host(key)

    def action_ping_matrix(self) -> None:
        """Every host's containers on the network flannel's --bip puts in the host's lease, pair by pair."""
        self.app.push_screen(MatrixScreen(DEFAULT_BRIDGE_NETWORK, hosts=all_hosts(self.app)))


PANE = ClusterPane
