"""Pane 1: Docker networks, like ``docker network ls`` plus subnet, gateway, bridge and containers."""

from __future__ import annotations

from typing import Any

from tui.panes.base import Column, TablePane
from tui.state import LiveState


def joined(items, empty: str = "-") -> str:
    return ", ".join(items) or empty


class NetworksPane(TablePane):
    title = "Networks"
    COLUMNS = (
        Column("name", "NAME"), Column("id", "NETWORK ID", narrow=False), Column("driver", "DRIVER"),
        Column("scope", "SCOPE", narrow=False), Column("subnet", "SUBNET"), Column("gateway", "GATEWAY", narrow=False),
        Column("bridge", "BRIDGE"), Column("count", "#C"), Column("containers", "CONTAINERS", narrow=False),
    )
    SORT = ("name",)

    def rows(self, state: LiveState) -> list[tuple[str, dict[str, Any]]]:
        return [(net.id, {
            "name": net.name, "id": net.short_id, "driver": net.driver, "scope": net.scope,
            "subnet": joined(net.subnets), "gateway": joined(net.gateways), "bridge": net.bridge or "-",
            "count": str(len(net.attachments)), "containers": joined(a.container_name for a in net.attachments),
        }) for net in state.snapshot.networks]

    def details(self, key: str) -> str:
        net = self.state.snapshot.network(key)
        if net is None:
            return ""
        flags = [f for f, on in (("internal", net.internal), ("attachable", net.attachable)) if on]
        members = joined(f"{a.container_name} {a.ipv4 or ''}".strip() for a in net.attachments)
        return (f"{net.name}  id {net.short_id}  scope {net.scope}  gateway {joined(net.gateways)}"
                f"{'  ' + ' '.join(flags) if flags else ''}\ncontainers: {members}")

    def open_details(self, key: str) -> None:
        from tui.screens import NetworkDetail
        self.app.push_screen(NetworkDetail(key))


PANE = NetworksPane
