"""``netcon cluster status|doctor``: every host of the overlay at once. Hosts: this machine (or, with ``--lab``,
the lab's hosts over SSH), ``~/.config/netcon/hosts.toml``, ``--host`` (repeatable) and every host a flannel
lease names that no other entry stands for; each read by the netcon on it."""

from __future__ import annotations

import json
import sys

from netcon.cli.table import render
from netcon.core.lab.lab import DEFAULT_PREFIX


def register(sub, common) -> None:
    from netcon.cli.flannel import etcd_parent
    from netcon.cli.main import common_options

    cluster = sub.add_parser("cluster", parents=[common], help="every host of the overlay: status, doctor")
    several = common_options(host=False)  # --host is repeatable here
    actions = cluster.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    for name, helptext, func in (
        ("status", "one row per host: reachable, Docker, containers, lease, VTEP MAC, doctor, RTT", run_status),
        ("doctor", "the doctor on every host, findings tagged with their host (exit 1 on any error)", run_doctor),
    ):
        p = actions.add_parser(name, parents=[several, etcd_parent()], help=helptext)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        host_options(
            p,
            "a host to include (repeatable), besides hosts.toml and the leases' hosts",
            f"the lab's hosts over SSH (lab up --ssh; default prefix {DEFAULT_PREFIX}), instead of this machine",
        )
        p.set_defaults(func=func, remote=True)  # netcon --host X cluster ...: X is one more host


def host_options(p, host_help: str, lab_help: str) -> None:
    """The cluster's hosts on a command line (``open_hosts`` reads them): ``--host`` repeatable, ``--lab``."""
    p.add_argument(
        "--host", dest="hosts", action="append", default=[], metavar="ssh://[user@]host[:port]", help=host_help
    )
    p.add_argument("--lab", nargs="?", const=DEFAULT_PREFIX, default=None, metavar="PREFIX", help=lab_help)


def open_hosts(args, ctx):
    """(hosts, leases) of the cluster the arguments name (``inventory.cluster_entries``: the one rule)."""
    from netcon.cli.hosts import etcd_access, ssh_config
    from netcon.core.hosts import inventory

    given = getattr(args, "remote_host", None)  # the global --host, before the word cluster
    cluster = inventory.cluster_entries(
        ctx,
        etcd_access(args),
        lab=args.lab,
        flags=[*args.hosts, *([given] if given else [])],
        with_own=args.lab is None,
    )
    if cluster.leases_error:
        print(f"netcon: flannel's leases not read: {cluster.leases_error}", file=sys.stderr)
    config = ssh_config(args)
    return [inventory.open_host(e, ctx.read_only, config, ctx) for e in cluster.entries], cluster.leases


def close_hosts(hosts) -> None:
    from netcon.core.aioloop import stop_loop

    for host in hosts:
        host.close()
    stop_loop()


def run_status(args, ctx) -> int:
    from netcon.core.hosts.cluster import icmp_rtt, rows

    hosts, leases = open_hosts(args, ctx)
    try:
        table = rows(hosts, leases, doctor=True, rtt=icmp_rtt())
    finally:
        close_hosts(hosts)
    if args.json:
        print(json.dumps([r.json() for r in table], indent=2))
    else:
        print(status_table(table))
        for r in table:
            if r.error:
                print(f"netcon: {r.name}: {r.error}", file=sys.stderr)
    return 0 if all(r.reachable for r in table) else 1


def status_table(table) -> str:
    def cell(value, unit=""):
        return "-" if value is None else f"{value}{unit}"

    return render(
        ("HOST", "TARGET", "REACHABLE", "DOCKER", "CONTAINERS", "SUBNET", "LEASE TTL", "VTEP MAC", "ERR/WARN", "RTT"),
        [
            (
                r.name,
                r.target,
                "yes" if r.reachable else "NO",
                cell(r.docker_version),
                cell(r.containers),
                cell(r.subnet),
                cell(r.lease_ttl_s, "s"),
                cell(r.vtep_mac),
                "-" if r.errors is None else f"{r.errors}/{r.warnings}",
                "-" if r.rtt_ms is None else f"{r.rtt_ms:.2f}ms",
            )
            for r in table
        ],
    )


def run_doctor(args, ctx) -> int:
    from netcon.cli.doctor import render as render_report
    from netcon.core.hosts.cluster import doctor
    from netcon.core.model import to_json

    hosts, _leases = open_hosts(args, ctx)
    try:
        report = doctor(hosts)
    finally:
        close_hosts(hosts)
    if args.json:
        print(json.dumps(to_json(report) | {"healthy": report.healthy}, indent=2))
    else:
        print(render_report(report))
    return 0 if report.healthy else 1
