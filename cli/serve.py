"""``netcon serve --web``: the console in a browser (read-only unless --allow-changes). ``--web`` is the mode
flag, required, so that the machine-to-machine mode over SSH (``--stdio``, issue 16) can sit beside it."""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import sys

from netcon.core.errors import UsageError
from netcon.core.listen import listen_failure, shown
from netcon.core.validate import values

DEFAULT_LISTEN = "127.0.0.1:9473"
ETCD_FLAGS = (
    "etcd_endpoints",
    "etcd_prefix",
    "etcd_cafile",
    "etcd_certfile",
    "etcd_keyfile",
    "etcd_username",
    "etcd_password",
    "etcd_api",
)
MIN_TOKEN = 16  # characters: a guessable token on a reachable port is no check at all


def register(sub, common) -> None:
    from netcon.cli.flannel import etcd_parent

    p = sub.add_parser(
        "serve",
        parents=[common, etcd_parent()],
        help="serve the console to a browser (--web); one mode flag is required",
        description="Modes (give exactly one): --web serves the console to browsers, each session its own "
        "console, read-only unless --allow-changes. A machine-to-machine mode over SSH (--stdio) will join it. "
        "Bound to 127.0.0.1 by default; any other address, and --allow-changes, need a token (--token, or one "
        "is generated and printed once).",
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--web", action="store_true", help="serve the console in a browser (textual-serve)")
    p.add_argument("--listen", metavar="ADDR:PORT", default=None, help=f"where to serve (default {DEFAULT_LISTEN})")
    p.add_argument(
        "--token", metavar="TOKEN", default=None, help=f"the token browsers must give (>= {MIN_TOKEN} chars)"
    )
    p.add_argument(
        "--allow-changes", action="store_true", help="let the browser consoles change the host (default: read-only)"
    )
    p.set_defaults(func=run_serve)


def loopback(host: str) -> bool:
    return host == "localhost" or ipaddress.ip_address(host).is_loopback


def console_argv(args, ctx) -> list[str]:
    """The command each browser session runs: this netcon's console, on the same host, with the same etcd."""
    argv = [sys.executable, "-m", "netcon.cli", "console"]
    if ctx.docker_host:
        argv += ["--docker-host", ctx.docker_host]
    if ctx.netns:
        argv += ["--netns", ctx.netns]
    if not args.allow_changes:
        argv.append("--read-only")
    for flag in ETCD_FLAGS:
        value = getattr(args, flag, None)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", value]
    return argv


def run_serve(args, ctx) -> int:
    host, port = values.listen_address(args.listen if args.listen is not None else DEFAULT_LISTEN, "listen", "--listen")
    from netcon.cli.console import etcd_settings
    from netcon.core.flannel.registry import normalize_prefix

    etcd_settings(args)  # the etcd values each session's console gets, checked here once
    if args.etcd_prefix is not None:
        normalize_prefix(args.etcd_prefix)
    if args.allow_changes and ctx.read_only:
        raise UsageError("--allow-changes contradicts --read-only (or NETCON_READ_ONLY): give one of them.")
    token = None
    if args.token is not None:
        token = values.text(args.token, "token", "--token")
        if len(token) < MIN_TOKEN or not token.isascii():
            raise UsageError(f"--token must be at least {MIN_TOKEN} ASCII characters, so it cannot be guessed.")
    generated = token is None and (not loopback(host) or args.allow_changes)
    if generated:
        token = secrets.token_urlsafe(24)
    from netcon.tui.web_server import WebConsole  # aiohttp and textual-serve load only for this command

    server = WebConsole(console_argv(args, ctx), host, port, token)

    def started(address: tuple[str, int]) -> None:
        query = f"/?token={token}" if generated else "/"
        mode = "changes allowed" if args.allow_changes else "read-only"
        print(f"netcon serve: the console ({mode}) at http://{shown(host, address[1])}{query}", flush=True)
        if generated:
            print("netcon serve: that token is shown only now; browsers without it get 401.", flush=True)

    try:
        asyncio.run(server.run(started))
    except OSError as error:
        raise listen_failure(host, port, error) from None
    return 0
