"""Modal screens that change the host: forms and confirmations.

Both read the host's facts (``core.host_facts``) once, in a worker, when they open, and run the change in a
named worker when the user asks; the core does the work and refuses what it must (read-only included), and
the screen shows ``str(error)``. Forms validate with ``core.validate.field_error`` as the user types and show
each error on the line below its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static
from textual.worker import Worker, get_current_worker

from netcon.core.errors import NetconError
from netcon.core.host_facts import HostFacts
from netcon.core.validate.forms import FORMS, field_error
from netcon.tui.actions import Action, Declared, bindings
from netcon.tui.audit_panel import operation_done
from netcon.tui.failures import ReportsFailures


class OperationScreen(ReportsFailures, Declared, ModalScreen):
    """Reads the facts when it opens (``facts_ready``), runs ``apply`` in a worker when asked."""

    DEFAULT_CSS = """
    OperationScreen { align: center middle; }
    OperationScreen > Vertical { width: 100; max-width: 100%; height: auto; max-height: 100%;
                                 border: round $primary; padding: 0 1; background: $surface; }
    OperationScreen .status { height: auto; margin-top: 1; color: $text-muted; }
    OperationScreen .status.failed { color: $error; text-style: bold; }
    OperationScreen .hint { color: $text-muted; }
    """
    TITLE: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        self.facts: HostFacts | None = None
        self.busy = False

    def on_mount(self) -> None:
        self.load_facts()

    @work(thread=True, exclusive=True, exit_on_error=False, group="facts", name="reading the host's facts")
    def load_facts(self) -> None:
        worker = get_current_worker()
        try:
            app = self.app
            facts = app.read_facts(app.ctx) if app.in_process() else app.host.facts()
        except NetconError as error:
            if not worker.is_cancelled:
                self.app.call_from_thread(self.set_status, f"Cannot read the host: {error}", True)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._facts_ready, facts)

    def _facts_ready(self, facts: HostFacts) -> None:
        self.facts = facts
        self.facts_ready(facts)
        self.refresh_bindings()

    def facts_ready(self, facts: HostFacts) -> None:
        """Fill in what depends on the host (pickers, the confirmation text)."""

    def set_status(self, text: str, failed: bool = False) -> None:
        status = self.query_one(".status", Static)
        status.update(text)
        status.set_class(failed, "failed")

    # the change
    def apply(self, values: Mapping[str, str | None]) -> str:
        """Call the core (on a worker thread); return the sentence that reports success."""
        raise NotImplementedError

    def start(self, values: Mapping[str, str | None]) -> None:
        self.busy = True
        self.set_status("Working…")
        self.run_operation(dict(values))

    @work(thread=True, exclusive=True, exit_on_error=False, group="operation", name="the change")
    def run_operation(self, values: dict[str, str | None]) -> None:
        try:
            text = self.apply(values)
        except NetconError as error:
            self.app.call_from_thread(self._failed, error)
            return
        self.app.call_from_thread(self._succeeded, text)

    def _succeeded(self, text: str) -> None:
        self.busy = False
        self.dismiss(text)
        operation_done(self.app, text)

    def _failed(self, error: NetconError) -> None:
        self.busy = False
        self.failed(error)
        operation_done(self.app, str(error), failed=True)

    def failed(self, error: NetconError) -> None:
        self.set_status(str(error), failed=True)

    def worker_failed(self, worker: Worker) -> None:
        """A bug in reading the facts or in the change (already notified): the screen is usable again."""
        self.busy = False
        self.set_status(f"{worker.name[:1].upper()}{worker.name[1:]} failed: {worker.error!r}", failed=True)
        self.refresh_bindings()


@dataclass(frozen=True)
class Field:
    key: str  # the field's key in core.validate.FORMS
    label: str
    placeholder: str = ""
    value: str = ""


class FormScreen(OperationScreen):
    """A form of text fields (a subclass may give a field another widget, e.g. a picker)."""

    DEFAULT_CSS = """
    FormScreen .row { height: 1; }
    FormScreen .row Label { width: 10; }
    FormScreen .row Input, FormScreen .row Select { width: 1fr; }
    FormScreen .error { display: none; color: $error; padding-left: 10; height: auto; }
    FormScreen .error.shown { display: block; }
    """
    ACTIONS = (Action("cancel", "escape", "Cancel", "close the form; nothing is changed"),)
    BINDINGS = bindings(ACTIONS)
    FORM: ClassVar[str] = ""  # the form's name in core.validate.FORMS
    VERB: ClassVar[str] = "apply"

    def __init__(self, **values: str) -> None:
        super().__init__()
        self.initial = values
        self.touched: set[str] = set()

    def fields(self) -> tuple[Field, ...]:
        raise NotImplementedError

    def field_widget(self, field: Field) -> Widget:
        return Input(
            self.initial.get(field.key, field.value),
            placeholder=field.placeholder,
            compact=True,
            id=f"field-{field.key}",
        )

    def after_field(self, field: Field) -> ComposeResult:
        """Widgets shown below ``field`` (e.g. a list to pick its value from)."""
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.TITLE
            for field in self.fields():
                with Horizontal(classes="row"):
                    yield Label(field.label)
                    yield self.field_widget(field)
                yield Static(id=f"error-{field.key}", classes="error")
                yield from self.after_field(field)
            yield Static(classes="status")
            yield Static(f"Enter: {self.VERB} · Tab: next field · Escape: cancel", classes="hint")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(f"#field-{self.fields()[0].key}").focus()

    def values(self) -> dict[str, str | None]:
        """Each field's text; a blank field is None (not given: the core applies its default, or says the field
        is needed)."""
        values: dict[str, str | None] = {}
        for field in self.fields():
            value = self.query_one(f"#field-{field.key}").value
            values[field.key] = None if value is Select.BLANK or not str(value).strip() else str(value)
        return values

    def errors(self) -> dict[str, str]:
        values = self.values()
        found = {key: field_error(self.FORM, key, values, self.facts) for key in FORMS[self.FORM] if key in values}
        return {key: error for key, error in found.items() if error}

    def show_errors(self, errors: Mapping[str, str]) -> None:
        for field in self.fields():
            text = errors.get(field.key) if field.key in self.touched else None
            line = self.query_one(f"#error-{field.key}", Static)
            line.update(Text(text or ""))
            line.set_class(bool(text), "shown")

    def facts_ready(self, facts: HostFacts) -> None:
        self.show_errors(self.errors())
        self.set_status("")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._changed(event.input.id)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._changed(event.select.id)

    def _changed(self, widget_id: str | None) -> None:
        if widget_id and widget_id.startswith("field-"):
            self.touched.add(widget_id.removeprefix("field-"))
            self.show_errors(self.errors())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def submit(self) -> None:
        if self.busy:
            return
        self.touched.update(f.key for f in self.fields())
        errors = self.errors()
        self.show_errors(errors)
        if errors:
            self.query_one(f"#field-{next(iter(errors))}").focus()
            self.set_status("Fix the fields marked above; nothing was changed.", failed=True)
            return
        self.start(self.values())

    def failed(self, error: NetconError) -> None:
        if error.target in {f.key for f in self.fields()}:
            self.show_errors({**self.errors(), error.target: str(error)})
            self.set_status("Refused; nothing was changed.", failed=True)
        else:
            self.set_status(str(error), failed=True)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(OperationScreen):
    """Says what will change (once the facts are read) and waits for y."""

    DEFAULT_CSS = """
    ConfirmScreen .question { height: auto; padding: 1 0; }
    """
    ACTIONS = (
        Action("confirm", "y", "Yes", "do it"),
        Action("cancel", "n,escape", "No", "keep everything as it is", key_display="n/Esc"),
    )
    BINDINGS = bindings(ACTIONS)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.TITLE
            yield Static("Reading what this would change…", classes="question")
            yield Static(classes="status")
            yield Static("y: yes · n or Escape: no", classes="hint")

    def question(self, facts: HostFacts) -> str:
        raise NotImplementedError

    def facts_ready(self, facts: HostFacts) -> None:
        self.query_one(".question", Static).update(Text(self.question(facts)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm" and (self.facts is None or self.busy):
            return False
        return super().check_action(action, parameters)

    def action_confirm(self) -> None:
        if self.facts is not None and not self.busy:
            self.start({})

    def action_cancel(self) -> None:
        self.dismiss(None)

    def failed(self, error: NetconError) -> None:
        self.dismiss(None)
