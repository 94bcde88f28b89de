"""Pane 0: a trace — the path from a source to a destination and back, drawn as a vertical chain of hops (what
the kernel holds, predicted, seen), the failing hop highlighted and its detail below: the rule or missing entry,
what nftrace saw, and the fix (the doctor's own fix commands). The shown host runs it (``Host.trace``).

A trace is opened with ``t`` (the one ``TRACE`` action) on a container (then a target is picked), on a probe
of the Ping pane, or on a failed cell of a ping matrix. It runs in one named thread worker, which posts its
result as a message; the console quitting sets ``app.stopping``, which the probe's wait checks, so quitting
stays immediate.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import Worker, get_current_worker

from netcon.core.errors import NetconError
from netcon.core.hosts.base import Host
from netcon.core.trace.model import Hop, Trace, TraceAsk
from netcon.tui.actions import Action, bindings
from netcon.tui.panes.base import Pane
from netcon.tui.widgets import cursor_key, sync_rows

EMPTY = "No trace. Press t on a container (2), a probe (6) or a failed cell of a ping matrix to trace from it."
TRACE = Action("trace", "t", "Trace", "trace the path from here: every hop predicted and proven (pane 0)")
COLUMNS = (
    ("chain", ""),
    ("host", "HOST"),
    ("netns", "NETNS"),
    ("device", "DEVICE"),
    ("stage", "STAGE"),
    ("seen", "SEEN"),
    ("verdict", "VERDICT"),
)


class TraceDone(Message):
    def __init__(self, generation: int, result: Trace) -> None:
        super().__init__()
        self.generation = generation
        self.result = result


class TraceFailed(Message):
    def __init__(self, generation: int, error: str) -> None:
        super().__init__()
        self.generation = generation
        self.error = error


def trace_from(pane: Pane, source: str, target: str) -> None:
    """Show the Trace pane and trace from ``source`` (a container name) to ``target``."""
    traced = pane.app.query_one("#trace", TracePane)
    pane.app.action_show_pane("trace")
    traced.start(source, target)


def _glyph(hop: Hop, failed: bool) -> Text:
    arrow = "▼" if hop.direction == "request" else "▲"
    if failed:
        return Text(f"✗{arrow}", style="bold red")
    if hop.probed and hop.capture is not None:
        return Text(f"{'●' if hop.seen else '○'}{arrow}", style="green" if hop.seen else "red")
    return Text(f"│{arrow}", style="dim")


class TracePane(Pane):
    title = "Trace"
    DEFAULT_CSS = """
    TracePane > .caption { height: auto; padding: 0 1; }
    TracePane > #hops { height: 1fr; }
    TracePane > VerticalScroll { height: 12; border-top: solid $primary; padding: 0 1; }
    """
    ACTIONS = (Action("retrace", "r", "Trace again", "send a new probe along the same path"),)
    BINDINGS = bindings(ACTIONS)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = ""
        self.target = ""
        self.result: Trace | None = None
        self.running = False
        self.generation = 0
        self.started = 0.0

    def compose(self) -> ComposeResult:
        yield Static(EMPTY, classes="caption")
        yield DataTable(id="hops", cursor_type="row", zebra_stripes=True)
        with VerticalScroll():
            yield Static(id="detail")

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.table.add_column(label, key=key)

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#hops", DataTable)

    def focus_content(self) -> None:
        self.table.focus()

    # -- running ----------------------------------------------------------------------------------------------

    def start(self, source: str, target: str) -> None:
        self.source, self.target = source, target
        self.generation += 1
        self.running = True
        self.started = time.monotonic()
        self._caption(Text(f"Tracing {source} → {target}: predicting, then probing…", style="bold"))
        self._run(self.generation, self.app.host, self.app.trace_ask(source, target))
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="trace", name="the trace")
    def _run(self, generation: int, host: Host, ask: TraceAsk) -> None:
        """The trace run by the shown host: in-process, or by the netcon there (``Host.trace``)."""
        worker = get_current_worker()
        try:
            result = host.trace(ask, self.app.stopping)
        except NetconError as error:
            if not worker.is_cancelled:
                self.post_message(TraceFailed(generation, str(error)))
            return
        if not worker.is_cancelled and not self.app.stopping.is_set():
            self.post_message(TraceDone(generation, result))

    def worker_failed(self, worker: Worker) -> None:
        self.running = False
        self._caption(Text(f"The trace failed: {worker.error!r}", style="bold red"))
        self.refresh_bindings()

    def on_trace_failed(self, message: TraceFailed) -> None:
        if message.generation != self.generation:
            return
        self.running = False
        self._caption(Text(f"Trace {self.source} → {self.target}: {message.error}", style="bold red"))
        self.notify(message.error, severity="error", timeout=8)
        self.refresh_bindings()

    def on_trace_done(self, message: TraceDone) -> None:
        if message.generation != self.generation:
            return
        self.running = False
        self.result = message.result
        self._paint(message.result)
        self.refresh_bindings()

    # -- painting ---------------------------------------------------------------------------------------------

    def _caption(self, text: Text | str) -> None:
        self.query_one(".caption", Static).update(text)

    def _paint(self, result: Trace) -> None:
        failing = self._failing_index(result)
        head = Text.assemble(
            (f"{result.src} ({result.src_ip or '?'}) → {result.dst} ({result.dst_ip}) {result.proto}", "bold"),
            f"/{result.port}" if result.port else "",
            f" · {len(result.hops)} hops · {result.total_s:.2f} s · ",
            (result.last_line, "bold green" if result.reply_seen else "bold red"),
        )
        for note in result.notes:
            head.append(f"\nnote: {note}", style="dim")
        self._caption(head)
        rows = []
        for index, hop in enumerate(result.hops):
            style = "bold white on red" if index == failing else ""
            seen = "-" if not hop.probed or hop.capture is None else ("seen" if hop.seen else "NOT seen")
            cells = [hop.host, hop.netns, hop.device or "-", hop.stage, seen, hop.verdict]
            rows.append((f"{index:03d}", [_glyph(hop, index == failing), *(Text(c, style=style) for c in cells)]))
        sync_rows(self.table, [key for key, _ in COLUMNS], rows)
        if failing is not None:
            self.table.move_cursor(row=failing)
        self._paint_detail()

    @staticmethod
    def _failing_index(result: Trace) -> int | None:
        f = result.failed_hop
        if f is None:
            return None
        for index, hop in enumerate(result.hops):
            if (hop.host, hop.netns, hop.device, hop.stage, hop.direction) == (
                f.host,
                f.netns,
                f.device,
                f.stage,
                f.direction,
            ):
                return index
        return None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._paint_detail()

    def _paint_detail(self) -> None:
        key = cursor_key(self.table)
        detail = self.query_one("#detail", Static)
        if self.result is None or key is None or int(key) >= len(self.result.hops):
            detail.update("")
            return
        hop = self.result.hops[int(key)]
        failed = self.result.failed_hop
        is_failing = int(key) == self._failing_index(self.result)
        text = Text(f"{hop.direction} · {hop.host} · {hop.netns} · {hop.device or hop.stage}\n", style="bold")
        for line in hop.holds.replace(" · ", "; ").split("; "):
            text.append(f"  {line}\n")
        text.append(f"predicted: {hop.predicted} — {hop.reason}\n")
        if hop.seen is not None:
            s = hop.seen
            text.append(f"seen: {s.src} > {s.dst} ttl {s.ttl} ({s.detail})\n", style="green")
        if is_failing and failed is not None:
            text.append(f"dies here: {failed.reason}\n", style="bold red")
        if hop.rule:
            text.append(f"rule: {hop.rule}\n", style="bold")
        if hop.traced:
            text.append(f"nftrace: {hop.traced}\n")
        for fix in hop.fix:
            text.append(f"fix: {fix}\n", style="yellow")
        detail.update(text)

    # -- actions ----------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retrace" and (self.running or not self.source):
            return False
        return super().check_action(action, parameters)

    def action_retrace(self) -> None:
        self.start(self.source, self.target)


PANE = TracePane
