"""End to end: the console with the real collector and watcher on the real Docker engine. A network and a
container made through the Docker API show up in the Networks and Veths panes without any refresh key."""

from __future__ import annotations

import asyncio
import time

from textual.widgets import DataTable

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
