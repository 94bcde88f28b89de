"""Frozen dataclasses to plain JSON and back, for the machine-to-machine protocol (``netcon serve --stdio``).

The core's results are trees of frozen dataclasses of plain values; ``to_wire`` turns one into JSON-ready data
and ``from_wire`` rebuilds it from the dataclass's own type hints, so the protocol needs no schema of its own
and a new field travels as soon as it is declared. Dictionary keys become strings in JSON; ``from_wire`` turns
them back into what the hint says (``dict[int, Counters]``).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from netcon.core.errors import NetconError

T = TypeVar("T")


class WireError(NetconError):
    """Data that does not fit the type it should be: the other side speaks another version, or garbage."""


def to_wire(value: Any) -> Any:
    """JSON-ready data of a dataclass tree (tuples become lists, dict keys strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def from_wire(hint: Any, data: Any) -> Any:
    """``data`` (from ``to_wire``) rebuilt as ``hint`` says: a dataclass, ``tuple[X, ...]``, ``dict[K, V]``,
    ``X | None`` or a plain value; anything that does not fit raises ``WireError``."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if data is None and type(None) in options:
            return None
        rest = [o for o in options if o is not type(None)]
        if len(rest) == 1:
            return from_wire(rest[0], data)
        for option in rest:  # plain unions only (int | float, str | int): the first that fits
            try:
                return from_wire(option, data)
            except WireError:
                continue
        raise WireError(f"{_shown(data)} fits none of {hint}.")
    if origin is tuple:
        args = get_args(hint)
        if not isinstance(data, list):
            raise WireError(f"expected a list for {hint}, got {_shown(data)}.")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_wire(args[0], item) for item in data)
        if len(args) != len(data):
            raise WireError(f"expected {len(args)} items for {hint}, got {len(data)}.")
        return tuple(from_wire(a, item) for a, item in zip(args, data))
    if origin is list:
        if not isinstance(data, list):
            raise WireError(f"expected a list for {hint}, got {_shown(data)}.")
        return [from_wire(get_args(hint)[0], item) for item in data]
    if origin in (dict, typing.Mapping) or hint is dict:
        key_hint, value_hint = get_args(hint) or (str, Any)
        if not isinstance(data, dict):
            raise WireError(f"expected an object for {hint}, got {_shown(data)}.")
        return {_key(key_hint, k): from_wire(value_hint, v) for k, v in data.items()}
    if hint is Any:
        return data
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint, data)
    return _plain(hint, data)


def decode(cls: type[T], data: Any) -> T:
    """``from_wire`` typed for a dataclass."""
    result: T = from_wire(cls, data)
    return result


def _dataclass(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise WireError(f"expected an object for {cls.__name__}, got {_shown(data)}.")
    hints = _hints(cls)
    given = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            given[f.name] = from_wire(hints[f.name], data[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise WireError(f"{cls.__name__} lacks its field {f.name!r}.")
    return cls(**given)


def _key(hint: Any, key: str) -> Any:
    if hint is int:
        try:
            return int(key)
        except ValueError:
            raise WireError(f"key {_shown(key)} is not an integer.") from None
    return key


def _plain(hint: Any, data: Any) -> Any:
    if hint is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if hint is type(None):
        if data is None:
            return None
    elif hint is bytes and isinstance(data, str):
        try:
            return bytes.fromhex(data)
        except ValueError:
            pass
    elif isinstance(hint, type) and isinstance(data, hint) and not (hint is int and isinstance(data, bool)):
        return data
    raise WireError(f"expected {getattr(hint, '__name__', hint)}, got {_shown(data)}.")


def _shown(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 60 else text[:59] + "…"
