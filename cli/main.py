"""Entry point of the ``netcon`` console script.

Each module in ``COMMANDS`` exposes ``register(subparsers, common)``, each in ``SHOW_VIEWS``
``register_show(views, common)`` to add a ``netcon show VIEW``; they set ``func(args, ctx)`` on their parsers;
``main`` builds the ``HostContext`` once and turns every ``NetconError`` into one line on stderr and its exit
code (2 usage, 1 operational, 3 read-only).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from typing import NoReturn

from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.logfile import log_failure

# command -> the module that registers it; views of `netcon show` that other modules add -> that module.
# Only the modules a command line names are imported, so `netcon show veths` does not load Textual or etcd.
COMMANDS = {
    "show": "netcon.cli.show",
    "console": "netcon.cli.console",
    "network": "netcon.cli.network",
    "container": "netcon.cli.container",
    "image": "netcon.cli.image",
    "lab": "netcon.cli.lab",
    "flannel": "netcon.cli.flannel",
    "ping": "netcon.cli.ping",
    "doctor": "netcon.cli.doctor",
    "capture": "netcon.cli.capture",
    "trace": "netcon.cli.trace",
    "exporter": "netcon.cli.exporter",
    "serve": "netcon.cli.serve",
    "cluster": "netcon.cli.cluster",
}
SHOW_VIEWS = {"ports": "netcon.cli.ports", "leases": "netcon.cli.flannel"}
SNAPSHOT_VIEWS = ("networks", "containers", "bridges", "veths")  # cli.show's own


class Parser(argparse.ArgumentParser):
    """argparse in netcon's style: a usage error is one line naming the problem and where the usage is shown,
    exit code 2 (argparse's own prints the whole usage first). Subcommands inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"netcon: {message.rstrip('.')} (see {self.prog} --help).\n")


class CommandParser(Parser):
    """Takes everything after the first ``--`` as the command to run (``args.command``), wherever netcon's own
    options stand: argparse alone would match an empty command right after the last positional and then
    take options written after it (``--read-only``) as part of the command."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def,override]
        args = list(sys.argv[1:] if args is None else args)
        command = args[args.index("--") + 1 :] if "--" in args else []
        if "--" in args:
            args = args[: args.index("--")]
        namespace, extras = super().parse_known_args(args, namespace)
        namespace.command = command
        return namespace, extras


def common_options(host: bool = True) -> argparse.ArgumentParser:
    """The global options every subcommand accepts (before or after the subcommand). ``host`` False leaves out
    ``--host`` for a command that takes several hosts (``netcon cluster``)."""
    common = Parser(add_help=False)
    common.add_argument(
        "--docker-host",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="Docker endpoint (default: $DOCKER_HOST, then the local socket)",
    )
    common.add_argument(
        "--netns",
        metavar="NAME|PATH",
        default=argparse.SUPPRESS,
        help="work in another network namespace (e.g. a lab host)",
    )
    common.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="refuse every change (also NETCON_READ_ONLY=1)",
    )
    if host:
        common.add_argument(
            "--host",
            dest="remote_host",  # its own name: lab console/exec take a positional "host" (a lab host's name)
            metavar="ssh://[user@]host[:port]",
            default=argparse.SUPPRESS,
            help="read another machine, through the netcon there (netcon serve --stdio over SSH)",
        )
    common.add_argument(
        "--ssh-config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="the ssh config to use instead of ~/.ssh/config (as ssh -F)",
    )
    return common


def _modules_for(argv: list[str]) -> tuple[set[str], set[str]]:
    """(command modules, show-view modules) to import for ``argv``: all of them for help or no command."""
    command = next((a for a in argv if a in COMMANDS), None)
    if command is None or "-h" in argv or "--help" in argv:
        return set(COMMANDS.values()), set(SHOW_VIEWS.values())
    if command != "show":
        return {COMMANDS[command]}, set()
    rest = argv[argv.index("show") + 1 :]
    view = next((a for a in rest if a in SHOW_VIEWS), None)
    if view:
        return {COMMANDS["show"]}, {SHOW_VIEWS[view]}
    return {COMMANDS["show"]}, set() if set(rest) & set(SNAPSHOT_VIEWS) else set(SHOW_VIEWS.values())


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    common = common_options()
    parser = Parser(
        prog="netcon",
        parents=[common],
        description="See and operate a host's container networking: Docker networks, bridges, veths, flannel.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands, views = _modules_for(sys.argv[1:] if argv is None else argv)
    for name in COMMANDS.values():
        if name in commands:
            importlib.import_module(name).register(sub, common)
    if "show" in sub.choices:
        for name in dict.fromkeys(SHOW_VIEWS.values()):
            if name in views:
                importlib.import_module(name).register_show(sub.choices["show"].views, common)
    return parser


def with_command(argv: list[str]) -> list[str]:
    """``argv`` with ``console`` in front when it names no command: the console is netcon's default, and its
    options (``--etcd-endpoints URL``...) may be given without the word."""
    if any(arg in COMMANDS for arg in argv) or any(arg in ("-h", "--help") for arg in argv):
        return argv
    return ["console", *argv]


def main(argv: list[str] | None = None) -> int:
    argv = with_command(sys.argv[1:] if argv is None else argv)
    with contextlib.suppress(AttributeError, ValueError):  # a value the user gave may not be UTF-8: escape it
        sys.stderr.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    args = build_parser(argv).parse_args(argv)
    try:
        ctx = HostContext.from_options(
            docker_host=getattr(args, "docker_host", None),
            netns=getattr(args, "netns", None),
            read_only=getattr(args, "read_only", False),
        )
        from netcon.cli.hosts import check_host_options

        check_host_options(args, ctx, next((a for a in argv if a in COMMANDS), "console"))
        return int(args.func(args, ctx))
    except NetconError as error:
        print(f"netcon: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # a bug: one line and an exit code for the user, the traceback in the log
        print(f"netcon: {internal_error(error, argv)}", file=sys.stderr)
        return 1


def internal_error(error: Exception, argv: list[str]) -> str:
    """The sentence for an error netcon did not expect, with where its traceback went."""
    what = f"internal error ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no message'})"
    command = next((word for word in argv if word in COMMANDS), "")
    try:
        return f"{what}; the traceback is in {log_failure(f'netcon {command}', error)}."
    except NetconError as unwritable:
        return f"{what}; {unwritable}"
