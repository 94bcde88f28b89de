"""The Capture pane's save form: the kept packets to a pcapng file."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from netcon.core.capture.pcapng import write_packets
from netcon.core.capture.session import CaptureStats
from netcon.core.validate import values
from netcon.tui.forms import Field, FormScreen


class SaveCapture(FormScreen):
    """The kept packets to a pcapng file (path checked as typed)."""

    TITLE = "Save the capture as pcapng"
    FORM = "capture.save"
    VERB = "save"

    def __init__(self, packets: list[Any], stats: CaptureStats | None) -> None:
        super().__init__(path=time.strftime("netcon-%Y%m%d-%H%M%S.pcapng"))
        self.packets = packets
        self.stats = stats

    def fields(self) -> tuple[Field, ...]:
        return (Field("path", "File", "where to write, e.g. /tmp/capture.pcapng"),)

    def apply(self, given: Mapping[str, str | None]) -> str:
        path = values.output_file(given.get("path") or "", "path", "File")
        written = write_packets(path, self.packets, self.stats)
        return f"Saved {written} packets to {path}."
