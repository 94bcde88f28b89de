"""No failure vanishes: an unexpected exception inside each kind of worker — a pane's feed, a form's change,
the ping matrix, the audit panel — becomes a notification with its message and the log file holding its
traceback, the traceback is in that file, and what was waiting on the worker is usable again.

Nothing real raises like this (the core turns every failure it expects into a ``NetconError``, handled where
it happens): these are bugs, so each test makes one on purpose by patching a function to raise. That patch
is the only stand-in; the console, its workers and the log file are real.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from netcon.core.context import HostContext
from netcon.tui.app import NetconApp
from netcon.tui.audit_panel import AuditPanel
from netcon.tui.docker_forms import CreateNetworkForm
from netcon.tui.panes.ports import PortsPane
from netcon.tui.ping_screens import MatrixScreen
from tests.fixtures.doctor_scene import FixedDoctor
from tests.tui.conftest import Clock, NoCounters, SceneCollector, settle
from tests.tui.scene_facts import scene_facts
from tests.tui.screen_text import screen_text
from tests.tui.test_console_e2e import wait_until

BUG = "a bug planted by the test"


class Bug(Exception):
    pass


def planted(*args, **kwargs):
    raise Bug(BUG)


@pytest.fixture
def log(tmp_path, monkeypatch):
    """The log where the tracebacks go: $XDG_STATE_HOME/netcon/netcon.log, under the test's directory."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("NETCON_LOG", raising=False)
    monkeypatch.setenv("NETCON_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    return tmp_path / "netcon" / "netcon.log"


class FailingPorts:
    """A ports source whose read fails with a bug."""

    def collect(self, snapshot):
        planted()

    def ancestry(self, pid):
        return ()


def make(**kwargs) -> NetconApp:
    options = dict(watch=False, clock=Clock(), doctor=FixedDoctor(), facts=scene_facts, counters=NoCounters)
    return NetconApp(HostContext(), SceneCollector(), **{**options, **kwargs})


def assert_reported(app: NetconApp, log, what: str) -> None:
    notes = "\n".join(str(n.message) for n in app._notifications)
    assert f"{what} failed: Bug('{BUG}')" in notes and f"traceback in {log}" in notes, notes
    text = log.read_text()
    assert f"{what.lower()} failed" in text and "Traceback (most recent call last)" in text and f"Bug: {BUG}" in text


async def test_a_pane_feed_that_fails(log):
    app = make(ports=FailingPorts())
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await wait_until(pilot, lambda: app._notifications)
        assert_reported(app, log, "Reading the ports")
        notes = str(app.query_one(PortsPane).query_one(".notes", Static).render())
        assert "Reading the ports failed" in notes and "reading the sockets" not in notes  # not stuck


async def test_a_form_whose_change_fails_is_editable_again(log, monkeypatch):
    monkeypatch.setattr(CreateNetworkForm, "apply", planted)
    app = make()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, CreateNetworkForm) and app.screen.facts is not None)
        form = app.screen
        await pilot.press(*"buggy", "enter")
        await wait_until(pilot, lambda: app._notifications)
        assert_reported(app, log, "The change")
        await wait_until(pilot, lambda: not form.busy)
        assert "Working" not in screen_text(app) and "The change failed" in screen_text(app)
        await pilot.press(*"2")  # editable again: the field takes keys, Enter runs it again
        assert form.query_one("#field-name", Input).value == "buggy2"
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app._notifications) == 2 and not form.busy)


async def test_the_ping_matrix_that_fails(log, monkeypatch):
    monkeypatch.setattr("netcon.tui.ping_screens.network_matrix", planted)
    app = make()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("m")  # on the first network, app
        await wait_until(pilot, lambda: isinstance(app.screen, MatrixScreen) and app._notifications)
        assert_reported(app, log, "The ping matrix")
        assert "The ping matrix failed" in screen_text(app) and "Probing every pair" not in screen_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, MatrixScreen)


async def test_the_audit_panel_that_fails(log, monkeypatch):
    monkeypatch.setattr("netcon.tui.audit_panel.last_entries", planted)
    app = make()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: app._notifications)
        assert_reported(app, log, "Reading the audit log")
        panel = app.query_one(AuditPanel)
        await wait_until(pilot, lambda: "Reading the audit log failed" in str(panel.query_one(Static).render()))


async def test_an_unwritable_log_is_said_too(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("NETCON_LOG", str(blocker / "netcon.log"))
    app = make(ports=FailingPorts())
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await wait_until(pilot, lambda: app._notifications)
        notes = "\n".join(str(n.message) for n in app._notifications)
        assert f"Bug('{BUG}')" in notes and f"The traceback could not be written to {blocker}" in notes
