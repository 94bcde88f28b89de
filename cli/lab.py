"""``netcon lab up|status|console|exec|down``: the seed's multi-host scenario on this machine."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from netcon.cli.main import CommandParser
from netcon.cli.table import render
from netcon.core.lab import lab
from netcon.core.lab import state as lab_state


def register(sub, common) -> None:
    parser = sub.add_parser("lab", parents=[common], help="Docker hosts in network namespaces, an underlay, etcd")
    actions = parser.add_subparsers(dest="lab_command", metavar="ACTION", required=True, parser_class=CommandParser)
    prefix = argparse.ArgumentParser(add_help=False)
    prefix.add_argument(
        "--prefix",
        default=lab.DEFAULT_PREFIX,
        help=f"names of the lab's namespaces and links start with it (default {lab.DEFAULT_PREFIX})",
    )

    up = actions.add_parser("up", parents=[common, prefix], help="build the lab (idempotent; repairs)")
    up.add_argument("--hosts", type=int, default=2, help="number of Docker hosts (default 2)")
    up.add_argument("--underlay", metavar="CIDR", help="underlay network (default: a free documentation range)")
    up.add_argument("--etcd-api", type=int, default=2, choices=(2, 3), help="API the flannel config is written with")
    up.add_argument(
        "--etcd-prefix", default=lab.SEED_PREFIX, help=f"flannel's key prefix (default {lab.SEED_PREFIX}, the seed's)"
    )
    up.add_argument(
        "--ssh",
        action="store_true",
        help="also an sshd in each host on its underlay address, with the lab's keys, known_hosts and ssh config",
    )
    up.set_defaults(func=run_up)

    status = actions.add_parser("status", parents=[common, prefix], help="hosts, namespaces, daemons, etcd")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run_status)

    console = actions.add_parser("console", parents=[common, prefix], help="open the console on a lab host")
    console.add_argument("host", nargs="?", default="h1", help="lab host (default h1)")
    console.add_argument(
        "--cluster", action="store_true", help="the other lab hosts too, over SSH (the lab was built with --ssh)"
    )
    console.set_defaults(func=run_console)

    execute = actions.add_parser(
        "exec",
        parents=[common, prefix],
        help="run a command in a lab host's netns",
        usage="%(prog)s HOST [--prefix PREFIX] -- CMD...",
        epilog="CMD after -- is run in the host's network namespace, without a shell",
    )
    execute.add_argument("host")
    execute.set_defaults(func=run_exec)

    down = actions.add_parser("down", parents=[common, prefix], help="remove everything the lab made")
    down.set_defaults(func=run_down)


def _progress(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


def run_up(args, ctx) -> int:
    lab.up(
        ctx, args.prefix, args.hosts, args.underlay, args.etcd_api, args.etcd_prefix, progress=_progress, ssh=args.ssh
    )
    return _print_status(lab.status(args.prefix), as_json=False)


def run_status(args, ctx) -> int:
    result = lab.status(args.prefix)
    _print_status(result, args.json)
    return 0 if result.healthy else 1


def _print_status(result: lab.LabStatus, as_json: bool) -> int:
    if as_json:
        print(json.dumps(asdict(result), indent=2))
        return 0
    print(
        f"lab {result.prefix}: underlay {result.underlay} on {result.bridge}"
        f"{'' if result.bridge_present else ' (MISSING)'}; etcd {result.etcd_endpoint} "
        f"(API v{result.etcd_api}) {'up' if result.etcd_up else 'DOWN'}"
        + (f"; ssh config {result.ssh_config}" if result.ssh_config else "")
    )
    print(
        render(
            ("HOST", "NETNS", "UNDERLAY IP", "DOCKER", "DOCKERD", "FLANNEL AGENT", "FLANNEL_SUBNET", "SSH"),
            [
                (
                    h.name,
                    h.netns if h.netns_present else f"{h.netns} (MISSING)",
                    h.address,
                    h.docker_host,
                    f"up (pid {h.dockerd_pid})" if h.docker_up else "DOWN",
                    f"up (pid {h.agent_pid})" if h.agent_pid else "DOWN",
                    h.flannel_subnet or "",
                    (f"{h.ssh} (sshd pid {h.sshd_pid})" if h.sshd_pid else f"{h.ssh} DOWN") if h.ssh else "",
                )
                for h in result.hosts
            ],
        )
    )
    return 0


def _host(args) -> lab_state.LabHost:
    return lab.find_host(args.prefix, args.host)


def run_console(args, ctx) -> int:
    from netcon.cli.main import main

    host = _host(args)
    state = lab_state.require(args.prefix)
    return main(
        [
            "--docker-host",
            host.docker_host,
            "--netns",
            host.netns_path,
            *(["--read-only"] if ctx.read_only else []),
            "console",
            "--etcd-endpoints",
            state.etcd_endpoint,
            "--etcd-api",
            str(state.etcd_api),
            "--etcd-prefix",
            state.flannel_prefix,
            *(["--lab", args.prefix] if args.cluster else []),
        ]
    )


def run_exec(args, ctx) -> int:
    return lab.exec_in(ctx, args.prefix, args.host, args.command).exit_code


def run_down(args, ctx) -> int:
    if not lab.down(ctx, args.prefix, progress=_progress):
        print(f"no lab {args.prefix} here; nothing to remove")
    return 0
