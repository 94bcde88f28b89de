"""Pane 9: a live capture on the interfaces ``c`` was pressed on (a container, a bridge or a port, a veth).

The packet list (newest at the bottom; it follows the newest unless the user moves up), the highlighted
packet's every decoded layer, the per-flow tally, a filter field in tcpdump's syntax checked by libpcap as it
is typed, pause/resume and save to pcapng. The capture runs in one named thread worker that belongs to this
pane, so it goes on while other panes are shown; it ends when stopped, after ``stop_after`` packets, or when
the console quits (the pane stops it on unmount, which wakes the worker at once). On a host read over SSH the
netcon there captures (``Host.start_capture``) and the frames are decoded here, with the same keys.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Label, Static
from textual.worker import get_current_worker

from netcon.core.capture.bpf import Program, compile_filter
from netcon.core.capture.flows import FlowTable, Recent
from netcon.core.capture.session import Capture, CaptureStats, Limits
from netcon.core.capture.summary import summary
from netcon.core.capture.targets import resolve_all
from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.hosts.captures import CaptureRequest, HostCapture
from netcon.core.model import Snapshot
from netcon.core.validate import values
from netcon.tui.actions import Action, bindings
from netcon.tui.capture_feed import (
    BATCH_S,
    MAX_FLOWS,
    CaptureBatch,
    CaptureEnded,
    CaptureFailed,
    CaptureSettings,
    CaptureStarted,
    Seen,
)
from netcon.tui.capture_rows import FLOW_COLUMNS, PACKET_COLUMNS, flow_row, packet_cells, packet_detail
from netcon.tui.capture_save import SaveCapture
from netcon.tui.cluster_feed import is_remote
from netcon.tui.panes.base import Pane
from netcon.tui.widgets import cursor_key, sync_rows

SHOWN_ROWS = 1000  # rows in the list; every kept packet is saved
EMPTY = "No capture. Press c on a row of Containers (2), Bridges (3) or Veths (4) to capture there."


def capture_on(pane: Pane, target: str) -> None:
    """``c`` on a row: capture on ``target`` (a TARGET as ``netcon capture`` takes it) and show the pane."""
    capture = pane.app.query_one("#capture", CapturePane)
    pane.app.action_show_pane("capture")
    capture.start([target])


def settings_of(app: Any) -> CaptureSettings:
    """The console's capture caps (``netcon console --capture-...``), or the defaults."""
    return getattr(app, "capture_settings", None) or CaptureSettings()


class CapturePane(Pane):
    title = "Capture"
    DEFAULT_CSS = """
    CapturePane > .caption { height: auto; padding: 0 1; color: $text-muted; }
    CapturePane > .filter-row { height: 1; padding: 0 1; }
    CapturePane > .filter-row > Label { width: 8; }
    CapturePane > .filter-row > Input { width: 1fr; }
    CapturePane > .filter-error { height: auto; padding: 0 1 0 9; color: $error; display: none; }
    CapturePane > .filter-error.shown { display: block; }
    CapturePane > #packets { height: 1fr; }
    CapturePane > .bottom { height: 11; border-top: solid $primary; }
    CapturePane > .bottom > VerticalScroll { width: 1fr; padding: 0 1; }
    CapturePane > .bottom > #flows { width: 1fr; }
    """
    ACTIONS = (
        Action(
            "toggle_pause", "space", "Pause/Resume", "stop capturing for now, or capture again", key_display="Space"
        ),
        Action("stop_capture", "s", "Stop", "end the capture (the list stays)"),
        Action("edit_filter", "f", "Filter", "edit the capture filter (tcpdump syntax; Enter applies it)"),
        Action("save_capture", "w", "Save", "save the kept packets as pcapng for Wireshark"),
    )
    BINDINGS = bindings(ACTIONS)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.targets: list[str] = []
        self.program: Program | None = None
        self.capture: Capture | HostCapture | None = None  # the worker's, while it runs (stopped from here)
        self.running = False
        self.state_text = ""
        self.started: CaptureStarted | None = None
        self.stats: CaptureStats | None = None
        self.recent = Recent()
        self.seen: dict[int, Seen] = {}  # by packet number, the rows shown
        self.flows: tuple[Any, ...] = ()
        self.follow = True
        self._moving = False
        self.generation = 0  # of the capture whose messages count

    def compose(self) -> ComposeResult:
        yield Static(EMPTY, classes="caption")
        with Horizontal(classes="filter-row"):
            yield Label("filter")
            yield Input(placeholder="tcpdump filter, e.g. icmp or udp port 8472; Enter applies", compact=True)
        yield Static(classes="filter-error")
        packets: DataTable[Any] = DataTable(id="packets", cursor_type="row", zebra_stripes=True)
        yield packets
        with Horizontal(classes="bottom"):
            with VerticalScroll():
                yield Static(id="detail")
            yield DataTable(id="flows", cursor_type="row")

    def on_mount(self) -> None:
        for key, label in PACKET_COLUMNS:
            self.packets.add_column(label, key=key)
        for key, label in FLOW_COLUMNS:
            self.query_one("#flows", DataTable).add_column(label, key=key)

    def on_unmount(self) -> None:
        if self.capture is not None:  # the console quits: wake the worker so it closes at once
            self.capture.stop()

    @property
    def packets(self) -> DataTable[Any]:
        return self.query_one("#packets", DataTable)

    def focus_content(self) -> None:
        self.packets.focus()

    # -- starting and stopping ------------------------------------------------------------------------------

    def start(self, targets: list[str]) -> None:
        """Capture on ``targets`` with the filter in the field (a new capture replaces a running one)."""
        self.targets = list(targets)
        self.recent = Recent(settings_of(self.app).keep)
        self.seen.clear()
        self.packets.clear()
        self.flows = ()
        self.stats = None
        self.follow = True
        self._launch()

    def _launch(self) -> None:
        self._halt()
        self.generation += 1
        self.running = True
        self.state_text = "opening…"
        self._paint_caption()
        self._run(self.generation, self.app.ctx, self.app.state.snapshot, list(self.targets), self.program)
        self.refresh_bindings()

    def _halt(self) -> None:
        """End the running capture, if any: wake its worker (it closes everything) and cancel it."""
        if self.capture is not None:
            self.capture.stop()
        self.capture = None
        self.running = False
        self.workers.cancel_group(self, "capture")

    @work(thread=True, exclusive=True, exit_on_error=False, group="capture", name="capture packets")
    def _run(
        self, generation: int, ctx: HostContext, snapshot: Snapshot | None, targets: list[str], program: Program | None
    ) -> None:
        worker = get_current_worker()
        settings = settings_of(self.app)
        try:
            capture = self._open(ctx, snapshot, targets, program, settings)
        except NetconError as error:
            self.post_message(CaptureFailed(generation, str(error)))
            return
        reason = "stopped"
        try:
            if worker.is_cancelled:
                return
            self.capture = capture  # from here the pane can wake it
            self.post_message(CaptureStarted(generation, capture.endpoints, program.expression if program else None))
            reason = self._read(generation, worker, capture, settings)
        except NetconError as error:  # the host read over SSH went away, or its capture ended by itself
            reason = f"ended: {error}"
        finally:
            stats = capture.statistics()
            capture.close()
            self.post_message(CaptureEnded(generation, stats, reason))

    def _open(
        self,
        ctx: HostContext,
        snapshot: Snapshot | None,
        targets: list[str],
        program: Program | None,
        settings: CaptureSettings,
    ) -> Capture | HostCapture:
        """The capture, open: here, or by the netcon of the host read over SSH (which resolves the targets and
        compiles the filter itself, and sends the frames back to be decoded here)."""
        host = self.app.host
        if is_remote(host):
            expression = program.expression if program else None
            return HostCapture(host, CaptureRequest(tuple(targets), expression, settings.max_pps)).open()
        if snapshot is None:
            raise NetconError("The host has not been read yet; try again in a moment.")
        return Capture(resolve_all(ctx, snapshot, targets), program, Limits(max_pps=settings.max_pps)).open()

    def _read(self, generation: int, worker: Any, capture: Capture | HostCapture, settings: CaptureSettings) -> str:
        """Decode and tally until stopped, cancelled or the cap; the reason it ended."""
        flows, pending, posted, total = FlowTable(), [], time.monotonic(), 0
        while not worker.is_cancelled and not capture.stopped:
            for packet in capture.next(BATCH_S):
                layers = packet.layers()
                flows.add(packet, layers)
                pending.append(Seen(packet, layers, summary(layers)))
            now = time.monotonic()
            if (pending and now - posted >= BATCH_S) or now - posted >= 1:
                total += len(pending)
                self.post_message(
                    CaptureBatch(generation, tuple(pending), capture.statistics(), tuple(flows.flows()[:MAX_FLOWS]))
                )
                pending, posted = [], now
            if total >= settings.stop_after:
                return f"stopped after {total} packets (the cap, --capture-stop-after)"
        if pending:
            stats, shown = capture.statistics(), tuple(flows.flows()[:MAX_FLOWS])
            self.post_message(CaptureBatch(generation, tuple(pending), stats, shown))
        return "stopped" if not worker.is_cancelled else "cancelled"

    def on_capture_started(self, message: CaptureStarted) -> None:
        if message.generation != self.generation or not self.running:
            return
        self.started = message
        self.state_text = "capturing"
        self._paint_caption()

    def on_capture_failed(self, message: CaptureFailed) -> None:
        if message.generation != self.generation:
            return
        self.running = False
        self.capture = None
        self.state_text = f"not capturing: {message.error}"
        self._paint_caption()
        self.notify(message.error, severity="error", timeout=8)
        self.refresh_bindings()

    def on_capture_ended(self, message: CaptureEnded) -> None:
        if message.generation != self.generation:
            return  # a replaced capture's end; the new one runs
        self.capture = None
        self.stats = message.stats or self.stats
        if self.running:  # ended by itself (its cap), not by pause or stop here
            self.state_text = message.reason
        self.running = False
        self._paint_caption()
        self.refresh_bindings()

    # -- packets in -----------------------------------------------------------------------------------------

    def on_capture_batch(self, message: CaptureBatch) -> None:
        if message.generation != self.generation:
            return
        self.stats, self.flows = message.stats, message.flows
        first = self.recent.next_number
        self.recent.extend(s.packet for s in message.seen)
        table = self.packets
        for number, seen in enumerate(message.seen, first):
            self.seen[number] = seen
            table.add_row(*packet_cells(number, seen), key=str(number))
        for number in sorted(self.seen)[: max(0, len(self.seen) - SHOWN_ROWS)]:
            del self.seen[number]
            table.remove_row(str(number))
        if self.follow and table.row_count:
            self._moving = True
            table.move_cursor(row=table.row_count - 1)
            self._moving = False
        self._paint_flows()
        self._paint_caption()
        self.refresh_bindings()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is not self.packets:
            return
        if not self._moving:  # the user moved: follow only while on the newest packet
            self.follow = event.cursor_row == self.packets.row_count - 1
        self._paint_detail()

    # -- painting -------------------------------------------------------------------------------------------

    def _paint_caption(self) -> None:
        if not self.targets:
            self.query_one(".caption", Static).update(EMPTY)
            return
        where = (
            ", ".join(f"{e.ifname} [{e.netns_label}]" for e in self.started.endpoints)
            if self.started
            else ", ".join(self.targets)
        )
        parts = [f"{self.state_text} on {where}"]
        if self.program:
            parts.append(f"filter {self.program.expression!r}")
        s = self.stats
        settings = settings_of(self.app)
        if s is not None:
            parts.append(f"{s.delivered} packets")
            parts.append(Text(f"{s.dropped} dropped by kernel", style="bold red" if s.dropped else ""))
            parts.append(Text(f"{s.capped} over the {settings.max_pps}/s cap", style="yellow" if s.capped else ""))
        parts.append(f"kept {len(self.recent.packets)} of {settings.keep}")
        self.query_one(".caption", Static).update(Text(" · ").join(Text(p) if isinstance(p, str) else p for p in parts))

    def _paint_detail(self) -> None:
        key = cursor_key(self.packets)
        seen = self.seen.get(int(key)) if key is not None else None
        detail = self.query_one("#detail", Static)
        if seen is None:
            detail.update("")
            return
        detail.update(packet_detail(int(key or 0), seen))

    def _paint_flows(self) -> None:
        rows = [flow_row(f) for f in self.flows]
        sync_rows(self.query_one("#flows", DataTable), [k for k, _ in FLOW_COLUMNS], rows)

    # -- filter ---------------------------------------------------------------------------------------------

    def _filter_error(self, text: str) -> str | None:
        if not text.strip():
            return None
        try:
            compile_filter(values.text(text, "filter", "Filter"))
        except NetconError as error:
            return str(error)
        return None

    def on_input_changed(self, event: Input.Changed) -> None:
        error = self._filter_error(event.value)
        line = self.query_one(".filter-error", Static)
        line.update(error or "")
        line.set_class(bool(error), "shown")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._filter_error(event.value):
            return
        self.program = compile_filter(event.value.strip()) if event.value.strip() else None
        self.packets.focus()
        if self.targets:
            self._launch()

    # -- actions --------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        typing = isinstance(self.screen.focused, Input)
        if action in ("toggle_pause", "stop_capture", "save_capture") and typing:
            return False
        if action == "toggle_pause" and not self.targets:
            return False
        if action == "stop_capture" and not self.running:
            return False
        if action == "save_capture" and not self.recent.packets:
            return False
        return super().check_action(action, parameters)

    def action_toggle_pause(self) -> None:
        if self.running:
            self._halt()
            self.state_text = "paused (not capturing; Space resumes)"
            self._paint_caption()
            self.refresh_bindings()
        elif self.targets:
            self._launch()

    def action_stop_capture(self) -> None:
        self._halt()
        self.state_text = "stopped"
        self._paint_caption()
        self.refresh_bindings()

    def action_edit_filter(self) -> None:
        self.query_one(Input).focus()
        self.refresh_bindings()

    def action_save_capture(self) -> None:
        self.app.push_screen(SaveCapture(list(self.recent.packets), self.stats))


PANE = CapturePane
