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
from netcon.core.errors import NetconError
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel.config import parse_config
from netcon.core.flannel.docker_opts import DEFAULT_DOCKER_ENV, DEFAULT_KEY, write_docker_opts
from netcon.core.flannel.lease import Lease
from netcon.core.flannel.operations import (
    EtcdGiven,
    Secret,
    agent_start,
    config_check,
    config_set,
    lease_acquire,
    lease_renew,
    lease_reserve,
    lease_revoke,
)
from netcon.core.flannel.registry import DEFAULT_PREFIX, FlannelStore, normalize_prefix
from netcon.core.flannel.subnet_file import DEFAULT_SUBNET_FILE
from netcon.core.validate.values import MAX_TEXT_BYTES

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


def etcd_given(args) -> EtcdGiven:
    """The etcd values given on the command line, as given (None: not given)."""
    password = getattr(args, "etcd_password", None)
    return EtcdGiven(
        endpoints=args.etcd_endpoints,
        prefix=args.etcd_prefix,
        api=args.etcd_api,
        cafile=args.etcd_cafile,
        certfile=args.etcd_certfile,
        keyfile=args.etcd_keyfile,
        username=args.etcd_username,
        password=Secret(password) if password is not None else None,
    )


def etcd_options(args, env=None) -> EtcdOptions:
    """The connection options (flags, else etcdctl's variables): for the console and the doctor."""
    return etcd_given(args).options(env)


def open_store(args) -> FlannelStore:
    return etcd_given(args).open()


def register(sub, common) -> None:
    etcd = etcd_parent()
    flannel = sub.add_parser("flannel", parents=[common], help="flannel over etcd: config, leases, agent")
    actions = flannel.add_subparsers(dest="flannel_command", metavar="ACTION", required=True)
    _register_config(actions, common, etcd)
    _register_docker_opts(actions, common)
    _register_lease(actions, common, etcd)
    _register_agent(actions, common, etcd)


def _register_config(actions, common, etcd) -> None:
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


def _register_docker_opts(actions, common) -> None:
    opts = actions.add_parser("docker-opts", parents=[common], help="mk-docker-opts.sh: subnet.env to dockerd options")
    opts.add_argument("-f", dest="subnet_file", default=None, help=f"subnet file ({DEFAULT_SUBNET_FILE})")
    opts.add_argument("-d", dest="docker_env", default=None, help=f"file to write, - for stdout ({DEFAULT_DOCKER_ENV})")
    opts.add_argument("-k", dest="key", default=None, help=f"combined options variable ({DEFAULT_KEY})")
    opts.add_argument("-i", dest="individual", action="store_true", help="only the individual DOCKER_OPT_* lines")
    opts.add_argument("-c", dest="combined", action="store_true", help="only the combined line")
    opts.add_argument("-m", dest="no_masq", action="store_true", help="leave out --ip-masq")
    opts.set_defaults(func=run_docker_opts)


def _register_lease(actions, common, etcd) -> None:
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


def _register_agent(actions, common, etcd) -> None:
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
        default=None,
        help="minutes before expiry to renew (60)",
    )
    agent.add_argument(
        "--retry-interval",
        default=None,
        help="the longest wait, in seconds, between retries while etcd is unreachable: retries start after "
        "about 1 s and back off up to this cap (5)",
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


def _config_arg(args) -> str | bytes | None:
    """The config as given: the text argument, or stdin's bytes for ``-`` (checked in the core)."""
    if args.config == "-":
        return sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
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
    config = config_set(ctx, etcd_given(args), _config_arg(args), args.file)
    print(f"{normalize_prefix(args.etcd_prefix)}/config: stored; pool {config.pool} ({config.pool_size} subnets)")
    return 0


def run_config_validate(args, ctx: HostContext) -> int:
    where, config = config_check(etcd_given(args), _config_arg(args), args.file)
    print(f"{where}: valid; effective {json.dumps(config.effective())}")
    return 0


def run_docker_opts(args, ctx: HostContext) -> int:
    text = write_docker_opts(
        ctx, args.subnet_file, args.docker_env, args.key, args.individual, args.combined, not args.no_masq
    )
    if args.docker_env in ("/dev/stdout", "-"):
        sys.stdout.write(text)
    else:
        print(f"{args.docker_env or DEFAULT_DOCKER_ENV}: written")
    return 0


def run_leases(args, ctx: HostContext) -> int:
    """Every key under <prefix>/subnets: leases, and broken keys as rows marked broken with the reason."""
    store = open_store(args)
    try:
        config_text = store.config_text()  # a wrong prefix or API is an error, not an empty list
        listing = store.listing()
    finally:
        store.close()
    now = time.time()
    rows = [lease.row(now) for lease in listing.leases] + [broken.row() for broken in listing.broken]
    not_read = listing.not_read(store.subnets_prefix)
    try:
        parse_config(config_text)
    except NetconError as error:
        not_read += (f"The config at {store.config_key} is not valid ({error}); the leases are listed as stored.",)
    if args.json:
        print(json.dumps({"leases": rows, "not_read": list(not_read)}, indent=2))
        return 0
    print(f"{'SUBNET':<20} {'PUBLIC IP':<16} {'BACKEND':<8} {'VNI':>4} {'VTEP MAC':<18} TTL")
    for lease in listing.leases:
        ttl = "reserved" if lease.reservation else _duration(lease.ttl_seconds(now))
        print(
            f"{lease.subnet:<20} {lease.attrs.public_ip:<16} {lease.attrs.backend_type or '-':<8} "
            f"{lease.attrs.vni if lease.attrs.vni is not None else '-':>4} {lease.attrs.vtep_mac or '-':<18} {ttl}"
        )
    for broken in listing.broken:
        print(f"{broken.subnet or '-':<20} {'BROKEN':<16} key {broken.key}: {broken.error}")
    for sentence in not_read:
        print(f"netcon: {sentence}", file=sys.stderr)
    return 0


def _duration(seconds: int | None) -> str:
    seconds = seconds or 0
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def _print_lease(verb: str, lease: Lease) -> None:
    ttl = "no TTL (reservation)" if lease.reservation else f"TTL {lease.ttl_seconds()} s"
    print(f"{lease.subnet}: {verb} for {lease.attrs.public_ip}, {ttl}")


def run_acquire(args, ctx: HostContext) -> int:
    lease = lease_acquire(ctx, etcd_given(args), args.public_ip, args.vtep_mac, args.subnet_file)
    _print_lease("acquired", lease)
    return 0


def run_renew(args, ctx: HostContext) -> int:
    _print_lease("renewed", lease_renew(ctx, etcd_given(args), args.subnet))
    return 0


def run_revoke(args, ctx: HostContext) -> int:
    lease_revoke(ctx, etcd_given(args), args.subnet)
    print(f"{args.subnet}: revoked")
    return 0


def run_reserve(args, ctx: HostContext) -> int:
    _print_lease("reserved", lease_reserve(ctx, etcd_given(args), args.subnet, args.public_ip))
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
    _flanneld_env(args, os.environ)
    ifaces = args.iface if isinstance(args.iface, list) else ([args.iface] if args.iface is not None else [])
    names = tuple(part.strip() for item in ifaces for part in item.split(","))
    agent = agent_start(
        ctx,
        etcd_given(args),
        names,
        args.public_ip,
        args.subnet_file,
        args.ip_masq,
        args.renew_margin,
        args.retry_interval,
    )
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    agent.run(stop)
    return 0
