"""Which hosts ``netcon console --cluster`` / ``--lab PREFIX`` / ``--host X`` shows besides the one it runs on:
the core's one rule (``inventory.cluster_entries``) with the lab's hosts over SSH (the one this console runs in
stays in-process), the hosts of hosts.toml, ``--host``, and, with ``--cluster``, every host a flannel lease names
that no other entry stands for."""

from __future__ import annotations

import sys

from netcon.core.context import HostContext


def cluster_hosts(args, ctx: HostContext, settings):
    """(this host's name, the other hosts opened, where the leases are read)."""
    from netcon.cli.hosts import ssh_config
    from netcon.core.hosts import inventory
    from netcon.core.hosts.base import EtcdAccess

    etcd = EtcdAccess(settings.options, settings.prefix) if settings.given else None
    given = getattr(args, "remote_host", None)
    cluster = inventory.cluster_entries(
        ctx, etcd, lab=args.lab, flags=[given] if given else [], with_leases=args.cluster
    )
    if cluster.leases_error:
        print(
            f"netcon: flannel's leases not read, so their hosts are not listed: {cluster.leases_error}", file=sys.stderr
        )
    config = ssh_config(args)
    name = cluster.own.name if cluster.own else "local"
    return name, [inventory.open_host(e, ctx.read_only, config) for e in cluster.others], cluster.etcd


def flannel_settings(settings, etcd):
    """The Flannel pane's etcd: the one given, else the cluster's (``--lab``: the lab's), so a lab console's pane
    reads the store its hosts' leases are in rather than trying the default endpoint."""
    if settings.given or etcd is None or etcd.options is None:
        return settings
    from netcon.tui.flannel_feed import EtcdSettings

    return EtcdSettings(etcd.options, etcd.prefix or settings.prefix, True)


def given_host(args, hosts) -> str | None:
    """The name of the host ``netcon --host X console`` opens on: X's, among the console's hosts."""
    given = getattr(args, "remote_host", None)
    if given is None:
        return None
    from netcon.core.hosts.target import parse_target

    target = str(parse_target(given))
    return next((h.name for h in hosts if h.target == target), None)
