"""Plain-text tables in the style of ``docker network ls`` and ``brctl show``: left-aligned columns separated
by three spaces, a header in capitals, continuation lines for multi-valued cells."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def render(headers: Sequence[str], rows: Sequence[Sequence[object]], gap: str = "   ") -> str:
    """Each cell may be a string or a sequence of strings (printed on successive lines, like brctl)."""
    cells = [[_lines(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, lines in enumerate(row):
            widths[i] = max(widths[i], *(len(x) for x in lines))
    out = [gap.join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in cells:
        height = max(len(lines) for lines in row)
        for n in range(height):
            out.append(
                gap.join((lines[n] if n < len(lines) else "").ljust(w) for lines, w in zip(row, widths)).rstrip()
            )
    return "\n".join(out)


def _lines(cell: object) -> list[str]:
    if cell is None:
        return [""]
    if isinstance(cell, (list, tuple)):
        return [str(x) for x in cell] or [""]
    return [str(cell)]


def emit(view: str, rows: list[dict[str, Any]], table: str, not_read: Sequence[str], as_json: bool) -> None:
    """Print a ``show`` view: the table, with what could not be read on stderr (one ``netcon:`` line each), or
    one JSON object ``{view: rows, "not_read": [...]}``. A partial answer always says what it lacks."""
    if as_json:
        print(json.dumps({view: rows, "not_read": list(not_read)}, indent=2))
        return
    print(table)
    for sentence in not_read:
        print(f"netcon: {sentence}", file=sys.stderr)
