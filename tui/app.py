"""The console: a Textual app over the core's snapshot.

Widgets never do I/O. One named thread worker calls the collector and posts the snapshot back as a message;
the core's watcher (Docker events, netlink, a slow fallback) posts ``HostChanged`` to ask for a refresh.
Only the visible pane is updated; others catch up when they are shown.

Quitting is immediate: ``stopping`` is set first thing, and every worker loop waits on it (never on
``time.sleep``), so the event sources, the probes and every worker thread end within a fraction of a second
and none is left running when ``run`` returns.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Footer
from textual.worker import get_current_worker

from netcon.core import host_facts
from netcon.core.context import HostContext
from netcon.core.counters import CounterReader
from netcon.core.errors import NetconError
from netcon.core.etcd.v3 import stop_loop as stop_etcd_loop
from netcon.core.host_facts import HostFacts
from netcon.core.hosts.base import EtcdAccess, Host
from netcon.core.hosts.local import LocalHost
from netcon.core.model import Counters, Snapshot
from netcon.core.ping.engine import PingEngine
from netcon.core.snapshot import SnapshotCollector
from netcon.core.watch import Watcher
from netcon.tui.actions import Action, Declared, bindings, is_declared
from netcon.tui.audit_panel import AuditPanel
from netcon.tui.cluster_feed import ClusterFeed, is_remote
from netcon.tui.doctor_feed import DoctorFeed
from netcon.tui.driver import ConsoleDriver
from netcon.tui.failures import ReportsFailures
from netcon.tui.flannel_feed import EtcdSettings, FlannelFeed
from netcon.tui.host_switch import HostCommands, HostSwitching
from netcon.tui.messages import EtcdStatus, ProbeRequested, SnapshotFailed, SnapshotReady
from netcon.tui.palette import ActionCommands
from netcon.tui.panes import SLOTS
from netcon.tui.panes.base import Pane
from netcon.tui.screens import DetailScreen, HelpScreen
from netcon.tui.state import LiveState, age_text
from netcon.tui.widgets import PaneBar, StatusHeader


class Collector(Protocol):
    def collect(self) -> Snapshot: ...


class CounterSource(Protocol):
    def read(self) -> Mapping[int, Counters]: ...

    def close(self) -> None: ...


class NetconApp(HostSwitching, ReportsFailures, Declared, App):
    """``NetconApp(ctx)`` reads the host through ``core.snapshot.SnapshotCollector``; tests may hand in any
    object with a ``collect()`` method instead. ``hosts``: the cluster's other hosts (``core.hosts``), which the
    Cluster pane lists and every pane can switch to (``tui.host_switch``)."""

    TITLE = "netcon"
    COMMANDS = {ActionCommands, HostCommands}
    CSS = "ContentSwitcher { height: 1fr; }"
    ACTIONS = (
        Action("quit", "q", "Quit", "leave the console"),
        Action("refresh", "r", "Refresh", "read the host (and every host's row) again now"),
        Action("help", "question_mark", "Help", "list every key of this pane", key_display="?"),
        Action("toggle_audit", "l", "Log", "show or hide the last changes recorded in the audit log"),
        Action("next_host", "h", "Next host", "show the cluster's next host in every pane"),
        *(
            Action(
                f"show_pane('{s.id}')", s.key, f"Go to {s.title}", f"pane {s.digit}", footer=False, key_display=s.digit
            )
            for s in SLOTS
        ),
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
        counters: Callable[[], CounterSource] | None = None,
        name: str = "local",
        hosts: Sequence[Host] = (),
        cluster_etcd: EtcdAccess | None = None,
        show_first: str | None = None,
    ) -> None:
        """``etcd``: where the Flannel pane reads (None: no etcd). Tests may hand in ``flannel`` (a feed) and
        ``ports`` (an object with ``collect(snapshot)`` and ``ancestry(pid)``), ``doctor`` (an object with
        ``run() -> Report``) and ``counters`` (opens a source of link counters) instead of the host's. ``name``:
        this host's name among ``hosts``; ``cluster_etcd``: where the Cluster pane reads the flannel leases;
        ``show_first``: the host of ``hosts`` the console opens on (``netcon --host X console``)."""
        super().__init__()
        self.ctx = self.start_ctx = ctx
        self.read_only = ctx.read_only
        self.collector = collector if collector is not None else SnapshotCollector(ctx)
        self.etcd_settings = etcd
        self.clock = clock
        self.read_facts = facts  # what the change forms validate against, read once when one opens
        self.flannel = flannel if flannel is not None else (FlannelFeed(ctx, etcd) if etcd is not None else None)
        self.etcd_status = "etcd: not configured"  # the Flannel pane reports what it finds (EtcdStatus)
        self.ports = ports
        self.doctor = doctor if doctor is not None else DoctorFeed(ctx, etcd)
        self.open_counters = counters if counters is not None else lambda: CounterReader(ctx.netns)
        self.state = LiveState()
        self.current = SLOTS[0].id
        self.behind: set[str] = set()  # panes that have not been shown the latest snapshot
        # the host changed while the Cluster pane was shown, whose table is read by the hosts' feeds: the
        # snapshot is read when a pane that shows it is (a busy Docker changes several times a second)
        self.snapshot_due = False
        self.watching = watch
        self.watcher: Watcher | None = None  # a benchmark's own event source instead of the host's watch
        target = f"netns:{os.path.basename(ctx.netns)}" if ctx.netns and name != "local" else "local"
        leases_etcd = EtcdAccess(etcd.options, etcd.prefix) if etcd is not None and etcd.given else None
        collecting = cast(SnapshotCollector, self.collector)  # anything with collect(), see Collector
        self.start_host: Host = LocalHost(ctx, name, target, etcd=leases_etcd, collector=collecting)
        self.start_readers = {"ports": ports, "doctor": self.doctor, "counters": self.open_counters}
        self.start_readers["flannel"] = self.flannel
        self.host: Host = self.start_host
        self.mounted_for: Host = self.start_host  # the host the panes were mounted for
        self.remounting = False
        self.show_first = show_first
        self.cluster = ClusterFeed([self.start_host, *hosts], cluster_etcd or leases_etcd, self.post_message)
        self.ping = PingEngine(ping_max_probes, ping_max_rate)  # probes outlive pane switches; closed on exit
        self.stopping = threading.Event()  # set first thing on quit: every worker loop waits on it
        self.age_timer: Timer | None = None  # repaints the header once a second while it shows an age
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

    def on_load(self) -> None:
        """The hosts read over SSH start connecting before the panes are built: each remote netcon takes a few
        tenths of a second to start, which the mount (as long again) now overlaps; their first events wait in
        the app's queue until it is mounted."""
        if self.watching and self.watcher is None and len(self.cluster.names) > 1:
            for name in self.cluster.names:
                if is_remote(self.cluster.host(name)):
                    self.cluster.watch(name)

    def on_mount(self) -> None:
        self.query_one(PaneBar).show(((s.digit, s.id, s.title) for s in SLOTS), self.current)
        self.pane(self.current).focus_content()
        self.age_timer = self.set_interval(1.0, self.tick_header)
        self.paint_header()
        self.refresh_snapshot()
        if self.watcher is not None:
            self.watcher.start()
        elif self.watching:
            self.cluster.watch(self.host.name)
        if len(self.cluster.names) > 1:
            self.follow_hosts()
        self.pane(self.current).visibility_changed(True)
        if self.show_first is not None:
            self.switch_host(self.show_first)

    # leaving
    def exit(self, *args: Any, **kwargs: Any) -> None:
        """Every way out (``q``, the palette, a test) comes here: first tell every worker to stop."""
        self.stopping.set()
        for pane in self.query(Pane):
            pane.halt()
        super().exit(*args, **kwargs)

    def on_unmount(self) -> None:
        self.stopping.set()
        if self.watcher is not None:
            self.watcher.stop()
        self.cluster.close()
        self.ping.close()

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        return ConsoleDriver if driver is LinuxDriver else driver  # quits without Textual's 0.1-0.2 s wait

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """``App.run``, then what outlives the app: the etcd client's loop thread is stopped, and the heap is
        frozen so the interpreter's final collection does not walk it (0.2 s of a 0.3 s quit)."""
        try:
            return super().run(*args, **kwargs)
        finally:
            stop_etcd_loop()
            gc.freeze()

    # data in
    @work(thread=True, exclusive=True, exit_on_error=False, group="snapshot", name="reading the host")
    def refresh_snapshot(self) -> None:
        """Read the host on a worker thread; the result comes back as a message."""
        worker = get_current_worker()
        try:
            snapshot = self.host.snapshot()
        except NetconError as error:
            if not worker.is_cancelled:
                self.post_message(SnapshotFailed(str(error)))
            return
        if not worker.is_cancelled:
            self.post_message(SnapshotReady(snapshot))

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
        self.etcd_status = message.text
        self.paint_header()

    def on_probe_requested(self, message: ProbeRequested) -> None:
        self.pane("ping").start_probe(message.source, message.target, message.name)
        self.action_show_pane("ping")

    # what is on screen
    def pane(self, pane_id: str) -> Pane:
        return self.query_one(f"#{pane_id}", Pane)

    def _show(self, pane_id: str) -> None:
        if self.state.snapshot is not None and pane_id in self.behind:
            self.behind.discard(pane_id)
            self.pane(pane_id).show(self.state)

    @property
    def live(self) -> bool:
        """The event sources are connected and the last read worked: the data is current, whatever its age."""
        watched = self.watcher.live if self.watcher is not None else self.watching and self.host_live()
        return watched and self.state.docker_error is None and self.state.netlink_error is None

    def header_fields(self) -> list[str]:
        snap, name = self.state.snapshot, self.host.name
        if snap is None:
            return ["reading the host…" if name == "local" else f"{name}: reading the host…"]
        version = f"Docker {snap.docker_version}" if snap.docker_version else "Docker unreachable"
        fresh = "live" if self.live else f"data {age_text(self.clock() - snap.taken_at)} old"
        shown = snap.host if name in ("local", snap.host) else f"{name} ({snap.host})"
        return [shown, version, self.etcd_status if self.in_process() else self.host.target, fresh]

    def paint_header(self, screen: Screen | None = None) -> None:
        problem = self.host_problem()
        fields, problems = self.header_fields(), [*([problem] if problem else []), *self.state.problems()]
        for target in [screen] if screen is not None else self.screen_stack:
            for header in target.query(StatusHeader):
                header.show(fields, self.read_only, problems)
        if self.age_timer is None:
            return
        if self.live or (self.state.snapshot is None and problem is None):
            self.age_timer.pause()
        else:
            self.age_timer.resume()

    def tick_header(self) -> None:
        """Once a second while the header shows the data's age (never while it says "live")."""
        self.paint_header()

    # actions
    def action_show_pane(self, pane_id: str) -> None:
        if isinstance(self.screen, DetailScreen | HelpScreen):
            self.pop_screen()
        previous = self.current
        with self.batch_update():
            self.current = pane_id
            self.query_one(ContentSwitcher).current = pane_id
            self.query_one(PaneBar).show(((s.digit, s.id, s.title) for s in SLOTS), pane_id)
            self._show(pane_id)
            self.pane(pane_id).focus_content()
        self.show_snapshot_due()
        if previous != pane_id:
            self.pane(previous).visibility_changed(False)
            self.pane(pane_id).visibility_changed(True)
        self.refresh_bindings()

    def action_refresh(self) -> None:
        self.snapshot_due = False
        self.refresh_snapshot()
        self.cluster.touch()  # every host's row too

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
