"""``netcon`` with no subcommand opens the console in a real terminal (a pty), in a plain xterm and in the
Linux console's TERM, read-only via the environment, and ``q`` quits with status 0."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    out, deadline = b"", time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


@pytest.mark.parametrize("term", ["xterm-256color", "linux"])
def test_netcon_opens_the_console_and_q_quits(term):
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": term, "NETCON_READ_ONLY": "1", "COLUMNS": "80", "LINES": "24"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "netcon.cli"],
        cwd=ROOT,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    try:
        screen = read_until(controller, b"READ-ONLY", 20)
        assert b"READ-ONLY" in screen
        read_until(controller, b"Networks", 5)
        os.write(controller, b"q")
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
