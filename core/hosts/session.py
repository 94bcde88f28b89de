"""One running ``netcon serve --stdio`` on another machine, over one SSH connection: the greeting, the
request/answer bookkeeping and the reader of its lines. Runs on the shared asyncio loop (``core.aioloop``);
``RemoteHost`` is its synchronous face."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

import asyncssh

from netcon.core.hosts import protocol, ssh
from netcon.core.hosts.base import HostUnreachable
from netcon.core.hosts.target import SshTarget

GREETING_S = 20.0  # the remote netcon's start (Python and its imports, on a loaded machine)
NOISE_LINES = 200  # lines a login script may print before netcon's greeting, skipped
INSTALL = (
    "install netcon {version} there (scripts/setup in a netcon checkout puts it in .venv/bin/netcon) and, when it is "
    'not on the PATH of a non-interactive login, name it with netcon = "/path/to/netcon" for that host in '
    "~/.config/netcon/hosts.toml"
)

EventHandler = Callable[[Any], None]


class Session:
    """Requests go out with ``send``; answers complete the futures in ``pending``; stream events go to the
    handlers in ``streams``. ``closed`` is set, with ``reason``, when the connection or the remote ends."""

    def __init__(self, target: SshTarget, conn: asyncssh.SSHClientConnection, proc: Any, hello: dict[str, Any]):
        self.target, self.conn, self.proc, self.hello = target, conn, proc, hello
        self.pending: dict[int, concurrent.futures.Future[Any]] = {}
        self.streams: dict[int, EventHandler] = {}
        self.lock = threading.Lock()
        self.closed = asyncio.Event()
        self.reason = ""
        self.reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.reader = asyncio.get_running_loop().create_task(self._read())

    def send(self, data: bytes) -> None:
        """On the loop: write one request line (a closed channel fails its future through ``_end``)."""
        if self.closed.is_set():
            return
        try:
            self.proc.stdin.write(data)
        except (asyncssh.Error, OSError, BrokenPipeError) as error:
            self._end(f"the connection broke while sending ({error})")

    async def _read(self) -> None:
        try:
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    status = self.proc.exit_status
                    self._end("the remote netcon ended" + (f" (exit status {status})" if status is not None else ""))
                    return
                self._deliver(raw)
        except asyncio.CancelledError:
            self._end("closed")
            raise
        except (asyncssh.Error, OSError) as error:
            self._end(f"the connection was lost ({getattr(error, 'reason', None) or error})")

    def _deliver(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise ValueError(message)
            ident = message["id"]
            if ident is not None and not isinstance(ident, int):
                raise ValueError(ident)
        except (ValueError, KeyError):
            self._end(f"it sent a line that is not netcon's protocol: {_shown(raw)}")
            self.conn.close()
            return
        if ident is None:
            return  # the server's word on a request it could not read: every request of ours has an id
        with self.lock:
            if "event" in message:
                handler = self.streams.get(ident)
                future = None
            else:
                handler = None
                future = self.pending.pop(ident, None) if "end" not in message else None
                if "end" in message:
                    self.streams.pop(ident, None)
        if handler is not None:
            handler(message["event"])
        elif future is not None and not future.done():
            future.set_result(message)

    def _end(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.reason = reason
        self.closed.set()
        with self.lock:
            pending, self.pending = self.pending, {}
            self.streams.clear()
        lost = HostUnreachable(f"{self.target}: {reason}.")
        for future in pending.values():
            if not future.done():
                future.set_exception(lost)

    def close(self) -> None:
        """On the loop: end the session (the remote netcon sees its stdin close and exits)."""
        self._end("closed")
        if self.reader is not None:
            self.reader.cancel()
        self.conn.close()


async def open_session(target: SshTarget, settings: ssh.SshSettings, argv: Sequence[str], version: str) -> Session:
    """Log in, start the remote netcon, read its greeting; ``HostUnreachable`` with the reason otherwise."""
    conn = await ssh.connect(target, settings)
    try:
        proc = await conn.create_process(ssh.command_line(argv), encoding=None)
        hello = await asyncio.wait_for(_greeting(target, proc, argv[0], version), GREETING_S)
    except TimeoutError:
        conn.close()
        raise HostUnreachable(f"{target}: the remote netcon did not greet within {GREETING_S:g} s.") from None
    except BaseException:
        conn.close()
        raise
    session = Session(target, conn, proc, hello)
    session.start()
    return session


async def _greeting(target: SshTarget, proc: Any, netcon: str, version: str) -> dict[str, Any]:
    """Skip what a login script prints, up to the greeting; refuse no netcon, an old one, or another protocol."""
    first_noise: bytes | None = None
    for _ in range(NOISE_LINES):
        raw = await proc.stdout.readline()
        if not raw:
            break
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("netcon") == protocol.HELLO:
            if message.get("protocol") != protocol.PROTOCOL:
                raise HostUnreachable(
                    f"{target} runs netcon {message.get('version')} speaking protocol {message.get('protocol')}, "
                    f"this one speaks {protocol.PROTOCOL}: " + INSTALL.format(version=version) + "."
                )
            return message
        first_noise = first_noise or raw
    else:
        raise HostUnreachable(
            f"{target} printed {NOISE_LINES} lines that are not netcon's greeting (first: {_shown(first_noise)}): "
            "a login script writing to stdout, or not netcon."
        )
    await proc.wait_closed()
    status = proc.exit_status
    errors = (await proc.stderr.read()).decode(errors="replace").strip().splitlines()
    said = errors[-1] if errors else ""
    if status == 127:
        raise HostUnreachable(
            f"netcon is not installed on {target} (the command {netcon} was not found there): "
            + INSTALL.format(version=version)
            + "."
        )
    if status == 2 and ("stdio" in said or "invalid choice" in said or "serve" in said):
        raise HostUnreachable(
            f"The netcon on {target} has no serve --stdio (an older netcon): " + INSTALL.format(version=version) + "."
        )
    noise = f" after printing {_shown(first_noise)}" if first_noise else ""
    raise HostUnreachable(
        f"{target}: the remote netcon ended before greeting (exit status {status}){noise}"
        + (f": {said[:200]}" if said else "")
        + "."
    )


def _shown(raw: bytes | None) -> str:
    text = repr((raw or b"").decode(errors="replace").rstrip("\n"))
    return text if len(text) <= 60 else text[:59] + "…"
