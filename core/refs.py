"""Which Docker object a user's reference names: a full id, a name, or an id prefix, tried in Docker's own
order. A reference that fits more than one object is refused, never resolved to the first one: Docker 20.10
lets two concurrent creates give two networks one name, and ``docker network rm NAME`` refuses such a name
too."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol, TypeVar

from netcon.core.errors import UsageError

HEX_RE = re.compile(r"[0-9a-f]+")
SHORT_ID = 12


class Named(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


class AmbiguousReference(UsageError):
    """A name or id prefix that fits several objects; nothing was done with any of them."""


def _ids(matches: list[T]) -> str:
    return ", ".join(sorted(m.id[:SHORT_ID] for m in matches))


def pick(items: Iterable[T], ref: str, kind: str, field: str | None = None) -> T | None:
    """The one object of ``items`` that ``ref`` names, or None when none does.

    ``kind`` is the word for the objects in messages ("network", "container"); ``field`` is the input the
    reference came from (the error's ``target``, so a form shows the message under it)."""
    ref = ref.strip()
    candidates = list(items)
    for item in candidates:
        if item.id == ref:
            return item
    by_name = [item for item in candidates if item.name == ref]
    if len(by_name) > 1:
        raise AmbiguousReference(
            f"{kind.capitalize()} name {ref} is ambiguous: {len(by_name)} {kind}s have it ({_ids(by_name)}); "
            f"give the id or an id prefix.",
            target=field,
        )
    if by_name:
        return by_name[0]
    if not HEX_RE.fullmatch(ref):
        return None
    by_prefix = [item for item in candidates if item.id.startswith(ref)]
    if len(by_prefix) > 1:
        raise AmbiguousReference(
            f"{kind.capitalize()} id prefix {ref} is ambiguous: it starts the ids of {len(by_prefix)} {kind}s "
            f"({_ids(by_prefix)}); give more of the id.",
            target=field,
        )
    return by_prefix[0] if by_prefix else None
