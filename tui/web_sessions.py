"""One console process per browser session, and the guarantee that none outlives its socket.

textual-serve's ``AppService`` starts the app through a shell and, when the socket goes, asks it to quit and
waits for its output to end, for ever. A console that never reads that request stays: a browser that resizes
the terminal right after connecting and closes within a fraction of a second leaves the app redrawing at
~100% of a core and deaf to SIGTERM. ``ConsoleSession`` starts the console without a shell, in a process
group of its own, and when the socket goes asks it to quit, then kills the group after a short grace;
``Sessions`` holds every live one so that stopping the server ends them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from asyncio.subprocess import PIPE, Process
from typing import Any

from textual_serve.app_service import AppService

SESSION_ENV = "NETCON_WEB_SESSION"  # set in each session's console: the pid of the server that started it
QUIT_GRACE_S = 1.0  # a console quits in well under 0.3 s when it is listening; past this it is not


def kill_group(process: Process, sig: int = signal.SIGKILL) -> None:
    """Signal the session's process group (the console and anything it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


class Sessions:
    """The console processes of the live sessions."""

    def __init__(self) -> None:
        self.processes: set[Process] = set()

    def __len__(self) -> int:
        return sum(1 for p in self.processes if p.returncode is None)

    async def end_all(self, grace: float = QUIT_GRACE_S) -> None:
        """SIGTERM every session's group, SIGKILL what is left after ``grace``, reap them all."""
        live = [p for p in self.processes if p.returncode is None]
        for process in live:
            kill_group(process, signal.SIGTERM)
        if live:
            _done, pending = await asyncio.wait([asyncio.create_task(p.wait()) for p in live], timeout=grace)
            for process in live:
                if process.returncode is None:
                    kill_group(process)
            for task in pending:
                await task
        self.processes.clear()


class ConsoleSession(AppService):
    """textual-serve's app service for one socket, starting ``argv`` (no shell) and ending it for sure."""

    def __init__(self, argv: list[str], sessions: Sessions, **kwargs: Any) -> None:
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = argv
        self.sessions = sessions

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        env = self._build_environment(width=width, height=height)
        env[SESSION_ENV] = str(os.getpid())  # which server a console belongs to, for whoever looks at processes
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=PIPE, stdout=PIPE, stderr=PIPE, env=env, start_new_session=True
        )
        self.sessions.processes.add(process)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def stop(self) -> None:
        """Ask the console to quit; if it has not within the grace, kill its group. Returns once reaped."""
        task, process = self._task, self._process
        if task is None or process is None:
            return
        self._task = None
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        if process.returncode is None:
            with contextlib.suppress(Exception):  # its stdin may be closed already: the kill below still works
                await asyncio.wait_for(self.send_meta({"type": "quit"}), QUIT_GRACE_S)
        try:
            await asyncio.wait_for(process.wait(), QUIT_GRACE_S)
        except TimeoutError:
            kill_group(process)
            await process.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # its output ends with the process
        self.sessions.processes.discard(process)
