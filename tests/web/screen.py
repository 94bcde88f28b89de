"""The console's screen as a browser gets it: the terminal is drawn on canvases, so the screen is read from the
websocket's frames through a terminal emulator (pyte), sized as the page sizes its terminal."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pyte
from playwright.sync_api import Page, WebSocket

CHROMIUM = "/usr/bin/chromium"  # Debian's: Playwright cannot download its own browsers here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Screen:
    def __init__(self) -> None:
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)
        self.sockets = 0

    def attach(self, ws: WebSocket) -> None:
        self.sockets += 1
        query = parse_qs(urlparse(ws.url).query)
        self.screen.resize(int(query["height"][0]), int(query["width"][0]))
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)

    def _received(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            self.stream.feed(payload)

    def _sent(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            message = json.loads(payload)
            if message[0] == "resize":
                self.screen.resize(message[1]["height"], message[1]["width"])

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, page: Page, *words: str, timeout: float = 30.0) -> str:
        """Until every word is on screen (events are delivered while Playwright waits, not during sleep)."""
        for _ in range(int(timeout * 10)):
            if all(word in self.text for word in words):
                return self.text
            page.wait_for_timeout(100)
        raise AssertionError(f"{words} not on screen within {timeout:g} s:\n{self.text}")
