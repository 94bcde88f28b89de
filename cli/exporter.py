"""``netcon exporter``: serve what netcon measures (probes from inside containers, veth counters, bridges,
flannel leases, the doctor's findings) as Prometheus metrics. Always read-only."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys

from netcon.cli.flannel import etcd_options, etcd_parent
from netcon.core.etcd.options import ENV_NAMES
from netcon.core.exporter import config as exporter_config
from netcon.core.exporter.server import EtcdSource, Exporter
from netcon.core.flannel.registry import normalize_prefix
from netcon.core.validate import values

DEFAULT_LISTEN = "127.0.0.1:9472"


def register(sub, common) -> None:
    p = sub.add_parser(
        "exporter",
        parents=[common, etcd_parent()],
        help="Prometheus metrics of probes, veths, bridges, flannel and the doctor (read-only)",
        description="Serves /metrics for Prometheus. Probes and matrices come from the TOML config "
        "(--example-config prints a commented one); flannel's leases are read when etcd options are given. "
        "It only reads: the core refuses every change in it.",
    )
    p.add_argument("--listen", metavar="ADDR:PORT", default=None, help=f"where to serve (default {DEFAULT_LISTEN})")
    p.add_argument("--config", metavar="FILE", default=None, help="the TOML config (default: no probes)")
    p.add_argument("--example-config", action="store_true", help="print a commented example config and exit")
    p.set_defaults(func=run_exporter)


def _etcd_given(args) -> bool:
    """Flannel is read only when etcd is named (flags or etcdctl's variables), as the doctor does."""
    return args.etcd_endpoints is not None or any(os.environ.get(name) for name in ENV_NAMES["endpoints"])


def run_exporter(args, ctx) -> int:
    if args.example_config:
        print(exporter_config.EXAMPLE, end="")
        return 0
    listen = values.listen_address(args.listen if args.listen is not None else DEFAULT_LISTEN, "listen", "--listen")
    config = exporter_config.load(args.config) if args.config is not None else exporter_config.ExporterConfig()
    prefix = normalize_prefix(args.etcd_prefix) if args.etcd_prefix is not None else None
    etcd = EtcdSource(etcd_options(args), prefix) if _etcd_given(args) else None
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="netcon exporter: %(message)s")
    exporter = Exporter(dataclasses.replace(ctx, read_only=True), config, listen, etcd)
    exporter.start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: exporter.stop())
    host, port = exporter.address
    shown = f"[{host}]" if ":" in host else host
    print(
        f"netcon exporter: serving http://{shown}:{port}/metrics ({len(config.probes)} probes, "
        f"{len(config.matrices)} matrices{', flannel' if etcd else ''}), read-only",
        flush=True,
    )
    try:
        exporter.wait()
    finally:
        exporter.close()
    return 0
