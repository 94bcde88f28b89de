"""Which hosts ``netcon console --cluster`` / ``--lab PREFIX`` shows besides the one it runs on: the core's one
rule (``inventory.cluster_entries``) with the lab's hosts over SSH (the one this console runs in stays
in-process), the hosts of hosts.toml, and, with ``--cluster``, every host a flannel lease names that no other
entry stands for."""

from __future__ import annotations

import sys

from netcon.core.context import HostContext


def cluster_hosts(args, ctx: HostContext, settings):
    """(this host's name, the other hosts opened, where the leases are read)."""
    from netcon.cli.hosts import ssh_config
    from netcon.core.hosts import inventory
    from netcon.core.hosts.base import EtcdAccess

    etcd = EtcdAccess(settings.options, settings.prefix) if settings.given else None
    cluster = inventory.cluster_entries(ctx, etcd, lab=args.lab, with_leases=args.cluster)
    if cluster.leases_error:
        print(
            f"netcon: flannel's leases not read, so their hosts are not listed: {cluster.leases_error}", file=sys.stderr
        )
    config = ssh_config(args)
    name = cluster.own.name if cluster.own else "local"
    return name, [inventory.open_host(e, ctx.read_only, config) for e in cluster.others], cluster.etcd
