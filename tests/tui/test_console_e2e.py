"""End to end: the console with the real collector and watcher on the real Docker engine. A network and a
container made through the Docker API show up in the Networks and Veths panes without any refresh key."""

from __future__ import annotations

import asyncio
import re
import time

from textual.widgets import DataTable

from netcon.core.context import HostContext
from netcon.core.snapshot import SnapshotCollector
from netcon.tui.app import NetconApp
from tests.tui.screen_text import screen_text


async def wait_until(pilot, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out; the screen shows:\n{screen_text(pilot.app)}"
        await pilot.pause(0.1)


def column(app: NetconApp, pane: str, key: str) -> list[str]:
    table = app.query_one(f"#{pane} DataTable", DataTable)
    return [str(v) for v in table.get_column(key)]


async def test_new_network_and_container_appear_without_a_key_press(ctx, dobj):
    app = NetconApp(ctx)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_until(pilot, lambda: app.state.snapshot is not None)
        net = await asyncio.to_thread(dobj.network, "e2e")
        await wait_until(pilot, lambda: net.name in column(app, "networks", "name"))
        await pilot.press("4")  # navigation only; no refresh key from here on
        container = await asyncio.to_thread(dobj.container, "web", network=net.name)
        await wait_until(pilot, lambda: container.name in column(app, "veths", "container"))
        row = next(
            k
            for k in app.query_one("#veths DataTable", DataTable).rows
            if app.query_one("#veths DataTable", DataTable).get_cell(k, "container") == container.name
        )
        assert app.query_one("#veths DataTable", DataTable).get_cell(row, "peer").startswith("eth0@if")
        await asyncio.to_thread(container.remove, force=True)
        await wait_until(pilot, lambda: container.name not in column(app, "veths", "container"))


class CountingCollector(SnapshotCollector):
    """The real collector, counting its reads."""

    calls = 0

    def collect(self):
        self.calls += 1
        return super().collect()


async def test_veth_rates_come_from_the_counters_not_from_snapshots(ctx, dobj):
    net = dobj.network("rates")
    net.reload()
    gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
    pinger = dobj.container("pinger", network=net.name, command=("ping", "-i", "0.2", "-s", "1000", gateway))
    collector = CountingCollector(ctx)
    app = NetconApp(ctx, collector, watch=False)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: pinger.name in column(app, "veths", "container"))
        reads = collector.calls
        table = app.query_one("#veths DataTable", DataTable)
        row = next(k for k in table.rows if table.get_cell(k, "container") == pinger.name)
        await wait_until(pilot, lambda: str(table.get_cell(row, "rx")).endswith("KB/s"))
        await pilot.pause(2.5)  # the rates keep ticking while the pane is visible...
        assert 4.0 <= float(str(table.get_cell(row, "rx")).split()[0]) <= 7.0  # 5 echoes of ~1 KB a second
        assert str(table.get_cell(row, "tx")).endswith("KB/s")  # ...and the replies
        assert collector.calls == reads  # ...without reading the host again
        await pilot.press("1")
        await pilot.pause(1.5)
        assert not [w for w in app.workers if w.group == "counters" and w.is_running]  # stopped with the pane


def header(app: NetconApp) -> str:
    return screen_text(app).splitlines()[0]


async def test_header_says_live_while_the_event_sources_are_connected(ctx, tmp_path):
    app = NetconApp(ctx)  # the real watcher: Docker's event stream and the netlink monitor
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: "live" in header(app))
        await pilot.pause(2.2)
        assert "live" in header(app) and " old" not in header(app)  # no age that grows while nothing changes
    gone = HostContext(docker_host=f"unix://{tmp_path}/no-docker.sock")  # nothing answers there
    app = NetconApp(gone)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: app.state.snapshot is not None and "Docker unreachable" in screen_text(app))
        await wait_until(pilot, lambda: re.search(r"data \d+s old", header(app)) is not None)
        assert "live" not in header(app)


async def test_tables_sort_names_naturally(ctx, dobj):
    net = dobj.network("nat")
    for i in (10, 2, 1):
        dobj.container(f"c{i}", network=net.name)
    app = NetconApp(ctx, watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("2")
        await wait_until(pilot, lambda: dobj.name("c10") in column(app, "containers", "name"))
        table = app.query_one("#containers DataTable", DataTable)
        shown = [str(table.get_row(row.key)[0]) for row in table.ordered_rows]
        assert [n for n in shown if n.startswith(dobj.prefix)] == [dobj.name("c1"), dobj.name("c2"), dobj.name("c10")]
