"""Pane 7: who holds which port. Every listening socket of the host and of each container with its process,
container, netns and the published port it serves; conflicts and the ports Docker discarded above the table;
``/:80`` narrows to one port; Enter shows the process's ancestry as ``ps -axf`` does (``containerd-shim → nginx``).
Docker's embedded DNS listeners (127.0.0.11 in every container on a user network) are hidden until ``d``.

A worker reads the ports with one long-lived ``PortsCollector`` (its caches stay warm), handing it the app's
latest snapshot so the host is not read twice.
"""

from __future__ import annotations

import re
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, get_current_worker

from netcon.core.errors import NetconError
from netcon.core.model import Snapshot
from netcon.core.ports.collector import PortsCollector
from netcon.core.ports.model import PortSocket, PortsView
from netcon.core.procfs import ProcessInfo, ancestry
from netcon.tui.actions import Action, Declared, bindings
from netcon.tui.failures import ReportsFailures
from netcon.tui.panes.base import Column, TablePane
from netcon.tui.state import LiveState
from netcon.tui.widgets import StatusHeader, sync_rows

PORT_FILTER = re.compile(r":(\d+)")


class HostPorts:
    """The real source: a long-lived collector, and /proc for a process's ancestors."""

    def __init__(self, ctx) -> None:
        self.collector = PortsCollector(ctx)

    def collect(self, snapshot: Snapshot | None) -> PortsView:
        return self.collector.collect(snapshot)

    def ancestry(self, pid: int) -> tuple[ProcessInfo, ...]:
        return ancestry(pid)


class PortsReady(Message):
    def __init__(self, view: PortsView) -> None:
        super().__init__()
        self.view = view


class PortsFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


def endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address or '*'}:{port}"


def port_of(cell: Any) -> tuple[int, str]:
    text = str(cell)
    return int(text.rsplit(":", 1)[1]), text


def netns_names(view: PortsView) -> dict[int, str]:
    """Netns inode -> a name for it: "host", else the container living there."""
    names = {view.host_netns_inode: "host"}
    for s in view.sockets:
        if not s.host_netns and s.container and s.attributed_by == "netns":
            names.setdefault(s.netns_inode, s.container)
    for s in view.sockets:
        if s.container:
            names.setdefault(s.netns_inode, s.container)
    return names


def notes(view: PortsView, dns_hidden: int = 0) -> Text:
    """The lines above the table: conflicts, ports Docker discarded, what could not be read, and how many
    embedded DNS listeners are hidden."""
    text = Text()
    for c in view.conflicts:
        text.append(f"CONFLICT {c.proto} port {c.port}: ", style="bold red")
        text.append("; ".join(f"{claim.owner} ({claim.how})" for claim in c.claims) + "\n")
    for w in view.wanted:
        if w.discarded:
            text.append("DISCARDED ", style="bold yellow")
            text.append(
                f"{w.container} runs with --network host; Docker dropped its "
                f"-p {endpoint(w.host_ip, w.host_port)}->{w.container_port}/{w.proto}\n"
            )
    if view.skipped_vanished or view.skipped_unreadable:
        text.append(
            f"skipped {view.skipped_vanished} vanished and {view.skipped_unreadable} unreadable /proc entries\n",
            style="dim",
        )
    for problem in view.problems:
        text.append(f"{problem}\n", style="yellow")
    if dns_hidden:
        text.append(f"{dns_hidden} listeners of Docker's embedded DNS (127.0.0.11) hidden: d shows them\n", style="dim")
    text.rstrip()
    return text


class PortsPane(TablePane):
    title = "Ports"
    DEFAULT_CSS = """
    PortsPane > .notes { height: auto; max-height: 5; padding: 0 1; }
    """
    COLUMNS = (
        Column("proto", "PROTO"),
        Column("endpoint", "ADDRESS:PORT"),
        Column("state", "STATE", narrow=False),
        Column("process", "PID/PROCESS"),
        Column("container", "CONTAINER"),
        Column("netns", "NETNS", narrow=False),
        Column("published", "PUBLISHED FROM", narrow=False),
    )
    ACTIONS = (
        Action("toggle_dns", "d", "DNS", "show or hide Docker's embedded DNS listeners (127.0.0.11 in each container)"),
    )
    BINDINGS = bindings(ACTIONS)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.view: PortsView | None = None
        self.source = None
        self.sockets: dict[str, PortSocket] = {}
        self.show_dns = False

    def compose(self) -> ComposeResult:
        yield Static(classes="notes")
        yield from super().compose()

    def filter_input(self):
        field = super().filter_input()
        field.placeholder = "filter: :80 for a port, or a container, process, address; Escape clears"
        return field

    # data in
    def show(self, state: LiveState) -> None:
        """A new snapshot while visible (or the pane became visible): read the ports against it."""
        self.state = state
        if self.view is None:
            self.query_one(".notes", Static).update(Text("reading the sockets…", style="dim"))
        self.collect(state.snapshot)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ports", name="reading the ports")
    def collect(self, snapshot: Snapshot | None) -> None:
        worker = get_current_worker()
        if self.source is None:
            self.source = getattr(self.app, "ports", None) or HostPorts(self.app.ctx)
        try:
            view = self.source.collect(snapshot)
        except NetconError as error:
            if not worker.is_cancelled:
                self.post_message(PortsFailed(str(error)))
            return
        if not worker.is_cancelled:
            self.post_message(PortsReady(view))

    def on_ports_ready(self, message: PortsReady) -> None:
        self.view = message.view
        self._paint_view()

    def _paint_view(self) -> None:
        view = self.view
        shown = [s for s in view.sockets if self.show_dns or not s.embedded_dns]
        self.sockets = {f"{s.netns_inode}:{s.inode}": s for s in shown}
        self.full = dict(self.view_rows(view, shown))
        self.query_one(".notes", Static).update(notes(view, len(view.sockets) - len(shown)))
        self._fit(self.size.width)
        self._sync()

    def action_toggle_dns(self) -> None:
        self.show_dns = not self.show_dns
        if self.view is not None:
            self._paint_view()

    def worker_failed(self, worker: Worker) -> None:
        self.post_message(PortsFailed(repr(worker.error)))

    def on_ports_failed(self, message: PortsFailed) -> None:
        self.query_one(".notes", Static).update(Text(f"Reading the ports failed: {message.error}", style="bold red"))

    def view_rows(self, view: PortsView, sockets: list[PortSocket]) -> list[tuple[str, dict[str, Any]]]:
        names = netns_names(view)
        rows = []
        for s in sockets:
            p = s.process
            rows.append(
                (
                    f"{s.netns_inode}:{s.inode}",
                    {
                        "proto": s.proto,
                        "endpoint": endpoint(s.address, s.port),
                        "state": s.state,
                        "process": f"{p.pid}/{p.name}" if p else "-",
                        "container": s.container or "",
                        "netns": names.get(s.netns_inode, str(s.netns_inode)),
                        "published": s.published.target if s.published else "",
                    },
                )
            )
        for pub in view.published:
            if pub.served_by == "nat":
                rows.append(
                    (
                        f"nat:{pub.proto}:{pub.host_ip}:{pub.host_port}",
                        {
                            "proto": pub.proto,
                            "endpoint": endpoint(pub.host_ip, pub.host_port),
                            "state": "NAT",
                            "process": "-",
                            "container": pub.container,
                            "netns": "host",
                            "published": pub.target,
                        },
                    )
                )
        return rows

    def rows(self, state: LiveState) -> list[tuple[str, dict[str, Any]]]:
        return list(self.full.items())

    # table
    def _sync(self) -> None:
        needle = self.filter_text.strip().lower()
        port = PORT_FILTER.fullmatch(needle)
        keys = [c.key for c in self.columns()]

        def wanted(cells: dict[str, Any]) -> bool:
            if port:
                return port_of(cells["endpoint"])[0] == int(port.group(1))
            return not needle or any(needle in str(v).lower() for v in cells.values())

        rows = [(key, [cells[k] for k in keys]) for key, cells in self.full.items() if wanted(cells)]
        before = set(self.table.rows)
        sync_rows(self.table, keys, rows)
        if set(self.table.rows) - before:
            self.table.sort("endpoint", "proto", key=lambda values: (port_of(values[0]), str(values[1])))
        self._update_strip()

    def details(self, key: str) -> str:
        s = self.sockets.get(key)
        cells = self.full.get(key)
        if s is None:
            return f"{cells['published']} (NAT: served by the DNAT rule, no process)" if cells else ""
        p = s.process
        who = f"{p.pid} {p.user}: {p.cmdline or p.name}" if p else "no readable process"
        by = f" (by {s.attributed_by})" if s.container else ""
        return (
            f"{s.state}  netns {s.netns_inode}  {who}\n"
            f"container: {s.container or '-'}{by}  published from: {s.published.target if s.published else '-'}"
        )

    def open_details(self, key: str) -> None:
        s = self.sockets.get(key)
        if s is not None and s.pid is not None:
            self.app.push_screen(ProcessScreen(s, self.source))


class AncestryRead(Message):
    def __init__(self, chain: tuple[ProcessInfo, ...]) -> None:
        super().__init__()
        self.chain = chain


def chain_text(chain: tuple[ProcessInfo, ...]) -> str:
    """``systemd → containerd-shim-runc-v2 → nginx``: each ancestor's name, oldest first."""
    return " → ".join(p.name for p in chain)


class ProcessScreen(ReportsFailures, Declared, Screen):
    """The process holding a socket: its ancestors down to it (the branches of ``ps -axf``) and every process
    that holds the socket open (an nginx master and its workers)."""

    DEFAULT_CSS = """
    ProcessScreen VerticalScroll { height: 1fr; }
    ProcessScreen .facts { padding: 0 1 1 1; height: auto; }
    ProcessScreen DataTable { height: auto; }
    """
    ACTIONS = (Action("back", "escape", "Back", "return to the pane"),)
    BINDINGS = bindings(ACTIONS)

    def __init__(self, socket: PortSocket, source) -> None:
        super().__init__()
        self.socket = socket
        self.source = source

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with VerticalScroll():
            yield Static(classes="facts")
            table = DataTable(cursor_type="row")
            for key, label in (("pid", "PID"), ("user", "USER"), ("command", "COMMAND (as ps -axf)")):
                table.add_column(label, key=key)
            yield table
        yield Footer()

    def on_mount(self) -> None:
        self.app.paint_header(self)
        self._facts(None)
        self.read_ancestry()
        self.query_one(DataTable).focus()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ancestry", name="reading the ancestry")
    def read_ancestry(self) -> None:
        chain = self.source.ancestry(self.socket.pid)
        if not get_current_worker().is_cancelled:
            self.post_message(AncestryRead(chain))

    def _facts(self, chain: tuple[ProcessInfo, ...] | None) -> None:
        s, p = self.socket, self.socket.process
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row(
            "Socket",
            f"{s.proto} {endpoint(s.address, s.port)} {s.state}  (inode {s.inode}, "
            f"netns {s.netns_inode}{', the host' if s.host_netns else ''})",
        )
        grid.add_row("Process", f"{p.pid} {p.name}  user {p.user}")
        grid.add_row("Command", p.cmdline or p.name)
        grid.add_row("Container", f"{s.container} (found by {s.attributed_by})" if s.container else "none")
        if s.published:
            grid.add_row("Serves", s.published.target)
        if len(s.holders) > 1:
            grid.add_row("Held by", ", ".join(f"{h.pid} {h.name}" for h in s.holders))
        if chain is None:
            grid.add_row("Ancestry", "reading…")
        elif not chain:
            grid.add_row("Ancestry", Text(f"process {p.pid} is gone", style="bold yellow"))
        else:
            grid.add_row("Ancestry", chain_text(chain))
        self.query_one(".facts", Static).update(grid)

    def on_ancestry_read(self, message: AncestryRead) -> None:
        self._facts(message.chain)
        rows, depth = [], 0
        for depth, info in enumerate(message.chain):
            rows.append(
                (
                    str(info.pid),
                    [
                        str(info.pid),
                        info.user,
                        " " * max(0, 2 * depth - 2) + ("\\_ " if depth else "") + (info.cmdline or f"[{info.name}]"),
                    ],
                )
            )
        holder_pids = {r[0] for r in rows}
        for h in self.socket.holders:
            if str(h.pid) not in holder_pids:  # workers: children of the owner
                rows.append((str(h.pid), [str(h.pid), h.user, " " * (2 * depth) + "\\_ " + (h.cmdline or h.name)]))
        sync_rows(self.query_one(DataTable), ["pid", "user", "command"], rows)

    def action_back(self) -> None:
        self.app.pop_screen()


PANE = PortsPane
