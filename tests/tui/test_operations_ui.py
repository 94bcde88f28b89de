"""The console's Docker changes (issue 4) against the real engine: the create-network form validating as the
user types, removal after a confirmation, connect/disconnect through the container picker, running a
container in container:<x> mode through the mode picker, the audit panel; read-only hiding and refusal;
snapshots of the create form.

Everything the console creates is named with ``dobj.prefix`` and labelled ``netcon.test=<prefix>``, and is
removed afterwards (``dobj`` by label, ``leftovers`` by name). The read-only and snapshot tests run over
the fixture scene (see tests/tui/conftest.py for why its collector is injected) with the scene's facts
(tests/tui/scene_facts.py) handed to the console instead of the host's; the core is the real one.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from textual.widgets import DataTable, Input, OptionList, Select, Static

from netcon.core.context import HostContext
from netcon.core.operations import mutating_operations
from netcon.tui.actions import declared
from netcon.tui.app import NetconApp
from netcon.tui.audit_panel import AuditPanel
from netcon.tui.docker_forms import network_modes
from netcon.tui.forms import ConfirmScreen, FormScreen, OperationScreen
from netcon.tui.panes.containers import ContainersPane
from netcon.tui.panes.networks import NetworksPane
from tests.conftest import TEST_LABEL
from tests.ops.conftest import free_subnets
from tests.tui.conftest import Clock, SceneCollector, palette_text, settle
from tests.tui.scene_facts import scene_facts
from tests.tui.screen_text import screen_text
from tests.tui.test_console_e2e import column, wait_until


@pytest.fixture(autouse=True)
def audit_log(tmp_path, monkeypatch):
    """Operations here write their own audit log, never the user's."""
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("NETCON_AUDIT_LOG", str(path))
    return path


@pytest.fixture
def leftovers(dobj, dclient):
    """Also remove, by name, whatever the console made with the test's prefix (should its label be lost)."""
    yield dobj
    for c in dclient.api.containers(all=True, filters={"name": dobj.prefix}):
        dclient.api.remove_container(c["Id"], force=True)
    for n in dclient.api.networks(names=[dobj.prefix]):
        if n["Name"].startswith(dobj.prefix):
            dclient.api.remove_network(n["Id"])


async def opened(pilot, kind: type[OperationScreen]) -> OperationScreen:
    """Wait for a form or confirmation of ``kind`` to be on top with the host's facts read."""
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, kind) and app.screen.facts is not None)
    return app.screen


async def select_row(pilot, pane: str, key: str) -> None:
    table = pilot.app.query_one(f"#{pane} DataTable", DataTable)
    await wait_until(pilot, lambda: key in table.rows)
    table.move_cursor(row=table.get_row_index(key))
    table.focus()
    await pilot.pause()


def line_after(text: str, start: str) -> str:
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if start in line)
    return lines[index + 1]


def notified(app: NetconApp) -> str:
    """The notifications' messages, unwrapped (a toast wraps long sentences; Textual keeps them here)."""
    return "\n".join(n.message for n in app._notifications)


def real_app(ctx: HostContext) -> NetconApp:
    return NetconApp(ctx)


async def test_create_network_validates_as_you_type_then_creates(ctx, leftovers, dclient, audit_log):
    name, subnet = leftovers.name("made"), free_subnets()[0]
    app = real_app(ctx)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.state.snapshot is not None)
        await pilot.press("n")
        form = await opened(pilot, FormScreen)
        await pilot.press(*name, "tab", "tab", *"10.0.0.0/33")
        await pilot.pause()
        assert "prefix length must be 0 to 32" in line_after(screen_text(app), "10.0.0.0/33")  # below the field
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form and "nothing was changed" in screen_text(app)
        assert dclient.api.networks(names=[name]) == []
        await pilot.press(*["backspace"] * len("10.0.0.0/33"), *subnet)
        await pilot.pause()
        assert "Subnet" in screen_text(app) and "CIDR" not in line_after(screen_text(app), subnet)
        await pilot.press("tab", "tab", "tab", *f"{TEST_LABEL}={leftovers.prefix}", "enter")
        await wait_until(pilot, lambda: app.screen is not form)
        [made] = dclient.api.networks(names=[name])
        assert made["IPAM"]["Config"][0]["Subnet"] == subnet and made["Labels"] == {TEST_LABEL: leftovers.prefix}
        assert f"Created network {name} {subnet}" in notified(app)
        await wait_until(pilot, lambda: name in column(app, "networks", "name"))  # the watcher refreshed it
        await pilot.press("l")
        panel = app.query_one(AuditPanel)
        await wait_until(pilot, lambda: f"network.create name={name}" in str(panel.query_one(Static).render()))
        assert "-> ok" in str(panel.query_one(Static).render())
    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    [entry] = [r for r in records if r["outcome"] != "started"]  # the invalid try never ran
    assert entry["operation"] == "network.create" and entry["outcome"] == "ok"


async def test_remove_network_after_confirmation_disconnects_its_containers(ctx, leftovers, dclient):
    net = await asyncio.to_thread(leftovers.network, "gone")
    member = await asyncio.to_thread(leftovers.container, "member", network=net.name)
    app = real_app(ctx)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await select_row(pilot, "networks", net.id)
        await pilot.press("d")
        await opened(pilot, ConfirmScreen)
        text = screen_text(app)
        assert f"Remove network {net.name}" in text and f"disconnected from it first (force): {member.name}" in text
        await pilot.press("y")
        await wait_until(pilot, lambda: dclient.api.networks(ids=[net.id]) == [])
        await wait_until(pilot, lambda: net.name not in column(app, "networks", "name"))
        assert f"Removed network {net.name}; disconnected {member.name} first." in notified(app)
    assert dclient.api.inspect_container(member.id)["State"]["Running"]


async def test_connect_and_disconnect_through_the_picker(ctx, leftovers, dclient):
    net = await asyncio.to_thread(leftovers.network, "join")
    guest = await asyncio.to_thread(leftovers.container, "guest")
    hosted = await asyncio.to_thread(leftovers.container, "hosted", network_mode="host")
    app = real_app(ctx)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await select_row(pilot, "networks", net.id)
        await pilot.press("c")
        form = await opened(pilot, FormScreen)
        picker = form.query_one("#picker", OptionList)
        options = {picker.get_option_at_index(i).id: picker.get_option_at_index(i) for i in range(picker.option_count)}
        assert not options[guest.name].disabled
        assert options[hosted.name].disabled and "--network host" in str(options[hosted.name].prompt)
        await pilot.press("tab", "tab")  # network -> container -> picker
        picker.highlighted = picker.get_option_index(guest.name)
        await pilot.press("enter")  # fills the container field
        assert form.query_one("#field-container", Input).value == guest.name
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is not form)
        networks = dclient.api.inspect_container(guest.id)["NetworkSettings"]["Networks"]
        assert net.name in networks
        await wait_until(
            pilot, lambda: guest.name in [a.container_name for a in app.state.snapshot.network(net.id).attachments]
        )
        await pilot.press("x")
        form = await opened(pilot, FormScreen)
        picker = form.query_one("#picker", OptionList)
        assert [picker.get_option_at_index(i).id for i in range(picker.option_count)] == [guest.name]
        await pilot.press("tab", "tab")
        picker.highlighted = 0
        await pilot.press("enter", "enter")
        await wait_until(pilot, lambda: app.screen is not form)
        networks = dclient.api.inspect_container(guest.id)["NetworkSettings"]["Networks"]
        assert net.name not in networks
        assert f"Disconnected {guest.name} from {net.name}." in notified(app)


async def test_run_in_container_mode_through_the_picker_then_remove(ctx, leftovers, dclient):
    owner = await asyncio.to_thread(leftovers.container, "owner")
    name = leftovers.name("rider")
    app = real_app(ctx)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.state.snapshot is not None)
        await pilot.press("2", "n")
        form = await opened(pilot, FormScreen)
        modes = [value for _, value in network_modes(form.facts)]
        await pilot.press(*name, "tab", "enter")  # the mode picker opens on bridge
        await pilot.pause()
        await pilot.press(*["down"] * modes.index(f"container:{owner.name}"), "enter")
        assert form.query_one("#field-network", Select).value == f"container:{owner.name}"
        await pilot.press("tab", "tab", "tab", "tab", *f"{TEST_LABEL}={leftovers.prefix}", "enter")
        await wait_until(pilot, lambda: app.screen is not form)
        rider = dclient.api.inspect_container(name)
        assert rider["HostConfig"]["NetworkMode"] == f"container:{owner.id}" and rider["State"]["Running"]
        await select_row(pilot, "containers", rider["Id"])
        assert (
            app.query_one("#containers DataTable", DataTable).get_cell(rider["Id"], "mode") == f"container:{owner.name}"
        )
        await pilot.press("d")
        await opened(pilot, ConfirmScreen)
        assert f"Remove container {name} (running" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: dclient.api.containers(all=True, filters={"name": name}) == [])
        await wait_until(pilot, lambda: name not in column(app, "containers", "name"))


# read-only ---------------------------------------------------------------------------------------------

PANES = {"networks": ("1", NetworksPane), "containers": ("2", ContainersPane)}
FORCED_INPUT = {  # what is typed before submitting when a hidden action is forced through
    "create_network": {"name": "ro-net", "subnet": "10.213.7.0/24"},
    "remove_network": {},
    "connect": {"container": "busybox"},
    "disconnect": {"container": "app1"},
    "run_container": {"name": "ro-run"},
    "remove_container": {},
}


def scene_app(read_only: bool) -> NetconApp:
    return NetconApp(HostContext(read_only=read_only), SceneCollector(), watch=False, clock=Clock(), facts=scene_facts)


async def test_read_only_hides_every_mutating_action_and_the_core_refuses_forced_ones(audit_log):
    mutating = {pane: [a for a in declared(cls) if a.mutating] for pane, (_, cls) in PANES.items()}
    assert {a.name for actions in mutating.values() for a in actions} == set(FORCED_INPUT)
    assert not [a for a in declared(NetconApp) if a.mutating]  # the log toggle is not a change
    for read_only in (False, True):
        app = scene_app(read_only)
        async with app.run_test(size=(160, 40), notifications=True) as pilot:
            await settle(pilot)
            for pane, (digit, _) in PANES.items():
                await pilot.press(digit)
                await pilot.pause()
                footer = screen_text(app).splitlines()[-1]
                await pilot.press("question_mark")
                await pilot.pause()
                help_text = screen_text(app)
                await pilot.press("escape")
                for action in mutating[pane]:
                    shown = f"{app.get_key_display(action.binding())} {action.description}"
                    assert (shown in footer) is (action.footer and not read_only), (pane, shown, footer)
                    assert (action.help in help_text) is not read_only
                    assert (action.help in await palette_text(pilot, action.description)) is not read_only
    app = scene_app(True)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        for pane, (digit, _) in PANES.items():
            await pilot.press(digit)
            await settle(pilot)
            for action in mutating[pane]:
                target = app.pane(pane)
                assert await app.run_action(action.action, target) is False  # the UI refuses: nothing opens
                getattr(target, f"action_{action.name}")()  # as if the UI had let it through
                screen = await opened(pilot, OperationScreen)
                for key, value in FORCED_INPUT[action.name].items():
                    screen.query_one(f"#field-{key}", Input).value = value
                await pilot.press("y" if isinstance(screen, ConfirmScreen) else "enter")
                await wait_until(pilot, lambda: "netcon runs in read-only mode" in screen_text(app) + notified(app))
                if app.screen is screen:
                    await pilot.press("escape")
                app.clear_notifications()
    outcomes = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert [(e["operation"], e["outcome"]) for e in outcomes] == [
        (op, "read-only")
        for op in (
            "network.create",
            "network.rm",
            "network.connect",
            "network.disconnect",
            "container.run",
            "container.rm",
        )
    ]
    assert {e["operation"] for e in outcomes} <= set(mutating_operations())


# snapshots ---------------------------------------------------------------------------------------------


def _open_create_form(pilot_keys: tuple[str, ...]):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*pilot_keys)
        await pilot.pause()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_create_form_snapshot(snap_compare, size):
    keys = (*"web", "tab", "tab", *"10.0.0.0/33", "tab", *"10.1.0.1")
    assert snap_compare(scene_app(False), terminal_size=size, run_before=_open_create_form(keys))
