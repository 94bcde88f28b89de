"""``python -m netcon.tui.screenshots``: the README's pictures, one SVG per pane at 120x40 in ``screenshots/``,
taken of the real console on a lab host.

It opens what ``netcon lab console HOST`` opens — ``NetconApp`` with the real snapshot collector and watcher,
the Flannel pane on the lab's etcd, the real doctor — headless through Textual's ``run_test``, starts one real
probe (app1 -> app2 on the seed's network ``app``), and, pane by pane, waits until the pane shows the lab's data
(snapshot applied, leases listed, sockets read, probe replies in, doctor report in) before exporting it with
Textual's ``export_screenshot``. A pane that never shows its data, or an error the console reports, stops the
run with a message instead of a picture of an empty or failing pane.

``--build`` builds a lab for the pictures and removes it afterwards; without it the lab ``--prefix`` must
exist (``netcon lab up`` builds one).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.notifications import SeverityLevel
from textual.pilot import Pilot

from netcon.core.aioloop import stop_loop
from netcon.core.context import HostContext
from netcon.core.errors import NetconError, NotFound, UsageError
from netcon.core.hosts import inventory
from netcon.core.hosts.base import EtcdAccess, Host
from netcon.core.lab import lab
from netcon.core.lab import state as lab_state
from netcon.tui.app import NetconApp
from netcon.tui.flannel_feed import EtcdSettings
from netcon.tui.panes import SLOTS, Slot

SIZE = (120, 40)
PROBE = ("app1", "app2")  # source container and target of the Ping pane's probe, both in the seed's scene
PROBE_REPLIES = 4  # replies the Ping pane waits for, so its sparkline has bars
TIMEOUT = 30.0  # seconds a pane may take to show its data


class NotShown(NetconError):
    """A pane did not show the lab's data in time, or the console reported an error."""


class ScreenshotApp(NetconApp):
    """The console unchanged, except that it keeps the error notifications (a headless run draws no toasts), so
    that no picture is taken of a console that reported a failure."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.errors: list[str] = []

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        if severity == "error":
            self.errors.append(message)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


def lab_console(prefix: str, host_name: str) -> tuple[HostContext, EtcdSettings]:
    """The host context and etcd settings ``netcon lab console HOST`` opens the console with."""
    state = lab_state.load(prefix)
    if state is None:
        raise NotFound(f"No lab {prefix} here: build one with netcon lab up --prefix {prefix}, or pass --build.")
    host = state.host(host_name)
    if host is None:
        names = ", ".join(h.name for h in state.hosts)
        raise UsageError(f"Lab {prefix} has no host {host_name} (hosts: {names}).")
    ctx = HostContext.from_options(docker_host=host.docker_host, netns=host.netns_path)
    return ctx, EtcdSettings(state.etcd_options(), state.flannel_prefix)


def other_hosts(prefix: str, host_name: str) -> tuple[list[Host], EtcdAccess | None]:
    """The lab's other hosts over SSH, as ``netcon lab console HOST --cluster`` shows them in its Cluster pane
    (none when the lab has no sshd: the pane then shows HOST alone), and where their leases are."""
    state = lab_state.require(prefix)
    if not state.ssh:
        return [], None
    entries, etcd = inventory.lab_entries(prefix, over_ssh=True)
    return [inventory.open_host(e, read_only=False) for e in entries if e.name != host_name], etcd


# What each pane waits for before its picture: (what, done(app)). Every pane first waits for the latest
# snapshot to be applied to it.
Wait = tuple[str, Callable[[NetconApp], bool]]
WAITS: dict[str, Wait] = {
    "veths": ("two counter reads for the RX/TX rates", lambda app: bool(app.pane("veths").rates.rates)),
    "flannel": (
        "the leases, this host's among them, and the kernel's flannel entries",
        lambda app: app.pane("flannel").mine is not None and app.pane("flannel").kernel is not None,
    ),
    "ping": (
        f"{PROBE_REPLIES} replies to the probe {PROBE[0]} -> {PROBE[1]}",
        lambda app: any(t.summary.received >= PROBE_REPLIES for t in app.pane("ping").tracked.values()),
    ),
    "ports": ("the sockets", lambda app: app.pane("ports").view is not None),
    "capture": (
        f"{PROBE_REPLIES} echoes of the probe captured in {PROBE[0]}'s namespace",
        lambda app: (
            sum("ICMP echo" in str(s) for s in app.pane("capture").packets.get_column("summary")) >= PROBE_REPLIES
        ),
    ),
    "trace": (
        f"the trace {PROBE[0]} -> {PROBE[1]}",
        lambda app: app.pane("trace").result is not None and not app.pane("trace").running,
    ),
    "cluster": (
        "every host's row with the doctor's count",
        lambda app: all(f.row.reachable and f.row.errors is not None for f in app.cluster.feeds.values()),
    ),
    "doctor": (
        "the doctor's report",
        lambda app: app.pane("doctor").report is not None and not app.pane("doctor").running,
    ),
}


def waiting_for(app: NetconApp, pane_id: str) -> str | None:
    """What ``pane_id`` still waits for, or None when it shows the lab's data."""
    if app.state.snapshot is None or pane_id in app.behind:
        return "the host's snapshot"
    what, done = WAITS.get(pane_id, ("", lambda app: True))
    return None if done(app) else what


async def wait_until_shown(pilot: Pilot, slot: Slot, timeout: float) -> None:
    app = pilot.app
    assert isinstance(app, ScreenshotApp)
    deadline = time.monotonic() + timeout
    while True:
        if app.errors:
            raise NotShown(f"The console reported an error: {app.errors[0]}")
        what = waiting_for(app, slot.id)
        if what is None:
            break
        if time.monotonic() > deadline:
            raise NotShown(f"The {slot.title} pane did not show {what} within {timeout:g} s.")
        await pilot.pause(0.1)
    pane = app.pane(slot.id)
    endless = ("flannel", "counters", "capture")  # etcd follower, counter reader, a capture: until stopped
    running = [w for w in app.workers if w.node is pane and w.group not in endless and w.is_running]
    if running:  # an empty list would mean "every worker" to Textual
        await app.workers.wait_for_complete(running)
    await pilot.pause()  # let the last message's repaint land


async def shoot(app: ScreenshotApp, timeout: float = TIMEOUT) -> dict[str, str]:
    """Every pane of ``app``, in order: file name (``<digit>-<pane>.svg``, ``cluster.svg``) -> SVG."""
    pictures = {}
    async with app.run_test(size=SIZE) as pilot:
        await wait_until_shown(pilot, SLOTS[0], timeout)
        app.pane("ping").start_probe(*PROBE)  # what the Containers pane's `p` starts; it runs while we go on
        app.pane("capture").start([f"container:{PROBE[0]}"])  # what `c` on app1 starts: the probe's packets
        app.pane("trace").start(*PROBE)  # what `t` on app1 with app2 picked starts
        for slot in SLOTS:
            await pilot.press(slot.key)
            await wait_until_shown(pilot, slot, timeout)
            pictures[slot.picture] = app.export_screenshot(title=f"netcon — {slot.title}")
    return pictures


def screenshots(prefix: str, host: str, out: Path, timeout: float = TIMEOUT) -> list[Path]:
    """The pictures of lab ``prefix``'s host ``host``, written into ``out`` once all were taken (a failed run
    leaves the old ones as they were); the paths written."""
    ctx, etcd = lab_console(prefix, host)
    hosts, leases_etcd = other_hosts(prefix, host)
    app = ScreenshotApp(ctx, etcd=etcd, name=host, hosts=hosts, cluster_etcd=leases_etcd)
    try:
        pictures = asyncio.run(shoot(app, timeout))
    finally:
        stop_loop()  # the SSH connections' loop thread
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, svg in pictures.items():
        (out / name).write_text(svg)
        written.append(out / name)
    return written


def built_lab_screenshots(prefix: str, host: str, out: Path, timeout: float = TIMEOUT) -> list[Path]:
    """Build lab ``prefix`` (which must not exist: it is removed afterwards), take the pictures, remove it."""
    if lab_state.load(prefix) is not None:
        raise UsageError(
            f"Lab {prefix} exists already and --build would remove it afterwards: drop --build to take the "
            f"pictures on it, or give --build another --prefix."
        )
    ctx = HostContext.from_options()
    try:
        lab.up(ctx, prefix, progress=progress, ssh=True)  # an sshd per host: the Cluster pane reads h2 over SSH
        return screenshots(prefix, host, out, timeout)
    finally:
        lab.down(ctx, prefix, progress=progress)


def progress(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m netcon.tui.screenshots",
        description="Write an SVG of every console pane at 120x40, taken of the real console on a lab host "
        "(the seed's scene on h1). Without --build the lab must exist: netcon lab up builds it.",
    )
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="directory (default screenshots/)")
    parser.add_argument("--prefix", default=lab.DEFAULT_PREFIX, help=f"the lab (default {lab.DEFAULT_PREFIX})")
    parser.add_argument("--host", default="h1", help="the lab host whose console is pictured (default h1)")
    parser.add_argument("--build", action="store_true", help="build the lab first and remove it afterwards")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help=f"seconds per pane (default {TIMEOUT:g})")
    args = parser.parse_args(argv)
    take = built_lab_screenshots if args.build else screenshots
    try:
        if not args.timeout > 0:
            raise UsageError(f"--timeout {args.timeout:g} is not a number of seconds above 0.")
        written = take(args.prefix, args.host, args.out, args.timeout)
    except NetconError as error:
        print(f"netcon screenshots: {error}", file=sys.stderr)
        return error.exit_code
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
