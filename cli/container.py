"""``netcon container run|rm``: containers in every network mode through the core."""

from __future__ import annotations

import sys

from netcon.cli.hosts import change
from netcon.cli.main import CommandParser
from netcon.core.image import BUSYBOX_IMAGE


def register(sub, common) -> None:
    container = sub.add_parser("container", parents=[common], help="run and remove containers")
    actions = container.add_subparsers(
        dest="container_command", metavar="ACTION", required=True, parser_class=CommandParser
    )

    run = actions.add_parser(
        "run",
        parents=[common],
        help="run a container detached, in a network mode",
        epilog="CMD after -- is the container's command (default: the image's shell, kept "
        "running on a terminal as docker run -itd does)",
        usage="%(prog)s NAME [--network MODE] [--image IMAGE] [--publish H:C] [-- CMD...]",
    )
    run.add_argument("name", metavar="NAME")
    run.add_argument(
        "--network",
        default="bridge",
        metavar="MODE",
        help="bridge (default), a user network, host, none or container:<name|id>",
    )
    run.add_argument("--image", default=BUSYBOX_IMAGE, help=f"local image (default {BUSYBOX_IMAGE})")
    run.add_argument(
        "--publish",
        "-p",
        action="append",
        default=[],
        metavar="HOST:CONTAINER",
        help="publish a port (repeatable), e.g. 8080:80 or 5353:53/udp",
    )
    run.add_argument("--label", action="append", default=[], metavar="K=V", help="label (repeatable)")
    run.set_defaults(func=run_run, remote=True)

    rm = actions.add_parser("rm", parents=[common], help="remove a container")
    rm.add_argument("container", metavar="NAME|ID")
    rm.add_argument("--force", "-f", action="store_true", help="remove it even when running")
    rm.set_defaults(func=run_rm, remote=True)


def run_run(args, ctx) -> int:
    done = change(
        args,
        ctx,
        "container.run",
        name=args.name,
        network=args.network,
        image=args.image,
        publish=args.publish,
        command=args.command,
        labels=args.label,
    )
    for warning in done.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    addresses = f", {', '.join(done.ipv4)}" if done.ipv4 else ""
    print(f"{done.name} {done.id[:12]} running with --network {done.network_mode}{addresses}")
    return 0


def run_rm(args, ctx) -> int:
    done = change(args, ctx, "container.rm", container=args.container, force=args.force)
    print(f"removed container {done.name} ({done.id[:12]})")
    return 0
