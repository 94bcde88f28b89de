"""Pane 1: Docker networks, like ``docker network ls`` plus subnet, gateway, bridge and containers."""

from __future__ import annotations

from typing import Any

from netcon.tui.actions import Action, bindings
from netcon.tui.docker_forms import (
    ConnectForm,
    CreateNetworkForm,
    DisconnectForm,
    RemoveNetwork,
)
from netcon.tui.panes.base import Column, TablePane
from netcon.tui.ping_screens import open_matrix
from netcon.tui.screens import NetworkDetail
from netcon.tui.state import LiveState
from netcon.tui.widgets import cursor_key


def joined(items, empty: str = "-") -> str:
    return ", ".join(items) or empty


class NetworksPane(TablePane):
    title = "Networks"
    COLUMNS = (
        Column("name", "NAME"),
        Column("id", "NETWORK ID", narrow=False),
        Column("driver", "DRIVER"),
        Column("scope", "SCOPE", narrow=False),
        Column("subnet", "SUBNET"),
        Column("gateway", "GATEWAY", narrow=False),
        Column("bridge", "BRIDGE"),
        Column("count", "#C"),
        Column("containers", "CONTAINERS", narrow=False),
    )
    SORT = ("name",)
    ACTIONS = (
        Action(
            "ping_matrix",
            "m",
            "Matrix",
            "ping every pair of containers on the highlighted network (in a cluster console: on every host)",
        ),
        Action("create_network", "n", "New", "create a Docker network (a form)", mutating=True),
        Action(
            "remove_network",
            "d",
            "Remove",
            "remove the highlighted network, disconnecting its containers",
            mutating=True,
        ),
        Action(
            "connect", "c", "Connect", "connect a container to the highlighted network", mutating=True, footer=False
        ),  # c and x are in help and palette: the footer must stay readable at 80-120 columns
        Action(
            "disconnect",
            "x",
            "Disconnect",
            "disconnect a container from the highlighted network",
            mutating=True,
            footer=False,
        ),
    )
    BINDINGS = bindings(ACTIONS)

    def selected_name(self) -> str:
        key = cursor_key(self.table)
        net = self.state.snapshot.network(key) if key and self.state and self.state.snapshot else None
        return net.name if net else ""

    def action_create_network(self) -> None:
        self.app.push_screen(CreateNetworkForm())

    def action_remove_network(self) -> None:
        if (key := cursor_key(self.table)) is not None:
            self.app.push_screen(RemoveNetwork(key))

    def action_connect(self) -> None:
        self.app.push_screen(ConnectForm(network=self.selected_name()))

    def action_disconnect(self) -> None:
        self.app.push_screen(DisconnectForm(network=self.selected_name()))

    def action_ping_matrix(self) -> None:
        if (key := cursor_key(self.table)) is not None:
            open_matrix(self, key)

    def rows(self, state: LiveState) -> list[tuple[str, dict[str, Any]]]:
        return [
            (
                net.id,
                {
                    "name": net.name,
                    "id": net.short_id,
                    "driver": net.driver,
                    "scope": net.scope,
                    "subnet": joined(net.subnets),
                    "gateway": joined(net.gateways),
                    "bridge": net.bridge or "-",
                    "count": str(len(net.attachments)),
                    "containers": joined(a.container_name for a in net.attachments),
                },
            )
            for net in state.snapshot.networks
        ]

    def details(self, key: str) -> str:
        net = self.state.snapshot.network(key)
        if net is None:
            return ""
        flags = [f for f, on in (("internal", net.internal), ("attachable", net.attachable)) if on]
        members = joined(f"{a.container_name} {a.ipv4 or ''}".strip() for a in net.attachments)
        return (
            f"{net.name}  id {net.short_id}  scope {net.scope}  gateway {joined(net.gateways)}"
            f"{'  ' + ' '.join(flags) if flags else ''}\ncontainers: {members}"
        )

    def open_details(self, key: str) -> None:
        self.app.push_screen(NetworkDetail(key))


PANE = NetworksPane
