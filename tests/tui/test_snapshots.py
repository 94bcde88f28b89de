"""Snapshot tests (pytest-textual-snapshot) of every pane at 80x24 and 120x40, and the two detail screens,
from the fixture scene (see conftest for why the collector is injected). Update with --snapshot-update."""

from __future__ import annotations

import pytest

from netcon.tui.panes import SLOTS
from tests.tui.conftest import make_app, press_then


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
# The Cluster pane's rows are the real hosts' (the doctor, the kernel): tests/tui/test_cluster_pane.py runs it on a lab.
@pytest.mark.parametrize("slot", [s for s in SLOTS if s.id != "cluster"], ids=lambda s: f"{s.digit}-{s.id}")
def test_pane(snap_compare, slot, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=press_then(slot.digit))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_network_detail(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=press_then("1", "enter"))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_container_detail(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=press_then("2", "down", "down", "down", "enter"))
