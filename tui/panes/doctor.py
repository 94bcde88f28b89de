"""Pane 8: the doctor. Every finding of the last run, most severe first, with its host and object; the
highlighted one's evidence, explanation and fix below the list (Enter shows it on a screen of its own).

The doctor only reads, so it runs in read-only mode too; its fixes are shown for the user to run, never
applied (the pane has no action that changes anything). A run starts with the console, again after each
new snapshot while the pane is visible (the first change waits ``DEBOUNCE`` for the rest of a burst, and runs
start at most once per ``MIN_INTERVAL``), and at once on ``r``.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, get_current_worker

from netcon.core.doctor.findings import ERROR, INFO, SEVERITIES, WARNING, Finding, Report
from netcon.core.errors import NetconError
from netcon.core.naming import natural_key
from netcon.tui.actions import Action, Declared, bindings
from netcon.tui.doctor_feed import ETCD_CHECKS
from netcon.tui.panes.base import Pane
from netcon.tui.state import LiveState
from netcon.tui.widgets import StatusHeader, cursor_key, sync_rows

DEBOUNCE = 0.5  # seconds a change waits for the rest of its burst before a run
MIN_INTERVAL = 3.0  # seconds between the starts of two change-driven runs
STARTUP_DELAY = 3.0  # seconds after start before the first run, which reads the host like the first snapshot

STYLES = {ERROR: "bold red", WARNING: "bold yellow", INFO: "cyan"}
COLUMNS = (("severity", "SEVERITY"), ("check", "CHECK"), ("host", "HOST"), ("object", "OBJECT"))
FIX_NOTE = "shown only: netcon never runs it; run it yourself as root"


class DoctorDone(Message):
    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report


class DoctorFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


def finding_key(finding: Finding) -> str:
    return f"{finding.host}\x1f{finding.id}\x1f{finding.object}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(report: Report) -> Text:
    """One line: counts by severity, the hosts checked, whether flannel was, and how long it took."""
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in SEVERITIES}
    text = Text()
    if counts[ERROR] or counts[WARNING]:
        text.append(plural(counts[ERROR], "error"), style=STYLES[ERROR] if counts[ERROR] else "")
        text.append(", ")
        text.append(plural(counts[WARNING], "warning"), style=STYLES[WARNING] if counts[WARNING] else "")
    else:
        text.append("No problems found", style="bold green")
    if counts[INFO]:
        text.append(f", {counts[INFO]} info")
    hosts = [h for h in report.hosts if not set(h.checks) <= ETCD_CHECKS]  # not the store's own report
    checked = ", ".join(f"{h.host}: {len(h.checks)} checks" for h in hosts)
    text.append(f" │ {checked} │ ")
    text.append(f"flannel against {report.etcd}" if report.etcd else "flannel not checked")
    text.append(f" │ {report.duration_s * 1000:.0f} ms")
    return text


def detail(finding: Finding) -> Group:
    """The finding in full: what, the values read, why it matters, and the command that fixes it."""
    head = Text()
    head.append(finding.severity.upper(), style=STYLES[finding.severity])
    head.append(f"  {finding.id}", style="bold")
    head.append(f"  {finding.object}  on {finding.host}")
    evidence = Table.grid(padding=(0, 2))
    evidence.add_column(style="bold", no_wrap=True)
    evidence.add_column(overflow="fold")
    for name, value in finding.evidence:
        evidence.add_row(name, value)
    parts: list[Any] = [
        head,
        Text("Evidence", style="underline"),
        Padding(evidence, (0, 0, 0, 2)),
        Text("Why", style="underline"),
        Padding(Text(finding.explanation), (0, 0, 0, 2)),
    ]
    if finding.fix:
        parts.append(Text.assemble(("Fix", "underline"), (f" ({FIX_NOTE})", "dim")))
        parts.extend(Text(f"  {command}", style="bold green", overflow="fold") for command in finding.fix)
    else:
        parts.append(Text("No command fixes this by itself; the explanation says what to do.", style="dim"))
    return Group(*parts)


class FindingScreen(Declared, Screen):
    """One finding on a whole screen (long fixes at 80x24); follows new runs until the finding is gone."""

    DEFAULT_CSS = "FindingScreen VerticalScroll { height: 1fr; padding: 0 1; }"
    ACTIONS = (Action("back", "escape", "Back", "return to the Doctor pane"),)
    BINDINGS = bindings(ACTIONS)

    def __init__(self, key: str, finding: Finding) -> None:
        super().__init__()
        self.key = key
        self.finding = finding

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with VerticalScroll():
            yield Static(detail(self.finding))
        yield Footer()

    def on_mount(self) -> None:
        self.app.paint_header(self)
        self.query_one(VerticalScroll).focus()

    def show(self, findings: dict[str, Finding]) -> None:
        finding = findings.get(self.key)
        if finding is None:
            gone = Text(
                f"\nThe last run no longer reports {self.finding.id} on {self.finding.object}.", style="bold green"
            )
            self.query_one(Static).update(Group(detail(self.finding), gone))
        else:
            self.finding = finding
            self.query_one(Static).update(detail(finding))

    def action_back(self) -> None:
        self.app.pop_screen()


class DoctorPane(Pane):
    title = "Doctor"
    can_focus = True  # when healthy nothing inside takes focus; the pane keeps its keys (r: check again)
    DEFAULT_CSS = """
    DoctorPane > .summary { height: auto; padding: 0 1; background: $boost; }
    DoctorPane > .notes { height: auto; padding: 0 1; color: $text-warning; display: none; }
    DoctorPane > DataTable { height: auto; max-height: 45%; }
    DoctorPane > VerticalScroll { height: 1fr; border-top: solid $primary; padding: 0 1; }
    DoctorPane > .healthy { height: auto; padding: 1 2; display: none; }
    DoctorPane.healthy > DataTable, DoctorPane.healthy > VerticalScroll { display: none; }
    DoctorPane.healthy > .healthy { display: block; }
    """
    ACTIONS = (
        Action("recheck", "r", "Check again", "run every check again now (they only read)"),
        Action(
            "details",
            "enter",
            "Details",
            "the highlighted finding on a screen of its own",
            key_display="Enter",
            priority=True,
        ),
    )
    BINDINGS = bindings(ACTIONS)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report: Report | None = None
        self.findings: dict[str, Finding] = {}
        self.error: str | None = None
        self.running = False
        self.last_start: float | None = None  # time.monotonic() of the last run's start
        self.pending = None  # the timer of a change-driven run not started yet

    def compose(self) -> ComposeResult:
        yield Static("Checking…", classes="summary")
        yield Static(classes="notes")
        table = DataTable(cursor_type="row", zebra_stripes=True)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        with VerticalScroll():
            yield Static(classes="detail")
        yield Static(classes="healthy")

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    @property
    def doctor(self):
        return self.app.doctor

    def on_mount(self) -> None:
        # a report is ready when the pane is first opened, without slowing the console's first paint
        self.pending = self.set_timer(STARTUP_DELAY, self._due)

    # -- when to run --------------------------------------------------------------------------------------

    def show(self, state: LiveState) -> None:
        """A new snapshot while the pane is visible (or it became visible): the host changed, check again."""
        if self.report is None and not self.running:
            self.run_checks()  # opened before the startup run: check now
        else:
            self.changed()

    def changed(self) -> None:
        """Run once the burst is over and ``MIN_INTERVAL`` has passed since the last start; changes that come
        while a run is already waiting are covered by it (it reads the host when it starts)."""
        if self.pending is not None:
            return
        since = time.monotonic() - self.last_start if self.last_start is not None else MIN_INTERVAL
        self.pending = self.set_timer(max(DEBOUNCE, MIN_INTERVAL - since), self._due)

    def _due(self) -> None:
        self.pending = None
        self.run_checks()

    def run_checks(self) -> None:
        if self.pending is not None:
            self.pending.stop()
            self.pending = None
        self.last_start = time.monotonic()
        self.running = True
        self._paint_summary()
        self.check(self.doctor)

    @work(thread=True, exclusive=True, exit_on_error=False, group="doctor", name="the doctor")
    def check(self, doctor) -> None:
        worker = get_current_worker()
        try:
            report = doctor.run()
        except NetconError as error:
            if not worker.is_cancelled:
                self.post_message(DoctorFailed(str(error)))
            return
        if not worker.is_cancelled:
            self.post_message(DoctorDone(report))

    # -- results ------------------------------------------------------------------------------------------

    def on_doctor_done(self, message: DoctorDone) -> None:
        self.running, self.error, self.report = False, None, message.report
        self.findings = {}
        for finding in sorted(
            message.report.findings,
            key=lambda f: (SEVERITIES.index(f.severity), *map(natural_key, (f.host, f.id, f.object))),
        ):
            key = finding_key(finding)
            while key in self.findings:  # the same check twice on one object: keep both rows
                key += "'"
            self.findings[key] = finding
        with self.app.batch_update():
            self._paint_summary()
            self._paint_findings()
            for screen in self.app.screen_stack:
                if isinstance(screen, FindingScreen):
                    screen.show(self.findings)
        self.call_after_refresh(self._keep_focus)
        self.refresh_bindings()

    def _keep_focus(self) -> None:
        """A healthy report hides the table the user was on: give focus back to the pane."""
        focused = self.app.focused
        if self.app.current == self.id and (focused is None or not focused.display):
            self.focus_content()

    def on_doctor_failed(self, message: DoctorFailed) -> None:
        self.running, self.error = False, message.error
        self._paint_summary()

    def worker_failed(self, worker: Worker) -> None:
        self.running, self.error = False, repr(worker.error)
        self._paint_summary()

    def _paint_summary(self) -> None:
        text = summary(self.report) if self.report is not None else Text("Checking…" if self.running else "")
        if self.running and self.report is not None:
            text.append(" │ checking…", style="dim")
        if self.error:
            text.append(f"\nThe doctor failed: {self.error}", style="bold red")
        self.query_one(".summary", Static).update(text)

    def _paint_findings(self) -> None:
        report = self.report
        notes = self.query_one(".notes", Static)
        notes.update("\n".join(f"note: {n}" for n in report.notes))
        notes.display = bool(report.notes)
        self.set_class(not self.findings, "healthy")
        if not self.findings:
            checks = sorted({c for h in report.hosts for c in h.checks})
            hosts = ", ".join(h.host for h in report.hosts)
            self.query_one(".healthy", Static).update(
                Group(
                    Text("No problems found.", style="bold green"),
                    Text(f"\nChecks run on {hosts}:", style="bold"),
                    Text(", ".join(checks)),
                )
            )
        table = self.table
        rows = [
            (key, [Text(f.severity, style=STYLES[f.severity]), f.id, f.host, f.object])
            for key, f in self.findings.items()
        ]
        sync_rows(table, [k for k, _ in COLUMNS], rows)
        order = list(self.findings)
        if [r.key.value for r in table.ordered_rows] != order:
            keep = cursor_key(table)
            table.sort(
                "severity",
                "host",
                "check",
                "object",
                key=lambda cells: (SEVERITIES.index(str(cells[0])), *map(natural_key, cells[1:])),
            )
            if keep is not None and keep in table.rows:
                table.move_cursor(row=table.get_row_index(keep), scroll=False)
        self._paint_detail()

    def _paint_detail(self) -> None:
        key = cursor_key(self.table)
        finding = self.findings.get(key) if key else None
        self.query_one(".detail", Static).update(detail(finding) if finding else "")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._paint_detail()

    # -- actions ------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "details" and not self.table.row_count:
            return False
        return super().check_action(action, parameters)

    def action_recheck(self) -> None:
        self.run_checks()

    def action_details(self) -> None:
        key = cursor_key(self.table)
        if key is not None and key in self.findings:
            self.app.push_screen(FindingScreen(key, self.findings[key]))

    def focus_content(self) -> None:
        """The findings table, or the pane itself while a healthy report hides the table (so r, check again,
        stays the key of this pane rather than falling through to the app's refresh)."""
        if self.table.display:
            self.table.focus()
        else:
            self.focus()


PANE = DoctorPane
