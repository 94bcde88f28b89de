"""``netcon show ports [--json] [--dns]``: who holds which port, like ``netstat -lntup`` plus the container.
Docker's embedded DNS listeners (``PortSocket.embedded_dns``) are left out unless ``--dns`` asks for them."""

from __future__ import annotations

from netcon.cli.table import emit, render
from netcon.core.ports.collector import collect_ports
from netcon.core.ports.model import PortSocket, PortsView


def register_show(views, common) -> None:
    p = views.add_parser("ports", parents=[common], help="list listening sockets, published and wanted ports")
    p.add_argument("--json", action="store_true", help="one JSON array of objects")
    p.add_argument(
        "--dns", action="store_true", help="also list Docker's embedded DNS listeners (127.0.0.11 in each container)"
    )
    p.set_defaults(func=run_show_ports)


def run_show_ports(args, ctx) -> int:
    view = collect_ports(ctx)
    emit("ports", port_rows(view, dns=args.dns), ports_table(view, dns=args.dns), view.not_read, args.json)
    return 0


def _conflicting(view: PortsView) -> dict[tuple, list[str]]:
    """(proto, port, address, container_id or pid) -> owners it conflicts with."""
    out: dict[tuple, list[str]] = {}
    for conflict in view.conflicts:
        for claim in conflict.claims:
            others = sorted({c.owner for c in conflict.claims if c.owner != claim.owner})
            out.setdefault((claim.proto, claim.port, claim.address, claim.container_id or claim.pid), others)
    return out


def port_rows(view: PortsView, dns: bool = True) -> list[dict]:
    """Sockets (state LISTEN/UNCONN; Docker's embedded DNS ones only with ``dns``), then published ports no
    socket serves (NAT), then wanted ports."""
    clash = _conflicting(view)
    rows = []
    for s in view.sockets:
        if s.embedded_dns and not dns:
            continue
        rows.append(_socket_row(s, clash))
    for pub in view.published:
        if pub.served_by == "nat":
            rows.append(
                _docker_row(
                    pub,
                    "NAT",
                    view.host_netns_inode,
                    "served by the DNAT rule (no docker-proxy)",
                    clash.get((pub.proto, pub.host_port, pub.host_ip, pub.container_id), []),
                )
            )
    for w in view.wanted:
        rows.append(
            _docker_row(
                w,
                "WANTED",
                None,
                w.reason,
                sorted(
                    {
                        o
                        for ip in ([w.host_ip] if w.host_ip else ["0.0.0.0", "::"])
                        for o in clash.get((w.proto, w.host_port, ip, w.container_id), [])
                    }
                ),
            )
        )
    return rows


def _socket_row(s: PortSocket, clash: dict[tuple, list[str]]) -> dict:
    """A socket's row, with the keys of ``_docker_row``'s: one table and one JSON shape for both."""
    p = s.process
    return {
        "proto": s.proto,
        "address": s.address,
        "port": s.port,
        "state": s.state,
        "pid": s.pid,
        "process": p.name if p else None,
        "cmdline": p.cmdline if p else None,
        "user": p.user if p else None,
        "holders": [h.pid for h in s.holders],
        "container": s.container,
        "container_id": s.container_id,
        "attributed_by": s.attributed_by,
        "netns": s.netns_inode,
        "host_netns": s.host_netns,
        "inode": s.inode,
        "v6only": s.v6only,
        "published_from": s.published.target if s.published else None,
        "note": None,
        "conflicts_with": clash.get((s.proto, s.port, s.address, s.container_id or s.pid), []) if s.host_netns else [],
    }


def _docker_row(port, state: str, netns: int | None, note: str, conflicts_with: list[str]) -> dict:
    return {
        "proto": port.proto,
        "address": port.host_ip,
        "port": port.host_port,
        "state": state,
        "pid": None,
        "process": None,
        "cmdline": None,
        "user": None,
        "holders": [],
        "container": port.container,
        "container_id": port.container_id,
        "attributed_by": "docker",
        "netns": netns,
        "host_netns": netns is not None,
        "inode": None,
        "v6only": None,
        "published_from": f"{port.container}:{port.container_port}/{port.proto}",
        "note": note,
        "conflicts_with": conflicts_with,
    }


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address or '*'}:{port}"


def ports_table(view: PortsView, dns: bool = True) -> str:
    owners = {}
    for s in view.sockets:
        if not s.host_netns and s.container:
            owners.setdefault(s.netns_inode, s.container)
    table = render(
        ("PROTO", "LOCAL ADDRESS", "STATE", "PID/PROGRAM", "CONTAINER", "NETNS", "PUBLISHED FROM"),
        [
            (
                row["proto"],
                _endpoint(row["address"], row["port"]),
                row["state"],
                f"{row['pid']}/{row['process']}" if row["pid"] else "-",
                f"{row['container']} (by {row['attributed_by']})" if row["container"] else "",
                "host" if row["host_netns"] else (owners.get(row["netns"], row["netns"]) if row["netns"] else ""),
                row["published_from"] or "",
            )
            for row in port_rows(view, dns)
        ],
    )
    notes = [table]
    hidden = sum(s.embedded_dns for s in view.sockets) if not dns else 0
    if hidden:
        notes.append(f"({hidden} listeners of Docker's embedded DNS on 127.0.0.11 not shown; --dns lists them)")
    for w in view.wanted:
        if w.discarded:
            notes.append(
                f"WARNING: {w.container} runs with --network host and asked to publish "
                f"{_endpoint(w.host_ip, w.host_port)}->{w.container_port}/{w.proto}: Docker discarded it."
            )
    for c in view.conflicts:
        who = "; ".join(f"{claim.owner} on {_endpoint(claim.address, claim.port)} ({claim.how})" for claim in c.claims)
        notes.append(f"CONFLICT {c.proto} port {c.port}: {who}")
    return "\n".join(notes)
