"""The Trace pane (0) in the real console on lab host h1 (real Docker, kernel, probe, capture): ``t`` on a
container picks a target and draws the healthy path; ``t`` on a failed cell of a ping matrix traces the
pair and highlights the failing hop with its rule and fix; ``t`` on a probe of the Ping pane traces it."""

from __future__ import annotations

import time

import pytest
from textual.widgets import DataTable, Input, Static

from netcon.core.context import HostContext
from netcon.tui.app import NetconApp
from netcon.tui.panes.trace import TracePane
from netcon.tui.ping_screens import MatrixScreen, TargetPicker
from tests.tui.screen_text import screen_text

pytestmark = pytest.mark.lab


async def wait_until(pilot, condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}; the screen shows:\n{screen_text(pilot.app)}"
        await pilot.pause(0.1)


def h1_console(trace_lab) -> NetconApp:
    h1 = trace_lab.host("h1")
    return NetconApp(HostContext(docker_host=h1.docker_host, netns=h1.netns_path), watch=False)


def done(app: NetconApp) -> bool:
    pane = app.query_one("#trace", TracePane)
    return pane.result is not None and not pane.running


async def test_t_on_a_container_traces_to_the_picked_target(trace_lab):
    app = h1_console(trace_lab)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: app.state.snapshot is not None, "the snapshot")
        await pilot.press("2")
        await pilot.pause()
        table = app.query_one("#containers DataTable", DataTable)
        probe = app.state.snapshot.container("h1-probe")
        table.move_cursor(row=table.get_row_index(probe.id))
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TargetPicker), "the target picker")
        assert "Trace from h1-probe" in screen_text(app)
        app.screen.query_one(Input).value = "h2-probe"
        await pilot.press("enter")
        await wait_until(pilot, lambda: done(app), "the trace")
        pane = app.query_one("#trace", TracePane)
        assert app.current == "trace" and pane.result.reply_seen
        text = screen_text(app)
        assert "reached, reply seen" in text and "flannel.1" in text
        assert pane.query_one("#hops", DataTable).row_count == len(pane.result.hops)


async def test_t_on_a_failed_matrix_cell_highlights_the_failing_hop(trace_lab):
    rule = ("INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP")
    trace_lab.in_container("h1", "app2", "iptables", "-I", *rule)
    app = h1_console(trace_lab)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: app.state.snapshot is not None, "the snapshot")
            app.push_screen(MatrixScreen("app"))
            await wait_until(pilot, lambda: app.screen.matrix is not None, "the matrix")
            table = app.screen.query_one(DataTable)
            table.move_cursor(row=table.get_row_index("app1"), column=table.get_column_index("app2"))
            await pilot.pause()
            await pilot.press("t")
            await wait_until(pilot, lambda: done(app), "the trace")
            pane = app.query_one("#trace", TracePane)
            failed = pane.result.failed_hop
            assert (failed.netns, failed.stage) == ("container app2", "firewall")
            hops = pane.query_one("#hops", DataTable)
            assert pane.result.hops[hops.cursor_row].stage == "firewall"  # the cursor sits on the failing hop
            detail = str(pane.query_one("#detail", Static).render())
            assert "dies here" in detail and "-A INPUT -p icmp -m icmp --icmp-type 8 -j DROP" in detail
            assert "fix: nsenter --net=/proc/" in detail and "iptables -D INPUT" in detail
    finally:
        trace_lab.in_container("h1", "app2", "iptables", "-D", *rule)


async def test_t_on_a_probe_traces_it(trace_lab):
    app = h1_console(trace_lab)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: app.state.snapshot is not None, "the snapshot")
        app.pane("ping").start_probe("app1", "app2")
        await pilot.press("6")
        await wait_until(pilot, lambda: app.pane("ping").table.row_count == 1, "the probe")
        await pilot.press("t")
        await wait_until(pilot, lambda: done(app), "the trace")
        result = app.query_one("#trace", TracePane).result
        assert (result.src, result.reply_seen) == ("app1", True)
        assert {h.host for h in result.hops} == {"h1"}  # one bridge: the frame is switched, never routed
        assert "bridge" in {h.stage for h in result.hops}
