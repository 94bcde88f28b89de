"""Console test helpers. The console takes its collector as a constructor argument; these tests hand it a
``SceneCollector`` that returns fixture snapshots. That injection is the one mock here: the real collector
reads whatever the host has, so it cannot produce a fixed scene, a Docker outage on demand or a netlink
failure. The end-to-end test uses the real collector and the real Docker engine. Likewise the Doctor pane
gets a ``FixedDoctor`` (a fixed report) here; tests/tui/test_doctor_pane.py runs the real doctor. The
scene's links exist on no host, so their counters come from ``NoCounters`` (no link: rates stay "-");
tests/tui/test_console_e2e.py reads the kernel's."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from netcon.core.context import HostContext
from netcon.core.model import Snapshot
from netcon.tui.app import NetconApp
from tests.fixtures.doctor_scene import FixedDoctor
from tests.fixtures.ports_scene import FixturePorts
from tests.fixtures.scene import TAKEN_AT, scene
from tests.tui.screen_text import screen_text


class SceneCollector:
    """Returns the queued snapshots in turn (the last one again once the queue is empty), or raises a queued
    exception; counts calls so tests can check what the console asked for."""

    def __init__(self, *items: Snapshot | Exception) -> None:
        self.queue: list[Snapshot | Exception] = list(items) or [scene()]
        self.last: Snapshot | Exception | None = None
        self.calls = 0

    def push(self, item: Snapshot | Exception) -> None:
        self.queue.append(item)

    def collect(self) -> Snapshot:
        self.calls += 1
        item = self.last = self.queue.pop(0) if self.queue else self.last
        if isinstance(item, Exception):
            raise item
        return item


class NoCounters:
    """A counter source for the fixture scene: its links are nowhere, so nothing is counted."""

    def read(self) -> dict:
        return {}

    def close(self) -> None:
        pass


class Clock:
    """A settable clock, so ages ("data 2s old") are reproducible."""

    def __init__(self, now: float = TAKEN_AT + 2) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_app(
    collector: SceneCollector | None = None,
    *,
    read_only: bool = False,
    clock: Callable[[], float] | None = None,
    app_class: type[NetconApp] = NetconApp,
    doctor: FixedDoctor | None = None,
) -> NetconApp:
    return app_class(
        HostContext(read_only=read_only),
        collector or SceneCollector(),
        watch=False,
        clock=clock or Clock(),
        doctor=doctor or FixedDoctor(),
        ports=FixturePorts(),
        counters=NoCounters,
    )


LOOPING = {"counters"}  # worker groups that run as long as their pane is shown


async def settle(pilot) -> None:
    """Wait until the workers that finish (the snapshot's, a pane's first read) finished and their messages
    were handled."""
    finishing = [w for w in pilot.app.workers if w.group not in LOOPING]
    if finishing:  # (an empty list would mean every worker to Textual)
        await pilot.app.workers.wait_for_complete(finishing)
    await pilot.pause()
    await pilot.pause()


@pytest.fixture
def collector() -> SceneCollector:
    return SceneCollector()


def press_then(*keys: str):
    """A snapshot test's ``run_before``: let the app settle, press ``keys``, let it draw."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)  # what the keys started (a pane's first read) has finished and is drawn

    return run_before


async def palette_text(pilot, query: str) -> str:
    """What the command palette lists for ``query`` (the palette is closed again afterwards)."""
    await pilot.press("ctrl+p", *query)
    await pilot.pause(0.3)
    text = screen_text(pilot.app)
    await pilot.press("escape")
    await pilot.pause()
    return text
