"""``netcon ping --from SRC TARGET`` (prints like ping, exit 0 with replies, 1 without) and
``netcon ping matrix (--network NAME | --containers a,b,c)`` (exit 0 when every pair answers, 1 otherwise), on this
machine or, given hosts (``--lab``, ``--host`` repeatable), across them (``cli.ping_cluster``).

Both forms share one parser: ``matrix`` in the TARGET place without ``--from`` selects the matrix, so a
container that happens to be named ``matrix`` can still be pinged with ``--from``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from netcon.cli.ping_cluster import across_hosts, cluster_matrix
from netcon.cli.table import render
from netcon.core.errors import UsageError
from netcon.core.model import to_json
from netcon.core.ping.engine import PingEngine
from netcon.core.ping.matrix import Matrix, containers_matrix, network_matrix
from netcon.core.ping.probe import ProbeSpec, ProbeSummary, Reply, validate
from netcon.core.ping.resolve import Resolution, resolve
from netcon.core.ping.sources import Source, find_source
from netcon.core.validate import values

LAB_PREFIX = "nclab"  # core.lab.lab.DEFAULT_PREFIX, not imported: the lab code would slow every ping's start
USAGE = """netcon ping --from SRC TARGET [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [-s SIZE] [-t TTL] [--flood-ok] [--json]
       netcon ping matrix (--network NAME | --containers a,b,c) [-c COUNT] [-W TIMEOUT] [--json]
       netcon ping matrix (--lab [PREFIX] | --host ssh://...)... (--network NAME | --containers h1/a,h2/b) [...]"""


def register(sub, common) -> None:
    from netcon.cli.cluster import host_options
    from netcon.cli.main import common_options

    p = sub.add_parser(
        "ping",
        parents=[common_options(host=False)],  # --host is repeatable here (a matrix across hosts)
        usage=USAGE,
        help="ICMP echo from a container, the host or a lab netns (no docker exec); 'ping matrix' for all pairs",
        description="SRC: a container name or id, 'host', or netns:NAME|PATH (a lab host). "
        "TARGET: an IP, a container or host name, resolved the way SRC resolves it.",
    )
    p.add_argument("target", nargs="?", metavar="TARGET", help="what to ping, or 'matrix'")
    p.add_argument("--from", dest="source", metavar="SRC", help="where the echoes leave from")
    p.add_argument(
        "-c", dest="count", type=int, default=None, help="stop after COUNT echoes (default: until ^C; matrix: 3)"
    )
    p.add_argument("-i", dest="interval", type=float, default=1.0, help="seconds between echoes (>= 0.2)")
    p.add_argument(
        "-W", dest="timeout", type=float, default=None, help="seconds to wait for each reply (default 2; matrix: 1)"
    )
    p.add_argument("-s", dest="size", type=int, default=56, help="payload bytes (default 56)")
    p.add_argument("-t", dest="ttl", type=int, default=None, help="IP time to live of the echoes")
    p.add_argument("--flood-ok", action="store_true", help="allow intervals under 0.2 s (root only)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.add_argument("--network", metavar="NAME", help="matrix: every container on this network")
    p.add_argument("--containers", metavar="a,b,c", help="matrix: these containers (HOST/NAME across hosts)")
    host_options(
        p,
        "ping: the host the probe runs on; matrix: a host to include (repeatable), as netcon cluster status",
        f"matrix: across the lab's hosts over SSH (lab up --ssh; default prefix {LAB_PREFIX})",
    )
    p.set_defaults(func=run_ping, remote=True)  # --host: the probe runs on that host, by the netcon there


def run_ping(args, ctx) -> int:
    if args.target == "matrix" and args.source is None:
        return run_matrix(args, ctx)
    if args.network or args.containers or args.lab is not None:
        raise UsageError("--network, --containers and --lab belong to 'netcon ping matrix'.")
    _one_host(args, ctx)
    remote = getattr(args, "remote_host", None) is not None
    if args.source is None or args.target is None:
        raise UsageError("Give a source and a target: netcon ping --from SRC TARGET.")
    if remote:
        from netcon.cli.ping_remote import run_remote_ping

        return run_remote_ping(args, ctx)
    source = find_source(ctx, args.source)
    spec = _spec(args, source)
    validate(spec)  # before any name lookup: bad values send nothing
    resolution = resolve(source, args.target)
    spec = dataclasses.replace(spec, target=resolution.ip)
    replies: list[Reply] = []

    def show(event) -> None:
        if isinstance(event, Reply):
            replies.append(event)
            if not args.json:
                print(reply_line(event, spec.timeout), flush=True)

    with PingEngine(max_probes=1, max_pps=1.0 / spec.interval) as engine:
        if not args.json:
            print(header(args.target, resolution, source.label, spec.size), flush=True)
        probe = engine.start(spec, on_event=show)
        try:
            summary = engine.wait(probe)
        except KeyboardInterrupt:
            summary = engine.stop(probe)
    return finish(args, source.label, resolution, replies, summary)


def _one_host(args, ctx) -> None:
    """A ping from one container runs on one host: ``--host`` given after ``ping`` is that host."""
    given = [*([args.remote_host] if getattr(args, "remote_host", None) else []), *args.hosts]
    if len(given) > 1:
        raise UsageError("A ping runs on one host: give --host once (several hosts are for 'netcon ping matrix').")
    if args.hosts:
        from netcon.cli.hosts import check_host_options

        args.remote_host = args.hosts[0]
        check_host_options(args, ctx, "ping")


def header(target: str, resolution: Resolution, source: str, size: int) -> str:
    """ping's first line, after how the target was resolved (unless given as an address)."""
    first = f"{resolution} (from {source})\n" if resolution.via != "literal" else ""
    return f"{first}PING {target} ({resolution.ip}) {size}({size + 28}) bytes of data."


def finish(args, source: str, resolution: Resolution, replies: list[Reply], summary: ProbeSummary) -> int:
    """The JSON document or ping's closing lines; exit 0 when an echo was answered."""
    if args.json:
        print(
            json.dumps(
                {
                    "source": source,
                    "target": args.target,
                    "ip": resolution.ip,
                    "resolved_via": resolution.via,
                    "replies": to_json(replies),
                    "summary": to_json(summary),
                },
                indent=2,
            )
        )
    else:
        _print_statistics(args.target, summary)
    return 0 if summary.received else 1


def _spec(args: argparse.Namespace, source: Source) -> ProbeSpec:
    """The probe the arguments ask for, its target still as the user named it."""
    return ProbeSpec(
        source,
        args.target,
        count=args.count,
        interval=args.interval,
        timeout=2.0 if args.timeout is None else args.timeout,
        size=args.size,
        ttl=args.ttl,
        label=args.target,
        flood_ok=args.flood_ok,
    )


def _print_statistics(target: str, summary: ProbeSummary) -> None:
    """ping's closing lines."""
    print(f"\n--- {target} ping statistics ---")
    errors = f", +{summary.errors} errors" if summary.errors else ""
    print(
        f"{summary.transmitted} packets transmitted, {summary.received} received{errors}, "
        f"{summary.loss_pct:g}% packet loss, time {summary.elapsed_s * 1000:.0f}ms"
    )
    if summary.received:
        print(
            f"rtt min/avg/max/mdev = {summary.rtt_min_ms:.3f}/{summary.rtt_avg_ms:.3f}/"
            f"{summary.rtt_max_ms:.3f}/{summary.rtt_mdev_ms:.3f} ms"
        )


def reply_line(r: Reply, timeout: float) -> str:
    """One line as iputils ping prints it."""
    if r.status == "reply":
        return f"{r.size} bytes from {r.responder}: icmp_seq={r.seq} ttl={r.ttl} time={_ms(r.rtt_ms)} ms"
    if r.status == "timeout":
        return f"no answer for icmp_seq={r.seq} within {timeout:g} s"
    if r.responder:
        return f"From {r.responder} icmp_seq={r.seq} {r.detail}"
    return f"icmp_seq={r.seq} {r.detail}"


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def run_matrix(args, ctx) -> int:
    if args.source is not None:
        raise UsageError("'netcon ping matrix' probes from every member; leave out --from.")
    if (args.network is None) == (args.containers is None):
        raise UsageError("Give exactly one of --network NAME or --containers a,b,c.")
    options = {
        "count": 3 if args.count is None else args.count,
        "timeout": 1.0 if args.timeout is None else args.timeout,
    }
    if across_hosts(args):
        matrix = cluster_matrix(args, ctx, options)
    elif args.network is not None:
        matrix = network_matrix(ctx, values.text(args.network, "network", "--network"), **options)
    else:
        matrix = containers_matrix(ctx, values.name_list(args.containers, "containers", "--containers", 2), **options)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "src": p.src,
                        "dst": p.dst,
                        "dst_ip": p.dst_ip,
                        "sent": p.sent,
                        "received": p.received,
                        "rtt_ms_median": p.rtt_ms_median,
                        "ttl": p.ttl,
                        **({"error": p.error} if p.error else {}),
                    }
                    for p in matrix.pairs
                ],
                indent=2,
            )
        )
    else:
        print(matrix_table(matrix))
    return 0 if all(p.reachable for p in matrix.pairs) else 1


def matrix_table(m: Matrix) -> str:
    """Rows are sources, columns destinations; a cell is median RTT and TTL, or how many echoes were lost."""

    def cell(src: str, dst: str) -> str:
        if src == dst:
            return "-"
        p = m.pair(src, dst)
        if p.reachable:
            return f"{_ms(p.rtt_ms_median)}ms ttl={p.ttl}" + (f" {p.received}/{p.sent}" if p.received < p.sent else "")
        return "ERROR" if p.error else f"UNREACHABLE 0/{p.sent}"

    reachable = sum(p.reachable for p in m.pairs)
    lines = [
        f"{m.title}: {len(m.members)} containers, {reachable}/{len(m.pairs)} ordered pairs reachable "
        f"({m.count} echoes each, {m.elapsed_s:.1f} s)",
        render(("FROM \\ TO", *m.members), [(src, *(cell(src, dst) for dst in m.members)) for src in m.members]),
    ]
    lines += [
        f"error: {p.src} -> {p.dst}: {p.error}" if p.error else f"unreachable: {p.src} -> {p.dst} ({p.dst_ip})"
        for p in m.pairs
        if not p.reachable
    ]
    return "\n".join(lines)
