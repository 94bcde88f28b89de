"""``netcon serve --web``: the console in a browser, through textual-serve, each browser session with a
console process of its own (``tui.web_sessions``).

What netcon adds to textual-serve: the token check in front of every route (textual-serve has none): a wrong
or missing token is a 401 and starts nothing, compared in constant time; a page of netcon's own that loads
nothing from outside this server (textual-serve's links web fonts from the internet, which on an air-gapped
host stalls the page until that request times out); URLs built from the address the browser used (not the
bind address, which may be 0.0.0.0); and the console processes ended with their sockets and with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import logging
import signal
from pathlib import Path
from string import Template
from typing import Any

from aiohttp import web
from aiohttp.web_runner import GracefulExit
from textual_serve.server import Server, to_int

from netcon.tui.web_sessions import ConsoleSession, Sessions

log = logging.getLogger("netcon.serve")
COOKIE = "netcon_token"
PAGE = Template((Path(__file__).parent / "web_page.html").read_text(encoding="utf-8"))
UNAUTHORIZED = (
    "netcon serve: this console needs its token: open the URL the server printed when it started "
    "(or send Authorization: Bearer TOKEN).\n"
)
MAX_SIZE = 1000  # terminal columns or rows a browser may ask for


def given_token(request: web.Request) -> str | None:
    """The token a request carries: ``?token=``, the cookie the page set, or ``Authorization: Bearer``."""
    auth = request.headers.get("Authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    return request.query.get("token") or request.cookies.get(COOKIE) or bearer


def token_ok(given: str | None, token: str) -> bool:
    """Constant-time: how long the comparison takes says nothing of how much of the token was right."""
    return given is not None and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())


class WebConsole(Server):
    """textual-serve's server with netcon's routes, page, token and session handling."""

    def __init__(self, argv: list[str], host: str, port: int, token: str | None, title: str = "netcon") -> None:
        super().__init__("netcon", host=host, port=port, title=title)
        self.argv = argv
        self.token = token
        self.sessions = Sessions()
        self.runner: web.AppRunner | None = None

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.check_token])
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        app.on_shutdown.append(self.on_shutdown)
        return app

    @web.middleware
    async def check_token(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.token is not None and not token_ok(given_token(request), self.token):
            return web.Response(status=401, text=UNAUTHORIZED)
        response: web.StreamResponse = await handler(request)
        return response

    async def handle_index(self, request: web.Request) -> web.Response:  # type: ignore[override]
        scheme = "wss" if request.secure else "ws"
        page = PAGE.substitute(
            title=html.escape(self.title),
            websocket_url=html.escape(f"{scheme}://{request.host}/ws", quote=True),
            font_size=max(6, min(to_int(request.query.get("fontsize", "16"), 16), 64)),
        )
        response = web.Response(text=page, content_type="text/html")
        if self.token is not None:  # the page's own requests (static files, the socket) carry the cookie
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        width = max(10, min(to_int(request.query.get("width", "80"), 80), MAX_SIZE))
        height = max(5, min(to_int(request.query.get("height", "24"), 24), MAX_SIZE))
        session: ConsoleSession | None = None
        try:
            await websocket.prepare(request)
            session = ConsoleSession(
                self.argv,
                self.sessions,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
            )
            await session.start(width, height)
            await self._process_messages(websocket, session)
        except (asyncio.CancelledError, ConnectionError):
            pass  # the browser went away: the session ends below
        except Exception as error:  # a message that is not textual-serve's protocol ends that session only
            log.warning("a browser session ended on a message netcon does not understand: %r", error)
        finally:
            if session is not None:
                await asyncio.shield(session.stop())
            with contextlib.suppress(Exception):
                await websocket.close()
        return websocket

    async def on_shutdown(self, app: web.Application) -> None:
        await self.sessions.end_all()

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner here; netcon's command prints its own line."""

    async def start(self) -> web.AppRunner:
        """Bind (an error here is the caller's one sentence) and serve in the running loop."""
        self.runner = web.AppRunner(await self._make_app(), handle_signals=False, shutdown_timeout=2.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await self.runner.cleanup()
            raise
        return self.runner

    def serve(self, debug: bool = False) -> None:  # textual-serve's own; netcon uses run()
        raise NotImplementedError("use run()")

    async def run(self, started: Any = None) -> None:
        """Serve until SIGTERM or SIGINT, then end every session. ``started(address)`` is called once bound."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runner = await self.start()
        try:
            if started is not None:
                started(bound_address(runner))
            await stop.wait()
        finally:
            with contextlib.suppress(GracefulExit):
                await runner.cleanup()
            await self.sessions.end_all()


def bound_address(runner: web.AppRunner) -> tuple[str, int]:
    """The first address the server listens on (the port the kernel chose when 0 was asked for)."""
    for address in runner.addresses:
        return str(address[0]), int(address[1])
    raise RuntimeError("the server listens nowhere")
