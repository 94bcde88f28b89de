"""Pilot tests: keys in, screen content and collector calls out. The scene comes from a ``SceneCollector``
injected through the console's constructor (see conftest: the only mock, because the real collector cannot
produce a fixed scene, an outage on demand or a netlink failure)."""

from __future__ import annotations

import dataclasses
import importlib.util
import threading

from textual.widgets import DataTable, Tree

from netcon.core.errors import NetlinkFailure
from netcon.core.model import Counters, Network, Snapshot
from netcon.tui.actions import Action, bindings
from netcon.tui.app import NetconApp
from netcon.tui.messages import HostChanged
from netcon.tui.panes import SLOTS
from netcon.tui.screens import ContainerDetail, HelpScreen, NetworkDetail
from netcon.tui.state import RateMeter, hms
from tests.fixtures.scene import TAKEN_AT, docker_down, hexid, scene
from tests.tui.conftest import SceneCollector, make_app, palette_text, settle
from tests.tui.screen_text import screen_text


async def test_the_four_panes_show_the_scene(collector):
    app = make_app(collector)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "lab-host" in text and "Docker 20.10.24" in text and "RW" in text and "data 2s old" in text
        for expected in (
            "app",
            "172.20.0.0/16",
            "172.20.0.1",
            "br-" + hexid("network app")[:12],
            "app1, app2",
            "docker0",
            "busybox",
        ):
            assert expected in text
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app)
        assert "container:busybox" in text and "172.17.0.2 (shared from busybox)" in text
        assert "busybox-1, busybox-2" in text and "host" in text and "none" in text and "exited" in text
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app)
        assert "docker0  8000.0242c0a8e1f4  STP off  network bridge" in text
        assert "lab0  8000.5e2a71c04b19  STP on  not Docker's" in text
        assert "veth5c2e1a0  → eth0 in busybox (netns shared with busybox-1, busybox-2)" in text
        await pilot.press("4")
        await pilot.pause()
        text = screen_text(app)
        assert "veth9d41b7e" in text and "eth0@if14" in text and "app1" in text and "lab0-p1" in text
        assert collector.calls == 1  # switching panes reads nothing


async def test_placeholder_panes_say_so_in_one_line(collector):
    app = make_app(collector)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for slot in [s for s in SLOTS[4:] if importlib.util.find_spec(s.module) is None]:
            await pilot.press(slot.digit)
            await pilot.pause()
            assert app.current == slot.id
            assert slot.missing in screen_text(app)  # one line, whole, even at 80 columns
        assert "no etcd configured" in SLOTS[4].missing


async def test_network_detail_and_back(collector):
    app = make_app(collector)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.query_one("#networks DataTable", DataTable).cursor_row == 0  # "app" sorts first
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NetworkDetail)
        text = screen_text(app)
        for expected in (
            "subnet 172.20.0.0/16",
            "gateway 172.20.0.1",
            "ip range 172.20.5.0/24",
            "Attachable  yes",
            "com.example.stack=shop",
            "172.20.0.2/16",
            "02:42:ac:11:00:12",
            "app1, web",
            "app2, db",
        ):
            assert expected in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, NetworkDetail)
        assert "NETWORK ID" in screen_text(app)


async def test_container_detail_of_a_shared_netns(collector):
    app = make_app(collector)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", "down", "down", "down", "enter")  # app1, app2, busybox, busybox-1
        await pilot.pause()
        assert isinstance(app.screen, ContainerDetail)
        text = screen_text(app)
        assert "busybox-1  (running)" in text and "container:busybox" in text
        assert "shared: these are busybox's addresses" in text
        assert "veth5c2e1a0" in text  # the owner's eth0 and its host-side peer


async def test_help_lists_every_key_of_the_pane(collector):
    app = make_app(collector)
    # ten panes' "Go to" lines and the pane's own keys: taller than 24 lines (on 80x24 the help scrolls)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for words in (
            "Keys: Networks",
            "Details",
            "Filter",
            "Quit",
            "Refresh",
            "Help",
            "Command palette",
            *(f"Go to {s.title}" for s in SLOTS),
        ):
            assert words in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_runs_actions_and_switches_panes(collector):
    app = make_app(collector)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        for char in "bridges":
            await pilot.press(char)
        await pilot.pause(0.3)
        assert "Go to Bridges" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current == "bridges"
        assert isinstance(app.query_one("#bridges Tree"), Tree)
        await pilot.press("ctrl+p")
        for char in "refresh":
            await pilot.press(char)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert collector.calls == 2


async def test_refresh_key_asks_the_collector_again(collector):
    app = make_app(collector)
    async with app.run_test() as pilot:
        await settle(pilot)
        assert collector.calls == 1
        await pilot.press("r")
        await settle(pilot)
        assert collector.calls == 2


class ReadsByThread(SceneCollector):
    """The scene, with the thread of each read: the app's snapshot worker's apart from the Cluster pane's row
    reads (the hosts' followers, netcon-host_N), which share the collector."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def collect(self) -> Snapshot:
        self.threads.append(threading.current_thread().name)
        return super().collect()

    @property
    def app_reads(self) -> int:
        return sum(not name.startswith("netcon-host") for name in self.threads)


async def snapshot_read(pilot) -> None:
    """The app's snapshot worker finished and its messages were handled (the hosts' followers never finish)."""
    reading = [w for w in pilot.app.workers if w.group == "snapshot"]
    if reading:
        await pilot.app.workers.wait_for_complete(reading)
    await pilot.pause()
    await pilot.pause()


async def test_changes_seen_while_the_cluster_pane_shows_are_read_when_a_table_shows_them():
    """The Cluster pane's rows are read by the hosts' own feeds: a busy Docker's changes, seen while it is
    shown, are read once, when a pane that shows the snapshot is (each was a snapshot read before). A source
    lost or back is read at once (the header says it)."""
    collector = ReadsByThread()
    app = make_app(collector)
    async with app.run_test() as pilot:
        await snapshot_read(pilot)
        await pilot.press("minus")
        await snapshot_read(pilot)
        reads = collector.app_reads
        for reason in ("docker:container:start", "docker:container:die", "netlink"):
            app.post_message(HostChanged(frozenset({reason})))
        await snapshot_read(pilot)
        assert collector.app_reads == reads
        await pilot.press("1")
        await snapshot_read(pilot)
        assert collector.app_reads == reads + 1
        await pilot.press("minus")
        app.post_message(HostChanged(frozenset({"docker-lost"})))
        await snapshot_read(pilot)
        assert collector.app_reads == reads + 2


async def test_filter_narrows_the_table_and_escape_restores_it(collector):
    app = make_app(collector)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", "slash", *"container:")
        await pilot.pause()
        table = app.query_one("#containers DataTable", DataTable)
        assert sorted(table.get_row(k)[0] for k in table.rows) == ["busybox-1", "busybox-2"]
        await pilot.press("enter")  # keep the filter, back to the table
        await pilot.pause()
        assert table.has_focus and table.row_count == 2
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 8


async def test_table_updates_by_key_and_keeps_the_cursor():
    base = scene()
    first = dataclasses.replace(
        base,
        networks=(
            *base.networks,
            Network(  # an extra network that sorts first
                hexid("aardvark"),
                "aardvark",
                "bridge",
                "local",
                ("10.98.0.0/24",),
                ("10.98.0.1",),
                (),
                False,
                False,
                (),
                (),
                "br-aardvark0",
                (),
            ),
        ),
    )
    collector = SceneCollector(base)
    app = make_app(collector)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.query_one("#networks DataTable", DataTable)
        await pilot.press("down")  # app -> bridge
        bridge_id = hexid("network bridge")
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == bridge_id
        row_before = table.rows[bridge_id]
        collector.push(first)
        await pilot.press("r")
        await settle(pilot)
        assert table.row_count == 5
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == bridge_id
        assert table.rows[bridge_id] is row_before  # updated in place, not cleared and refilled
        changed = dataclasses.replace(
            first,
            networks=tuple(
                dataclasses.replace(n, attachments=()) if n.name == "app" else n
                for n in first.networks
                if n.name != "aardvark"
            ),
        )
        collector.push(changed)
        await pilot.press("r")
        await settle(pilot)
        assert table.row_count == 4
        assert table.get_cell(hexid("network app"), "count") == "0"
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == bridge_id


def test_rates_tick_at_most_once_a_second():
    """The rule on its own (plain data in, rates out): a read sooner than a second after the last is ignored, a
    counter that went down (a reset) gives no rate, and links are told apart by ifindex."""
    meter = RateMeter()

    def read(rx: int, tx: int) -> dict[int, Counters]:
        return {15: Counters(rx_bytes=rx, tx_bytes=tx, rx_packets=0, tx_packets=0)}

    assert not meter.update(read(1000, 1000), 10.0) and meter.of(15) == (None, None)
    assert not meter.update(read(1500, 1000), 10.5)  # too soon: the base stays the read at 10.0
    assert meter.update(read(5000, 3000), 12.0)
    assert meter.of(15) == (2000.0, 1000.0) and meter.of(16) == (None, None)
    assert meter.update(read(10, 3000), 13.0)
    assert meter.of(15) == (None, 0.0)


async def test_docker_down_keeps_stale_data_and_says_so():
    up = scene()
    collector = SceneCollector(
        up,
        docker_down(
            up, taken_at=TAKEN_AT + 10, error="Docker daemon not reachable at unix:///x.sock: no socket there."
        ),
        scene(taken_at=TAKEN_AT + 20),
    )
    app = make_app(collector)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        text = screen_text(app)
        assert f"Docker unreachable — showing stale data from {hms(TAKEN_AT)}" in text
        assert "app1, app2" in text  # last networks still shown
        await pilot.press("4")
        await pilot.pause()
        assert "app1" in screen_text(app)  # veth owners kept from the last good snapshot
        await pilot.press("r")
        await settle(pilot)
        assert "Docker unreachable" not in screen_text(app)


async def test_netlink_failure_is_shown_and_recovers():
    collector = SceneCollector(scene(), NetlinkFailure("Cannot dump links: Operation not permitted."), scene())
    app = make_app(collector)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        text = screen_text(app)
        assert "Cannot read the host: Cannot dump links" in text and f"stale data from {hms(TAKEN_AT)}" in text
        assert "app1, app2" in text
        await pilot.press("r")
        await settle(pilot)
        assert "Cannot read the host" not in screen_text(app)


class AppWithMutation(NetconApp):
    """This issue has no mutating action of its own yet; later features declare theirs exactly like this."""

    ACTIONS = (Action("wipe", "w", "Wipe network", "remove the highlighted network", mutating=True),)
    BINDINGS = bindings(ACTIONS)
    wiped = False

    def action_wipe(self) -> None:
        self.wiped = True


async def test_read_only_hides_mutating_actions_everywhere(collector):
    for read_only in (False, True):
        app = make_app(SceneCollector(), read_only=read_only, app_class=AppWithMutation)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert ("READ-ONLY" in screen_text(app)) is read_only
            assert ("Wipe network" in screen_text(app)) is not read_only  # footer
            assert ("Wipe network" in await palette_text(pilot, "wipe")) is not read_only
            await pilot.press("question_mark")
            await pilot.pause()
            assert ("Wipe network" in screen_text(app)) is not read_only
            await pilot.press("escape", "w")
            await pilot.pause()
            assert app.wiped is not read_only


async def test_no_animation_over_ssh(monkeypatch):
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.1 50000 192.0.2.10 22")
    monkeypatch.setenv("TERM", "linux")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.animation_level == "none"
        assert "Networks" in screen_text(app)
