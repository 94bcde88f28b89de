"""Starting the real ``netcon serve --web`` for the tests and finding its sessions' console processes (each
carries ``NETCON_WEB_SESSION=<server pid>`` in its environment)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from tests.exporter.procs import free_port, stop, wait_line


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    line: str  # what it printed: the URL (with the token when one was generated)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def sessions_of(server_pid: int) -> list[int]:
    """Pids of live processes started by that server's sessions."""
    marker = f"NETCON_WEB_SESSION={server_pid}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry}/environ", "rb") as f:
            if marker in f.read().split(b"\0"):
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    if stat.read().rsplit(b")", 1)[-1].split()[0] != b"Z":
                        found.append(int(entry))
    return found


def wait_no_sessions(server_pid: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := sessions_of(server_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def kill_sessions(server_pid: int) -> None:
    """Whatever a failed test left: it must not keep running."""
    for pid in sessions_of(server_pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def serve(*extra: str, prefix: tuple[str, ...] = (), listen: str | None = None) -> Iterator[Served]:
    port = free_port()
    argv = [*prefix, sys.executable, "-m", "netcon.cli", "serve", "--web", "--listen", listen or f"127.0.0.1:{port}"]
    proc = subprocess.Popen([*argv, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = wait_line(proc)
        yield Served(proc, int(line.rsplit(":", 1)[1].split("/")[0]), line)
    finally:
        stop(proc)
        kill_sessions(proc.pid)
