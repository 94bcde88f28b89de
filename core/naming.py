"""How names sort everywhere netcon lists them: naturally, so ``c2`` comes before ``c10`` (``ls -v``,
``sort -V``). One key for the console's tables, the CLI's tables and the snapshot's own order."""

from __future__ import annotations

import re

_PARTS = re.compile(r"(\d+)")


def natural_key(text: object) -> tuple[tuple[int, int | str], ...]:
    """A sort key for ``str(text)``: digit runs compare as numbers, the rest case-insensitively; a name
    sorts before its own extensions (``app`` before ``app1``) and the exact text breaks ties, so the order is
    total. ``sorted(names, key=natural_key)``."""
    value = str(text)
    parts: list[tuple[int, int | str]] = [
        (0, int(part)) if index % 2 else (1, part.casefold())
        for index, part in enumerate(_PARTS.split(value))
        if part or index == 0
    ]
    parts.append((-1, value))
    return tuple(parts)
