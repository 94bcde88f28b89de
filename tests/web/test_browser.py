"""The console in a real browser: Debian's headless Chromium driven by Playwright opens the page, the console
starts and shows the Networks pane with the test's network, 3 shows its bridge, a change key does nothing in
read-only mode, and the page asks nothing of any other server."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.web.screen import CHROMIUM, CHROMIUM_ARGS, Screen
from tests.web.serving import serve, wait_no_sessions


@pytest.fixture
def browser(tmp_path):
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user-data-dir
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},  # set when the page is created, not after
        )
        try:
            yield context
        finally:
            context.close()


def test_console_in_a_browser(browser, dobj, dclient):
    net = dobj.network("web")
    dobj.container("c1", network=net.name)
    bridge = f"br-{net.id[:12]}"
    with serve() as served:
        page = browser.pages[0] if browser.pages else browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        screen = Screen()
        page.on("websocket", screen.attach)
        page.goto(served.url + "/")
        screen.wait_for(page, "READ-ONLY", "Networks", net.name)
        page.click(".xterm-screen")  # the terminal takes the keys
        page.keyboard.press("3")
        shown = screen.wait_for(page, "STP", bridge, dobj.name("c1"))
        assert any(bridge in line and "STP" in line for line in shown.splitlines()), shown  # the tree's head
        page.keyboard.press("1")
        screen.wait_for(page, "NETWORK ID", net.name)
        page.wait_for_timeout(500)
        before = screen.text
        page.keyboard.press("n")  # "New network" is a change: hidden and refused in read-only mode
        page.wait_for_timeout(1500)
        assert "Create" not in screen.text and "Subnet" not in screen.text
        assert screen.text.splitlines()[2:] == before.splitlines()[2:]  # nothing but the header's clock moved
        assert [n.name for n in dclient.networks.list() if n.name.startswith(dobj.prefix)] == [net.name]
        assert screen.sockets == 1
        assert requested and all(url.startswith(served.url + "/") for url in requested), requested
        page.close()
        assert wait_no_sessions(served.proc.pid, 10) == []
