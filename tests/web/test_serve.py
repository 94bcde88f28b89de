"""``netcon serve --web`` at its edges, with raw HTTP and websocket clients: the token (401, nothing started),
the early close that leaves a textual app spinning (reproduced: no process is left), SIGTERM ending every
session, bad input."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import aiohttp
import pytest

from netcon.tui.web_server import token_ok
from tests.capture.netpair import NetPair
from tests.web.serving import serve, sessions_of, wait_no_sessions

TOKEN = "s3cret-token-for-tests-0123456789"


async def first_bytes(ws: aiohttp.ClientWebSocketResponse, timeout: float = 20.0) -> bytes:
    """Until the console draws (a session really started)."""
    async with asyncio.timeout(timeout):
        async for message in ws:
            if message.type == aiohttp.WSMsgType.BINARY and len(message.data) > 10:
                return message.data
    raise AssertionError("the socket closed before the console drew anything")


async def test_a_wrong_or_missing_token_gets_401_and_starts_nothing():
    with serve("--token", TOKEN) as served:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # keeps IP cookies
            for path in ("/", "/?token=wrong", f"/?token={TOKEN[:-1]}", "/static/js/textual.js"):
                async with http.get(served.url + path) as response:
                    assert response.status == 401, path
                    assert "token" in await response.text()
            for headers in ({}, {"Authorization": "Bearer nope"}):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(served.url + "/ws?width=80&height=24", headers=headers)
                assert refused.value.status == 401
            assert sessions_of(served.proc.pid) == []  # nothing of the console was started
            async with http.get(f"{served.url}/?token={TOKEN}") as response:
                assert response.status == 200 and "netcon_token" in response.cookies
            async with http.ws_connect(served.url + "/ws?width=80&height=24") as ws:  # the cookie it set
                await first_bytes(ws)
                assert len(sessions_of(served.proc.pid)) == 1
        assert wait_no_sessions(served.proc.pid, 5) == []


def test_token_comparison():
    assert token_ok(TOKEN, TOKEN)
    assert not token_ok(None, TOKEN) and not token_ok("", TOKEN) and not token_ok(TOKEN + "x", TOKEN)
    assert not token_ok("\udcff" * 20, TOKEN)  # bytes that are not UTF-8 compare, and fail


def test_a_non_loopback_address_gets_a_generated_token_printed_once():
    """Served inside a test namespace on its own (non-loopback) address, asked from inside it."""
    with NetPair() as pair:
        inside = ("ip", "netns", "exec", pair.ns_a)
        with serve(prefix=inside, listen=f"{pair.addr_a}:8090") as served:
            assert "?token=" in served.line
            token = served.line.strip().rsplit("?token=", 1)[1]
            assert len(token) >= 16
            base = f"http://{pair.addr_a}:8090"
            curl = [*inside, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"]
            assert subprocess.run([*curl, base + "/"], capture_output=True, text=True).stdout == "401"
            assert subprocess.run([*curl, f"{base}/?token={token}"], capture_output=True, text=True).stdout == "200"
            rest = served.proc.stdout.readline() if served.proc.stdout else ""
            assert token not in rest  # shown once


async def test_a_browser_that_closes_right_after_resizing_leaves_no_process():
    """The trap: connect, resize at once, close within a fraction of a second, before the console has even
    started. A textual app then redraws at ~100% of a core and ignores SIGTERM; the server must kill it."""
    with serve() as served:
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                ws = await http.ws_connect(served.url + "/ws?width=80&height=24")
                await ws.send_json(["resize", {"width": 120, "height": 40}])
                await asyncio.sleep(0.05)
                await ws.close()
            await asyncio.sleep(0.5)
        assert wait_no_sessions(served.proc.pid, 10) == []
        async with aiohttp.ClientSession() as http, http.ws_connect(served.url + "/ws?width=80&height=24") as ws:
            await first_bytes(ws)  # and the server still serves


async def test_sigterm_ends_every_session():
    with serve() as served:
        async with aiohttp.ClientSession() as http:
            sockets = [await http.ws_connect(served.url + "/ws?width=100&height=30") for _ in range(2)]
            for ws in sockets:
                await first_bytes(ws)
            assert len(sessions_of(served.proc.pid)) == 2
            served.proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(served.proc.wait, 15) == 0
            for ws in sockets:
                await ws.close()
        assert wait_no_sessions(served.proc.pid, 5) == []


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["serve"], 2, "--web"),  # the mode flag is required
        (["serve", "--web", "--token", "short"], 2, "at least 16"),
        (["serve", "--web", "--read-only", "--allow-changes"], 2, "contradicts"),
        (["serve", "--web", "--listen", "127.0.0.1"], 2, "addr:port"),
    ],
)
def test_bad_input(argv, code, words):
    done = subprocess.run([sys.executable, "-m", "netcon.cli", *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == code and words in done.stderr.lower() and len(done.stderr.splitlines()) == 1


def test_port_in_use():
    with serve() as served:
        done = subprocess.run(
            [sys.executable, "-m", "netcon.cli", "serve", "--web", "--listen", f"127.0.0.1:{served.port}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert done.stderr == f"netcon: Cannot listen on 127.0.0.1:{served.port}: the port is in use by another program.\n"
