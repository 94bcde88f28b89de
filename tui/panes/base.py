"""The two kinds of pane: ``Pane`` (anything that shows the live state) and ``TablePane`` (a keyed table
with a filter, and a details strip below it when the terminal is too narrow for every column)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static

from netcon.tui.actions import Action, Declared, bindings
from netcon.tui.failures import ReportsFailures
from netcon.tui.state import LiveState
from netcon.tui.widgets import cursor_key, sync_rows


class Pane(ReportsFailures, Declared, Vertical):
    """One numbered pane. The app calls ``show`` with the live state whenever a new snapshot arrives while
    the pane is visible (and once when it becomes visible), and ``visibility_changed`` when it is switched to
    or away."""

    DEFAULT_CSS = "Pane { height: 1fr; }"
    title: ClassVar[str] = ""

    def show(self, state: LiveState) -> None:
        """Render ``state``; only ever called on the UI thread."""

    def visibility_changed(self, visible: bool) -> None:
        """The pane became the visible one (or stopped being it): start or stop what only it needs."""

    def halt(self) -> None:
        """The console is quitting (called first thing): end the pane's own waits now."""

    def focus_content(self) -> None:
        for widget in self.query("*"):
            if widget.focusable and widget.display:  # a hidden table cannot take focus
                widget.focus()
                return
        if self.can_focus:  # nothing to move through: the pane itself holds focus, so its keys stay active
            self.focus()


class Placeholder(Pane):
    """A pane whose capability has not landed yet: one line saying so."""

    DEFAULT_CSS = "Placeholder > Static { padding: 1 2; }"

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def compose(self) -> ComposeResult:
        yield Static(self.message)


class FilteredPane(Pane):
    """A pane whose main widget (``main``) can be narrowed with ``/``: a filter line shows above it."""

    DEFAULT_CSS = """
    FilteredPane > Input { display: none; }
    FilteredPane.filtering > Input { display: block; }
    """
    ACTIONS = (
        Action("filter", "slash", "Filter", "show only rows containing a text", key_display="/"),
        Action("clear_filter", "escape", "Clear filter", "show everything again", footer=False),
    )
    BINDINGS = bindings(ACTIONS)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state: LiveState | None = None
        self.filter_text = ""

    @property
    def main(self) -> Widget:
        raise NotImplementedError

    def filter_input(self) -> Input:
        return Input(placeholder="filter: type text, Enter to keep, Escape to clear")

    def show(self, state: LiveState) -> None:
        self.state = state
        self._sync()

    def _sync(self) -> None:
        """Bring the main widget in line with ``state`` and ``filter_text``."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter" and not (self.filter_text or self.has_class("filtering")):
            return False
        return super().check_action(action, parameters)

    def action_filter(self) -> None:
        self.add_class("filtering")
        self.query_one(Input).focus()
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        self.remove_class("filtering")
        self.query_one(Input).value = ""
        self.filter_text = ""
        self._sync()
        self.main.focus()
        self.refresh_bindings()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._sync()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            self.remove_class("filtering")
        self.main.focus()
        self.refresh_bindings()

    def focus_content(self) -> None:
        self.main.focus()


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    narrow: bool = True  # kept when the terminal is narrow; the others move to the details strip
    width: int | None = None  # fixed, for cells updated in place without relaying out the table (rates)


class TablePane(FilteredPane):
    """A table of rows keyed by id, updated in place. Subclasses give ``COLUMNS``, ``rows`` and ``details``."""

    DEFAULT_CSS = """
    TablePane > DataTable { height: 1fr; }
    TablePane > .strip { display: none; height: auto; max-height: 6; border-top: solid $primary; padding: 0 1; }
    TablePane.narrow > .strip { display: block; }
    """
    ACTIONS = (
        Action(
            "details", "enter", "Details", "open the highlighted row's full detail", key_display="Enter", priority=True
        ),
    )
    BINDINGS = bindings(ACTIONS)
    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    SORT: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.narrow = False
        self.full: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield self.filter_input()
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Static(classes="strip")

    def on_mount(self) -> None:
        self._set_columns()

    # what subclasses provide
    def rows(self, state: LiveState) -> list[tuple[str, dict[str, Any]]]:
        """(key, {column key: cell}) for every row, all columns."""
        raise NotImplementedError

    def details(self, key: str) -> str:
        """Full details of the row ``key`` for the strip below the table (narrow terminals)."""
        return ""

    def open_details(self, key: str) -> None:
        """Enter on a row; panes without a detail screen leave it at the strip."""

    # table upkeep
    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    @property
    def main(self) -> Widget:
        return self.table

    def columns(self) -> list[Column]:
        return [c for c in self.COLUMNS if c.narrow or not self.narrow]

    def _set_columns(self) -> None:
        """(Re)build the columns: only on mount and when crossing the narrow width."""
        table, keep = self.table, cursor_key(self.table)
        table.clear(columns=True)
        for column in self.columns():
            table.add_column(column.label, key=column.key, width=column.width)
        self._sync()
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))

    def show(self, state: LiveState) -> None:
        self.full = dict(self.rows(state))
        self.state = state
        self._fit(self.size.width)
        super().show(state)

    def _fit(self, width: int) -> None:
        """Go narrow when every column would not fit in ``width`` (and wide again when they would)."""
        if not width:
            return
        needed = sum(
            2 + (c.width or max([len(c.label), *(len(str(cells[c.key])) for cells in self.full.values())]))
            for c in self.COLUMNS
        )
        narrow = needed > width
        if narrow != self.narrow:
            self.narrow = narrow
            self.set_class(narrow, "narrow")
            self._set_columns()

    def _sync(self) -> None:
        needle = self.filter_text.lower()
        keys = [c.key for c in self.columns()]
        rows = [
            (key, [cells[k] for k in keys])
            for key, cells in self.full.items()
            if not needle or any(needle in str(v).lower() for v in cells.values())
        ]
        sync_rows(self.table, keys, rows, self.SORT)
        self._update_strip()

    def _update_strip(self) -> None:
        if self.narrow:
            key = cursor_key(self.table)
            self.query_one(".strip", Static).update(self.details(key) if key else "")

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._update_strip()

    # actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "details" and (isinstance(self.screen.focused, Input) or not self.table.row_count):
            return False
        return super().check_action(action, parameters)

    def action_details(self) -> None:
        key = cursor_key(self.table)
        if key is not None:
            self.open_details(key)
