"""``q`` quits at once, on every pane, whatever etcd is doing: the console runs as a user runs it (the CLI's
``main`` in a real terminal, the real Docker engine, kernel and etcd), each pane is shown and its workers
left running, and the time from the ``q`` keystroke to the process's exit must stay under 0.3 s, with no
thread of netcon's still alive when ``main`` returned (stopped, not abandoned to the interpreter's exit).

Only the quit is timed, not start-up: the test waits until the header says "live" (first snapshot on screen,
event sources connected) and the pane has been shown for a while before it presses ``q``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import subprocess
import sys
import time
import uuid

import pytest

from netcon.core.context import HostContext
from netcon.core.etcd import EtcdOptions, open_client
from netcon.core.flannel.registry import FlannelStore, set_config
from netcon.tui.panes import SLOTS
from tests.fixtures.etcd import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUIT_LIMIT_S = 0.3
SHOWN_S = 1.5  # how long a pane is shown before q: its workers (first reads, the doctor's run) are under way
# Threads of libraries that live as long as their process, whoever started them: gRPC's completion-queue
# poller (started by the first etcd v3 channel) has no way to be stopped.
FOREIGN_THREADS = ("_poll_wrapper",)


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    out, deadline = b"", time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        out += drain(fd, 0.05)
    return out


def drain(fd: int, seconds: float) -> bytes:
    out = b""
    if select.select([fd], [], [], seconds)[0]:
        with contextlib.suppress(OSError):
            out = os.read(fd, 1 << 16)
    return out


@pytest.fixture(scope="module")
def live_etcd(etcd_endpoint):
    """A flannel network under a unique prefix of the test etcd, so the Flannel pane lists and watches."""
    store = FlannelStore(open_client(EtcdOptions(endpoints=(etcd_endpoint,), api="3")), f"/ncq{uuid.uuid4().hex[:8]}/n")
    try:
        set_config(HostContext(), store, '{"Network": "10.78.0.0/16", "Backend": {"Type": "vxlan"}}')
        yield ["--etcd-endpoints", etcd_endpoint, "--etcd-prefix", store.prefix]
    finally:
        for kv in store.client.list_prefix(store.prefix).items:
            store.client.delete(kv.key)
        store.close()


def etcd_args(state: str, request) -> list[str]:
    if state == "none":  # no flag, no etcdctl variable: the default endpoint is tried quietly
        return []
    if state == "unreachable":  # a loopback port nothing listens on
        return ["--etcd-endpoints", f"http://127.0.0.1:{free_port()}"]
    return request.getfixturevalue("live_etcd")


def quit_console(args: list[str], digit: str, tmp_path) -> tuple[float, dict]:
    """(seconds from q to the process's exit, what the child reported when ``main`` returned)."""
    report = tmp_path / f"quit-{digit}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env.update(TERM="xterm-256color", COLUMNS="160", LINES="50", NETCON_QUIT_REPORT=str(report))
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tui.quit_child", *args],
        cwd=ROOT,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    try:
        screen = read_until(controller, b"live", 30)
        assert b"live" in screen, f"the console did not come up:\n{screen[-2000:]!r}"
        os.write(controller, digit.encode())
        end = time.monotonic() + SHOWN_S
        while time.monotonic() < end:
            drain(controller, 0.05)
        pressed = time.monotonic()
        os.write(controller, b"q")
        while proc.poll() is None:
            drain(controller, 0.005)
            assert time.monotonic() - pressed < 10, "q did not quit within 10 s"
        quit_s = time.monotonic() - pressed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
    assert proc.returncode == 0
    return quit_s, json.loads(report.read_text())


@pytest.mark.parametrize("state", ["none", "unreachable", "live"])
@pytest.mark.parametrize("slot", SLOTS, ids=lambda s: f"{s.digit}-{s.id}")
def test_q_quits_at_once_and_stops_every_thread(slot, state, request, tmp_path):
    quit_s, report = quit_console(etcd_args(state, request), slot.digit, tmp_path)
    left = [name for name in report["alive"] if not any(f in name for f in FOREIGN_THREADS)]
    assert left == [], f"threads still alive after the console returned: {left}"
    assert quit_s < QUIT_LIMIT_S, f"q took {quit_s:.3f} s on {slot.title} (etcd {state})"
