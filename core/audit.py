"""The audit log: one JSON line per attempted change (done, refused, failed or read-only), and its reader.

Mutating core functions are declared with ``@mutation(...)``: that one wrapper refuses in read-only mode,
writes the audit line whatever happens, and registers the function in ``REGISTRY`` so tests and the console
can enumerate every operation that changes the host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import getpass
import inspect
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from netcon.core.context import HostContext
from netcon.core.errors import DockerRefused, NetconError, ReadOnlyError, UsageError
from netcon.core.logfile import state_dir
from netcon.core.model import to_json

F = TypeVar("F", bound=Callable[..., Any])

REGISTRY: dict[str, Callable[..., Any]] = {}


def log_path() -> Path:
    """``$NETCON_AUDIT_LOG``, else ``$XDG_STATE_HOME/netcon/audit.jsonl`` (``~/.local/state`` by default)."""
    explicit = os.environ.get("NETCON_AUDIT_LOG")
    return Path(explicit) if explicit else state_dir() / "audit.jsonl"


def current_user() -> str:
    """Who asked: the user behind sudo, else the login name (the process owner when there is no terminal)."""
    sudo = os.environ.get("SUDO_USER")
    if sudo:
        return sudo
    try:
        return os.getlogin()
    except OSError:
        return getpass.getuser()


def ssh_client() -> str | None:
    """Where an SSH session that started this netcon came from (``SSH_CONNECTION``'s client address and port):
    a change asked for by a remote console (``netcon serve --stdio``) is recorded with it."""
    parts = os.environ.get("SSH_CONNECTION", "").split()
    return f"{parts[0]}:{parts[1]}" if len(parts) >= 2 else None


@dataclass(frozen=True)
class AuditEntry:
    time: str  # ISO 8601, UTC
    user: str
    host: str
    operation: str
    arguments: tuple[tuple[str, str], ...]  # value as given (str) or its compact JSON
    outcome: str  # ok, invalid, refused, failed, read-only; started: no outcome was recorded
    error: str | None

    @property
    def head(self) -> str:
        """When, who, what, with which values: the summary without its outcome."""
        args = " ".join(f"{k}={v}" for k, v in self.arguments if v not in ("null", "[]", "{}", "false", ""))
        return f"{self.time} {self.user}@{self.host} {self.operation} {args}"

    @property
    def tail(self) -> str:
        """What follows the outcome: the error, or that no outcome was recorded."""
        if self.error:
            return f": {self.error}"
        return " (no outcome recorded)" if self.outcome == "started" else ""

    @property
    def summary(self) -> str:
        return f"{self.head} -> {self.outcome}{self.tail}"


def outcome_of(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    if isinstance(error, ReadOnlyError):
        return "read-only"
    if isinstance(error, UsageError) or getattr(error, "exit_code", 1) == 2:
        return "invalid"
    if isinstance(error, DockerRefused):
        return "refused"
    return "failed"


def _open_log() -> Any:
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "ab", buffering=0)  # one write per line: nothing is left to flush when it fails
    except OSError as error:
        raise NetconError(
            f"Cannot write the audit log {path}: {error.strerror or error}; nothing was changed.", target=str(path)
        ) from error


def _plain(value: Any) -> Any:
    if (
        value is None
        or isinstance(value, str | int | float | bool | list | tuple | dict)
        or dataclasses.is_dataclass(value)
    ):
        return to_json(value)
    return str(value)  # e.g. the etcd store an operation used


def _given(bound: inspect.BoundArguments) -> dict[str, Any]:
    """The arguments the caller passed, as plain values: the host context and callables (progress reporters)
    are not values a user gave."""
    return {k: _plain(v) for k, v in bound.arguments.items() if not isinstance(v, HostContext) and not callable(v)}


@dataclass(frozen=True)
class _Attempt:
    """One call of a mutating function: the fields its audit lines share. Its ``id`` ties the line written
    before the change ("started") to the one with the outcome."""

    id: str
    operation: str
    arguments: dict[str, Any]
    ctx: HostContext

    def line(self, outcome: str, error: BaseException | None = None, result: Any = None) -> str:
        record = {
            "id": self.id,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "user": current_user(),
            **({"ssh_from": client} if (client := ssh_client()) else {}),
            "host": socket.gethostname(),
            "docker_host": self.ctx.docker_url,
            "netns": self.ctx.netns,
            "operation": self.operation,
            "arguments": self.arguments,
            "outcome": outcome,
            "error": str(error) if error is not None else None,
            "result": to_json(result) if dataclasses.is_dataclass(result) else None,
        }
        return json.dumps(record, default=str, separators=(",", ":")) + "\n"


def _append(log: Any, line: str) -> None:
    """Append one line in one write(2) (O_APPEND: lines of concurrent netcons never interleave); an OSError
    (disk full, I/O error) is the caller's to handle."""
    log.write(line.encode("utf-8", errors="backslashreplace"))


def mutation(operation: str, describe: str) -> Callable[[F], F]:
    """Declare a mutating core function ``fn(ctx, ...)``: read-only refusal, audit lines, registry entry.

    ``describe`` is formatted with the call's arguments to name the change in the read-only refusal
    (e.g. "network create {name}"). The audit log fails closed: a "started" line is written and flushed before
    ``fn`` runs, so a log that cannot be written (unwritable path, disk full) refuses the change instead of
    leaving it unrecorded; the outcome line follows whatever happens.
    """

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(ctx: HostContext, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(ctx, *args, **kwargs)
            attempt = _Attempt(uuid.uuid4().hex[:16], operation, _given(bound), ctx)
            bound.apply_defaults()
            with _open_log() as log:
                try:
                    ctx.require_writable(describe.format(**bound.arguments))
                except ReadOnlyError as refusal:
                    with contextlib.suppress(OSError):  # refused either way; nothing to record it in
                        _append(log, attempt.line("read-only", refusal))
                    raise
                try:
                    _append(log, attempt.line("started"))
                except OSError as error:
                    raise NetconError(
                        f"Cannot write the audit log {log_path()}: {error.strerror or error}; nothing was changed.",
                        target=str(log_path()),
                    ) from error
                try:
                    result = fn(ctx, *args, **kwargs)
                except BaseException as error:
                    with contextlib.suppress(OSError):  # the "started" line stays; the error is the news
                        _append(log, attempt.line(outcome_of(error), error))
                    raise
                try:
                    _append(log, attempt.line("ok", result=result))
                except OSError as error:
                    raise NetconError(
                        f"{describe.format(**bound.arguments)} was done, but its outcome could not be written to "
                        f"the audit log {log_path()}: {error.strerror or error}.",
                        target=str(log_path()),
                    ) from error
                return result

        run.operation = operation  # type: ignore[attr-defined]
        REGISTRY[operation] = run
        return run  # type: ignore[return-value]

    return wrap


def _entry(record: dict[str, Any]) -> AuditEntry:
    arguments = tuple(
        (str(k), v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
        for k, v in (record.get("arguments") or {}).items()
    )
    return AuditEntry(
        time=str(record.get("time", "")),
        user=str(record.get("user", "")),
        host=str(record.get("host", "")),
        operation=str(record.get("operation", "")),
        arguments=arguments,
        outcome=str(record.get("outcome", "")),
        error=record.get("error"),
    )


def _attempts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per attempt, in the order they started: the outcome line replaces its "started" line; a
    "started" line without one (netcon died during the change) stays, outcome unknown."""
    merged: dict[str, dict[str, Any]] = {}
    for index, record in enumerate(records):
        key = str(record.get("id") or f"line {index}")
        merged[key] = record if key not in merged else {**record, "time": merged[key].get("time", "")}
    return list(merged.values())


def last_entries(count: int = 50, path: Path | None = None) -> tuple[AuditEntry, ...]:
    """The newest ``count`` entries, oldest first; an absent log is empty, unreadable lines are skipped."""
    path = path or log_path()
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = position = f.tell()
            data = b""
            while position > 0 and data.count(b"\n") <= 2 * count:  # two lines per attempt
                position = max(0, position - 65536)
                f.seek(position)
                data = f.read(end - position)
    except FileNotFoundError:
        return ()
    except OSError as error:
        raise NetconError(f"Cannot read the audit log {path}: {error.strerror or error}.") from error
    lines = data.splitlines()
    if position > 0:
        lines = lines[1:]  # the first line may be cut
    records = []
    for raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return tuple(_entry(record) for record in _attempts(records)[-count:])
