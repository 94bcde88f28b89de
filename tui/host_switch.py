"""Which host the console's panes show, and switching it: Enter on a Cluster row, ``h`` (the next host) or the
command palette ("Switch to host h2"). Every pane except the Cluster pane is mounted afresh for the new host,
so nothing of the previous host's (a ports view, rates, a capture) shows under the new one's name.

The panes read through the host interface (``core.hosts.base.Host``): the snapshot, ports, counters and the
doctor, the Docker change forms, the Ping pane's probes (started by the host's netcon), the ping matrix (across
every host, each pair from its source's host), the Capture pane (its netcon captures, the frames are decoded
here), the Trace pane (run by the host's netcon) and the Flannel pane (the shared store read from here, the
host's flannel device there; lease edits change that store from here) work on every host.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.widgets import ContentSwitcher

from netcon.core.context import HostContext
from netcon.core.doctor.findings import Report
from netcon.core.errors import NetconError
from netcon.core.flannel.subnet_file import SubnetEnv
from netcon.core.flannel.vxlan import VxlanState
from netcon.core.hosts.base import LOST, Host
from netcon.core.model import Counters, Snapshot
from netcon.core.ports.model import PortsView
from netcon.core.procfs import ProcessInfo
from netcon.core.trace.model import TraceAsk
from netcon.tui.cluster_feed import HostRowRead, is_remote
from netcon.tui.cluster_ping import OtherHostsRead
from netcon.tui.flannel_feed import EtcdSettings, FlannelFeed
from netcon.tui.messages import HostChanged
from netcon.tui.panes import SLOTS
from netcon.tui.panes.cluster import ClusterPane
from netcon.tui.ping_screens import TargetPicker
from netcon.tui.state import LiveState

if TYPE_CHECKING:
    from netcon.tui.app import NetconApp

CLUSTER = "cluster"


class HostPorts:
    """The Ports pane's source on any host."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def collect(self, snapshot: Snapshot | None) -> PortsView:
        return self.host.ports(snapshot)

    def ancestry(self, pid: int) -> tuple[ProcessInfo, ...]:
        return self.host.ancestry(pid)


class HostDoctor:
    """The Doctor pane's source on any host."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def run(self) -> Report:
        return self.host.doctor()


class HostFlannelFeed(FlannelFeed):
    """The Flannel pane on a host read over SSH: the shared store read from here, the host's flannel device and
    subnet.env read there."""

    def __init__(self, host: Host, settings: EtcdSettings) -> None:
        super().__init__(HostContext(read_only=True), settings)
        self.host = host

    def kernel(self, ifname: str) -> VxlanState:
        return self.host.vxlan(ifname)

    def subnet_env(self) -> SubnetEnv | None:
        try:
            return self.host.subnet_env()
        except NetconError:  # the host is unreachable: the checks wait for its underlay's MTU, as without a file
            return None


class HostCounters:
    """The Veths pane's counter source on any host (the host keeps its own reader warm)."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def read(self) -> Mapping[int, Counters]:
        return self.host.counters()

    def close(self) -> None:
        pass


def create_pane(slot_id: str) -> Any:
    """A fresh pane of ``slot_id``: every pane reads the shown host through the app."""
    return next(s for s in SLOTS if s.id == slot_id).create()


class HostSwitching:
    """The NetconApp side of hosts: the current one, switching, the cluster's messages."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer "Next host" only where there is another host (a one-host console keeps its footer as it was)."""
        if action == "next_host" and len(self.cluster.names) < 2:  # type: ignore[attr-defined]
            return False
        return super().check_action(action, parameters)  # type: ignore[misc]

    def in_process(self: NetconApp) -> bool:
        return not is_remote(self.host)

    def use_host(self: NetconApp, host: Host) -> None:
        """Point every reader of the app at ``host`` (the start host keeps what the app was given)."""
        self.host = host
        start = host is self.start_host
        own_ctx = getattr(host, "ctx", None)
        self.ctx = own_ctx if own_ctx is not None else self.start_ctx
        self.collector = getattr(host, "collector", self.collector)  # the ping matrix reads its snapshot
        self.ports = self.start_readers["ports"] if start else HostPorts(host)
        self.doctor = self.start_readers["doctor"] if start else HostDoctor(host)
        self.open_counters = self.start_readers["counters"] if start else partial(HostCounters, host)
        if start:
            self.flannel = self.start_readers["flannel"]
        else:
            etcd = self.etcd_settings
            if etcd is None:
                self.flannel = None
            else:
                self.flannel = FlannelFeed(own_ctx, etcd) if own_ctx is not None else HostFlannelFeed(host, etcd)

    def switch_host(self: NetconApp, name: str) -> None:
        """Show ``name`` in every pane; the Cluster pane stays as it is."""
        if name not in self.cluster.feeds:
            self.notify(f"No host {name} in this console.", severity="error")
            return
        if name == self.host.name:
            self.notify(f"{name} is already shown.")
            return
        for probe in self.ping.probes():  # probes belong to the host they were started on
            self.ping.stop(probe.probe)
        self.stop_remote_probes()
        self.use_host(self.cluster.host(name))
        self.state = LiveState()
        self.behind = {s.id for s in SLOTS}
        self.paint_header()
        if not self.remounting:  # a switch under way mounts for the newest host when it is done
            self.remounting = True
            self.run_worker(self._remount(), name="switching host", group="switch")

    async def _remount(self: NetconApp) -> None:
        """Replace the panes (all but the Cluster pane) with the current host's, until they are its."""
        switcher = self.query_one(ContentSwitcher)
        try:
            while self.mounted_for is not self.host:
                self.mounted_for = self.host
                await switcher.remove_children([w for w in switcher.children if w.id != CLUSTER])
                await switcher.mount_all([create_pane(s.id) for s in SLOTS if s.id != CLUSTER])
        finally:
            self.remounting = False
        self._switched(self.current)

    def stop_remote_probes(self: NetconApp) -> None:
        """The probes the Ping pane started on a host read over SSH end when another host is shown."""
        if self.in_process():
            return
        host = self.host
        panes = self.base_query("#ping")
        tracked = getattr(panes[0], "tracked", {}) if panes else {}
        running = [t.summary.probe for t in tracked.values() if t.summary.running]
        if running:
            self.run_worker(
                partial(_stop_probes, host, running), name="stopping the probes", thread=True, exit_on_error=False
            )

    def _switched(self: NetconApp, showing: str) -> None:
        switcher = self.query_one(ContentSwitcher)
        for pane in switcher.children:
            pane.display = pane.id == showing
        switcher.current = showing
        if self.watching:
            self.cluster.watch(self.host.name)
        self.paint_header()
        self.repaint_cluster()
        self.pane(showing).focus_content()
        self.pane(showing).visibility_changed(True)
        self.snapshot_due = False
        self.refresh_snapshot()
        self.refresh_bindings()

    def action_next_host(self: NetconApp) -> None:
        names = self.cluster.names
        if len(names) < 2:
            self.notify("This console shows one host: open it with --cluster or --lab to see every host.")
            return
        self.switch_host(names[(names.index(self.host.name) + 1) % len(names)])

    def cluster_shown(self: NetconApp) -> None:
        """The Cluster pane was shown: read every host's row (a one-host console reads its row only then)."""
        self.follow_hosts()

    def follow_hosts(self: NetconApp) -> None:
        for name in self.cluster.names:
            feed = self.cluster.feeds[name]
            if feed.started:
                continue
            feed.started = True
            if self.watching:
                self.cluster.watch(name)
            self.run_worker(
                self._follow_host(name), name=f"reading host {name}", group=f"host-{name}", exit_on_error=False
            )

    async def _follow_host(self: NetconApp, name: str) -> None:
        """Waits on the host's follower, which runs in a thread of its own (``ClusterFeed.start``)."""
        from textual.worker import get_current_worker

        worker = get_current_worker()
        await asyncio.wrap_future(self.cluster.start(name, lambda: worker.is_cancelled or self.stopping.is_set()))

    def base_query(self: NetconApp, selector: str) -> list[Any]:
        """The panes matching ``selector`` on the console's main screen, also while a form or the help is on top
        of it (none while the console is going away)."""
        return list(self.screen_stack[0].query(selector)) if self.screen_stack else []

    def repaint_cluster(self: NetconApp) -> None:
        """The Cluster pane shows every host's last row (not once the console is quitting)."""
        if self.stopping.is_set():
            return
        for pane in self.base_query(f"#{CLUSTER}"):
            if isinstance(pane, ClusterPane):
                pane.refresh_rows()

    def on_other_hosts_read(self: NetconApp, message: OtherHostsRead) -> None:
        """The picker of a ping from ``message.source``: this host's targets, then the other hosts' containers."""
        for problem in message.problems:
            self.notify(f"{problem} Its containers are not listed.", severity="warning", timeout=8)
        picker = TargetPicker(message.source, [*message.here, *message.there], verb="ping")
        self.push_screen(picker, message.then)

    def on_host_row_read(self: NetconApp, message: HostRowRead) -> None:
        self.repaint_cluster()
        if message.row.name == self.host.name:
            self.paint_header()

    def on_host_changed(self: NetconApp, message: HostChanged) -> None:
        name = message.host or self.host.name
        self.cluster.touch(name, message.reasons)
        if name != self.host.name:
            return
        if (
            self.current == CLUSTER
            and routine(message.reasons)
            and self.state.snapshot
            and not self.state.netlink_error
        ):
            self.snapshot_due = True  # no pane on screen shows it: read when one is shown (show_snapshot_due)
        elif LOST not in message.reasons:
            self.refresh_snapshot()
        self.paint_header()  # a source lost or back changes "live"

    def trace_ask(self: NetconApp, source: str, target: str) -> TraceAsk:
        """A trace from the shown host. From a host read in-process the walk goes on, over SSH, to the console's
        connected hosts read over SSH (those reached with the first one's ssh config); a host read over SSH
        traces its own part (its netcon cannot reach the others)."""
        if is_remote(self.host):
            return TraceAsk(source, target)
        remotes = [h for h in map(self.cluster.host, self.cluster.names) if is_remote(h)]
        up = [h for h in remotes if getattr(h, "connected", False)]
        if not up:
            return TraceAsk(source, target)
        config = getattr(getattr(up[0], "settings", None), "config", None)
        via = tuple(h.target for h in up if getattr(getattr(h, "settings", None), "config", None) == config)
        return TraceAsk(source, target, via=via, ssh_config=config)

    def show_snapshot_due(self: NetconApp) -> None:
        """A pane that shows the snapshot is on screen again: read the host if it changed meanwhile."""
        if self.snapshot_due and self.current != CLUSTER:
            self.snapshot_due = False
            self.refresh_snapshot()

    def host_live(self: NetconApp) -> bool:
        """The current host's events reach the console. A remote host counts as live while it is connected: its
        netcon's first event ("watching") is sent before its own watcher has connected, and says not live."""
        if is_remote(self.host):
            return bool(getattr(self.host, "connected", False))
        return self.host.live

    def host_problem(self: NetconApp) -> str | None:
        """ "h2 unreachable: <why>" while the current host's connection is down."""
        error = getattr(self.host, "error", None)
        if is_remote(self.host) and not self.host_live() and error:
            return f"{self.host.name} unreachable: {error}"
        return None


def routine(reasons: frozenset[str]) -> bool:
    """Changes of the host's containers, networks and links, or nothing: what only the panes' tables show (the
    Cluster pane's row of the host is read by its own feed). A source lost or back changes the header too, and so
    does any change while the header has no good read of the host (just switched to it, or its read failed)."""
    return all(r.startswith("docker:") or r in ("netlink", "periodic", "live", "watching") for r in reasons)


def _stop_probes(host: Host, probes: list[int]) -> None:
    for probe in probes:
        with contextlib.suppress(NetconError):  # gone already, or the host is unreachable (its netcon ended them)
            host.stop_probe(probe)


class HostCommands(Provider):
    """The palette's "Switch to host NAME", one per host of the console."""

    def _commands(self) -> Iterator[tuple[str, str, partial[None]]]:
        app: Any = self.app
        for name in app.cluster.names:
            host = app.cluster.host(name)
            yield (f"Switch to host {name}", host.target, partial(app.switch_host, name))

    async def discover(self) -> Hits:
        for text, help_text, command in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, command in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
