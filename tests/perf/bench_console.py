"""The console on a host with N containers: time to first full paint, CPU while idle (on the first pane, then
on each pane 1-8 in turn) and while one container a second is started and removed, and peak RSS.

    python -m tests.perf.bench_console --containers N [--seconds 60] [--pane-seconds 12] [--settle 4]

The console runs headless at 160x50 in a child process (real collector, real watcher); this process builds the
fleet, drives the churn and measures the child. Each pane is shown with its digit key, left ``--settle``
seconds for what showing it started, then measured for ``--pane-seconds``. A second child then measures the
quiet-host idle cost (see ``child``), printed on the line before the last. Last line:
``console containers=<n> first_paint_s=<x> idle_cpu_pct=<x> churn_cpu_pct=<x> rss_mb=<x>
idle_cpu_pct_max_pane=<x> worst_pane=<name>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import psutil

from netcon.tui.panes import SLOTS
from netcon.tui.panes.doctor import STARTUP_DELAY
from tests.perf.fleet import LABEL, fleet

SIZE = (160, 50)


async def child(quiet: bool) -> None:
    """Run the console headless; print ``painted`` once the first snapshot is on screen, then for each line read
    from stdin the number of snapshots applied so far (after pressing the key the line names, if any); exit
    on EOF.

    ``quiet``: the event sources are off and only the 30 s fallback refreshes, i.e. what the console costs on a
    host where nothing happens (on a quiet host the sources block in the kernel and cost nothing). This is
    for shared machines, where other people's containers keep waking a real idle window.
    """
    from netcon.core.context import HostContext
    from netcon.core.watch import Watcher
    from netcon.tui.app import NetconApp
    from netcon.tui.messages import HostChanged

    class CountingApp(NetconApp):
        applied = 0
        hold = False  # while set, changes the watcher reports are counted but not read (see idle_per_pane)

        def on_snapshot_ready(self, message) -> None:  # Textual also runs NetconApp's handler (MRO dispatch)
            self.applied += 1

        def on_host_changed(self, message) -> None:
            if self.hold:
                self.applied += 1
                message.prevent_default()  # NetconApp's handler does not run: no refresh

    app = CountingApp(HostContext(), watch=not quiet)
    if quiet:
        app.watcher = Watcher(
            app.ctx, lambda reasons: app.post_message(HostChanged(reasons)), docker=False, netlink=False
        )
    async with app.run_test(size=SIZE) as pilot:
        while app.state.snapshot is None:
            await pilot.pause(0.01)
        await pilot.pause()
        print(f"painted rows={app.query_one('#networks DataTable').row_count}", flush=True)
        while line := await asyncio.to_thread(sys.stdin.readline):
            command = line.strip()
            if command in ("hold", "release"):
                app.hold = command == "hold"
            elif command:
                await pilot.press(command)
            print(f"refreshes={app.applied}", flush=True)


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_child(mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.perf.bench_console", "--child", mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )


def stop_child(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def ask_refreshes(proc: subprocess.Popen, key: str = "") -> int:
    proc.stdin.write(f"{key}\n")
    proc.stdin.flush()
    return int(proc.stdout.readline().split("=")[1])


def churn(client, network: str, seconds: float, prefix: str) -> None:
    """Start one container and remove the previous one, once a second."""
    previous = None
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        tick = time.monotonic()
        c = client.containers.run(
            "netcon/busybox:latest",
            ["sleep", "600"],
            name=f"{prefix}-churn{i}",
            detach=True,
            labels={LABEL: prefix},
            network=network,
        )
        if previous is not None:
            previous.remove(force=True)
        previous, i = c, i + 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    if previous is not None:
        previous.remove(force=True)


def idle_per_pane(proc: subprocess.Popen, watched: psutil.Process, settle: float, seconds: float) -> dict[str, float]:
    """Show each pane with its digit key and measure the console's CPU while it sits there: pane name -> % of
    one core, on a host where nothing changes. On a shared machine other people's containers come and go all
    the time, so the watcher keeps running (its reads count) but the refreshes it asks for are held back and
    only counted ("held" on each line): each would cost a warm snapshot, which the churn figure measures."""
    figures = {}
    ask_refreshes(proc, "hold")
    for slot in SLOTS:
        ask_refreshes(proc, slot.digit)
        time.sleep(settle)
        refreshes, before = ask_refreshes(proc), cpu_seconds(watched)
        time.sleep(seconds)
        figures[slot.title] = pct = (cpu_seconds(watched) - before) / seconds * 100
        print(
            f"idle on {slot.digit} {slot.title}: {pct:.2f}% of one core, {ask_refreshes(proc) - refreshes} held",
            flush=True,
        )
    ask_refreshes(proc, "release")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each CPU window")
    parser.add_argument("--pane-seconds", type=float, default=12.0, help="length of each pane's idle window")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds after showing a pane before measuring")
    parser.add_argument("--child", choices=("watching", "quiet"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child == "quiet"))
        return

    with fleet(args.containers) as (client, _containers, networks):
        prefix = networks[0].name.rsplit("-", 1)[0]
        started = time.monotonic()
        proc = start_child("watching")
        try:
            line = proc.stdout.readline()
            first_paint = time.monotonic() - started
            print(f"first paint after {first_paint:.2f} s ({line.strip()})", flush=True)
            watched = psutil.Process(proc.pid)
            time.sleep(STARTUP_DELAY + 2)  # let the start-up work settle: the watcher's refresh, the first checks
            refreshes = ask_refreshes(proc)
            before = cpu_seconds(watched)
            time.sleep(args.seconds)
            idle = (cpu_seconds(watched) - before) / args.seconds * 100
            idle_refreshes = ask_refreshes(proc) - refreshes
            # On a shared host, other people's containers also wake the console: say how often that happened.
            print(f"idle: {idle:.2f}% of one core over {args.seconds:.0f} s, {idle_refreshes} refreshes", flush=True)
            panes = idle_per_pane(proc, watched, args.settle, args.pane_seconds)
            refreshes = ask_refreshes(proc, "1")
            before, t0 = cpu_seconds(watched), time.monotonic()
            churn(client, networks[0].name, args.seconds, prefix)
            busy = (cpu_seconds(watched) - before) / (time.monotonic() - t0) * 100
            print(f"churn: {busy:.2f}% of one core, {ask_refreshes(proc) - refreshes} refreshes", flush=True)
            rss = peak_rss_mb(proc.pid)
        finally:
            stop_child(proc)
        proc = start_child("quiet")
        try:
            proc.stdout.readline()
            watched = psutil.Process(proc.pid)
            time.sleep(STARTUP_DELAY + 2)
            refreshes, before = ask_refreshes(proc), cpu_seconds(watched)
            time.sleep(args.seconds)
            quiet = (cpu_seconds(watched) - before) / args.seconds * 100
            print(
                f"quiet idle (event sources off, 30 s fallback only): {quiet:.2f}% of one core, "
                f"{ask_refreshes(proc) - refreshes} refreshes",
                flush=True,
            )
        finally:
            stop_child(proc)
    worst = max(panes, key=panes.get)
    print(
        f"console containers={args.containers} first_paint_s={first_paint:.2f} idle_cpu_pct={idle:.2f} "
        f"churn_cpu_pct={busy:.2f} rss_mb={rss:.0f} idle_cpu_pct_max_pane={panes[worst]:.2f} worst_pane={worst}"
    )


if __name__ == "__main__":
    main()
