"""The console: a Textual app over the core's snapshot.

Widgets never do I/O. One named thread worker calls the collector and posts the snapshot back as a message;
the core's watcher (Docker events, netlink, a slow fallback) posts ``HostChanged`` to ask for a refresh.
Only the visible pane is updated; others catch up when they are shown.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Protocol

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer
from textual.worker import Worker, WorkerState, get_current_worker

from netcon.core import host_facts
from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.host_facts import HostFacts
from netcon.core.model import Snapshot
from netcon.core.ping.engine import PingEngine
from netcon.core.snapshot import SnapshotCollector
from netcon.core.watch import Watcher
from netcon.tui.actions import Action, Declared, bindings, is_declared
from netcon.tui.audit_panel import AuditPanel
from netcon.tui.doctor_feed import DoctorFeed
from netcon.tui.flannel_feed import EtcdSettings, EtcdStatus, FlannelFeed
from netcon.tui.messages import HostChanged, SnapshotFailed, SnapshotReady
from netcon.tui.palette import ActionCommands
from netcon.tui.panes import SLOTS
from netcon.tui.panes.base import Pane
from netcon.tui.screens import DetailScreen, HelpScreen
from netcon.tui.state import LiveState, age_text
from netcon.tui.widgets import PaneBar, StatusHeader

COUNTER_PERIOD = 1.0  # seconds between refreshes while a pane with live counters is visible


class Collector(Protocol):
    def collect(self) -> Snapshot: ...


class NetconApp(Declared, App):
    """``NetconApp(ctx)`` reads the host through ``core.snapshot.SnapshotCollector``; tests may hand in any
    object with a ``collect()`` method instead."""

    TITLE = "netcon"
    COMMANDS = {ActionCommands}
    CSS = "ContentSwitcher { height: 1fr; }"
    ACTIONS = (
        Action("quit", "q", "Quit", "leave the console"),
        Action("refresh", "r", "Refresh", "read the host again now"),
        Action("help", "question_mark", "Help", "list every key of this pane", key_display="?"),
        Action("toggle_audit", "l", "Log", "show or hide the last changes recorded in the audit log"),
        *(Action(f"show_pane('{s.id}')", s.digit, f"Go to {s.title}", f"pane {s.digit}", footer=False) for s in SLOTS),
    )
    BINDINGS = bindings(ACTIONS)

    def __init__(
        self,
        ctx: HostContext,
        collector: Collector | None = None,
        *,
        watch: bool = True,
        clock: Callable[[], float] = time.time,
        ping_max_probes: int = 32,
        ping_max_rate: float = 100.0,
        facts: Callable[[HostContext], HostFacts] = host_facts.gather,
        etcd: EtcdSettings | None = None,
        flannel: FlannelFeed | None = None,
        ports: object | None = None,
        doctor: object | None = None,
    ) -> None:
        """``etcd``: where the Flannel pane reads (None: no etcd). Tests may hand in ``flannel`` (a feed) and
        ``ports`` (an object with ``collect(snapshot)`` and ``ancestry(pid)``) and ``doctor`` (an object with
        ``run() -> Report``) instead of the host's."""
        super().__init__()
        self.ctx = ctx
        self.read_only = ctx.read_only
        self.collector = collector if collector is not None else SnapshotCollector(ctx)
        self.clock = clock
        self.read_facts = facts  # what the change forms validate against, read once when one opens
        self.flannel = flannel if flannel is not None else (FlannelFeed(ctx, etcd) if etcd is not None else None)
        self.etcd_status = "etcd: not configured"  # the Flannel pane reports what it finds
        self.ports = ports
        self.doctor = doctor if doctor is not None else DoctorFeed(ctx, etcd)
        self.state = LiveState()
        self.current = SLOTS[0].id
        self.behind: set[str] = set()  # panes that have not been shown the latest snapshot
        self.watcher = Watcher(ctx, lambda reasons: self.post_message(HostChanged(reasons))) if watch else None
        self.ping = PingEngine(ping_max_probes, ping_max_rate)  # probes outlive pane switches; closed on exit
        if os.environ.get("SSH_CONNECTION"):
            self.animation_level = "none"

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield PaneBar()
        with ContentSwitcher(initial=self.current):
            for slot in SLOTS:
                yield slot.create()
        yield AuditPanel()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PaneBar).show(((s.digit, s.id, s.title) for s in SLOTS), self.current)
        self.paint_header()
        self.pane(self.current).focus_content()
        self.set_interval(1.0, self.paint_header)
        self.counter_timer = self.set_interval(COUNTER_PERIOD, self.refresh_snapshot, pause=True)
        self.refresh_snapshot()
        if self.watcher is not None:
            self.watcher.start()

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.ping.close()

    # data in
    @work(thread=True, exclusive=True, exit_on_error=False, group="snapshot")
    def refresh_snapshot(self) -> None:
        """Read the host on a worker thread; the result comes back as a message."""
        worker = get_current_worker()
        try:
            snapshot = self.collector.collect()
        except NetconError as error:
            if not worker.is_cancelled:
                self.post_message(SnapshotFailed(str(error)))
            return
        if not worker.is_cancelled:
            self.post_message(SnapshotReady(snapshot))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:  # a bug, not a host problem (those are NetconErrors): say it
            self.notify(f"Reading the host failed: {event.worker.error!r}", severity="error")

    def on_host_changed(self, message: HostChanged) -> None:
        self.refresh_snapshot()

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        self.state.accept(message.snapshot)
        self.behind = {s.id for s in SLOTS}
        with self.batch_update():
            self.paint_header()
            self._show(self.current)
            for screen in self.screen_stack:
                if isinstance(screen, DetailScreen):
                    screen.show(self.state)

    def on_snapshot_failed(self, message: SnapshotFailed) -> None:
        self.state.failed(message.error)
        self.paint_header()

    def on_etcd_status(self, message: EtcdStatus) -> None:
        """The Flannel pane's finding about etcd, for the header."""
        self.etcd_status = message.text
        self.paint_header()

    # what is on screen
    def pane(self, pane_id: str) -> Pane:
        return self.query_one(f"#{pane_id}", Pane)

    def _show(self, pane_id: str) -> None:
        if self.state.snapshot is not None and pane_id in self.behind:
            self.behind.discard(pane_id)
            self.pane(pane_id).show(self.state)

    def header_fields(self) -> list[str]:
        snap = self.state.snapshot
        if snap is None:
            return ["reading the host…"]
        version = f"Docker {snap.docker_version}" if snap.docker_version else "Docker unreachable"
        return [snap.host, version, self.etcd_status, f"data {age_text(self.clock() - snap.taken_at)} old"]

    def paint_header(self, screen: Screen | None = None) -> None:
        fields, problems = self.header_fields(), self.state.problems()
        for target in [screen] if screen is not None else self.screen_stack:
            for header in target.query(StatusHeader):
                header.show(fields, self.read_only, problems)

    # actions
    def action_show_pane(self, pane_id: str) -> None:
        if isinstance(self.screen, DetailScreen | HelpScreen):
            self.pop_screen()
        with self.batch_update():
            self.current = pane_id
            self.query_one(ContentSwitcher).current = pane_id
            self.query_one(PaneBar).show(((s.digit, s.id, s.title) for s in SLOTS), pane_id)
            self._show(pane_id)
            self.pane(pane_id).focus_content()
        live = getattr(self.pane(pane_id), "live_counters", False)
        if live:
            self.counter_timer.resume()
        else:
            self.counter_timer.pause()
        self.refresh_bindings()

    def action_refresh(self) -> None:
        self.refresh_snapshot()

    def action_toggle_audit(self) -> None:
        self.query_one(AuditPanel).toggle()

    def action_help(self) -> None:
        title = next(s.title for s in SLOTS if s.id == self.current)
        self.push_screen(HelpScreen(title, self.key_entries()))

    def key_entries(self) -> list[tuple[str, str, str]]:
        """(key, description, help) of every declared action active on the current screen."""
        entries = [
            (self.get_key_display(active.binding), active.binding.description, active.binding.tooltip)
            for active in self.screen.active_bindings.values()
            if is_declared(active.binding)
        ]
        palette = Binding(self.COMMAND_PALETTE_BINDING, "command_palette")
        return [*entries, (self.get_key_display(palette), "Command palette", "every action and pane by name")]
