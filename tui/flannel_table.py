"""The Flannel pane's lease table: a ``DataTable`` updated by key for just the rows that changed (a change costs
the same with 10 or 10,000 leases), with the TTL column counting down for the rows on screen. What a row shows
depends on this host (``HostView``): its own lease, the kernel's entries, the flannel device's name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from netcon.core.flannel.lease import Lease
from netcon.core.flannel.registry import BrokenLease
from netcon.tui.flannel_rows import COLUMNS, KernelView, Row, broken_cells, matches, row_order, ttl_text
from netcon.tui.widgets import cursor_key


@dataclass(frozen=True)
class HostView:
    """What the rows need from this host: its lease's subnet, the kernel's entries, the device name."""

    mine: str | None = None
    kernel: KernelView | None = None
    ifname: str = "flannel.1"

    @property
    def device_read(self) -> bool:
        return self.kernel is not None and self.kernel.state.device is not None


class LeaseTable(DataTable):
    def __init__(self) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True)
        self.shown: dict[str, tuple] = {}  # what the table holds: row key -> cells
        self.order: dict[str, tuple[int, int, str]] = {}  # row key -> sort key, computed once per row
        self.last_order: tuple[int, int, str] = (-1, -1, "")  # at least the sort key of the last row
        self.complete: dict[str, bool] = {}  # remote vxlan lease -> all three kernel entries present
        self.wide = True
        self.host = HostView()

    @property
    def column_keys(self) -> list[str]:
        return [key for key, _, narrow in COLUMNS if narrow or self.wide]

    def set_columns(self, wide: bool) -> None:
        self.wide = wide
        self.clear(columns=True)
        self.shown = {}
        for key, label, narrow in COLUMNS:
            if narrow or wide:
                self.add_column(label, key=key)

    def cells(self, row: Row, now: float) -> tuple:
        if isinstance(row, BrokenLease):
            cells = broken_cells(row)
            return tuple(cells[key] for key in self.column_keys)
        mine = row.subnet == self.host.mine
        vni = row.attrs.vni
        values = {
            "mark": Text(("●" if mine else "") + ("R" if row.reservation else ""), style="bold"),
            "subnet": Text(row.subnet, style="bold" if mine else ""),
            "public_ip": row.attrs.public_ip,
            "backend": row.attrs.backend_type or "-",
            "vni": "-" if vni is None else str(vni),
            "vtep_mac": row.attrs.vtep_mac or "-",
            "ttl": ttl_text(row, now),
            "kernel": self._kernel_cell(row, mine),
        }
        return tuple(values[key] for key in self.column_keys)

    def _remote(self, lease: Lease) -> bool:
        return lease.subnet != self.host.mine and lease.attrs.backend_type == "vxlan" and bool(lease.attrs.vtep_mac)

    def _kernel_cell(self, lease: Lease, mine: bool) -> Any:
        if mine:
            return "this host"
        if lease.attrs.backend_type != "vxlan" or not lease.attrs.vtep_mac:
            return "-"
        if self.host.kernel is None:
            return "…"
        if self.host.kernel.state.device is None:
            return f"no {self.host.ifname}"
        missing = self._missing(lease)
        return Text("ok", style="green") if not missing else Text("no " + ",".join(missing), style="red")

    def _missing(self, lease: Lease) -> list[str]:
        missing = self.host.kernel.missing(lease) if self.host.kernel else []
        self.complete[lease.subnet] = not missing
        return missing

    def _track(self, key: str, row: Row | None) -> None:
        """Keep ``complete`` (the remote-entries summary) current for ``key``, shown or filtered out."""
        if not isinstance(row, Lease) or not self.host.device_read or not self._remote(row):
            self.complete.pop(key, None)
        else:
            self._missing(row)

    def sync(self, rows: dict[str, Row], keys: list[str], now: float, needle: str, full: bool = False) -> None:
        """Bring the table rows of ``keys`` in line with ``rows``: add, update changed cells, remove (``full``:
        also remove every shown row not in ``keys``)."""
        keep, columns = cursor_key(self), self.column_keys
        wanted = {k for k in keys if k in rows and matches(rows[k], needle)}
        if full:
            for key in [k for k in self.shown if k not in wanted]:
                self.remove_row(key)
                del self.shown[key]
        added = False
        for key in keys:
            self._track(key, rows.get(key))
            old = self.shown.get(key)
            if key not in wanted:
                if old is not None:
                    self.remove_row(key)
                    del self.shown[key]
                continue
            new = self.cells(rows[key], now)
            if old is None:
                self.add_row(*new, key=key)
                order = self.order.setdefault(key, row_order(rows[key]))
                added = added or order < self.last_order
                self.last_order = max(self.last_order, order)
            else:
                for column, before, after in zip(columns, old, new):
                    if before != after:
                        self.update_cell(key, column, after, update_width=True)
            self.shown[key] = new
        if added:  # the subnet cell's text is the row key (a broken key without a subnet shows its key)
            self.sort("subnet", key=lambda cell: self.order[str(cell)])
        if keep is not None and keep in self.rows:
            index = self.get_row_index(keep)
            if index != self.cursor_row:
                self.move_cursor(row=index, scroll=False)

    def on_screen(self) -> list[str]:
        """The keys of the rows in view."""
        first = int(self.scroll_y)
        return [row.key.value for row in self.ordered_rows[first : first + self.size.height] if row.key.value]

    def ttls_unread(self, rows: dict[str, Row], asked: set[str]) -> list[Lease]:
        """The leases in view whose TTL is not read yet and was not asked for."""
        found = (rows.get(key) for key in self.on_screen())
        return [r for r in found if isinstance(r, Lease) and not r.ttl_known and r.subnet not in asked]

    def tick(self, rows: dict[str, Row], now: float) -> None:
        """The TTLs of the rows on screen count down (from the expiry times already read)."""
        if not self.shown or "ttl" not in self.column_keys:
            return
        column = self.column_keys.index("ttl")
        first = int(self.scroll_y)
        for table_row in self.ordered_rows[first : first + self.size.height]:
            key = table_row.key.value
            lease, old = rows.get(key), self.shown.get(key)
            if not isinstance(lease, Lease) or old is None or lease.reservation:
                continue
            text = ttl_text(lease, now)
            if old[column] != text:
                self.update_cell(key, "ttl", text)
                self.shown[key] = (*old[:column], text, *old[column + 1 :])
