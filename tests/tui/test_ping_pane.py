"""The Ping pane, ``p`` on a container and ``m`` on a network, against the real Docker engine, kernel and ping
engine (two busybox containers on a test user network), plus render-only snapshot tests of the pane and the
matrix screen from fixture ``ProbeSummary``/``Matrix`` dataclasses (those render fixed data: a live probe's
RTTs differ on every run, so a picture of one could not be compared)."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest
from textual.widgets import DataTable, Input, OptionList, Sparkline

from netcon.core.context import HostContext
from netcon.core.ping.matrix import Matrix
from netcon.tui.app import NetconApp
from netcon.tui.panes.ping import Tracked
from netcon.tui.ping_screens import MatrixScreen, TargetPicker
from netcon.tui.screens import HelpScreen
from tests.fixtures import ping_scene
from tests.tui.conftest import make_app, palette_text, settle
from tests.tui.screen_text import screen_text


async def wait_until(pilot, condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}; the screen shows:\n{screen_text(pilot.app)}"
        await pilot.pause(0.1)


@pytest.fixture
def pair(dobj):
    """Two running busybox containers on one user network (Docker's DNS answers their names there)."""
    net = dobj.network("ping")
    a = dobj.container("a", network=net.name)
    b = dobj.container("b", network=net.name)
    for c in (a, b):
        c.reload()
    return net, a, b


def ip_of(container, network: str) -> str:
    return container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


async def open_picker(pilot, app: NetconApp, container) -> TargetPicker:
    await wait_until(
        pilot, lambda: app.state.snapshot is not None and app.state.snapshot.container(container.id), "the snapshot"
    )
    await pilot.press("2")
    await pilot.pause()
    table = app.query_one("#containers DataTable", DataTable)
    table.move_cursor(row=table.get_row_index(container.id))
    await pilot.press("p")
    await wait_until(pilot, lambda: isinstance(app.screen, TargetPicker), "the target picker")
    return app.screen


def strip(app: NetconApp) -> str:
    """What the strip below the table says about the highlighted probe (the note is its last line, which a
    small terminal may cut)."""
    pane = app.pane("ping")
    return pane.details(next(iter(pane.tracked)))


def probe_cells(app: NetconApp) -> dict[str, str]:
    table = app.query_one("#ping DataTable", DataTable)
    if not table.row_count:
        return {}
    key = next(iter(table.rows))
    return {str(col.value): str(table.get_cell(key, col)) for col in table.columns}


async def test_p_on_a_container_pings_the_picked_one_and_s_stops_it(ctx, pair):
    net, a, b = pair
    app = NetconApp(ctx, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        picker = await open_picker(pilot, app, a)
        options = picker.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        index = next(i for i, label in enumerate(labels) if label.startswith(b.name))
        assert ip_of(b, net.name) in labels[index] and f"on {net.name}" in labels[index]
        options.focus()
        options.highlighted = index
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current == "ping", "the Ping pane")
        await wait_until(pilot, lambda: int(probe_cells(app).get("sent", "0/0").split("/")[0]) >= 3, "3 replies")
        cells = probe_cells(app)
        assert cells["source"] == a.name and cells["target"] == b.name and cells["ip"] == ip_of(b, net.name)
        assert cells["via"] == "listed address" and cells["ttl"] == "64" and cells["loss"] == "0%"
        assert cells["state"] == "running" and float(cells["avg"]) > 0
        spark = app.query_one("#ping Sparkline", Sparkline)
        before = len(spark.data)
        assert before >= 3
        await pilot.press("1")  # the probe keeps running on another pane
        await pilot.pause(1.5)
        await pilot.press("6")
        await wait_until(pilot, lambda: len(spark.data) > before, "the sparkline to fill")
        assert f"{b.name}: {ip_of(b, net.name)} listed address" in screen_text(app)
        assert f"note: {b.name} resolves from container {a.name} to {ip_of(b, net.name)} via 127.0.0.11" in strip(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: probe_cells(app)["state"] == "stopped", "the probe to stop")
        assert app.ping.probes() == ()
        await pilot.press("s")  # a stopped probe is removed from the list
        await wait_until(pilot, lambda: not probe_cells(app), "the row to go")


async def test_read_only_still_pings_a_typed_address(pair):
    net, a, b = pair
    app = NetconApp(HostContext(read_only=True), watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        picker = await open_picker(pilot, app, a)
        picker.query_one(Input).focus()
        await pilot.press(*"10.300")
        assert "is not an IPv4 address" in screen_text(app)  # validated as typed, next to the field
        for _ in "10.300":
            await pilot.press("backspace")
        await pilot.press(*ip_of(b, net.name), "enter")
        await wait_until(pilot, lambda: probe_cells(app).get("ttl") == "64", "a reply")
        assert probe_cells(app)["ip"] == ip_of(b, net.name)
        assert "READ-ONLY" in screen_text(app)
    assert app.ping.probes() == ()  # closed on exit


async def test_the_probe_cap_is_enforced_with_a_message(ctx, pair):
    net, a, b = pair
    app = NetconApp(ctx, watch=False, ping_max_probes=1)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.pane("ping")
        pane.start_probe(a.name, ip_of(b, net.name))
        await wait_until(pilot, lambda: probe_cells(app).get("state") == "running", "the first probe")
        pane.start_probe(b.name, ip_of(a, net.name))
        await wait_until(
            pilot, lambda: any("the cap is 1" in str(n.message) for n in app._notifications), "the cap message"
        )
        assert len(app.ping.probes()) == 1


async def test_p_on_a_none_mode_container_says_why_without_a_picker(collector):
    """Fixture scene (conftest's injected collector): busybox-3 runs with --network none."""
    app = make_app(collector)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        table = app.query_one("#containers DataTable", DataTable)
        table.move_cursor(row=next(i for i in range(table.row_count) if table.get_row_at(i)[0] == "busybox-3"))
        await pilot.press("p")
        await pilot.pause()
        assert not isinstance(app.screen, TargetPicker)
        assert any("network mode none" in str(n.message) for n in app._notifications)


def grid(app: NetconApp) -> dict[tuple[str, str], str]:
    table = app.screen.query_one(DataTable)
    return {
        (str(row.value), str(col.value)): table.get_cell(row, col).plain for row in table.rows for col in table.columns
    }


async def test_m_on_a_network_shows_the_matrix_and_a_dropped_pair_in_red(ctx, pair):
    net, a, b = pair
    app = NetconApp(ctx, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.snapshot is not None, "the snapshot")
        table = app.query_one("#networks DataTable", DataTable)
        table.move_cursor(row=table.get_row_index(net.id))
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MatrixScreen) and app.screen.matrix, "the matrix")
        cells = grid(app)
        assert cells[(a.name, b.name)].endswith("ms/64") and cells[(b.name, a.name)].endswith("ms/64")
        assert cells[(a.name, a.name)] == "—"
        assert "2/2 ordered pairs reachable" in screen_text(app)
        rule = ["INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP"]
        netns = ["nsenter", f"--net=/proc/{b.attrs['State']['Pid']}/ns/net", "iptables"]
        await asyncio.to_thread(subprocess.run, [*netns, "-A", *rule], check=True)
        try:  # b no longer answers echoes; its own echoes to a still get their replies
            first = app.screen.matrix
            await pilot.press("r")
            await wait_until(pilot, lambda: app.screen.matrix is not first, "the second run")
            cells = grid(app)
            assert cells[(a.name, b.name)] == "✗ 0/3" and cells[(b.name, a.name)].endswith("ms/64")
            table = app.screen.query_one(DataTable)
            assert "red" in str(table.get_cell(a.name, b.name).style)
            assert "green" in str(table.get_cell(b.name, a.name).style)
            # the summary line is painted after the table: wait for its frame, then the same assertion
            gone = f"unreachable: {a.name} → {b.name}"
            await wait_until(pilot, lambda: gone in screen_text(app), "the unreachable pair in the summary")
            assert gone in screen_text(app)
        finally:
            await asyncio.to_thread(subprocess.run, [*netns, "-D", *rule], check=True)
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


# render-only snapshot tests from fixture data


@pytest.fixture
def probes() -> list[Tracked]:
    return ping_scene.probes()


@pytest.fixture
def matrix() -> Matrix:
    return ping_scene.matrix()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_ping_pane_snapshot(snap_compare, probes, size):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("6")
        for tracked in probes:
            pilot.app.pane("ping").track(tracked)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_matrix_screen_snapshot(snap_compare, matrix, size):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.app.push_screen(MatrixScreen("app", matrix))
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


async def test_a_listed_container_without_a_shared_network_is_pinged_at_its_address(dobj, pair):
    """Its name does not resolve from the source (Docker's DNS answers only on shared networks): the probe
    goes to the address the row shows, and what the name resolution said stays as a note."""
    _net, a, _b = pair
    other = dobj.network("apart")
    c = dobj.container("c", network=other.name)
    c.reload()
    app = NetconApp(HostContext(), watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        picker = await open_picker(pilot, app, a)
        options = picker.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        index = next(i for i, label in enumerate(labels) if label.startswith(c.name))
        assert "no shared network" in labels[index] and ip_of(c, other.name) in labels[index]
        options.focus()
        options.highlighted = index
        await pilot.press("enter")
        await wait_until(pilot, lambda: probe_cells(app).get("ip") == ip_of(c, other.name), "the probe")
        assert probe_cells(app)["target"] == c.name and probe_cells(app)["via"] == "listed address"
        assert f"note: {c.name} does not resolve from container {a.name}" in strip(app)


async def test_the_picker_keys_are_in_help_and_palette(collector):
    """Fixture scene (conftest's injected collector): the picker's keys come from its declared actions."""
    app = make_app(collector)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await pilot.press("p")  # on app1
        await wait_until(pilot, lambda: isinstance(app.screen, TargetPicker), "the picker")
        assert "To the list" in await palette_text(pilot, "list")
        await pilot.press("down")  # the declared action: from the typed target to the list
        assert isinstance(app.screen.focused, OptionList)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        text = screen_text(app)
        assert "Keys: Containers" in text and "Cancel" in text and "close the picker; nothing is pinged" in text
        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TargetPicker | HelpScreen), "the pane")
        assert app.current == "containers" and not app.ping.probes()
