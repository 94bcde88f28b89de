"""Which hosts ``netcon console --cluster`` / ``--lab PREFIX`` shows besides the one it runs on: the lab's hosts
over SSH (the one this console runs in stays in-process), the hosts of hosts.toml, and, with ``--cluster``, every
host a flannel lease names that no other entry stands for (this machine's own lease, found by the core's one
rule, stands for this machine)."""

from __future__ import annotations

import sys

from netcon.core.context import HostContext
from netcon.core.errors import NetconError


def cluster_hosts(args, ctx: HostContext, settings):
    """(this host's name, the other hosts opened, where the leases are read)."""
    from netcon.cli.hosts import ssh_config
    from netcon.core.hosts import inventory
    from netcon.core.hosts.base import EtcdAccess

    config = ssh_config(args)
    etcd = EtcdAccess(settings.options, settings.prefix) if settings.given else None
    name, entries, known = "local", [], [inventory.HostEntry("local", "local", "local")]
    if args.lab is not None:
        lab_hosts, lab_etcd = inventory.lab_entries(args.lab, over_ssh=True)
        etcd = etcd or lab_etcd
        in_process, _ = inventory.lab_entries(args.lab, over_ssh=False)
        own = next((e for e in in_process if ctx.netns and e.netns == ctx.netns), None)
        if own is not None:
            name, known = own.name, [own]
        entries += [e for e in lab_hosts if own is None or e.name != own.name]
    entries += inventory.load_hosts_file(etcd=etcd)
    if args.cluster and etcd is not None and etcd.options is not None:
        leases = _leases(etcd)
        if leases and args.lab is None:
            known = [inventory.HostEntry("local", "local", "local", address=_own_address(ctx, leases))]
        entries += inventory.lease_entries((lease.attrs.public_ip for lease in leases), known + entries, etcd)
    targets = {e.target for e in known}
    entries = [e for e in inventory.unique([*known, *entries]) if e.target not in targets]
    return name, [inventory.open_host(e, ctx.read_only, config) for e in entries], etcd


def _leases(etcd) -> tuple:
    """The flannel leases; none, and one line saying why, when etcd does not answer (the console opens anyway)."""
    from netcon.core.hosts.cluster import read_leases

    try:
        return read_leases(etcd)
    except NetconError as error:
        print(f"netcon: flannel's leases not read, so their hosts are not listed: {error}", file=sys.stderr)
        return ()


def _own_address(ctx: HostContext, leases: tuple) -> str | None:
    """This machine's lease's PublicIP (``core.hosts.cluster.lease_of``), so its lease is not listed again as a
    host to reach over SSH."""
    from netcon.core.flannel.vxlan import device_name
    from netcon.core.hosts.cluster import lease_of, vni_of
    from netcon.core.hosts.local import LocalHost

    host = LocalHost(ctx)
    try:
        snapshot = host.snapshot()
        try:
            device = host.vxlan(device_name(vni_of(leases))).device
        except NetconError:
            device = None
        mine = lease_of(snapshot, device.mac if device else None, leases)
        return mine.attrs.public_ip if mine is not None else None
    except NetconError:
        return None
    finally:
        host.close()
