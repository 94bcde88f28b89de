"""Pane 5: flannel over etcd: the config with its effective defaults, this host's checks (``flannel.<VNI>``'s VNI
and MTU, Docker's bridge inside its lease), and every key under ``subnets/``: leases with live TTLs and whether
this host has each remote one's route, FDB and neighbour entries; keys that are not leases as broken rows.

Data from ``tui.flannel_feed`` (a worker posting messages), rules from ``core.flannel.host_rules``, the table
from ``tui.flannel_table``, the header texts from ``tui.flannel_checks``, dialogs from ``tui.flannel_dialogs``.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.events import Resize
from textual.timer import Timer
from textual.widgets import Input, Static

from netcon.core.errors import NetconError
from netcon.core.flannel import host_rules
from netcon.core.flannel.config import FlannelConfig
from netcon.core.flannel.lease import Lease
from netcon.core.flannel.operations import lease_renew, lease_reserve
from netcon.core.flannel.subnet_file import SubnetEnv
from netcon.core.flannel.vxlan import device_name, random_mac
from netcon.tui.actions import Action, bindings
from netcon.tui.audit_panel import operation_done
from netcon.tui.flannel_checks import bridge_text, config_text, device_text, summary_text
from netcon.tui.flannel_dialogs import AcquireForm, RevokeConfirm, SetConfigForm
from netcon.tui.flannel_feed import (
    EtcdState,
    FeedLoop,
    FlannelListed,
    KernelRead,
    LeasesChanged,
    TtlsRead,
)
from netcon.tui.flannel_rows import WIDE, KernelView, Row, host_addresses
from netcon.tui.flannel_table import HostView, LeaseTable
from netcon.tui.messages import EtcdStatus
from netcon.tui.panes.base import FilteredPane
from netcon.tui.state import LiveState
from netcon.tui.widgets import cursor_key

KERNEL_DELAY = 0.5  # seconds after lease changes before the kernel side is read again


class FlannelPane(FilteredPane):
    title = "Flannel"
    DEFAULT_CSS = """
    FlannelPane > .config { height: auto; padding: 0 1; }
    FlannelPane > .checks { height: auto; padding: 0 1; border-bottom: solid $primary; }
    FlannelPane > DataTable { height: 1fr; }
    FlannelPane > .message { padding: 1 2; height: auto; }
    FlannelPane.no-etcd > .config, FlannelPane.no-etcd > .checks, FlannelPane.no-etcd > DataTable { display: none; }
    """
    ACTIONS = (
        Action("set_config", "c", "Set config", "validate and store the network config", mutating=True),
        Action("acquire", "a", "Acquire", "acquire a lease as flanneld would", mutating=True),
        Action("renew", "n", "Renew", "renew the highlighted lease for 24 h", mutating=True),
        Action("revoke", "x", "Revoke", "delete the highlighted lease", mutating=True),
        Action("reserve", "v", "Reserve", "make the highlighted lease a reservation (no TTL)", mutating=True),
    )
    BINDINGS = bindings(ACTIONS)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.leases: dict[str, Row] = {}  # row key (subnet, or the key of a broken one without) -> what it shows
        self.config: FlannelConfig | None = None
        self.config_error: str | None = None
        self.kernel: KernelView | None = None
        self.subnet_env: SubnetEnv | None = None
        self.mine: str | None = None  # this host's lease
        self.etcd: EtcdState | None = None
        self.wide = True
        self.stale = True  # the table must be rebuilt when next visible
        self.kernel_timer: Any = None
        self.ticker: Timer | None = None  # the TTLs' countdown, running only while the pane is shown
        self.loop: FeedLoop | None = None
        self.stop = threading.Event()  # ends the feed's waits: set when the pane goes or the console quits
        self.ttl_asked: set[str] = set()  # leases whose TTL the feed was asked for
        self.broken: set[str] = set()  # row keys of the broken ones (counted on every repaint)

    def compose(self) -> ComposeResult:
        yield self.filter_input()
        yield Static(classes="config")
        yield Static(classes="checks")
        yield LeaseTable()
        yield Static(classes="message")

    @property
    def table(self) -> LeaseTable:
        return self.query_one(LeaseTable)

    @property
    def main(self) -> LeaseTable:
        return self.table

    @property
    def feed(self) -> Any:
        return getattr(self.app, "flannel", None)

    def on_mount(self) -> None:
        self._set_columns()
        self.ticker = self.set_interval(1.0, self.tick, pause=not self.visible)
        if self.feed is None:
            self._no_etcd(
                "No etcd configured: the console was started without etcd options "
                "(--etcd-endpoints, or ETCDCTL_ENDPOINTS)."
            )
            return
        self._say("Connecting to etcd at " + self.feed.settings.endpoint + "…")
        self.loop = FeedLoop(self.feed, self.post_message, self.stop)
        self.follow()

    def on_unmount(self) -> None:
        self.halt()

    def halt(self) -> None:
        """The pane goes (another host is shown) or the console quits: every wait of the feed ends now."""
        self.stop.set()
        if self.loop is not None:
            self.loop.halt()

    # -- workers ------------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="flannel", name="follow etcd")
    def follow(self) -> None:
        if self.loop is not None:
            self.loop.run()

    @work(thread=True, exclusive=True, exit_on_error=False, group="flannel-kernel", name="read flannel device")
    def read_kernel(self, ifname: str) -> None:
        try:
            state = self.feed.kernel(ifname)
        except NetconError as error:
            self.app.call_from_thread(self.app.notify, f"Reading {ifname} failed: {error}", severity="error")
            return
        if not self.stop.is_set():
            self.post_message(KernelRead(state, self.feed.subnet_env()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="flannel-action", name="change a lease")
    def mutate(self, what: str, change: Any) -> None:
        """Run one core operation; the watch brings the result into the table."""
        try:
            change(self.app.ctx, self.feed.settings.request)
        except NetconError as error:
            self.app.call_from_thread(operation_done, self.app, str(error), True)
            return
        self.app.call_from_thread(operation_done, self.app, what)

    # -- messages -----------------------------------------------------------------------------------------

    def visibility_changed(self, visible: bool) -> None:
        if self.ticker is not None:
            self.ticker.resume() if visible else self.ticker.pause()

    def on_etcd_state(self, message: EtcdState) -> None:
        message.stop()  # the pane's own (the app hears EtcdStatus)
        previous, self.etcd = self.etcd, message
        if previous is not None and (previous.up, previous.where, previous.detail) == (
            message.up,
            message.where,
            message.detail,
        ):
            return  # a retry that found etcd as the last one did (every 3 s while it is away): nothing to redraw
        if message.up:
            status = f"etcd: {message.where} up"
        elif self.feed.settings.given:
            status = f"etcd: {message.where} unreachable"
            self._say(f"etcd unreachable: {message.detail} Retrying every 3 s.", problem=True)
        else:
            status = "etcd: not configured"
            self._no_etcd(
                f"No etcd configured: no --etcd-endpoints or ETCDCTL_ENDPOINTS was given, and nothing "
                f"answers at the default {message.where}."
            )
        self.post_message(EtcdStatus(status))

    def on_flannel_listed(self, message: FlannelListed) -> None:
        self.remove_class("no-etcd")
        self.query_one(".message", Static).display = False
        changed_config = self.config != message.config
        self.config, self.config_error = message.config, message.config_error
        self.leases = {lease.subnet: lease for lease in message.leases}
        self.leases.update({broken.ident: broken for broken in message.broken})
        self.ttl_asked.clear()
        self.broken = {broken.ident for broken in message.broken}
        self.stale = True
        self._paint_config()
        self._refresh_view()
        self.call_after_refresh(self._want_ttls)  # the rows now on screen, without waiting for the tick
        if changed_config or self.kernel is None:
            self.read_kernel(self.ifname)

    def on_leases_changed(self, message: LeasesChanged) -> None:
        keys = []
        for event in message.events:
            self.broken.discard(event.ident)
            if event.kind == "removed":
                self.leases.pop(event.ident, None)
            else:
                if event.broken is not None:
                    self.broken.add(event.ident)
                self.leases[event.ident] = event.lease if event.lease is not None else event.broken  # type: ignore[assignment]
            keys.append(event.ident)
        self.apply(keys)
        if self.kernel_timer is not None:
            self.kernel_timer.stop()
        self.kernel_timer = self.set_timer(KERNEL_DELAY, lambda: self.read_kernel(self.ifname))

    def on_ttls_read(self, message: TtlsRead) -> None:
        keys = []
        for lease in message.leases:
            current = self.leases.get(lease.subnet)
            if isinstance(current, Lease) and not current.ttl_known and current.lease_id == lease.lease_id:
                self.leases[lease.subnet] = lease  # not if the watch brought a newer one meanwhile
                keys.append(lease.subnet)
        self.apply(keys)

    def on_kernel_read(self, message: KernelRead) -> None:
        old, new = self.kernel, KernelView.of(message.state)
        same_host = old is not None and old.state.device == new.state.device and self.subnet_env == message.subnet_env
        self.kernel, self.subnet_env = new, message.subnet_env
        if not same_host:
            self._refresh_view()
            return
        changed = old.changed_rows(new, self.leases)  # only those are redrawn (the agent touches a few)
        if changed:
            self.apply(changed)
        else:
            self._paint_checks()

    def show(self, state: LiveState) -> None:
        """A new snapshot (host addresses, Docker's bridge) or the pane became visible."""
        self.state = state
        if self.feed is None:
            return
        self._refresh_view()
        if self.etcd is not None and self.etcd.up:
            self.read_kernel(self.ifname)

    # -- what is shown ------------------------------------------------------------------------------------

    @property
    def ifname(self) -> str:
        return device_name(self.config.vni if self.config and self.config.backend_type == "vxlan" else 1)

    @property
    def visible(self) -> bool:
        return getattr(self.app, "current", None) == self.id

    @property
    def snapshot(self) -> Any:
        return self.state.snapshot if self.state else None

    def _say(self, text: str, problem: bool = False) -> None:
        message = self.query_one(".message", Static)
        message.update(Text(text, style="bold red" if problem else ""))
        message.display = True

    def _no_etcd(self, text: str) -> None:
        self.add_class("no-etcd")
        self._say(text)

    def _own_lease(self) -> Lease | None:
        device = self.kernel.state.device if self.kernel else None
        leases = (row for row in self.leases.values() if isinstance(row, Lease))
        addresses = host_addresses(self.snapshot)
        return host_rules.own_lease(leases, device.mac if device else None, addresses, self.subnet_env)

    def _refresh_view(self) -> None:
        """Re-derive what depends on the host (this host's lease, kernel column) and redraw the changed rows."""
        own = self._own_lease()
        self.mine = own.subnet if own else None
        self._paint_checks()
        if self.stale:
            if self.visible:
                self._sync()
            return
        self.apply(list(self.leases))

    @property
    def shown(self) -> dict[str, tuple]:
        return self.table.shown

    @property
    def column_keys(self) -> list[str]:
        return self.table.column_keys

    def _set_columns(self) -> None:
        self.table.set_columns(self.wide)
        self.stale = True
        self._sync()

    def _sync(self) -> None:
        """Rebuild the table from ``leases`` (filter changes, columns, first listing)."""
        if not self.visible and self.shown:
            return
        self.stale = False
        self.apply(list(self.leases), full=True)

    def apply(self, keys: list[str], full: bool = False) -> None:
        """Bring the rows of ``keys`` in line with ``leases`` (while hidden: only remember to rebuild)."""
        if not self.visible and not full:
            self.stale = True
            return
        self.table.host = HostView(self.mine, self.kernel, self.ifname)
        with self.app.batch_update():
            self.table.sync(self.leases, keys, self.app.clock(), self.filter_text.strip().lower(), full)
        self._paint_checks()

    def tick(self) -> None:
        """Once a second: the TTLs of the rows on screen count down (from the expiry times already read), and
        those not read yet are asked for."""
        if self.visible:
            self.table.tick(self.leases, self.app.clock())
            self._want_ttls()

    def _want_ttls(self) -> None:
        """Ask the feed for the TTLs of the leases on screen that have none yet (each asked once)."""
        wanted = self.table.ttls_unread(self.leases, self.ttl_asked) if self.loop is not None else []
        if wanted:
            self.ttl_asked.update(lease.subnet for lease in wanted)
            self.loop.want_ttls(wanted)  # type: ignore[union-attr]

    def on_resize(self, event: Resize) -> None:
        wide = event.size.width >= WIDE
        if wide != self.wide:
            self.wide = wide
            self._set_columns()

    def _paint_config(self) -> None:
        key = f"{self.feed.settings.prefix}/config"
        where = self.etcd.detail if self.etcd else ""
        self.query_one(".config", Static).update(config_text(self.config, self.config_error, key, where))

    def _paint_checks(self) -> None:
        lease = self.leases.get(self.mine) if self.mine else None
        shown = len(self.shown) if self.filter_text and self.visible else None
        text = summary_text(len(self.leases) - len(self.broken), len(self.broken), shown, self.table.complete)
        if not isinstance(lease, Lease):
            addresses = ", ".join(host_addresses(self.snapshot)) or "none known"
            text.append(f"no lease (its addresses: {addresses})", style="yellow")
        else:
            device = self.kernel.state.device if self.kernel else None
            text.append(f"{lease.subnet}  ")
            text.append_text(
                device_text(self.kernel is not None, device, self.ifname, self.config, self._want_mtu(device))
            )
            text.append("  ")
            text.append_text(bridge_text(self.snapshot, lease))
        self.query_one(".checks", Static).update(text)

    def _want_mtu(self, device: Any) -> int | None:
        interfaces = self.snapshot.interfaces if self.snapshot else ()
        link = device.link_index if device else None
        underlay = next((i for i in interfaces if link and i.ifindex == link), None)
        return host_rules.expected_mtu(underlay.mtu if underlay else None, self.subnet_env)

    # -- actions ------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("renew", "revoke", "reserve") and (self.feed is None or self.current() is None):
            return False
        if action in ("set_config", "acquire", "filter") and self.feed is None:
            return False
        return super().check_action(action, parameters)

    def current(self) -> Lease | None:
        key = cursor_key(self.table)
        row = self.leases.get(key) if key else None
        return row if isinstance(row, Lease) else None

    def action_set_config(self) -> None:
        form = SetConfigForm(self.feed.settings.request, self.config)

        def done(result: str | None) -> None:
            if result and form.stored is not None:
                changed_vni = self.config is None or self.config.vni != form.stored.vni
                self.config, self.config_error = form.stored, None
                self._paint_config()
                if changed_vni:
                    self.read_kernel(self.ifname)

        self.app.push_screen(form, done)

    def action_acquire(self) -> None:
        addresses = host_addresses(self.snapshot)
        device = self.kernel.state.device if self.kernel else None
        bridges = {b.name for b in self.snapshot.bridges} if self.snapshot else set()
        public_ip = (device.local if device and device.local else None) or next(
            (a for a, name in addresses.items() if name not in bridges), ""
        )
        self.app.push_screen(AcquireForm(self.feed.settings.request, public_ip, device.mac if device else random_mac()))

    def action_renew(self) -> None:
        lease = self.current()
        if lease is not None:
            self.mutate(f"{lease.subnet}: renewed", lambda ctx, etcd: lease_renew(ctx, etcd, lease.subnet))

    def action_revoke(self) -> None:
        lease = self.current()
        if lease is not None:
            self.app.push_screen(RevokeConfirm(self.feed.settings.request, lease))

    def action_reserve(self) -> None:
        lease = self.current()
        if lease is not None:
            self.mutate(f"{lease.subnet}: reserved", lambda ctx, etcd: lease_reserve(ctx, etcd, lease.subnet))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.stale = True
        self._sync()
        self._paint_checks()


PANE = FlannelPane
