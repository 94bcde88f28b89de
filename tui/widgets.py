"""Small widgets shared by every screen: the status header, the pane bar, and keyed table updates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Static

from netcon.core.naming import natural_key


class StatusHeader(Static):
    """Host, Docker engine, etcd, mode and data age on one line; problems (stale data) on the next."""

    DEFAULT_CSS = """
    StatusHeader { height: auto; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[tuple[str, ...], bool, tuple[str, ...]] | None = None

    def show(self, fields: Sequence[str], read_only: bool, problems: Sequence[str]) -> None:
        """Paint the header, unless it says this already: an update lays the whole screen out again (its height
        is its text's), and the header is asked to paint at every host's row and every etcd retry."""
        shown = (tuple(fields), read_only, tuple(problems))
        if shown == self._shown:
            return
        self._shown = shown
        text = Text(no_wrap=False, overflow="fold")
        text.append("netcon", style="bold")
        for item in fields:
            text.append(" │ ")
            text.append(item)
        text.append(" │ ")
        text.append("READ-ONLY" if read_only else "RW", style="bold reverse" if read_only else "bold")
        for line in problems:
            text.append("\n")
            text.append(line, style="bold red")
        self.update(text)
        # and laid out once more after this frame: Textual keeps a widget's box model by a layout count that a
        # second update before the first layout does not move, so a header that grew a line could stay one line
        # high (before, the repaints of the same text made that second layout)
        self.call_after_refresh(self.refresh, layout=True)


class PaneBar(Static):
    """The digit keys and pane names, the current one highlighted; a click switches too. When every name does
    not fit the width, the other panes' names are cut to three letters, and if that does not fit either, to
    their digit."""

    DEFAULT_CSS = """
    PaneBar { height: 1; padding: 0 1; background: $boost; }
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[tuple[tuple[str, str, str], ...], str] = ((), "")

    def show(self, panes: Iterable[tuple[str, str, str]], current: str) -> None:
        self._shown = (tuple(panes), current)
        self._paint()

    def _paint(self) -> None:
        panes, current = self._shown
        room = self.size.width - 2 if self.size.width else 0
        for letters in (None, 3, 0):  # how much of the other panes' names is shown
            names = [(d, i, t if i == current or letters is None else t[:letters]) for d, i, t in panes]
            if not room or len(" ".join(f"{d} {n}".rstrip() for d, _i, n in names)) <= room:
                break
        parts = []
        for digit, pane_id, name in names:
            label = f"[b]{digit}[/b] {name}".rstrip()
            if pane_id == current:
                label = f"[reverse]{label}[/reverse]"
            parts.append(f"[@click=app.show_pane('{pane_id}')]{label}[/]")
        self.update(" ".join(parts))

    def on_resize(self) -> None:
        self._paint()


def cursor_key(table: DataTable) -> str | None:
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


def sync_rows(
    table: DataTable, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[Any]]], sort: Sequence[str] = ()
) -> None:
    """Make ``table`` hold exactly ``rows`` (key, cells in ``columns`` order) by changing only what differs.

    Rows are keyed: changed cells are updated in place, missing rows removed, new rows added (and the table
    re-sorted by ``sort``, names naturally: ``c2`` before ``c10``), and the cursor stays on the row it was on.
    """
    keep = cursor_key(table)
    wanted = dict(rows)
    for row_key in [k for k in table.rows if k.value not in wanted]:
        table.remove_row(row_key)
    added = False
    for key, cells in wanted.items():
        if key in table.rows:
            for column, old, new in zip(columns, table.get_row(key), cells):
                if old != new:
                    table.update_cell(key, column, new, update_width=True)
        else:
            table.add_row(*cells, key=key)
            added = True
    if added and sort:
        table.sort(
            *sort,
            key=lambda values: tuple(map(natural_key, values)) if isinstance(values, tuple) else natural_key(values),
        )
    if keep is not None and keep in table.rows:
        index = table.get_row_index(keep)
        if index != table.cursor_row:
            table.move_cursor(row=index, scroll=False)
