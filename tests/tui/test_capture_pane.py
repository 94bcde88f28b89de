"""The Capture pane against a real capture: ``c`` on a container (Containers), on a veth (Veths) and on a
bridge (Bridges) of a busybox container on a test network, pinged from the host; the list, the detail of every
layer, the flows, the filter checked by libpcap as it is typed, pause/resume, save to pcapng (read back by
tshark), the capture going on while another pane is shown, and a quit that is fast and leaves nothing open."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest
from textual.widgets import DataTable, Input, Static

from netcon.core.context import HostContext
from netcon.tui.app import NetconApp
from netcon.tui.panes.capture import CapturePane
from tests.capture.test_core import packet_sockets
from tests.tui.screen_text import screen_text


async def wait_until(pilot, condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}; the screen shows:\n{screen_text(pilot.app)}"
        await pilot.pause(0.1)


async def wait_until_closed(capture, timeout: float = 3.0) -> None:
    """The worker closes its capture once woken: no socket, no poll, no wake pipe."""
    deadline = time.monotonic() + timeout
    while capture.sockets and capture.sockets[0].sock.fileno() != -1:
        assert time.monotonic() < deadline, "the capture was not closed after the console quit"
        await asyncio.sleep(0.05)
    assert capture.stopped and all(s.sock.fileno() == -1 for s in capture.sockets)


@pytest.fixture
def target(dobj):
    net = dobj.network("cap")
    c = dobj.container("c", network=net.name)
    c.reload()
    return net, c, c.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]


def ping(address: str, count: int = 2) -> None:
    subprocess.run(["ping", "-c", str(count), "-i", "0.2", "-W", "2", address], check=True, capture_output=True)


def summaries(pane: CapturePane) -> list[str]:
    return [str(v) for v in pane.packets.get_column("summary")]


async def select_row(pilot, table: DataTable, key: str) -> None:
    table.move_cursor(row=table.get_row_index(key))
    table.focus()
    await pilot.pause()


async def test_c_on_a_container_captures_in_its_namespace(target, tmp_path):
    _net, container, address = target
    app = NetconApp(HostContext(), watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.snapshot is not None, "the first snapshot")
        await pilot.press("2")
        containers = app.query_one("#containers DataTable", DataTable)
        await wait_until(pilot, lambda: container.id in containers.rows, "the container row")
        await select_row(pilot, containers, container.id)
        await pilot.press("c")
        pane = app.query_one("#capture", CapturePane)
        assert app.current == "capture"
        await wait_until(pilot, lambda: pane.state_text == "capturing", "the capture to open")
        await asyncio.to_thread(ping, address)
        await wait_until(pilot, lambda: sum("ICMP echo" in s for s in summaries(pane)) >= 4, "the echoes")

        # the list: inside the container's namespace, in and out; the newest row highlighted (following)
        table = pane.packets
        assert {str(v) for v in table.get_column("ifname")} >= {"eth0"}
        assert {str(v) for v in table.get_column("netns")} == {f"container {container.name}"}
        assert any(s.endswith("length 64") and f"> {address}: ICMP echo request" in s for s in summaries(pane))
        assert table.cursor_row == table.row_count - 1
        caption = str(pane.query_one(".caption", Static).render())
        assert f"capturing on eth0 [container {container.name}]" in caption and "0 dropped by kernel" in caption

        # the detail of the highlighted packet: every layer
        request = next(k for k in table.rows if "echo request" in str(table.get_cell(k, "summary")))
        await select_row(pilot, table, request.value)
        detail = str(pane.query_one("#detail", Static).render())
        assert "eth" in detail and f"dst {address}" in detail and "kind echo request" in detail
        assert not pane.follow  # moved up: the list stops following
        # the flows
        flows = app.query_one("#flows", DataTable)
        assert any(str(flows.get_cell(k, "proto")) == "icmp" for k in flows.rows)

        # the filter: libpcap's message as it is typed; Enter on a valid one restarts the capture with it
        await pilot.press("f")
        field = pane.query_one(Input)
        field.value = "icmp andd"
        await pilot.pause()
        error = pane.query_one(".filter-error", Static)
        assert error.has_class("shown") and "can't parse filter expression: syntax error" in str(error.render())
        field.value = "icmp[icmptype] == icmp-echoreply"
        await pilot.pause()
        assert not error.has_class("shown")
        await pilot.press("enter")
        await wait_until(pilot, lambda: pane.state_text == "capturing" and pane.program is not None, "the new filter")
        shown = table.row_count

        # it goes on while another pane is shown
        await pilot.press("4")
        await asyncio.to_thread(ping, address)
        await pilot.press("9")
        await wait_until(pilot, lambda: table.row_count == shown + 2, "the replies while away")
        assert all("echo reply" in s for s in summaries(pane)[shown:])

        # pause: not capturing; resume captures again
        await pilot.press("space")
        await wait_until(pilot, lambda: pane.state_text.startswith("paused") and pane.capture is None, "the pause")
        await asyncio.to_thread(ping, address, 1)
        await pilot.pause(0.3)
        assert table.row_count == shown + 2
        await pilot.press("space")
        await wait_until(pilot, lambda: pane.state_text == "capturing", "the resume")
        await asyncio.to_thread(ping, address, 1)
        await wait_until(pilot, lambda: table.row_count == shown + 3, "a reply after resuming")

        # save: the kept packets, as pcapng that tshark reads
        saved = tmp_path / "pane.pcapng"
        await pilot.press("w")
        await wait_until(pilot, lambda: app.screen.query("#field-path"), "the save form")
        app.screen.query_one("#field-path", Input).value = str(saved)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: saved.exists() and app.screen is not None and not app.screen.query("#field-path"), "the file"
        )
        read = await asyncio.to_thread(
            subprocess.run, ["tshark", "-r", str(saved), "-T", "fields", "-e", "frame.protocols"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert read.returncode == 0 and len(read.stdout.splitlines()) == len(pane.recent.packets)

        running = pane.capture
        assert running is not None and packet_sockets() == 1
        started = time.monotonic()
    assert time.monotonic() - started < 3  # quitting with a capture running stays fast
    await wait_until_closed(running)
    assert packet_sockets() == 0


async def test_c_on_a_veth_and_on_a_bridge(target):
    net, container, address = target
    app = NetconApp(HostContext(), watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.state.snapshot is not None, "the first snapshot")
        snapshot = app.state.snapshot
        veth = next(v for v in snapshot.veths if v.container_id == container.id)
        bridge = snapshot.network(net.name).bridge
        await pilot.press("4")
        veths = app.query_one("#veths DataTable", DataTable)
        await select_row(pilot, veths, f"{veth.ifindex}:{veth.ifname}")
        await pilot.press("c")
        pane = app.query_one("#capture", CapturePane)
        await wait_until(pilot, lambda: pane.state_text == "capturing", "the veth capture")
        assert [(e.ifname, e.netns_label) for e in pane.started.endpoints] == [(veth.ifname, "host")]
        await asyncio.to_thread(ping, address, 1)
        await wait_until(pilot, lambda: sum("ICMP echo" in s for s in summaries(pane)) >= 2, "echoes on the veth")

        await pilot.press("3")
        tree = app.query_one("#bridges Tree")
        node = next(n for n in tree.root.children if n.data == bridge)
        tree.move_cursor(node)
        tree.focus()
        await pilot.press("c")
        await wait_until(
            pilot, lambda: pane.started is not None and pane.started.endpoints[0].ifname == bridge, "the bridge capture"
        )
        assert {str(v) for v in pane.packets.get_column("ifname")} <= {bridge}  # a new capture, a new list
        await asyncio.to_thread(ping, address, 1)
        await wait_until(pilot, lambda: sum("ICMP echo" in s for s in summaries(pane)) >= 2, "echoes on the bridge")
        await pilot.press("s")
        await wait_until(pilot, lambda: not pane.running and pane.capture is None, "the stop")
        assert "stopped" in str(pane.query_one(".caption", Static).render())


async def test_a_target_that_cannot_be_opened_says_so(target):
    _net, container, _address = target
    app = NetconApp(HostContext(), watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state.snapshot is not None, "the first snapshot")
        await asyncio.to_thread(container.stop, timeout=1)  # the snapshot still shows it running
        pane = app.query_one("#capture", CapturePane)
        await pilot.press("9")
        pane.start([f"container:{container.id}"])
        await wait_until(pilot, lambda: pane.state_text.startswith("not capturing:"), "the failure")
        assert f"Container {container.name}" in pane.state_text and not pane.running
        assert pane.check_action("stop_capture", ()) is False
