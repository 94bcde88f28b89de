"""The ping screens opened from other panes: the target picker (``p`` on a container) and the all-pairs
matrix of a network (``m`` on a network), with the two entry points those panes call."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, get_current_worker

from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.hosts.base import Host
from netcon.core.model import Container, Snapshot
from netcon.core.naming import natural_key
from netcon.core.ping.cluster_matrix import SEPARATOR, cluster_matrix
from netcon.core.ping.matrix import Matrix, PairResult, network_matrix
from netcon.core.ping.sources import check_container
from netcon.tui.actions import Action, Declared, bindings
from netcon.tui.cluster_ping import all_hosts, pick_across
from netcon.tui.messages import ProbeRequested
from netcon.tui.panes.base import Pane
from netcon.tui.panes.ping import ms
from netcon.tui.panes.trace import TRACE, trace_from
from netcon.tui.screens import DetailScreen
from netcon.tui.state import LiveState
from netcon.tui.widgets import cursor_key

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Target:
    value: str  # what is pinged: an IPv4 address (as the row shows it), or a name resolved from the source
    label: str
    name: str = ""  # the container a listed address belongs to: its name is also resolved, as a note


def listed_address(snap: Snapshot, source: Container, c: Container) -> str:
    """The address of ``c`` that ``source`` should ping: on the first network they share, else its first."""
    for name in c.networks:
        net = snap.network(name) if name in source.networks else None
        found = next((a.ipv4 for a in net.attachments if a.container_id == c.id and a.ipv4), None) if net else None
        if found:
            return found
    return c.ipv4[0]


def targets(snap: Snapshot, source: Container) -> list[Target]:
    """What ``source`` can be pointed at: the other running containers (with their addresses and whether they
    share a network with it), the host (its gateway address on each of the source's networks and its name),
    and the lab hosts (named namespaces behind a veth). A container is pinged at the address its row shows
    (the one on a shared network first): its name may not resolve from the source."""
    found = []
    for c in sorted(snap.containers, key=lambda c: natural_key(c.name)):
        same_netns = source.netns_inode is not None and c.netns_inode == source.netns_inode
        if c.id == source.id or c.state != "running" or not c.ipv4 or same_netns:
            continue
        shared = [n for n in c.networks if n in source.networks]
        where = f"on {', '.join(shared)}" if shared else "no shared network"
        address = listed_address(snap, source, c)
        shown = [address, *(ip for ip in c.ipv4 if ip != address)]
        found.append(Target(address, f"{c.name}  {', '.join(shown)}  ({where})", c.name))
    for name in source.networks:
        net = snap.network(name)
        for gateway in net.gateways if net else ():
            found.append(Target(gateway, f"the host  {gateway}  (gateway of {name})"))
    found.append(Target(snap.host, f"{snap.host}  (this host's name, resolved from {source.name})"))
    for ns in sorted({v.peer_netns for v in snap.veths if v.peer_netns and v.peer_netns != "root"}, key=natural_key):
        found.append(Target(ns, f"{ns}  (lab host, resolved from {source.name})"))
    return found


def target_error(text: str) -> str | None:
    """Why ``text`` cannot be pinged, or None."""
    text = text.strip()
    if not text:
        return "Type an IPv4 address or a name."
    if re.fullmatch(r"[0-9.]+", text):
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            return f"{text} is not an IPv4 address."
        return None
    if len(text) > 253 or not NAME.match(text):
        return "A name has only letters, digits, '.', '-' and '_' (at most 253)."
    return None


class TargetPicker(Declared, ModalScreen[Target | None]):
    """Pick what ``source`` pings: type it (validated as you type; Enter pings exactly that) or move down to
    the list (narrowed by what is typed) and press Enter on an entry."""

    DEFAULT_CSS = """
    TargetPicker { align: center middle; }
    TargetPicker > Vertical { width: 90%; max-width: 100; height: auto; max-height: 90%;
                              border: round $primary; padding: 0 1; background: $surface; }
    TargetPicker .error { color: $error; height: auto; }
    TargetPicker OptionList { height: auto; max-height: 12; }
    TargetPicker .hint { color: $text-muted; }
    """
    ACTIONS = (
        Action("cancel", "escape", "Cancel", "close the picker; nothing is pinged"),
        Action(
            "to_list",
            "down",
            "To the list",
            "move from the typed target to the list of targets",
            footer=False,
            priority=True,  # before the input's own "down" (it scrolls); on the list, the list's own
        ),
        Action("help", "question_mark", "Help", "list the keys of this picker", key_display="?"),
    )
    BINDINGS = bindings(ACTIONS)

    def __init__(self, source: str, choices: list[Target], verb: str = "ping") -> None:
        super().__init__()
        self.source = source
        self.choices = choices
        self.verb = verb  # what the pick is for: "ping", or "trace" (the Trace pane reuses the picker)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"{self.verb.capitalize()} from {self.source}", style="bold"))
            yield Input(placeholder="IPv4 address or name (resolved the way the source resolves it)")
            yield Static(classes="error")
            yield OptionList(*self._options(""))
            yield Static(
                f"Enter: {self.verb} what is typed · ↓ Enter: pick from the list · Escape: cancel", classes="hint"
            )

    def _options(self, needle: str) -> list[Option]:
        return [
            Option(Text(t.label), id=str(i)) for i, t in enumerate(self.choices) if needle.lower() in t.label.lower()
        ]

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one(".error", Static).update(target_error(event.value) or "" if event.value else "")
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options(event.value.strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        error = target_error(event.value)
        if error:
            self.query_one(".error", Static).update(error)
        else:
            typed = event.value.strip()
            self.dismiss(Target(typed, typed))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option.id)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "to_list" and not isinstance(self.focused, Input):
            return False  # on the list, down moves through it
        return super().check_action(action, parameters)

    def action_to_list(self) -> None:
        self.query_one(OptionList).focus()

    def action_help(self) -> None:
        self.app.action_help()  # the app's own "?" is not active over a modal screen

    def action_cancel(self) -> None:
        self.dismiss(None)


def _pick_target(pane: Pane, key: str, verb: str, then: Callable[[str, Target], None]) -> None:
    """The container ``key`` as a source (refused in one notice when it cannot be one), then the picker of what
    it should reach; ``then(source name, target)`` once one is chosen."""
    snap = pane.app.state.snapshot
    c = snap.container(key) if snap else None
    if c is None:
        return
    mode = c.network_mode if c.network_mode in ("host", "none") else "bridge"
    try:
        check_container(c.name, c.state, mode, c.pid)
    except NetconError as error:
        pane.notify(str(error), severity="error", timeout=8)
        return

    def chosen(target: Target | None) -> None:
        if target is not None:
            then(c.name, target)

    if verb == "ping" and len(pane.app.cluster.names) > 1:  # a cluster console: the other hosts' containers too
        pick_across(pane, c.name, targets(snap, c), chosen)
        return
    pane.app.push_screen(TargetPicker(c.name, targets(snap, c), verb=verb), chosen)


def ping_from(pane: Pane, key: str) -> None:
    """``p`` on a container: check it can be a source, ask for the target, then ask the app (a message) to start
    the probe and show the Ping pane."""
    _pick_target(
        pane, key, "ping", lambda source, target: pane.post_message(ProbeRequested(source, target.value, target.name))
    )


def trace_from_container(pane: Pane, key: str) -> None:
    """``t`` on a container: check it can be a source, ask for the destination, then trace (pane 0)."""
    _pick_target(pane, key, "trace", lambda source, target: trace_from(pane, source, target.name or target.value))


def open_matrix(pane: Pane, key: str) -> None:
    """``m`` on a network: probe all its pairs on a worker and show the grid; in a cluster console, the network
    on every host that has it, each pair probed from its source's host."""
    snap = pane.app.state.snapshot
    net = snap.network(key) if snap else None
    if net is not None:
        across = len(pane.app.cluster.names) > 1
        pane.app.push_screen(MatrixScreen(net.name, hosts=all_hosts(pane.app) if across else None))


class MatrixDone(Message):
    def __init__(self, matrix: Matrix | None, error: str | None = None) -> None:
        super().__init__()
        self.matrix = matrix
        self.error = error


def cell(p: PairResult | None) -> Text:
    if p is None:
        return Text("—", style="dim")
    if p.error:
        return Text("✗ error", style="bold white on red")
    if not p.reachable:
        return Text(f"✗ 0/{p.sent}", style="bold white on red")
    text = f"{ms(p.rtt_ms_median)}ms/{p.ttl}"
    if p.received < p.sent:
        return Text(f"{text} {p.received}/{p.sent}", style="black on yellow")
    return Text(text, style="black on green")


class MatrixScreen(DetailScreen):
    """All ordered pairs of one network: rows are sources, columns targets, a cell the median RTT / TTL or
    ✗. A detail screen of the network, so the pane keys and Escape leave it like the others; it shows its own
    probe results, not the snapshot."""

    DEFAULT_CSS = """
    MatrixScreen DataTable { height: auto; max-height: 100%; }
    """
    ACTIONS = (Action("rerun", "r", "Run again", "probe every pair of the network again"), TRACE)
    BINDINGS = bindings(ACTIONS)

    def __init__(self, network: str, matrix: Matrix | None = None, hosts: Sequence[Host] | None = None) -> None:
        super().__init__(network)
        self.matrix = matrix
        self.hosts = hosts  # a matrix across these hosts (members HOST/CONTAINER); None: the shown host's

    def on_mount(self) -> None:
        self.app.paint_header(self)
        table = self.query_one(DataTable)
        table.cursor_type = "cell"
        table.focus()
        if self.matrix is not None:
            self._paint(self.matrix)
        else:
            self.action_rerun()

    def show(self, state: LiveState) -> None:
        """Snapshots do not change probe results; ``r`` runs the matrix again."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "trace" and self._traced() is None:
            return False  # only a failed cell is traced, from a container of the host shown
        return super().check_action(action, parameters)

    def _traced(self) -> tuple[str, str] | None:
        """(source container, destination) of the failed cell under the cursor, when the shown host holds its
        source (a trace reads the kernel of the host it runs on)."""
        pair = self._failed_cell()
        if pair is None:
            return None
        host, _, source = pair.src.rpartition(SEPARATOR) if self.hosts is not None else ("", "", pair.src)
        if self.hosts is not None and host != self.app.host.name:
            return None
        return source, pair.dst_ip or pair.dst

    def _failed_cell(self) -> PairResult | None:
        table = self.query_one(DataTable)
        if self.matrix is None or not table.row_count:
            return None
        cell = table.coordinate_to_cell_key(table.cursor_coordinate)
        pair = self.matrix.pair(str(cell.row_key.value), str(cell.column_key.value))
        return pair if pair is not None and not pair.reachable else None

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        self.refresh_bindings()

    def action_trace(self) -> None:
        traced = self._traced()
        if traced is not None:  # showing the Trace pane closes this screen
            trace_from(self.app.pane("containers"), *traced)

    def action_rerun(self) -> None:
        where = f" on {len(self.hosts)} hosts" if self.hosts is not None else ""
        self.query_one(".facts", Static).update(Text(f"Probing every pair of network {self.key}{where}…", style="bold"))
        self._run(self.app.ctx, self.app.collector, self.key, self.app.ping.max_pps)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ping-matrix", name="the ping matrix")
    def _run(self, ctx: HostContext, collector: Any, network: str, max_pps: float) -> None:
        worker = get_current_worker()
        try:
            if self.hosts is not None:
                leases = self.app.cluster.leases.get()
                matrix = cluster_matrix(self.hosts, network=network, leases=leases, stop=self.app.stopping)
            else:
                matrix = network_matrix(ctx, network, collector=collector, max_pps=max_pps, stop=self.app.stopping)
        except NetconError as error:
            if not worker.is_cancelled:
                self.post_message(MatrixDone(None, str(error)))
            return
        if not worker.is_cancelled:
            self.post_message(MatrixDone(matrix))

    def worker_failed(self, worker: Worker) -> None:
        self.query_one(".facts", Static).update(Text(f"The ping matrix failed: {worker.error!r}", style="bold red"))

    def on_matrix_done(self, message: MatrixDone) -> None:
        if message.matrix is None:
            self.query_one(".facts", Static).update(Text(message.error, style="bold red"))
        else:
            self._paint(message.matrix)

    def _paint(self, m: Matrix) -> None:
        self.matrix = m
        reachable = sum(p.reachable for p in m.pairs)
        facts = Text.assemble(
            (f"{m.title}", "bold"),
            f": {len(m.members)} containers, ",
            (
                f"{reachable}/{len(m.pairs)} ordered pairs reachable",
                "bold green" if reachable == len(m.pairs) else "bold red",
            ),
            f" ({m.count} echoes each, {m.elapsed_s:.1f} s). Rows send, columns answer; a "
            f"cell is the median RTT/TTL, ✗ when no echo came back.",
        )
        for problem in m.problems:
            facts.append(f"\n{problem}", style="bold red")
        for p in m.pairs:
            if p.error:
                facts.append(f"\nerror: {p.src} → {p.dst}: {p.error}", style="red")
            elif not p.reachable:
                facts.append(f"\nunreachable: {p.src} → {p.dst} ({p.dst_ip})", style="red")
        self.query_one(".facts", Static).update(facts)
        table = self.query_one(DataTable)
        keep = cursor_key(table)
        table.clear(columns=True)  # a new run may have other members: the grid is rebuilt, once per run
        for member in m.members:
            table.add_column(member, key=member)
        for src in m.members:
            table.add_row(
                *(cell(None if src == dst else m.pair(src, dst)) for dst in m.members),
                key=src,
                label=Text(f"{src} →", style="bold"),
            )
        if keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
