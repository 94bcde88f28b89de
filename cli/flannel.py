"""``netcon flannel ...`` and ``netcon show leases``: flannel's config, leases, docker options and agent.

The etcd options (endpoints, prefix, API, TLS, user) live in one parent parser; unset ones fall back to
etcdctl's environment variables (and, for the agent, flanneld's FLANNELD_* ones first).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time

from netcon.core.context import HostContext
from netcon.core.errors import UsageError
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel.agent import Agent, AgentOptions
from netcon.core.flannel.config import parse_config
from netcon.core.flannel.docker_opts import DEFAULT_DOCKER_ENV, DEFAULT_KEY, write_docker_opts
from netcon.core.flannel.lease import Lease, acquire_lease, renew_lease, reserve_subnet, revoke_lease, vxlan_attrs
from netcon.core.flannel.registry import DEFAULT_PREFIX, FlannelStore, set_config
from netcon.core.flannel.subnet_file import DEFAULT_SUBNET_FILE, previous_subnet
from netcon.core.flannel.vxlan import random_mac

ETCD_FLAGS = (
    "etcd-endpoints",
    "etcd-prefix",
    "etcd-cafile",
    "etcd-certfile",
    "etcd-keyfile",
    "etcd-username",
    "etcd-password",
)


def etcd_parent() -> argparse.ArgumentParser:
    """The etcd options every flannel command takes (also spelled with one dash, as flanneld's Go flags are)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("etcd")
    helps = {
        "etcd-endpoints": "comma-separated URLs (default: $ETCDCTL_ENDPOINTS, then http://127.0.0.1:2379)",
        "etcd-prefix": f"flannel's key prefix (default {DEFAULT_PREFIX})",
        "etcd-cafile": "CA bundle for TLS ($ETCDCTL_CACERT, $ETCDCTL_CA_FILE)",
        "etcd-certfile": "client certificate ($ETCDCTL_CERT, $ETCDCTL_CERT_FILE)",
        "etcd-keyfile": "client key ($ETCDCTL_KEY, $ETCDCTL_KEY_FILE)",
        "etcd-username": "user, or user:password ($ETCDCTL_USER, $ETCDCTL_USERNAME)",
        "etcd-password": "password ($ETCDCTL_PASSWORD)",
    }
    for flag in ETCD_FLAGS:
        group.add_argument(
            f"--{flag}", f"-{flag}", dest=flag.replace("-", "_"), metavar="VALUE", default=None, help=helps[flag]
        )
    group.add_argument(
        "--etcd-api",
        "-etcd-api",
        dest="etcd_api",
        choices=("auto", "2", "3"),
        default=None,
        help="etcd API (default: $ETCDCTL_API, else auto: the one holding <prefix>/config)",
    )
    return parent


def etcd_options(args, env=None) -> EtcdOptions:
    return EtcdOptions.from_values(
        env,
        endpoints=args.etcd_endpoints,
        cafile=args.etcd_cafile,
        certfile=args.etcd_certfile,
        keyfile=args.etcd_keyfile,
        username=args.etcd_username,
        password=args.etcd_password,
        api=args.etcd_api,
    )


def open_store(args) -> FlannelStore:
    return FlannelStore.open(etcd_options(args), args.etcd_prefix)


def register(sub, common) -> None:
    etcd = etcd_parent()
    flannel = sub.add_parser("flannel", parents=[common], help="flannel over etcd: config, leases, agent")
    actions = flannel.add_subparsers(dest="flannel_command", metavar="ACTION", required=True)

    config = actions.add_parser("config", parents=[common], help="the network config at <prefix>/config")
    config_actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_actions.add_parser("show", parents=[common, etcd], help="print the config and its defaults")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=run_config_show)
    for name, helptext, func in (
        ("set", "validate, then store a config", run_config_set),
        ("validate", "check a config (the stored one when none is given)", run_config_validate),
    ):
        parser = config_actions.add_parser(name, parents=[common, etcd], help=helptext)
        parser.add_argument("config", nargs="?", help="the JSON text, or - for stdin")
        parser.add_argument("--file", help="read the JSON from this file")
        parser.set_defaults(func=func)

    opts = actions.add_parser("docker-opts", parents=[common], help="mk-docker-opts.sh: subnet.env to dockerd options")
    opts.add_argument(
        "-f", dest="subnet_file", default=DEFAULT_SUBNET_FILE, help=f"subnet file ({DEFAULT_SUBNET_FILE})"
    )
    opts.add_argument("-d", dest="docker_env", default=DEFAULT_DOCKER_ENV, help=f"file to write ({DEFAULT_DOCKER_ENV})")
    opts.add_argument("-k", dest="key", default=DEFAULT_KEY, help=f"combined options variable ({DEFAULT_KEY})")
    opts.add_argument("-i", dest="individual", action="store_true", help="only the individual DOCKER_OPT_* lines")
    opts.add_argument("-c", dest="combined", action="store_true", help="only the combined line")
    opts.add_argument("-m", dest="no_masq", action="store_true", help="leave out --ip-masq")
    opts.set_defaults(func=run_docker_opts)

    lease = actions.add_parser("lease", parents=[common], help="subnet leases")
    lease_actions = lease.add_subparsers(dest="lease_command", metavar="ACTION", required=True)
    listing = lease_actions.add_parser("list", parents=[common, etcd], help="all leases")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=run_leases)
    acquire = lease_actions.add_parser("acquire", parents=[common, etcd], help="acquire a lease as flanneld would")
    acquire.add_argument("--public-ip", required=True, help="the host's PublicIP")
    acquire.add_argument("--vtep-mac", help="its flannel.<VNI> MAC (default: a random one)")
    acquire.add_argument("--subnet-file", help="read the previous subnet from this file")
    acquire.set_defaults(func=run_acquire)
    for name, helptext, func in (
        ("renew", "renew a lease for another 24 h", run_renew),
        ("revoke", "delete a lease", run_revoke),
        ("reserve", "make a subnet a reservation (no TTL)", run_reserve),
    ):
        parser = lease_actions.add_parser(name, parents=[common, etcd], help=helptext)
        parser.add_argument("subnet", help="e.g. 10.5.34.0/24")
        if name == "reserve":
            parser.add_argument("--public-ip", help="for a subnet without a lease: the host to reserve it for")
        parser.set_defaults(func=func)

    agent = actions.add_parser("agent", parents=[common, etcd], help="run as flanneld (vxlan backend)")
    agent.add_argument(
        "--iface",
        "-iface",
        action="append",
        default=None,
        help="interface name or address for the underlay (repeatable)",
    )
    agent.add_argument("--public-ip", "-public-ip", dest="public_ip", default=None, help="PublicIP to announce")
    agent.add_argument(
        "--subnet-file",
        "-subnet-file",
        dest="subnet_file",
        default=None,
        help=f"where to write subnet.env ({DEFAULT_SUBNET_FILE})",
    )
    agent.add_argument(
        "--ip-masq",
        "-ip-masq",
        dest="ip_masq",
        nargs="?",
        const="true",
        default=None,
        help="record FLANNEL_IPMASQ=true (netcon installs no masquerade rules)",
    )
    agent.add_argument(
        "--subnet-lease-renew-margin",
        "-subnet-lease-renew-margin",
        dest="renew_margin",
        type=int,
        default=None,
        help="minutes before expiry to renew (60)",
    )
    agent.add_argument(
        "--retry-interval", type=float, default=60.0, help="seconds between retries while etcd is unreachable (60)"
    )
    agent.set_defaults(func=run_agent)


def register_show(views, common) -> None:
    """cli.main's hook for ``netcon show VIEW``: adds ``show leases``."""
    add_show_leases(views, common)


def add_show_leases(show_subparsers, common, etcd=None) -> None:
    """Register ``show leases [--json]`` under the ``show`` sub-command's subparsers."""
    leases = show_subparsers.add_parser(
        "leases", parents=[common, etcd or etcd_parent()], help="flannel's subnet leases"
    )
    leases.add_argument("--json", action="store_true", help="machine-readable output")
    leases.set_defaults(func=run_leases)


def _read_config_arg(args) -> str | None:
    if args.file:
        with open(args.file) as f:
            return f.read()
    if args.config == "-":
        return sys.stdin.read()
    return args.config


def run_config_show(args, ctx: HostContext) -> int:
    store = open_store(args)
    text = store.config_text()
    config = parse_config(text)
    if args.json:
        print(
            json.dumps(
                {
                    "key": store.config_key,
                    "api": store.client.api,
                    "stored": text,
                    "effective": config.effective(),
                    "pool_size": config.pool_size,
                },
                indent=2,
            )
        )
        return 0
    print(f"{store.config_key} ({store.where()}):")
    print(f"  stored:    {text}")
    print(f"  effective: {json.dumps(config.effective())}")
    print(f"  pool:      {config.pool} ({config.pool_size} subnets)")
    return 0


def run_config_set(args, ctx: HostContext) -> int:
    text = _read_config_arg(args)
    if not text:
        raise UsageError("Give the config as an argument, with --file, or as - on stdin.")
    parse_config(text)  # refuse a bad config before connecting anywhere
    store = open_store(args)
    config = set_config(ctx, store, text)
    print(f"{store.config_key}: stored; pool {config.pool} ({config.pool_size} subnets)")
    return 0


def run_config_validate(args, ctx: HostContext) -> int:
    text = _read_config_arg(args)
    where = "config"
    if not text:
        store = open_store(args)
        text, where = store.config_text(), store.config_key
    config = parse_config(text)
    print(f"{where}: valid; effective {json.dumps(config.effective())}")
    return 0


def run_docker_opts(args, ctx: HostContext) -> int:
    text = write_docker_opts(
        ctx, args.subnet_file, args.docker_env, args.key, args.individual, args.combined, not args.no_masq
    )
    sys.stdout.write(text) if args.docker_env == "/dev/stdout" else print(f"{args.docker_env}: written")
    return 0


def run_leases(args, ctx: HostContext) -> int:
    store = open_store(args)
    store.config_text()  # a wrong prefix or API is an error, not an empty list
    leases, _ = store.leases()
    now = time.time()
    if args.json:
        print(json.dumps([lease.row(now) for lease in leases], indent=2))
        return 0
    print(f"{'SUBNET':<20} {'PUBLIC IP':<16} {'BACKEND':<8} {'VNI':>4} {'VTEP MAC':<18} TTL")
    for lease in leases:
        ttl = "reserved" if lease.reservation else _duration(lease.ttl_seconds(now))
        print(
            f"{lease.subnet:<20} {lease.attrs.public_ip:<16} {lease.attrs.backend_type or '-':<8} "
            f"{lease.attrs.vni if lease.attrs.vni is not None else '-':>4} {lease.attrs.vtep_mac or '-':<18} {ttl}"
        )
    return 0


def _duration(seconds: int | None) -> str:
    seconds = seconds or 0
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def _print_lease(verb: str, lease: Lease) -> None:
    ttl = "no TTL (reservation)" if lease.reservation else f"TTL {lease.ttl_seconds()} s"
    print(f"{lease.subnet}: {verb} for {lease.attrs.public_ip}, {ttl}")


def run_acquire(args, ctx: HostContext) -> int:
    ctx.require_writable(f"acquire a flannel lease for {args.public_ip}")
    store = open_store(args)
    config = store.config()
    attrs = vxlan_attrs(args.public_ip, config.vni, args.vtep_mac or random_mac())
    previous = previous_subnet(args.subnet_file) if args.subnet_file else None
    _print_lease("acquired", acquire_lease(ctx, store, attrs, previous))
    return 0


def _lease_of(store: FlannelStore, subnet: str) -> Lease:
    lease = store.lease(subnet)
    if lease is None:
        raise UsageError(f"There is no lease for {subnet} under {store.subnets_prefix}.")
    return lease


def run_renew(args, ctx: HostContext) -> int:
    ctx.require_writable(f"renew the flannel lease {args.subnet}")
    store = open_store(args)
    _print_lease("renewed", renew_lease(ctx, store, _lease_of(store, args.subnet)))
    return 0


def run_revoke(args, ctx: HostContext) -> int:
    ctx.require_writable(f"revoke the flannel lease {args.subnet}")
    revoke_lease(ctx, open_store(args), args.subnet)
    print(f"{args.subnet}: revoked")
    return 0


def run_reserve(args, ctx: HostContext) -> int:
    ctx.require_writable(f"reserve the flannel subnet {args.subnet}")
    _print_lease("reserved", reserve_subnet(ctx, open_store(args), args.subnet, args.public_ip))
    return 0


def _flanneld_env(args, env) -> None:
    """flanneld's rule: a FLANNELD_<FLAG> variable sets each flag not given on the command line."""

    def pick(attr: str, name: str):
        if getattr(args, attr) in (None, []):
            value = env.get(f"FLANNELD_{name}")
            if value not in (None, ""):
                setattr(args, attr, value)

    for flag in (*ETCD_FLAGS, "iface", "public-ip", "subnet-file", "ip-masq", "subnet-lease-renew-margin"):
        attr = {"subnet-lease-renew-margin": "renew_margin"}.get(flag, flag.replace("-", "_"))
        pick(attr, flag.upper().replace("-", "_"))


def run_agent(args, ctx: HostContext) -> int:
    env = dict(os.environ)
    _flanneld_env(args, env)
    ifaces = args.iface if isinstance(args.iface, list) else ([args.iface] if args.iface else [])
    ifaces = tuple(part.strip() for item in ifaces for part in item.split(",") if part.strip())
    masq = str(args.ip_masq or "false").lower()
    if masq not in ("true", "false", "1", "0"):
        raise UsageError(f"--ip-masq takes true or false, not {args.ip_masq!r}.")
    options = AgentOptions(
        etcd=etcd_options(args, env),
        prefix=args.etcd_prefix,
        ifaces=ifaces,
        public_ip=args.public_ip,
        subnet_file=args.subnet_file or DEFAULT_SUBNET_FILE,
        ip_masq=masq in ("true", "1"),
        renew_margin=60.0 * int(args.renew_margin or 60),
        retry_interval=args.retry_interval,
        notify_env=env,
    )
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Agent(ctx, options).run(stop)
    return 0
