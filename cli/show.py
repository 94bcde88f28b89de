"""``netcon show networks|containers|bridges|veths [--json]``: the snapshot as tables or JSON."""

from __future__ import annotations

from netcon.cli.main import SNAPSHOT_VIEWS
from netcon.cli.table import emit, render
from netcon.core.errors import DockerUnavailable
from netcon.core.model import Snapshot


def register(sub, common) -> None:
    show = sub.add_parser("show", parents=[common], help="print the host's container networking")
    views = show.add_subparsers(dest="view", metavar="VIEW", required=True)
    for view in SNAPSHOT_VIEWS:
        p = views.add_parser(view, parents=[common], help=f"list {view}")
        p.add_argument("--json", action="store_true", help="one JSON array of objects")
        p.set_defaults(func=run_show, remote=True)
    show.views = views


def run_show(args, ctx) -> int:
    from netcon.cli.hosts import open_host

    with open_host(args, ctx) as host:
        snap = host.snapshot()
    if snap.docker_error and args.view in ("networks", "containers"):
        remote = host.target.startswith("ssh://")  # whose Docker is away: the other machine's, said so
        raise DockerUnavailable(f"{host.name}: {snap.docker_error}" if remote else snap.docker_error)
    emit(args.view, JSON_ROWS[args.view](snap), TABLES[args.view](snap), snap.not_read, args.json)
    return 0


def network_rows(snap: Snapshot) -> list[dict]:
    return [
        {
            "id": n.id,
            "name": n.name,
            "driver": n.driver,
            "scope": n.scope,
            "subnets": list(n.subnets),
            "gateways": list(n.gateways),
            "ip_ranges": list(n.ip_ranges),
            "internal": n.internal,
            "attachable": n.attachable,
            "options": dict(n.options),
            "labels": dict(n.labels),
            "bridge": n.bridge,
            "containers": [
                {
                    "name": a.container_name,
                    "id": a.container_id,
                    "ipv4": a.ipv4,
                    "mac": a.mac,
                    "aliases": list(a.aliases),
                }
                for a in n.attachments
            ],
        }
        for n in snap.networks
    ]


def container_rows(snap: Snapshot) -> list[dict]:
    return [
        {
            "id": c.id,
            "name": c.name,
            "state": c.state,
            "image": c.image,
            "network_mode": c.network_mode,
            "pid": c.pid,
            "netns_inode": c.netns_inode,
            "shares_netns_with": list(c.shares_netns_with),
            "netns_owner": c.netns_owner,
            "ipv4": list(c.ipv4),
            "ipv4_shared": c.ipv4_shared,
            "networks": list(c.networks),
            "interfaces": [i.ifname for i in c.interfaces],
            "problem": c.problem,
        }
        for c in snap.containers
    ]


def bridge_rows(snap: Snapshot) -> list[dict]:
    return [
        {
            "name": b.name,
            "bridge_id": b.bridge_id,
            "stp": b.stp,
            "interfaces": list(b.interfaces),
            "network": b.network,
            "mtu": b.mtu,
            "state": b.state,
        }
        for b in snap.bridges
    ]


def veth_rows(snap: Snapshot) -> list[dict]:
    return [
        {
            "ifname": v.ifname,
            "ifindex": v.ifindex,
            "mtu": v.mtu,
            "state": v.state,
            "mac": v.mac,
            "bridge": v.bridge,
            "peer_ifindex": v.peer_ifindex,
            "peer_netnsid": v.peer_netnsid,
            "peer_ifname": v.peer_ifname,
            "peer_netns": v.peer_netns,
            "container": v.container,
            "container_id": v.container_id,
            "rx_bytes": v.counters.rx_bytes,
            "tx_bytes": v.counters.tx_bytes,
        }
        for v in snap.veths
    ]


def networks_table(snap: Snapshot) -> str:
    return render(
        ("NETWORK ID", "NAME", "DRIVER", "SCOPE", "SUBNET", "GATEWAY", "BRIDGE", "CONTAINERS"),
        [
            (
                n.short_id,
                n.name,
                n.driver,
                n.scope,
                n.subnets,
                n.gateways,
                n.bridge or "",
                [f"{a.container_name} ({a.ipv4})" if a.ipv4 else a.container_name for a in n.attachments],
            )
            for n in snap.networks
        ],
    )


def containers_table(snap: Snapshot) -> str:
    def ips(c):
        return [f"{ip} (shared with {c.netns_owner})" for ip in c.ipv4] if c.ipv4_shared else list(c.ipv4)

    return render(
        ("CONTAINER ID", "NAME", "STATE", "NETWORK MODE", "IPV4", "NETNS", "SHARES NETNS WITH"),
        [
            (c.short_id, c.name, c.state, c.network_mode, ips(c), c.netns_inode or "", ", ".join(c.shares_netns_with))
            for c in snap.containers
        ],
    )


def bridges_table(snap: Snapshot) -> str:
    """Exactly brctl's columns (tab-separated like brctl) so the two can be compared by eye."""
    lines = ["bridge name\tbridge id\t\tSTP enabled\tinterfaces"]
    for b in snap.bridges:
        first = b.interfaces[0] if b.interfaces else ""
        lines.append(f"{b.name}\t\t{b.bridge_id}\t{'yes' if b.stp else 'no'}\t\t{first}")
        lines.extend(f"\t\t\t\t\t\t\t{port}" for port in b.interfaces[1:])
    return "\n".join(lines)


def veths_table(snap: Snapshot) -> str:
    return render(
        ("VETH", "IFINDEX", "MTU", "STATE", "BRIDGE", "PEER", "CONTAINER"),
        [
            (
                v.ifname,
                v.ifindex,
                v.mtu,
                v.state,
                v.bridge or "",
                f"{v.peer_ifname or '?'}@{v.peer_ifindex}" if v.peer_ifindex else "",
                v.container or (f"(netns {v.peer_netns})" if v.peer_netns else ""),
            )
            for v in snap.veths
        ],
    )


JSON_ROWS = {"networks": network_rows, "containers": container_rows, "bridges": bridge_rows, "veths": veth_rows}
TABLES = {"networks": networks_table, "containers": containers_table, "bridges": bridges_table, "veths": veths_table}
