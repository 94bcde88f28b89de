"""The audit log panel (``l``): the last changes made through netcon, read from the core's audit log in a
worker, shown below the pane and re-read after every operation the console runs."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static
from textual.worker import Worker, get_current_worker

from netcon.core.audit import AuditEntry, last_entries, log_path
from netcon.core.errors import NetconError
from netcon.tui.failures import ReportsFailures

ENTRIES = 20
OUTCOME_STYLE = {
    "ok": "green",
    "read-only": "yellow",
    "invalid": "yellow",
    "refused": "red",
    "failed": "red",
    "started": "yellow",
}


def entry_text(entry: AuditEntry) -> Text:
    """The entry's summary with its outcome coloured."""
    text = Text(entry.head + " -> ")
    text.append(entry.outcome, style=OUTCOME_STYLE.get(entry.outcome, ""))
    text.append(entry.tail)
    return text


class AuditPanel(ReportsFailures, VerticalScroll):
    """Hidden until toggled; newest entry last, scrolled to the end."""

    DEFAULT_CSS = """
    AuditPanel { display: none; height: 8; border-top: solid $primary; padding: 0 1; }
    AuditPanel.shown { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Reading the audit log…")

    def on_mount(self) -> None:
        self.border_title = "Audit log (l hides it)"

    @property
    def shown(self) -> bool:
        return self.has_class("shown")

    def toggle(self) -> None:
        self.toggle_class("shown")
        if self.shown:
            self.reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit", name="reading the audit log")
    def reload(self) -> None:
        worker = get_current_worker()
        try:
            entries = last_entries(ENTRIES)
        except NetconError as error:
            text = Text(str(error), style="bold red")
        else:
            text = (
                Text("\n").join(entry_text(e) for e in entries)
                if entries
                else Text(f"No changes recorded yet in {log_path()}.", style="dim")
            )
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show, text)

    def worker_failed(self, worker: Worker) -> None:
        self._show(Text(f"Reading the audit log failed: {worker.error!r}", style="bold red"))

    def _show(self, text: Text) -> None:
        self.query_one(Static).update(text)
        self.scroll_end(animate=False)


def operation_done(app: App, text: str, failed: bool = False) -> None:
    """Report an operation's outcome: a notification, and the audit panel re-read if it is shown. The tables
    follow by themselves (the watcher sees Docker's events)."""
    app.notify(text, severity="error" if failed else "information", timeout=8 if failed else 5)
    for screen in app.screen_stack:
        for panel in screen.query(AuditPanel):
            if panel.shown:
                panel.reload()
