"""``netcon console`` (also plain ``netcon``): open the Textual console on this host."""

from __future__ import annotations

import os

from netcon.core.validate import values

MAX_PROBES = 1024  # probes running at once: more would be a flood, not a console
MAX_RATE = 10000.0  # echoes per second over all probes


def register(sub, common) -> None:
    from netcon.cli.flannel import etcd_parent

    console = sub.add_parser(
        "console",
        parents=[common, etcd_parent()],
        help="open the keyboard-driven console (the default with no command)",
    )
    console.add_argument(
        "--ping-max-probes",
        type=int,
        default=32,
        metavar="N",
        help="at most N probes running at once in the Ping pane (default 32)",
    )
    console.add_argument(
        "--ping-max-rate",
        type=float,
        default=100.0,
        metavar="PPS",
        help="at most PPS echoes per second over all probes and matrices (default 100)",
    )
    console.add_argument(
        "--capture-max-pps", metavar="N", help="the Capture pane shows at most N packets a second (default 1000)"
    )
    console.add_argument(
        "--capture-keep", metavar="N", help="the Capture pane keeps the last N packets in memory (default 10000)"
    )
    console.add_argument(
        "--capture-stop-after", metavar="N", help="a capture in the console ends after N packets (default 100000)"
    )
    console.add_argument(
        "--cluster",
        action="store_true",
        help="every host of the overlay too: ~/.config/netcon/hosts.toml and the flannel leases' hosts, over SSH",
    )
    console.add_argument(
        "--lab",
        metavar="PREFIX",
        help="the lab's hosts too, over SSH (netcon lab up --ssh); netcon lab console --cluster gives it",
    )
    console.set_defaults(func=run_console, remote=True)  # --host: the console opens showing that host


def capture_settings(args):
    """The Capture pane's caps from the flags (each checked; an empty value is refused)."""
    from netcon.tui.capture_feed import CaptureSettings

    given = {}
    for flag, field in (("max_pps", "capture_max_pps"), ("keep", "capture_keep"), ("stop_after", "capture_stop_after")):
        value = getattr(args, field, None)
        if value is not None:
            given[flag] = values.integer(value, field, f"--{field.replace('_', '-')}", 1, 10_000_000)
    return CaptureSettings(**given)


def etcd_settings(args, env=None):
    """The Flannel pane's etcd: flags, else etcdctl's variables, else the default endpoint (tried quietly)."""
    from netcon.cli.flannel import etcd_options
    from netcon.core.etcd.options import ENV_NAMES
    from netcon.tui.flannel_feed import EtcdSettings

    env = os.environ if env is None else env
    given = bool(args.etcd_endpoints or any(env.get(name) for name in ENV_NAMES["endpoints"]))
    return EtcdSettings(etcd_options(args, env), args.etcd_prefix, given)


def run_console(args, ctx) -> int:
    probes = values.integer(args.ping_max_probes, "ping_max_probes", "--ping-max-probes", 1, MAX_PROBES)
    rate = values.number(args.ping_max_rate, "ping_max_rate", "--ping-max-rate", 0.1, MAX_RATE)
    settings = etcd_settings(args)
    capture = capture_settings(args)
    name, hosts, leases_etcd, shown = "local", [], None, None
    if args.cluster or args.lab is not None or getattr(args, "remote_host", None) is not None:
        from netcon.cli.console_hosts import cluster_hosts, flannel_settings, given_host

        name, hosts, leases_etcd = cluster_hosts(args, ctx, settings)
        settings, shown = flannel_settings(settings, leases_etcd), given_host(args, hosts)
    from netcon.tui.app import NetconApp  # Textual loads only for the console, not for scripted commands

    app = NetconApp(
        ctx,
        ping_max_probes=probes,
        ping_max_rate=rate,
        etcd=settings,
        name=name,
        hosts=hosts,
        cluster_etcd=leases_etcd,
        show_first=shown,
    )
    app.capture_settings = capture  # read by the Capture pane (tui.panes.capture.settings_of)
    app.run()
    return 0
