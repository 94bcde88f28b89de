"""What a form field's check gets: its value (a form's text, or the typed value an API caller passes), all the
form's values (for a field that depends on another) and the host's facts.

Every check raises ``UsageError`` with one sentence naming the field; ``error.target`` is the field's key.
Checks that take ``facts=None`` skip the parts that need the host, so a form can validate syntax before the
facts have been read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from netcon.core.host_facts import HostFacts

Value = Any  # a form's text, or the typed value an API caller passes (sequence or mapping of k=v)
Values = Mapping[str, Value]
Check = Callable[[Value, Values, HostFacts | None], Any]


def given(value: Value) -> bool:
    """False for "not given" (None, or an empty sequence); an empty string is given, and refused where a value
    is needed."""
    return value not in (None, (), [], {})
