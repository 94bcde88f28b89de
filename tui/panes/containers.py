"""Pane 2: containers with their network mode, addresses, netns, and who shares that netns."""

from __future__ import annotations

from typing import Any

from netcon.core.model import Container
from netcon.tui.actions import Action, bindings
from netcon.tui.docker_forms import RemoveContainer, RunContainerForm
from netcon.tui.panes.base import Column, TablePane
from netcon.tui.panes.capture import capture_on
from netcon.tui.panes.networks import joined
from netcon.tui.panes.trace import TRACE
from netcon.tui.ping_screens import ping_from, trace_from_container
from netcon.tui.screens import ContainerDetail
from netcon.tui.state import LiveState
from netcon.tui.widgets import cursor_key


def addresses(c: Container) -> str:
    if not c.ipv4:
        return "-"
    text = ", ".join(c.ipv4)
    return f"{text} (shared from {c.netns_owner})" if c.ipv4_shared and c.netns_owner else text


class ContainersPane(TablePane):
    title = "Containers"
    COLUMNS = (
        Column("name", "NAME"),
        Column("state", "STATE"),
        Column("mode", "NETWORK MODE"),
        Column("ipv4", "IPV4"),
        Column("netns", "NETNS", narrow=False),
        Column("shares", "SHARES NETNS WITH", narrow=False),
        Column("image", "IMAGE", narrow=False),
        Column("id", "CONTAINER ID", narrow=False),
    )
    SORT = ("name",)
    ACTIONS = (
        Action("ping_from", "p", "Ping", "ping from the highlighted container (pick or type a target)"),
        Action("capture", "c", "Capture", "capture the packets in the highlighted container's namespace (pane 9)"),
        TRACE,
        Action("run_container", "n", "Run", "run a container in a network mode you pick (a form)", mutating=True),
        Action(
            "remove_container", "d", "Remove", "remove the highlighted container (killed if running)", mutating=True
        ),
    )
    BINDINGS = bindings(ACTIONS)

    def action_run_container(self) -> None:
        self.app.push_screen(RunContainerForm())

    def action_remove_container(self) -> None:
        if (key := cursor_key(self.table)) is not None:
            self.app.push_screen(RemoveContainer(key))

    def action_ping_from(self) -> None:
        if (key := cursor_key(self.table)) is not None:
            ping_from(self, key)

    def action_trace(self) -> None:
        if (key := cursor_key(self.table)) is not None:
            trace_from_container(self, key)

    def action_capture(self) -> None:
        if (key := cursor_key(self.table)) is not None:
            capture_on(self, f"container:{key}")

    def rows(self, state: LiveState) -> list[tuple[str, dict[str, Any]]]:
        return [
            (
                c.id,
                {
                    "name": c.name,
                    "state": c.state,
                    "mode": c.network_mode,
                    "ipv4": addresses(c),
                    "netns": str(c.netns_inode or "-"),
                    "shares": joined(c.shares_netns_with),
                    "image": c.image,
                    "id": c.short_id,
                },
            )
            for c in state.snapshot.containers
        ]

    def details(self, key: str) -> str:
        c = self.state.snapshot.container(key)
        if c is None:
            return ""
        text = (
            f"{c.name}  id {c.short_id}  image {c.image}  netns {c.netns_inode or '-'}\n"
            f"shares netns with: {joined(c.shares_netns_with)}  networks: {joined(c.networks)}"
        )
        return text + (f"\nproblem: {c.problem}" if c.problem else "")

    def open_details(self, key: str) -> None:
        self.app.push_screen(ContainerDetail(key))


PANE = ContainersPane
