"""Every console action is declared once, as an ``Action``; footer, help screen and command palette are all
generated from these declarations, and read-only mode hides the ones marked ``mutating``.

Later features add their actions (create, remove, connect, run, lease...) to a pane's ``ACTIONS`` with
``mutating=True``; nothing else is needed for them to appear, or to disappear in read-only mode. The core
refuses them too (``HostContext.require_writable``), so hiding is a courtesy, not the protection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding

BINDING_PREFIX = "netcon."


@dataclass(frozen=True)
class Action:
    """One user action: the key, the words shown for it, and whether it changes the host."""

    action: str  # Textual action string, e.g. "refresh" or "show_pane('bridges')"
    key: str
    description: str
    help: str = ""
    mutating: bool = False
    footer: bool = True
    key_display: str | None = None
    priority: bool = False

    @property
    def name(self) -> str:
        """The action method's name (``action_<name>``), without parameters."""
        return self.action.split("(", 1)[0]

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.description,
            show=self.footer,
            key_display=self.key_display,
            priority=self.priority,
            tooltip=self.help,
            id=BINDING_PREFIX + self.action,
        )


def bindings(actions: tuple[Action, ...]) -> list[Binding]:
    return [action.binding() for action in actions]


def is_declared(binding: Binding) -> bool:
    """True for bindings that come from an ``Action`` (not Textual's own widget keys)."""
    return (binding.id or "").startswith(BINDING_PREFIX)


def declared(cls: type) -> list[Action]:
    """The actions ``cls`` and its bases declare."""
    return [a for base in reversed(cls.__mro__) for a in base.__dict__.get("ACTIONS", ())]


def mutating_names(cls: type) -> set[str]:
    return {a.name for a in declared(cls) if a.mutating}


class Declared:
    """Mixin for apps, screens and widgets whose ``BINDINGS`` come from ``ACTIONS``: mutating actions are
    hidden and disabled when the console runs read-only."""

    ACTIONS: ClassVar[tuple[Action, ...]] = ()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        app = self.app
        if app.read_only and action in mutating_names(type(self)):
            return False
        return super().check_action(action, parameters)  # type: ignore[misc]
