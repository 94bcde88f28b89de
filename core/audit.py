"""The audit log: one JSON line per attempted change (done, refused, failed or read-only), and its reader.

Mutating core functions are declared with ``@mutation(...)``: that one wrapper refuses in read-only mode,
writes the audit line whatever happens, and registers the function in ``REGISTRY`` so tests and the console
can enumerate every operation that changes the host.
"""

from __future__ import annotations

import dataclasses
import functools
import getpass
import inspect
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from netcon.core.context import HostContext
from netcon.core.errors import DockerRefused, NetconError, ReadOnlyError, UsageError
from netcon.core.model import to_json

F = TypeVar("F", bound=Callable[..., Any])

REGISTRY: dict[str, Callable[..., Any]] = {}


def log_path() -> Path:
    """``$NETCON_AUDIT_LOG``, else ``$XDG_STATE_HOME/netcon/audit.jsonl`` (``~/.local/state`` by default)."""
    explicit = os.environ.get("NETCON_AUDIT_LOG")
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "netcon" / "audit.jsonl"


def current_user() -> str:
    """Who asked: the user behind sudo, else the login name (the process owner when there is no terminal)."""
    sudo = os.environ.get("SUDO_USER")
    if sudo:
        return sudo
    try:
        return os.getlogin()
    except OSError:
        return getpass.getuser()


@dataclass(frozen=True)
class AuditEntry:
    time: str  # ISO 8601, UTC
    user: str
    host: str
    operation: str
    arguments: tuple[tuple[str, str], ...]  # value as given (str) or its compact JSON
    outcome: str  # ok, invalid, refused, failed, read-only
    error: str | None

    @property
    def summary(self) -> str:
        args = " ".join(f"{k}={v}" for k, v in self.arguments if v not in ("null", "[]", "{}", "false", ""))
        tail = f": {self.error}" if self.error else ""
        return f"{self.time} {self.user}@{self.host} {self.operation} {args} -> {self.outcome}{tail}"


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
        return open(path, "a", encoding="utf-8")
    except OSError as error:
        raise NetconError(
            f"Cannot write the audit log {path}: {error.strerror or error}; nothing was changed.", target=str(path)
        ) from error


def _plain(value: Any) -> Any:
    if isinstance(value, HostContext):
        return None
    if (
        value is None
        or isinstance(value, (str, int, float, bool, list, tuple, dict))
        or dataclasses.is_dataclass(value)
    ):
        return to_json(value)
    return str(value)  # e.g. the etcd store an operation used


def _line(operation: str, arguments: dict[str, Any], ctx: HostContext, error: BaseException | None, result: Any) -> str:
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "user": current_user(),
        "host": socket.gethostname(),
        "docker_host": ctx.docker_url,
        "netns": ctx.netns,
        "operation": operation,
        "arguments": arguments,
        "outcome": outcome_of(error),
        "error": str(error) if error is not None else None,
        "result": to_json(result) if dataclasses.is_dataclass(result) else None,
    }
    return json.dumps(record, default=str, separators=(",", ":")) + "\n"


def mutation(operation: str, describe: str) -> Callable[[F], F]:
    """Declare a mutating core function ``fn(ctx, ...)``: read-only refusal, audit line, registry entry.

    ``describe`` is formatted with the call's arguments to name the change in the read-only refusal
    (e.g. "network create {name}"). The log file is opened before anything is done, so an unwritable log
    refuses the change instead of leaving it unrecorded.
    """

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(ctx: HostContext, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(ctx, *args, **kwargs)
            bound.apply_defaults()
            arguments = {k: _plain(v) for k, v in bound.arguments.items() if not isinstance(v, HostContext)}
            log = _open_log()
            with log:
                try:
                    ctx.require_writable(describe.format(**bound.arguments))
                    result = fn(ctx, *args, **kwargs)
                except BaseException as error:
                    log.write(_line(operation, arguments, ctx, error, None))
                    raise
                log.write(_line(operation, arguments, ctx, None, result))
                return result

        run.operation = operation  # type: ignore[attr-defined]
        REGISTRY[operation] = run
        return run  # type: ignore[return-value]

    return wrap


def _entry(record: dict) -> AuditEntry:
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


def last_entries(count: int = 50, path: Path | None = None) -> tuple[AuditEntry, ...]:
    """The newest ``count`` entries, oldest first; an absent log is empty, unreadable lines are skipped."""
    path = path or log_path()
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = position = f.tell()
            data = b""
            while position > 0 and data.count(b"\n") <= count:
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
    entries = []
    for raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            entries.append(_entry(record))
    return tuple(entries[-count:])
