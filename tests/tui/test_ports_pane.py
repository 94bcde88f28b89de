"""The Ports pane against the real kernel and Docker engine: a container's httpd on a free port appears with
its container, ``/:<port>`` narrows the table to it, Enter shows its ancestry through containerd-shim. Snapshot
tests use the fixture ports of the scene (tests/fixtures/ports_scene.py, injected by ``make_app``)."""

from __future__ import annotations

import time

import pytest
from textual.widgets import DataTable

from netcon.core.context import HostContext
from netcon.tui.app import NetconApp
from netcon.tui.panes.ports import PortsPane, ProcessScreen
from tests.fixtures.etcd import free_port
from tests.tui.conftest import make_app
from tests.tui.screen_text import screen_text


async def until(pilot, predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout} s:\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)


def endpoints(app) -> list[str]:
    table = app.query_one(PortsPane).table
    return [str(table.get_row(row.key)[1]) for row in table.ordered_rows]


async def test_a_container_port_filter_and_ancestry(dobj):
    port = free_port()
    web = dobj.container("web", command=("httpd", "-f", "-p", str(port)))
    app = NetconApp(HostContext(), watch=False)  # the real collectors: Docker, netlink, /proc
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("7")
        await until(pilot, lambda: f"0.0.0.0:{port}" in endpoints(app) or f"[::]:{port}" in endpoints(app))
        assert web.name in screen_text(app)
        await pilot.press("slash", *f":{port}", "enter")
        await until(pilot, lambda: all(e.endswith(f":{port}") for e in endpoints(app)))
        text = screen_text(app)
        row = next(line for line in text.splitlines() if f":{port}" in line and "httpd" in line)
        assert web.name in row
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ProcessScreen) and "containerd-shim" in screen_text(app))
        ancestry = next(line for line in screen_text(app).splitlines() if line.strip().startswith("Ancestry"))
        assert ancestry.index("containerd-shim") < ancestry.index("httpd")
        assert f"{web.name} (found by" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one(PortsPane).table.row_count >= 1


async def test_fixture_ports_conflicts_and_discarded_lines():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("7")
        await until(pilot, lambda: app.query_one(PortsPane).table.row_count == 7)
        text = screen_text(app)
        assert "CONFLICT tcp port 8080: app1 (listening); old-job (container is exited)" in text
        assert "DISCARDED nginx runs with --network host" in text
        await pilot.press("slash", *":80", "enter")
        await pilot.pause()
        assert endpoints(app) == ["0.0.0.0:80", "0.0.0.0:80"]  # not 8080
        await pilot.press("escape", "slash", *"app2", "enter")
        await pilot.pause()
        assert endpoints(app) == ["0.0.0.0:5432"]


async def _ports_shown(pilot) -> None:
    await pilot.press("7")
    await until(pilot, lambda: pilot.app.query_one(PortsPane).table.row_count == 7)
    await pilot.pause()


async def _process_shown(pilot) -> None:
    await _ports_shown(pilot)
    await pilot.press("down", "down", "enter")  # nginx on :80
    await until(
        pilot,
        lambda: isinstance(pilot.app.screen, ProcessScreen) and pilot.app.screen.query_one(DataTable).row_count == 4,
    )


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=_ports_shown)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_process_snapshot(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=_process_shown)


async def test_d_shows_and_hides_dockers_embedded_dns(dobj):
    net = dobj.network("dnspane")
    box = dobj.container("dnspane", network=net.name)
    app = NetconApp(HostContext(), watch=False)  # the real collectors
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("7")
        pane = app.query_one(PortsPane)
        await until(pilot, lambda: pane.view is not None and any(s.container_id == box.id for s in pane.view.sockets))
        mine = [s for s in pane.view.sockets if s.container_id == box.id and s.embedded_dns]
        assert mine and not [e for e in endpoints(app) if e.startswith("127.0.0.11:")]
        assert "Docker's embedded DNS (127.0.0.11) hidden: d shows them" in screen_text(app)
        await pilot.press("d")
        await until(pilot, lambda: {f"127.0.0.11:{s.port}" for s in mine} <= set(endpoints(app)))
        await pilot.press("d")
        await until(pilot, lambda: not [e for e in endpoints(app) if e.startswith("127.0.0.11:")])
