"""Pane 5: flannel over etcd. The network config with its effective defaults, this host's checks from the seed
(``flannel.<VNI>`` with the right VNI and MTU, docker0 inside this host's lease), and every lease with a live
TTL, this host's marked, and whether this host has the route, FDB and neighbour entries for each remote one.

A worker lists the leases once, then follows etcd's watch and posts each batch of changes; the table is
updated by key for just those leases, so a change costs the same with 10 or 10,000 leases. TTLs count down
once a second from the expiry times already read (only the rows on screen are redrawn); etcd is not re-read.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from netcon.core.errors import EtcdUnavailable, NetconError, NotFound
from netcon.core.etcd import WatchReset
from netcon.core.flannel.config import FlannelConfig, parse_config
from netcon.core.flannel.lease import (
    Lease,
    acquire_lease,
    ipv4_int,
    renew_lease,
    reserve_subnet,
    revoke_lease,
    vxlan_attrs,
)
from netcon.core.flannel.registry import LeaseEvent, set_config
from netcon.core.flannel.subnet_file import SubnetEnv
from netcon.core.flannel.vxlan import ENCAP_OVERHEAD, VxlanState, device_name, random_mac
from netcon.core.model import Snapshot
from netcon.tui.actions import Action, bindings
from netcon.tui.flannel_forms import ConfirmScreen, Field, FormScreen, config_error, ipv4_error, mac_error
from netcon.tui.panes.base import FilteredPane
from netcon.tui.state import LiveState
from netcon.tui.widgets import cursor_key

RETRY = 3.0  # seconds between attempts to reach etcd
WATCH_POLL = 0.25  # seconds a watch read blocks before the worker checks for cancellation
KERNEL_DELAY = 0.5  # seconds after lease changes before the kernel side is read again
WIDE = 100  # columns from which BACKEND and VNI are shown

# (key, label, shown when narrow)
COLUMNS = (
    ("mark", " ", True),
    ("subnet", "SUBNET", True),
    ("public_ip", "PUBLIC IP", True),
    ("backend", "BACKEND", False),
    ("vni", "VNI", False),
    ("vtep_mac", "VTEP MAC", True),
    ("ttl", "TTL", True),
    ("kernel", "ON THIS HOST", True),
)


# messages from the workers
class EtcdState(Message):
    """``where``: the endpoint (and API) for the header; ``detail``: the error, or the store's description."""

    def __init__(self, up: bool, where: str, detail: str) -> None:
        super().__init__()
        self.up, self.where, self.detail = up, where, detail


class FlannelListed(Message):
    def __init__(self, config: FlannelConfig | None, config_error: str | None, leases: tuple[Lease, ...]) -> None:
        super().__init__()
        self.config, self.config_error, self.leases = config, config_error, leases


class LeasesChanged(Message):
    def __init__(self, events: list[LeaseEvent]) -> None:
        super().__init__()
        self.events = events


class ConfigStored(Message):
    def __init__(self, config: FlannelConfig) -> None:
        super().__init__()
        self.config = config


class KernelRead(Message):
    def __init__(self, state: VxlanState, subnet_env: SubnetEnv | None) -> None:
        super().__init__()
        self.state, self.subnet_env = state, subnet_env


def duration(seconds: int) -> str:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def ttl_text(lease: Lease, now: float) -> str:
    if lease.reservation:
        return "reserved"
    seconds = lease.ttl_seconds(now) or 0
    return duration(seconds) if seconds else "expired"


def subnet_order(subnet: str) -> tuple[int, int]:
    address, _, plen = str(subnet).partition("/")
    return ipv4_int(address) or 0, int(plen or 0)


@dataclass(frozen=True)
class KernelView:
    """The kernel's flannel entries as lookup sets, built once per read of the kernel."""

    state: VxlanState
    neigh: frozenset[tuple[str, str]]
    fdb: frozenset[tuple[str, str]]
    routes: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, state: VxlanState) -> KernelView:
        return cls(
            state,
            frozenset((n.ip, n.mac) for n in state.neighbours if n.permanent),
            frozenset((f.mac, f.dst) for f in state.fdb),
            frozenset((r.dst, r.gateway) for r in state.routes if r.onlink),
        )

    def missing(self, lease: Lease) -> list[str]:
        subnet, mac = lease.canonical_subnet, lease.attrs.vtep_mac or ""
        gateway = subnet.partition("/")[0]
        return [
            name
            for name, present in (
                ("route", (subnet, gateway) in self.routes),
                ("fdb", (mac, lease.attrs.public_ip) in self.fdb),
                ("neigh", (gateway, mac) in self.neigh),
            )
            if not present
        ]


def host_addresses(snapshot: Snapshot | None) -> dict[str, str]:
    """IPv4 address -> interface name, of the host (or netns) the console looks at."""
    if snapshot is None:
        return {}
    return {
        a.split("/")[0]: i.ifname
        for i in snapshot.interfaces
        for a in i.addresses
        if ":" not in a and not a.startswith("127.")
    }


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
        self.leases: dict[str, Lease] = {}
        self.shown: dict[str, tuple] = {}  # what the table holds: subnet -> cells
        self.order: dict[str, tuple[int, int]] = {}  # subnet -> sort key, computed once per subnet
        self.last_order = (-1, -1)  # at least the sort key of the table's last row (no sort when appending)
        self.complete: dict[str, bool] = {}  # remote vxlan lease -> all three kernel entries present
        self.config: FlannelConfig | None = None
        self.config_error: str | None = None
        self.kernel: KernelView | None = None
        self.subnet_env: SubnetEnv | None = None
        self.mine: str | None = None  # this host's lease
        self.etcd: EtcdState | None = None
        self.wide = True
        self.stale = True  # the table must be rebuilt when next visible
        self.kernel_timer = None

    def compose(self) -> ComposeResult:
        yield self.filter_input()
        yield Static(classes="config")
        yield Static(classes="checks")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Static(classes="message")

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    @property
    def main(self) -> DataTable:
        return self.table

    @property
    def feed(self):
        return getattr(self.app, "flannel", None)

    def on_mount(self) -> None:
        self._set_columns()
        self.set_interval(1.0, self.tick)
        if self.feed is None:
            self._no_etcd(
                "No etcd configured: the console was started without etcd options "
                "(--etcd-endpoints, or ETCDCTL_ENDPOINTS)."
            )
            return
        self._say("Connecting to etcd at " + self.feed.settings.endpoint + "…")
        self.follow()

    # -- workers ------------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="flannel")
    def follow(self) -> None:
        """Open the store, list, follow the watch; on errors say so and try again."""
        worker = get_current_worker()
        feed, stopping = self.feed, self.app.stopping
        while not worker.is_cancelled and not stopping.is_set():
            try:
                store = feed.open()
            except NetconError as error:
                self.post_message(EtcdState(False, feed.settings.endpoint, str(error)))
                stopping.wait(RETRY)
                continue
            try:
                self._follow(store, worker)
            except NetconError as error:
                if not worker.is_cancelled:
                    self.post_message(EtcdState(False, feed.settings.endpoint, str(error)))
                    stopping.wait(RETRY)
            finally:
                store.close()

    def _follow(self, store, worker) -> None:
        while not worker.is_cancelled:
            config, problem = None, None
            try:
                config = parse_config(store.config_text())
            except NotFound as error:
                problem = str(error)
            except NetconError as error:
                if isinstance(error, EtcdUnavailable):
                    raise
                problem = f"The stored config is invalid: {error}"
            leases, revision = store.leases()
            self.post_message(EtcdState(True, f"{store.client.endpoint} (v{store.client.api})", store.where()))
            self.post_message(FlannelListed(config, problem, leases))
            watch = store.watch(revision)
            try:
                while not worker.is_cancelled:
                    batch = watch.next(WATCH_POLL)
                    events = [e for e in map(store.event, batch) if e is not None]
                    if events:
                        self.post_message(LeasesChanged(events))
            except WatchReset:
                continue  # fell behind etcd's history: list again
            finally:
                watch.close()

    @work(thread=True, exclusive=True, exit_on_error=False, group="flannel-kernel")
    def read_kernel(self, ifname: str) -> None:
        try:
            state = self.feed.kernel(ifname)
        except NetconError as error:
            self.app.call_from_thread(self.app.notify, f"Reading {ifname} failed: {error}", severity="error")
            return
        if not get_current_worker().is_cancelled:
            self.post_message(KernelRead(state, self.feed.subnet_env()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="flannel-action")
    def mutate(self, what: str, change) -> None:
        """Run one change against a store of its own; the watch brings the result into the table."""
        ctx = self.app.ctx
        try:
            store = self.feed.open()
            try:
                result = change(ctx, store)
            finally:
                store.close()
        except NetconError as error:
            self.app.call_from_thread(self.app.notify, str(error), severity="error", timeout=8)
            return
        if isinstance(result, FlannelConfig):
            self.post_message(ConfigStored(result))
        self.app.call_from_thread(self.app.notify, what)

    # -- messages -----------------------------------------------------------------------------------------

    def on_etcd_state(self, message: EtcdState) -> None:
        self.etcd = message
        given = self.feed.settings.given
        if message.up:
            status = f"etcd: {message.where} up"
        elif given:
            status = f"etcd: {message.where} unreachable"
            self._say(f"etcd unreachable: {message.detail} Retrying every {RETRY:.0f} s.", problem=True)
        else:
            status = "etcd: not configured"
            self._no_etcd(
                f"No etcd configured: no --etcd-endpoints or ETCDCTL_ENDPOINTS was given, and nothing "
                f"answers at the default {message.where}."
            )
        self.app.etcd_status = status
        self.app.paint_header()

    def on_flannel_listed(self, message: FlannelListed) -> None:
        self.remove_class("no-etcd")
        self.query_one(".message", Static).display = False
        changed_config = self.config != message.config
        self.config, self.config_error = message.config, message.config_error
        self.leases = {lease.subnet: lease for lease in message.leases}
        self.stale = True
        self._paint_config()
        self._refresh_view()
        if changed_config or self.kernel is None:
            self.read_kernel(self.ifname)

    def on_config_stored(self, message: ConfigStored) -> None:
        changed_vni = self.config is None or self.config.vni != message.config.vni
        self.config, self.config_error = message.config, None
        self._paint_config()
        if changed_vni:
            self.read_kernel(self.ifname)

    def on_leases_changed(self, message: LeasesChanged) -> None:
        subnets = []
        for event in message.events:
            if event.kind == "removed":
                self.leases.pop(event.subnet, None)
            else:
                self.leases[event.subnet] = event.lease
            subnets.append(event.subnet)
        self.apply(subnets)
        if self.kernel_timer is not None:
            self.kernel_timer.stop()
        self.kernel_timer = self.set_timer(KERNEL_DELAY, lambda: self.read_kernel(self.ifname))

    def on_kernel_read(self, message: KernelRead) -> None:
        old, new = self.kernel, KernelView.of(message.state)
        same_host = old is not None and old.state.device == new.state.device and self.subnet_env == message.subnet_env
        self.kernel, self.subnet_env = new, message.subnet_env
        if not same_host:
            self._refresh_view()
            return
        # only the leases whose entries changed are redrawn (the agent touches a few per lease change)
        gateways = {ip for ip, _ in old.neigh ^ new.neigh} | {
            dst.partition("/")[0] for dst, _ in old.routes ^ new.routes
        }
        macs = {mac for mac, _ in old.fdb ^ new.fdb}
        if gateways or macs:
            self.apply(
                [
                    subnet
                    for subnet, lease in self.leases.items()
                    if subnet.partition("/")[0] in gateways or lease.attrs.vtep_mac in macs
                ]
            )
        else:
            self._paint_checks()

    def show(self, state: LiveState) -> None:
        """A new snapshot (host addresses, docker0) or the pane became visible."""
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

    def _say(self, text: str, problem: bool = False) -> None:
        message = self.query_one(".message", Static)
        message.update(Text(text, style="bold red" if problem else ""))
        message.display = True

    def _no_etcd(self, text: str) -> None:
        self.add_class("no-etcd")
        self._say(text)

    def _find_mine(self) -> str | None:
        addresses = host_addresses(self.state.snapshot if self.state else None)
        env_subnet = self.subnet_env.lease_subnet if self.subnet_env else None
        for lease in self.leases.values():
            if lease.attrs.public_ip in addresses or lease.canonical_subnet == env_subnet:
                return lease.subnet
        return None

    def _refresh_view(self) -> None:
        """Re-derive what depends on the host (this host's lease, kernel column) and redraw the changed rows."""
        self.mine = self._find_mine()
        self._paint_checks()
        if self.stale:
            if self.visible:
                self._sync()
            return
        self.apply(list(self.leases))

    def cells(self, lease: Lease, now: float) -> tuple:
        mine = lease.subnet == self.mine
        self.order.setdefault(lease.subnet, subnet_order(lease.subnet))
        mark = ("●" if mine else "") + ("R" if lease.reservation else "")
        if mine:
            kernel = "this host"
        elif lease.attrs.backend_type != "vxlan" or not lease.attrs.vtep_mac:
            kernel = "-"
        elif self.kernel is None:
            kernel = "…"
        elif self.kernel.state.device is None:
            kernel = f"no {self.ifname}"
        else:
            missing = self._missing(lease)
            kernel = Text("ok", style="green") if not missing else Text("no " + ",".join(missing), style="red")
        vni = lease.attrs.vni
        cells = {
            "mark": Text(mark, style="bold"),
            "subnet": Text(lease.subnet, style="bold" if mine else ""),
            "public_ip": lease.attrs.public_ip,
            "backend": lease.attrs.backend_type or "-",
            "vni": "-" if vni is None else str(vni),
            "vtep_mac": lease.attrs.vtep_mac or "-",
            "ttl": ttl_text(lease, now),
            "kernel": kernel,
        }
        return tuple(cells[key] for key in self.column_keys)

    @property
    def column_keys(self) -> list[str]:
        return [key for key, _, narrow in COLUMNS if narrow or self.wide]

    def _matches(self, lease: Lease) -> bool:
        needle = self.filter_text.strip().lower()
        if not needle:
            return True
        attrs = lease.attrs
        return any(
            needle in str(v).lower()
            for v in (lease.subnet, attrs.public_ip, attrs.backend_type, attrs.vtep_mac, attrs.vni)
        )

    def _set_columns(self) -> None:
        table = self.table
        table.clear(columns=True)
        self.shown = {}
        for key, label, narrow in COLUMNS:
            if narrow or self.wide:
                table.add_column(label, key=key)
        self.stale = True
        self._sync()

    def _sync(self) -> None:
        """Rebuild the table from ``leases`` (filter changes, columns, first listing)."""
        if not self.visible and self.shown:
            return
        self.stale = False
        self.apply(list(self.leases), full=True)

    def apply(self, subnets: list[str], full: bool = False) -> None:
        """Bring the rows of ``subnets`` in line with ``leases``: add, update changed cells, remove."""
        if not self.visible and not full:
            self.stale = True
            return
        table, now, keys = self.table, self.app.clock(), self.column_keys
        keep = cursor_key(table)
        wanted = {s for s in subnets if s in self.leases and self._matches(self.leases[s])}
        if full:
            for subnet in [s for s in self.shown if s not in wanted]:
                table.remove_row(subnet)
                del self.shown[subnet]
        added = False
        with self.app.batch_update():
            for subnet in subnets:
                self._track(subnet)
                old = self.shown.get(subnet)
                if subnet not in wanted:
                    if old is not None:
                        table.remove_row(subnet)
                        del self.shown[subnet]
                    continue
                new = self.cells(self.leases[subnet], now)
                if old is None:
                    table.add_row(*new, key=subnet)
                    order = self.order[subnet]
                    added = added or order < self.last_order
                    self.last_order = max(self.last_order, order)
                else:
                    for key, before, after in zip(keys, old, new):
                        if before != after:
                            table.update_cell(subnet, key, after, update_width=True)
                self.shown[subnet] = new
            if added:
                table.sort("subnet", key=lambda cell: self.order[str(cell)])
            if keep is not None and keep in table.rows:
                index = table.get_row_index(keep)
                if index != table.cursor_row:
                    table.move_cursor(row=index, scroll=False)
        self._paint_checks()

    def tick(self) -> None:
        """Once a second: the TTLs of the rows on screen count down (from the expiry times already read)."""
        if not self.visible or not self.shown or "ttl" not in self.column_keys:
            return
        table, now = self.table, self.app.clock()
        column = self.column_keys.index("ttl")
        first = int(table.scroll_y)
        for row in table.ordered_rows[first : first + table.size.height]:
            subnet = row.key.value
            lease, old = self.leases.get(subnet), self.shown.get(subnet)
            if lease is None or old is None or lease.reservation:
                continue
            text = ttl_text(lease, now)
            if old[column] != text:
                table.update_cell(subnet, "ttl", text)
                self.shown[subnet] = (*old[:column], text, *old[column + 1 :])

    def on_resize(self, event: Resize) -> None:
        wide = event.size.width >= WIDE
        if wide != self.wide:
            self.wide = wide
            self._set_columns()

    def _paint_config(self) -> None:
        widget = self.query_one(".config", Static)
        where = self.etcd.detail if self.etcd else ""
        key = f"{self.feed.settings.prefix}/config"
        if self.config is None:
            widget.update(Text(f"{key} ({where}): {self.config_error}", style="bold red"))
            return
        stored = _stored_keys(self.config.text)
        text = Text()
        text.append("Config ", style="bold")
        text.append(f"{key}  pool {self.config.pool_size} subnets  (* flanneld's default)\n", style="dim")
        effective = self.config.effective()
        backend = effective.pop("Backend")
        parts = [(name, value, name.lower() not in stored) for name, value in effective.items()]
        parts += [
            ("Backend" if name == "Type" else name, value, f"backend.{name.lower()}" not in stored)
            for name, value in backend.items()
        ]
        for index, (name, value, default) in enumerate(parts):
            text.append(("  " if index else "") + f"{name} ")
            text.append(json.dumps(value) if isinstance(value, bool) else str(value), style="bold")
            if default:
                text.append("*", style="dim")
        widget.update(text)

    def _paint_checks(self) -> None:
        widget = self.query_one(".checks", Static)
        text = Text()
        shown, total = len(self.shown), len(self.leases)
        text.append("Leases ", style="bold")
        text.append(f"{total}" + (f" ({shown} shown)" if self.filter_text and self.visible else ""))
        remote = self._remote_summary()
        if remote:
            text.append(f"  {remote}")
        text.append("   ● this host  R reservation\n", style="dim")
        text.append("This host ", style="bold")
        lease = self.leases.get(self.mine) if self.mine else None
        if lease is None:
            addresses = ", ".join(host_addresses(self.state.snapshot if self.state else None)) or "none known"
            text.append(f"no lease (its addresses: {addresses})", style="yellow")
            widget.update(text)
            return
        text.append(f"{lease.subnet}  ")
        ok, bad = ("✓", "green"), ("✗", "bold red")
        device = self.kernel.state.device if self.kernel else None
        if self.kernel is None:
            text.append(f"{self.ifname} …")
        elif device is None:
            text.append(f"✗ {self.ifname} missing", style="bold red")
        else:
            want_vni = self.config.vni if self.config else device.vni
            text.append(f"{self.ifname} ")
            text.append(f"VNI {device.vni} ")
            text.append(*(ok if device.vni == want_vni else bad))
            if device.vni != want_vni:
                text.append(f" (config says {want_vni})", style="red")
            want_mtu = self._expected_mtu(device, lease)
            text.append(f" MTU {device.mtu} ")
            if want_mtu is None:
                text.append("?", style="dim")
            else:
                text.append(*(ok if device.mtu == want_mtu else bad))
                if device.mtu != want_mtu:
                    text.append(f" (want {want_mtu})", style="red")
        text.append("  ")
        text.append_text(self._docker0_check(lease))
        widget.update(text)

    def _remote(self, lease: Lease) -> bool:
        return lease.subnet != self.mine and lease.attrs.backend_type == "vxlan" and bool(lease.attrs.vtep_mac)

    def _missing(self, lease: Lease) -> list[str]:
        missing = self.kernel.missing(lease)
        self.complete[lease.subnet] = not missing
        return missing

    def _track(self, subnet: str) -> None:
        """Keep ``complete`` (the remote-entries summary) current for ``subnet``, shown or filtered out."""
        lease = self.leases.get(subnet)
        if lease is None or self.kernel is None or self.kernel.state.device is None or not self._remote(lease):
            self.complete.pop(subnet, None)
        else:
            self._missing(lease)

    def _remote_summary(self) -> str:
        """How many remote vxlan leases have all three kernel entries here."""
        if not self.complete:
            return ""
        return f"remote entries complete for {sum(self.complete.values())} of {len(self.complete)}"

    def _expected_mtu(self, device, lease: Lease) -> int | None:
        if self.subnet_env is not None and self.subnet_env.mtu:
            return self.subnet_env.mtu
        snapshot = self.state.snapshot if self.state else None
        if snapshot is None:
            return None
        by_index = {i.ifindex: i for i in snapshot.interfaces}
        underlay = by_index.get(device.link_index) if device.link_index else None
        if underlay is None:
            name = host_addresses(snapshot).get(lease.attrs.public_ip)
            underlay = next((i for i in snapshot.interfaces if i.ifname == name), None)
        return underlay.mtu - ENCAP_OVERHEAD if underlay is not None else None

    def _docker0_check(self, lease: Lease) -> Text:
        snapshot = self.state.snapshot if self.state else None
        docker0 = next((i for i in snapshot.interfaces if i.ifname == "docker0"), None) if snapshot else None
        addresses = [a for a in docker0.addresses if ":" not in a] if docker0 else []
        if not addresses:
            return Text("docker0 has no IPv4 address", style="yellow")
        inside = ipaddress.IPv4Interface(addresses[0]).network.subnet_of(lease.network)
        if inside:
            return Text.assemble(f"docker0 {addresses[0]} inside the lease ", ("✓", "green"))
        return Text.assemble(f"docker0 {addresses[0]} ", ("✗ not inside the lease", "bold red"))

    # -- actions ------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("renew", "revoke", "reserve") and (self.feed is None or self.current() is None):
            return False
        if action in ("set_config", "acquire", "filter") and self.feed is None:
            return False
        return super().check_action(action, parameters)

    def current(self) -> Lease | None:
        key = cursor_key(self.table)
        return self.leases.get(key) if key else None

    def action_set_config(self) -> None:
        def describe(values: dict[str, str]) -> str:
            config = parse_config(values["config"])
            return f"valid: pool {config.pool} ({config.pool_size} subnets)"

        text = self.config.text if self.config else '{"Network": "10.5.0.0/16", "Backend": {"Type": "vxlan"}}'
        form = FormScreen(
            f"Set the flannel config at {self.feed.settings.prefix}/config",
            [Field("config", "Config (JSON)", text, config_error)],
            describe,
        )

        def done(values: dict[str, str] | None) -> None:
            if values:
                self.mutate("config stored", lambda ctx, store: set_config(ctx, store, values["config"]))

        self.app.push_screen(form, done)

    def action_acquire(self) -> None:
        addresses = host_addresses(self.state.snapshot if self.state else None)
        device = self.kernel.state.device if self.kernel else None
        public_ip = (device.local if device and device.local else None) or next(
            (a for a, name in addresses.items() if name not in ("docker0",) and not name.startswith("br-")), ""
        )
        form = FormScreen(
            "Acquire a lease",
            [
                Field("public_ip", "PublicIP of the host", public_ip, ipv4_error),
                Field(
                    "vtep_mac", "VtepMAC (its flannel device's MAC)", device.mac if device else random_mac(), mac_error
                ),
            ],
        )
        previous = self.subnet_env.lease_subnet if self.subnet_env else None
        vni = self.config.vni if self.config else 1

        def done(values: dict[str, str] | None) -> None:
            if values:

                def change(ctx, store):
                    lease = acquire_lease(
                        ctx, store, vxlan_attrs(values["public_ip"], vni, values["vtep_mac"]), previous
                    )
                    return lease

                self.mutate(f"lease acquired for {values['public_ip']}", change)

        self.app.push_screen(form, done)

    def action_renew(self) -> None:
        lease = self.current()
        if lease is not None:
            self.mutate(f"{lease.subnet}: renewed", lambda ctx, store: renew_lease(ctx, store, lease))

    def action_revoke(self) -> None:
        lease = self.current()
        if lease is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.mutate(f"{lease.subnet}: revoked", lambda ctx, store: revoke_lease(ctx, store, lease.subnet))

        self.app.push_screen(
            ConfirmScreen(f"Revoke the lease {lease.subnet} of {lease.attrs.public_ip}? Its host loses its subnet."),
            done,
        )

    def action_reserve(self) -> None:
        lease = self.current()
        if lease is not None:
            self.mutate(f"{lease.subnet}: reserved", lambda ctx, store: reserve_subnet(ctx, store, lease.subnet))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.stale = True
        self._sync()
        self._paint_checks()


def _stored_keys(text: str) -> set[str]:
    """Lower-cased keys present in the stored config (``backend.vni`` for Backend's), to mark defaults."""
    try:
        data = json.loads(text)
    except ValueError:
        return set()
    if not isinstance(data, dict):
        return set()
    keys = {k.lower() for k in data}
    backend = next((v for k, v in data.items() if k.lower() == "backend"), None)
    if isinstance(backend, dict):
        keys |= {f"backend.{k.lower()}" for k in backend}
    return keys


PANE = FlannelPane
