"""The Doctor pane against the real host (real collector, watcher and doctor: a bridge port veth left down
appears as a veth-down finding without a key press, and goes away when the veth does), the feed's etcd
handling against a real etcd, and the run policy and rendering with a fixed report.

The snapshot tests and the policy tests are render-only: they hand the app a ``FixedDoctor`` (fixture
Finding/HostReport/Report dataclasses from tests/fixtures/doctor_scene.py), injected like the collector,
because a real report depends on the machine and could not be compared with a stored picture."""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import pytest
from textual.widgets import DataTable

from netcon.core.context import HostContext
from netcon.core.etcd import EtcdOptions
from netcon.tui.actions import declared
from netcon.tui.app import NetconApp
from netcon.tui.doctor_feed import DoctorFeed
from netcon.tui.flannel_feed import EtcdSettings
from netcon.tui.messages import HostChanged
from netcon.tui.panes import doctor as doctor_pane
from netcon.tui.panes.doctor import DoctorPane, FindingScreen
from tests.fixtures.doctor_scene import FixedDoctor, healthy_report, report
from tests.tui.conftest import make_app, press_then, settle
from tests.tui.screen_text import screen_text


async def wait_until(pilot, condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}; the screen shows:\n{screen_text(pilot.app)}"
        await pilot.pause(0.1)


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


@pytest.fixture
def names():
    """Unique link names; whatever the test created is deleted afterwards."""
    prefix = f"nctd{uuid.uuid4().hex[:4]}"
    made = {"bridge": f"{prefix}br", "a": f"{prefix}a", "b": f"{prefix}b"}
    try:
        yield made
    finally:
        for name in (made["a"], made["bridge"]):
            subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)  # may be gone already


def pane_of(app: NetconApp) -> DoctorPane:
    return app.query_one("#doctor", DoctorPane)


def row_objects(app: NetconApp) -> dict[str, str]:
    """object -> check id of every row of the findings table."""
    table = app.query_one("#doctor DataTable", DataTable)
    return {str(table.get_row(key)[3]): str(table.get_row(key)[1]) for key in table.rows}


async def test_a_veth_left_down_shows_up_by_itself_in_read_only_mode(names):
    app = NetconApp(HostContext(read_only=True))  # read-only: every check still runs (they only read)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = pane_of(app)
        await pilot.press("8")
        await wait_until(pilot, lambda: pane.report is not None and not pane.running, "the first report")
        assert set(pane.report.hosts[0].checks) >= {"veth-down", "bridge-port-down", "ip-forward-off"}
        assert names["a"] not in row_objects(app)
        # a veth pair whose end on a bridge stays down: the bridge is up, the other end is up
        ip("link", "add", names["bridge"], "type", "bridge")
        ip("link", "add", names["a"], "type", "veth", "peer", "name", names["b"])
        ip("link", "set", names["a"], "master", names["bridge"])
        ip("link", "set", names["b"], "up")
        ip("link", "set", names["bridge"], "up")
        await wait_until(pilot, lambda: row_objects(app).get(names["a"]) == "veth-down", "the veth-down finding")
        table = app.query_one("#doctor DataTable", DataTable)
        table.move_cursor(
            row=table.get_row_index(next(k for k in table.rows if str(table.get_row(k)[3]) == names["a"]))
        )
        await pilot.pause()
        text = screen_text(app)
        assert f"ip link set {names['a']} up" in text and "netcon never runs it" in text
        line = next(line for line in text.splitlines() if " checks │ " in line)  # the summary counts it
        assert re.match(r"\s*[1-9]\d* errors?, ", line), line
        ip("link", "del", names["a"])
        await wait_until(pilot, lambda: names["a"] not in row_objects(app), "the finding to go")


def test_the_pane_has_no_action_that_changes_anything():
    assert not [a for a in declared(DoctorPane) if a.mutating]
    assert not [a for a in declared(FindingScreen) if a.mutating]


def test_feed_checks_flannel_in_the_etcd_the_console_was_given(etcd_endpoint):
    prefix = f"/netcon-test-{uuid.uuid4().hex[:8]}/network"  # holds no flannel config
    settings = EtcdSettings(EtcdOptions(endpoints=(etcd_endpoint,)), prefix, given=True)
    result = DoctorFeed(HostContext(read_only=True), settings).run()
    assert result.etcd is not None and prefix in result.etcd
    assert [f.object for f in result.findings if f.id == "flannel-config-missing"] == [f"{prefix}/config"]


def test_feed_with_only_the_default_endpoint_silent_says_flannel_was_not_checked():
    settings = EtcdSettings(EtcdOptions(endpoints=("http://127.0.0.1:1",)), given=False)  # nothing listens
    result = DoctorFeed(HostContext(read_only=True), settings).run()
    assert result.etcd is None and not [f for f in result.findings if f.id == "etcd-unreachable"]
    assert any("flannel not checked" in n for n in result.notes)
    given = DoctorFeed(HostContext(read_only=True), EtcdSettings(settings.options, given=True)).run()
    assert [f.id for f in given.findings if f.id == "etcd-unreachable"] == ["etcd-unreachable"]


async def test_r_runs_at_once_and_enter_opens_the_finding():
    fixed = FixedDoctor(report(), healthy_report())
    app = make_app(doctor=fixed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("8", "down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, FindingScreen) and app.screen.finding.id == "veth-down"
        assert "ip link set vetha07f3c2 up" in screen_text(app)
        await pilot.press("escape", "r")
        await settle(pilot)
        assert fixed.runs == 2
        assert "No problems found." in screen_text(app)


async def test_changes_rerun_debounced_and_at_most_once_per_interval(monkeypatch):
    monkeypatch.setattr(doctor_pane, "MIN_INTERVAL", 1.0)
    monkeypatch.setattr(doctor_pane, "DEBOUNCE", 0.2)
    monkeypatch.setattr(doctor_pane, "STARTUP_DELAY", 0.01)
    fixed = FixedDoctor()
    app = make_app(doctor=fixed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.1)
        await settle(pilot)
        assert fixed.runs == 1  # with the console, once it is up
        await pilot.press("8")
        started = time.monotonic()
        changes = 0
        while time.monotonic() - started < 2.5:  # a change every 0.1 s for 2.5 s
            app.post_message(HostChanged(frozenset({"link"})))
            changes += 1
            await pilot.pause(0.1)
        await pilot.pause(1.2)
        await settle(pilot)
        assert changes >= 20 and 2 <= fixed.runs <= 5, fixed.runs


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_findings_snapshot(snap_compare, size):
    assert snap_compare(make_app(doctor=FixedDoctor(report())), terminal_size=size, run_before=press_then("8", "down"))


def test_healthy_snapshot(snap_compare):
    assert snap_compare(
        make_app(doctor=FixedDoctor(healthy_report())), terminal_size=(80, 24), run_before=press_then("8")
    )


def test_finding_screen_snapshot(snap_compare):
    assert snap_compare(
        make_app(doctor=FixedDoctor(report())),
        terminal_size=(80, 24),
        run_before=press_then("8", "down", "down", "enter"),
    )
