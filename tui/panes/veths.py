"""Pane 4: host veths, their peers inside containers, and live RX/TX rates.

The rates need only counters: while the pane is visible a named worker reads them once a second with one
rtnetlink stats dump of the host (``core.counters``; the host side of a veth mirrors its container side),
and only the RX/TX cells of the rows on screen are updated, by key (any cell change makes the table draw all
its visible rows again, so rows scrolled away take their new rates when they come into view). The snapshot is
not read for them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from netcon.core.errors import NetconError
from netcon.core.model import Counters
from netcon.tui.actions import Action, bindings
from netcon.tui.panes.base import Column, TablePane
from netcon.tui.panes.capture import capture_on
from netcon.tui.state import RATE_PERIOD, RATE_WIDTH, LiveState, RateMeter, rate_text
from netcon.tui.widgets import cursor_key


class CountersRead(Message):
    def __init__(self, counters: Mapping[int, Counters], taken_at: float) -> None:
        super().__init__()
        self.counters, self.taken_at = counters, taken_at


class CountersFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


def ifindex_of(key: str) -> int:
    return int(key.split(":", 1)[0])


class VethsPane(TablePane):
    title = "Veths"
    COLUMNS = (
        Column("container", "CONTAINER"),
        Column("ifname", "HOST VETH"),
        Column("ifindex", "IFINDEX", narrow=False),
        Column("peer", "PEER"),
        Column("bridge", "BRIDGE", narrow=False),
        Column("mtu", "MTU", narrow=False),
        Column("state", "STATE"),
        Column("rx", "RX/s", width=RATE_WIDTH),
        Column("tx", "TX/s", width=RATE_WIDTH),
    )
    SORT = ("container", "ifname")
    ACTIONS = (Action("capture", "c", "Capture", "capture the packets on the highlighted veth (pane 9)"),)
    BINDINGS = bindings(ACTIONS)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rates = RateMeter()
        self.counter_error: str | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.table, "scroll_y", self._show_rates, init=False)

    def visibility_changed(self, visible: bool) -> None:
        if visible:
            self.follow_counters()
        else:
            self.workers.cancel_group(self, "counters")
            self.rates = RateMeter()  # rates over a gap would average what was not watched

    @work(thread=True, exclusive=True, exit_on_error=False, group="counters", name="reading the veth counters")
    def follow_counters(self) -> None:
        """Once a second while the pane is visible: every link's counters, from one dump."""
        worker, stopping = get_current_worker(), self.app.stopping
        try:
            reader = self.app.open_counters()
        except NetconError as error:
            self.post_message(CountersFailed(str(error)))
            return
        try:
            while not worker.is_cancelled and not stopping.is_set():
                try:
                    self.post_message(CountersRead(reader.read(), time.monotonic()))
                except NetconError as error:
                    self.post_message(CountersFailed(str(error)))
                stopping.wait(RATE_PERIOD)
        finally:
            reader.close()

    def on_counters_read(self, message: CountersRead) -> None:
        self.counter_error = None
        if not self.rates.update(message.counters, message.taken_at):
            return
        for key, cells in self.full.items():
            cells["rx"], cells["tx"] = (rate_text(r) for r in self.rates.of(ifindex_of(key)))
        self._show_rates()

    def _show_rates(self) -> None:
        """Bring the RX/TX cells of the rows on screen in line with ``full``."""
        table = self.table
        first = int(table.scroll_y)
        for row in table.ordered_rows[first : first + table.size.height]:
            cells = self.full.get(row.key.value)
            if cells is None:
                continue
            for column in ("rx", "tx"):
                if table.get_cell(row.key, column) != cells[column]:
                    table.update_cell(row.key, column, cells[column])

    def on_counters_failed(self, message: CountersFailed) -> None:
        if message.error != self.counter_error:
            self.counter_error = message.error
            self.notify(f"Reading the veth counters failed: {message.error}", severity="error", timeout=8)

    def action_capture(self) -> None:
        if (key := cursor_key(self.table)) is not None:
            capture_on(self, f"veth:{key.split(':', 1)[1]}")

    def rows(self, state: LiveState) -> list[tuple[str, dict[str, Any]]]:
        rows = []
        for v in state.snapshot.veths:
            rx, tx = self.rates.of(v.ifindex)
            peer = f"{v.peer_ifname or '?'}@if{v.peer_ifindex}" if v.peer_ifindex else (v.peer_ifname or "-")
            rows.append(
                (
                    f"{v.ifindex}:{v.ifname}",
                    {
                        "container": v.container or (f"netns {v.peer_netns}" if v.peer_netns else "-"),
                        "ifname": v.ifname,
                        "ifindex": str(v.ifindex),
                        "peer": peer,
                        "bridge": v.bridge or "-",
                        "mtu": str(v.mtu),
                        "state": v.state,
                        "rx": rate_text(rx),
                        "tx": rate_text(tx),
                    },
                )
            )
        return rows

    def details(self, key: str) -> str:
        ifindex = ifindex_of(key)
        v = next((v for v in self.state.snapshot.veths if v.ifindex == ifindex), None)
        if v is None:
            return ""
        c = v.counters
        return (
            f"{v.ifname} (ifindex {v.ifindex}, mtu {v.mtu}, mac {v.mac or '-'}) on bridge {v.bridge or '-'}\n"
            f"peer ifindex {v.peer_ifindex or '-'} netnsid {v.peer_netnsid if v.peer_netnsid is not None else '-'}"
            f"  rx {c.rx_bytes} B / {c.rx_packets} pkts  tx {c.tx_bytes} B / {c.tx_packets} pkts"
        )

    def open_details(self, key: str) -> None:
        ifindex = ifindex_of(key)
        v = next((v for v in self.state.snapshot.veths if v.ifindex == ifindex), None)
        if v is not None and v.container_id:
            from netcon.tui.screens import ContainerDetail

            self.app.push_screen(ContainerDetail(v.container_id))
        elif v is not None:
            self.app.notify(f"{v.ifname}: no container behind this veth; its details are below the table.")


PANE = VethsPane
