"""Screens over the panes: the network and container details (Enter), and the key help (``?``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static

from netcon.core.model import Snapshot
from netcon.tui.actions import Action, Declared, bindings
from netcon.tui.failures import ReportsFailures
from netcon.tui.state import LiveState, hms
from netcon.tui.widgets import StatusHeader, sync_rows


def _facts(rows: Sequence[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    return table


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


class DetailScreen(ReportsFailures, Declared, Screen):
    """Everything the snapshot knows about one object; follows live updates until it disappears."""

    DEFAULT_CSS = """
    DetailScreen VerticalScroll { height: 1fr; }
    DetailScreen .facts { padding: 0 1 1 1; height: auto; }
    DetailScreen DataTable { height: auto; max-height: 100%; }
    """
    ACTIONS = (Action("back", "escape", "Back", "return to the pane"),)
    BINDINGS = bindings(ACTIONS)
    COLUMNS: tuple[tuple[str, str], ...] = ()

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with VerticalScroll():
            yield Static(classes="facts")
            table = DataTable(cursor_type="row")
            for key, label in self.COLUMNS:
                table.add_column(label, key=key)
            yield table
        yield Footer()

    def on_mount(self) -> None:
        self.app.paint_header(self)
        if self.app.state.snapshot is not None:
            self.show(self.app.state)
        self.query_one(DataTable).focus()

    def show(self, state: LiveState) -> None:
        facts, rows = self.render_object(state.snapshot)
        if facts is None:
            gone = Text(
                f"{self.key[:12]} is gone (no longer in the snapshot of {hms(state.snapshot.taken_at)}).",
                style="bold yellow",
            )
            self.query_one(".facts", Static).update(gone)
        else:
            self.query_one(".facts", Static).update(facts)
            sync_rows(self.query_one(DataTable), [k for k, _ in self.COLUMNS], rows)

    def render_object(self, snapshot: Snapshot) -> tuple[Any, list[tuple[str, list[str]]]]:
        raise NotImplementedError

    def action_back(self) -> None:
        self.app.pop_screen()


class NetworkDetail(DetailScreen):
    COLUMNS = (
        ("container", "CONTAINER"),
        ("ipv4", "IPV4"),
        ("mac", "MAC"),
        ("aliases", "ALIASES"),
        ("endpoint", "ENDPOINT"),
    )

    def render_object(self, snapshot: Snapshot) -> tuple[Any, list[tuple[str, list[str]]]]:
        net = snapshot.network(self.key)
        if net is None:
            return None, []
        ipam = [f"subnet {s}" for s in net.subnets] + [f"gateway {g}" for g in net.gateways]
        ipam += [f"ip range {r}" for r in net.ip_ranges]
        facts = [
            ("Network", f"{net.name}  ({net.driver} driver, {net.scope} scope)"),
            ("ID", net.id),
            ("Bridge", net.bridge or "none (this driver has no Linux bridge)"),
            ("IPAM", "\n".join(ipam) or "none"),
            ("Internal", _yes(net.internal)),
            ("Attachable", _yes(net.attachable)),
            ("Options", "\n".join(f"{k}={v}" for k, v in net.options) or "none"),
            ("Labels", "\n".join(f"{k}={v}" for k, v in net.labels) or "none"),
            ("Containers", str(len(net.attachments))),
        ]
        rows = [
            (
                a.container_id,
                [
                    a.container_name,
                    f"{a.ipv4}/{a.prefixlen}" if a.ipv4 and a.prefixlen else (a.ipv4 or "-"),
                    a.mac or "-",
                    ", ".join(a.aliases) or "-",
                    a.endpoint_id[:12] or "-",
                ],
            )
            for a in net.attachments
        ]
        return _facts(facts), rows


class ContainerDetail(DetailScreen):
    COLUMNS = (
        ("ifname", "IFNAME"),
        ("kind", "KIND"),
        ("state", "STATE"),
        ("mtu", "MTU"),
        ("mac", "MAC"),
        ("addresses", "ADDRESSES"),
        ("peer", "HOST PEER"),
    )

    def render_object(self, snapshot: Snapshot) -> tuple[Any, list[tuple[str, list[str]]]]:
        c = snapshot.container(self.key)
        if c is None:
            return None, []
        ipv4 = ", ".join(c.ipv4) or "-"
        if c.ipv4_shared and c.netns_owner:
            ipv4 += f"  (shared: these are {c.netns_owner}'s addresses, Docker records none for {c.name})"
        facts = [
            ("Container", f"{c.name}  ({c.state})"),
            ("ID", c.id),
            ("Image", c.image),
            ("Network mode", c.network_mode),
            ("Networks", ", ".join(c.networks) or "-"),
            ("IPv4", ipv4),
            ("PID", str(c.pid or "-")),
            ("Netns inode", str(c.netns_inode or "-")),
            ("Netns owner", c.netns_owner or "itself"),
            ("Shares netns with", ", ".join(c.shares_netns_with) or "nobody"),
        ]
        if c.problem:
            facts.append(("Problem", c.problem))
        interfaces = c.interfaces
        owner = snapshot.container(c.netns_owner) if c.netns_owner else None
        if not interfaces and owner is not None:
            interfaces = owner.interfaces
            facts.append(("Interfaces", f"shared: the netns of {owner.name} (below)"))
        host_side = {v.ifindex: v.ifname for v in snapshot.veths}
        rows = [
            (
                f"{i.ifindex}:{i.ifname}",
                [
                    i.ifname,
                    i.kind or "-",
                    i.state,
                    str(i.mtu),
                    i.mac or "-",
                    ", ".join(i.addresses) or "-",
                    host_side.get(i.peer_ifindex, "-") if i.peer_ifindex else "-",
                ],
            )
            for i in interfaces
        ]
        return _facts(facts), rows


class HelpScreen(ModalScreen):
    """Every key of the pane it was opened from, generated from the same declarations as footer and palette."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: auto; max-width: 100%; height: auto; max-height: 100%;
                            border: round $primary; padding: 0 1; background: $surface; }
    HelpScreen Static { width: auto; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", show=False)]

    def __init__(self, title: str, entries: Sequence[tuple[str, str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.entries = entries

    def compose(self) -> ComposeResult:
        key_width = max((len(k) for k, _, _ in self.entries), default=1) + 2
        name_width = max((len(d) for _, d, _ in self.entries), default=1) + 2
        text = Text()
        for index, (key, description, help_text) in enumerate(self.entries):
            text.append(f"{chr(10) if index else ''}{key:<{key_width}}", style="bold")
            text.append(f"{description:<{name_width}}")
            text.append(help_text, style="dim")
        with VerticalScroll():  # a pane with many keys scrolls on a 24-line terminal
            yield Static(Text(f"Keys: {self.title_text}", style="bold"))
            yield Static(text)
            yield Static(Text("Escape, ? or q closes this help.", style="dim"))
