"""Entry point of the ``netcon`` console script.

Each feature module in ``FEATURES`` exposes ``register(subparsers, common)`` and sets ``func(args, ctx)`` on
its parsers; ``main`` builds the ``HostContext`` once and turns every ``NetconError`` into one line on
stderr and its exit code (2 usage, 1 operational, 3 read-only).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from core.context import HostContext
from core.errors import NetconError

FEATURES = ("cli.show", "cli.image", "cli.console", "cli.network", "cli.container")


def common_options() -> argparse.ArgumentParser:
    """The global options every subcommand accepts (before or after the subcommand)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--docker-host", metavar="URL", default=argparse.SUPPRESS,
                        help="Docker endpoint (default: $DOCKER_HOST, then the local socket)")
    common.add_argument("--netns", metavar="NAME|PATH", default=argparse.SUPPRESS,
                        help="work in another network namespace (e.g. a lab host)")
    common.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                        help="refuse every change (also NETCON_READ_ONLY=1)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="netcon", parents=[common],
        description="See and operate a host's container networking: Docker networks, bridges, veths, flannel.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in FEATURES:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args(["console", *(argv if argv is not None else sys.argv[1:])])
    try:
        ctx = HostContext.from_options(
            docker_host=getattr(args, "docker_host", None),
            netns=getattr(args, "netns", None),
            read_only=getattr(args, "read_only", False),
        )
        return args.func(args, ctx)
    except NetconError as error:
        print(f"netcon: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
