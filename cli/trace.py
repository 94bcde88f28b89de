"""``netcon trace SRC DST``: the hop table of the path from SRC to DST and back (what the kernel holds at each
hop, the predicted verdict, whether the probe was seen there) and a last line naming the first failing hop
and its reason, or "reached, reply seen". Exit 0 when the reply was seen (with --no-probe: predicted), 1 when
not, 2 on bad usage. Only reads, except the temporary nftrace rule (see docs/user-guide.md)."""

from __future__ import annotations

import json
from textwrap import wrap

from netcon.cli.flannel import etcd_options, etcd_parent
from netcon.cli.hosts import ssh_config
from netcon.cli.table import render
from netcon.core.errors import UsageError
from netcon.core.flannel.registry import normalize_prefix
from netcon.core.hosts.target import parse_target
from netcon.core.lab.lab import DEFAULT_PREFIX
from netcon.core.lab.state import check_prefix
from netcon.core.trace.model import Trace
from netcon.core.trace.run import MAX_WAIT_S, Options, trace
from netcon.core.validate import values

USAGE = (
    "netcon trace SRC DST [--proto icmp|tcp|udp] [--port N] [--no-probe] [--json] [--lab PREFIX] [-W S] "
    "[--via ssh://[user@]host[:port] ...]"
)


def register(sub, common) -> None:
    p = sub.add_parser(
        "trace",
        parents=[common, etcd_parent()],
        usage=USAGE,
        help="why can't A reach B: the path through every namespace, bridge, route, firewall and tunnel, proven",
        description="SRC: a container, 'host', or a lab host (h1). DST: a container, an IP, a name the source "
        "resolves, or IP:PORT/PROTO. With --lab (or --netns naming a lab host) every lab host is read.",
    )
    p.add_argument("src", metavar="SRC", help="where the packet leaves from")
    p.add_argument("dst", metavar="DST", help="where it should go")
    p.add_argument("--proto", default=None, help="icmp (default without a port), tcp (default with one) or udp")
    p.add_argument("--port", default=None, help="destination port for tcp and udp")
    p.add_argument("--no-probe", action="store_true", help="predict only: send nothing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "-W",
        dest="wait",
        default=None,
        metavar="S",
        help=f"seconds to wait for the reply (default 1, at most {MAX_WAIT_S:g})",
    )
    p.add_argument(
        "--lab",
        default=None,
        metavar="PREFIX",
        help=f"read every host of lab PREFIX ({DEFAULT_PREFIX} unless you gave it another)",
    )
    p.add_argument(
        "--via",
        action="append",
        default=None,
        metavar="ssh://[user@]host[:port]",
        help="read this host over SSH (repeat for more): where the path crosses to it, the netcon there walks "
        "its part from its own kernel state (with --lab, a lab host's target, as lab status --json gives it, "
        "replaces reading that host here; --ssh-config FILE as ssh -F); the probe is captured there by it too",
    )
    p.set_defaults(func=run_trace, remote=True)  # --host: the netcon there runs the whole trace


def run_trace(args, ctx) -> int:
    wait = 1.0 if args.wait is None else values.number(args.wait, "wait", "-W", 0.1, MAX_WAIT_S)
    etcd = etcd_options(args) if args.etcd_endpoints is not None else None
    etcd_prefix = normalize_prefix(args.etcd_prefix) if args.etcd_prefix is not None else None
    if args.lab is not None:
        check_prefix(args.lab)
    via = tuple(str(parse_target(v, "via", "--via")) for v in args.via or ())
    if getattr(args, "remote_host", None) is not None:
        if via or args.lab is not None:
            raise UsageError(
                "--via and --lab name hosts this netcon reads; with --host the netcon there runs the trace: give one."
            )
        result = _remote_trace(args, ctx, wait)
        return _print(args, result)
    options = Options(
        proto=args.proto,
        port=args.port,
        probe=not args.no_probe,
        wait=wait,
        lab=args.lab,
        etcd=etcd,
        etcd_prefix=etcd_prefix,
        via=via,
        ssh_config=ssh_config(args),
    )
    try:
        result = trace(ctx, args.src, args.dst, options)
    finally:
        if via:
            from netcon.core.aioloop import stop_loop

            stop_loop()
    return _print(args, result)


def _remote_trace(args, ctx, wait: float) -> Trace:
    """The trace run by the netcon on ``--host`` from its own kernel state (``Host.trace``): its hops end where
    the packet leaves that host."""
    from netcon.cli.hosts import open_host
    from netcon.core.trace.model import TraceAsk
    from netcon.core.trace.question import destination

    destination(args.dst, args.proto, args.port)  # refused here, before connecting, as a local trace refuses it
    port = values.port(args.port, "port", "--port") if args.port is not None else None
    ask = TraceAsk(args.src, args.dst, args.proto, port, not args.no_probe, wait)
    with open_host(args, ctx) as host:
        return host.trace(ask)


def _print(args, result: Trace) -> int:
    if args.json:
        print(json.dumps(result.json(), indent=2))
    else:
        print(table(result))
    if result.probed:
        return 0 if result.reply_seen else 1
    return 0 if result.failed_hop is None and result.reached else 1


def table(result: Trace) -> str:
    rows = []
    for number, hop in enumerate(result.hops, 1):
        holds = [line for chunk in hop.holds.split(" · ") for part in chunk.split("; ") for line in wrap(part, 72)]
        seen = "-" if not hop.probed or hop.capture is None else ("yes" if hop.seen else "NO")
        verdict = [hop.verdict] + ([f"nftrace: {hop.traced}"] if hop.traced else []) + [f"fix: {f}" for f in hop.fix]
        rows.append(
            (
                f"{number}{'>' if hop.direction == 'request' else '<'}",
                hop.host,
                hop.netns,
                hop.device or "-",
                hop.stage,
                holds,
                hop.predicted,
                seen,
                verdict,
            )
        )
    head = f"trace {result.src} ({result.src_ip or '?'}) -> {result.dst} ({result.dst_ip}) {result.proto}"
    head += f"/{result.port}" if result.port else ""
    lines = [head]
    lines += [f"note: {note}" for note in result.notes]
    lines.append(
        render(("HOP", "HOST", "NETNS", "DEVICE", "STAGE", "KERNEL HOLDS", "PREDICTED", "SEEN", "VERDICT"), rows)
    )
    lines.append(result.last_line)
    return "\n".join(lines)
