"""The panes in their fixed order (digits 1 to 9, then 0, then - for the Cluster). A pane is the module
``tui.panes.<id>`` exposing ``PANE`` (a ``Pane`` subclass); while that module does not exist the slot shows its
one-line ``missing`` message instead, so a later feature replaces its placeholder just by adding the module."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from netcon.tui.panes.base import Pane, Placeholder


@dataclass(frozen=True)
class Slot:
    digit: str
    id: str
    title: str
    missing: str = ""

    @property
    def key(self) -> str:
        """The key that shows the pane (Textual's name for ``-``)."""
        return {"-": "minus"}.get(self.digit, self.digit)

    @property
    def picture(self) -> str:
        """The file name of the pane's screenshot (``4-veths.svg``; ``cluster.svg``, no name starts with -)."""
        return f"{self.digit}-{self.id}.svg" if self.digit.isdigit() else f"{self.id}.svg"

    @property
    def module(self) -> str:
        return f"{__name__}.{self.id}"

    def create(self) -> Pane:
        if importlib.util.find_spec(self.module) is None:
            return Placeholder(self.missing, id=self.id)
        return importlib.import_module(self.module).PANE(id=self.id)


SLOTS = (
    Slot("1", "networks", "Networks"),
    Slot("2", "containers", "Containers"),
    Slot("3", "bridges", "Bridges"),
    Slot("4", "veths", "Veths"),
    Slot("5", "flannel", "Flannel", "Flannel: no etcd configured — the flannel capability is not installed yet."),
    Slot("6", "ping", "Ping", "Ping: the ping capability is not installed yet."),
    Slot("7", "ports", "Ports", "Ports: the published-ports capability is not installed yet."),
    Slot("8", "doctor", "Doctor", "Doctor: the doctor capability is not installed yet."),
    Slot("9", "capture", "Capture", "Capture: the capture capability is not installed yet."),
    Slot("0", "trace", "Trace", "Trace: the trace capability is not installed yet."),
    Slot("-", "cluster", "Cluster"),
)
