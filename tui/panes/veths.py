"""Pane 4: host veths, their peers inside containers, and live RX/TX rates."""

from __future__ import annotations

from typing import Any

from netcon.tui.actions import Action, bindings
from netcon.tui.panes.base import Column, TablePane
from netcon.tui.panes.capture import capture_on
from netcon.tui.state import LiveState, rate_text
from netcon.tui.widgets import cursor_key


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
        Column("rx", "RX/s"),
        Column("tx", "TX/s"),
    )
    SORT = ("container", "ifname")
    ACTIONS = (Action("capture", "c", "Capture", "capture the packets on the highlighted veth (pane 9)"),)
    BINDINGS = bindings(ACTIONS)
    # The app refreshes at most once a second while this pane is visible, so the rates tick.
    live_counters = True

    def action_capture(self) -> None:
        if (key := cursor_key(self.table)) is not None:
            capture_on(self, f"veth:{key.split(':', 1)[1]}")

    def rows(self, state: LiveState) -> list[tuple[str, dict[str, Any]]]:
        rows = []
        for v in state.snapshot.veths:
            rx, tx = state.rates.of(v)
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
        ifindex = int(key.split(":", 1)[0])
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
        ifindex = int(key.split(":", 1)[0])
        v = next((v for v in self.state.snapshot.veths if v.ifindex == ifindex), None)
        if v is not None and v.container_id:
            from netcon.tui.screens import ContainerDetail

            self.app.push_screen(ContainerDetail(v.container_id))
        elif v is not None:
            self.app.notify(f"{v.ifname}: no container behind this veth; its details are below the table.")


PANE = VethsPane
