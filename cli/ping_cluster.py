"""``netcon ping matrix --lab P | --host ssh://... (--containers h1/a,h2/b | --network NAME)``: the matrix across
the cluster's hosts (found as ``netcon cluster status`` finds them), each pair probed by the netcon of its
source's host (``core.ping.cluster_matrix``). A host that cannot be read is one sentence, before any echo."""

from __future__ import annotations

from typing import Any

from netcon.core.hosts.base import HostUnreachable
from netcon.core.ping.matrix import Matrix
from netcon.core.validate import values


def across_hosts(args) -> bool:
    """The matrix runs across hosts when any is named (``--lab``, or ``--host`` before or after ``ping``)."""
    return args.lab is not None or bool(args.hosts) or getattr(args, "remote_host", None) is not None


def cluster_matrix(args, ctx, options: dict[str, Any]) -> Matrix:
    from netcon.cli.cluster import close_hosts, open_hosts
    from netcon.core.ping.cluster_matrix import plan_containers, plan_network, read_views, run_cluster_matrix

    network = None if args.network is None else values.text(args.network, "network", "--network")
    names = None if args.containers is None else values.name_list(args.containers, "containers", "--containers", 2)
    hosts, leases = open_hosts(args, ctx)
    try:
        views = read_views(hosts, leases)
        plan = plan_network(views, network) if network is not None else plan_containers(views, names or [])
        if plan.problems:
            more = len(plan.problems) - 1
            raise HostUnreachable(plan.problems[0] + (f" ({more} more hosts could not be read.)" if more else ""))
        return run_cluster_matrix(hosts, plan, **options)
    finally:
        close_hosts(hosts)
