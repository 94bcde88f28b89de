"""The Flannel pane's dialogs: a form whose fields are checked as the user types (the error shows under the
field, Enter submits only a valid form), and a yes/no confirmation. Validators are pure functions: no I/O."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from netcon.core.errors import NetconError
from netcon.core.flannel.config import parse_config

MAC_RE = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    value: str
    check: Callable[[str], str | None]  # the error sentence, None when valid


def config_error(text: str) -> str | None:
    try:
        parse_config(text)
    except NetconError as error:
        return str(error)
    return None


def ipv4_error(text: str) -> str | None:
    try:
        ipaddress.IPv4Address(text.strip())
    except ValueError:
        return f"{text.strip() or 'nothing'} is not an IPv4 address like 198.18.0.31."
    return None


def mac_error(text: str) -> str | None:
    return (
        None if MAC_RE.fullmatch(text.strip()) else f"{text.strip() or 'nothing'} is not a MAC like d6:80:cc:3a:bc:2e."
    )


class FormScreen(ModalScreen[dict[str, str] | None]):
    """Fields validated on every keystroke; Enter returns their values when all are valid, Escape cancels."""

    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > Vertical { width: 90%; max-width: 110; height: auto; border: round $primary; padding: 0 1;
                            background: $surface; }
    FormScreen .error { color: $error; height: auto; }
    FormScreen .ok { color: $success; height: auto; }
    """
    BINDINGS = [Binding("escape", "dismiss_form", "Cancel", show=False)]

    def __init__(
        self, title: str, fields: Sequence[Field], describe: Callable[[dict[str, str]], str] | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.describe = describe

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            for field in self.fields:
                yield Label(field.label)
                yield Input(field.value, id=f"field-{field.name}")
                yield Static("", id=f"error-{field.name}", classes="error")
            yield Static(Text("Enter saves, Escape cancels.", style="dim"), id="form-status")

    def on_mount(self) -> None:
        for field in self.fields:
            self._check(field)

    def values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#field-{f.name}", Input).value.strip() for f in self.fields}

    def _check(self, field: Field) -> bool:
        error = field.check(self.query_one(f"#field-{field.name}", Input).value)
        self.query_one(f"#error-{field.name}", Static).update(error or "")
        return error is None

    def on_input_changed(self, event: Input.Changed) -> None:
        field = next(f for f in self.fields if event.input.id == f"field-{f.name}")
        self._check(field)
        if self.describe is not None and all(f.check(v) is None for f, v in zip(self.fields, self.values().values())):
            self.query_one("#form-status", Static).update(Text(self.describe(self.values()), style="green"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if all([self._check(f) for f in self.fields]):
            self.dismiss(self.values())

    def action_dismiss_form(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """One question; y confirms, n or Escape declines."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: auto; max-width: 100%; height: auto; border: round $warning; padding: 0 1;
                               background: $surface; }
    ConfirmScreen Static { width: auto; max-width: 100; }
    """
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question)
            yield Static(Text("y: yes   n or Escape: no", style="dim"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
