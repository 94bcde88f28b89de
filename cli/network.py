"""``netcon network create|rm|connect|disconnect``: Docker network changes through the core."""

from __future__ import annotations

from netcon.cli.hosts import change


def register(sub, common) -> None:
    network = sub.add_parser("network", parents=[common], help="create, remove, connect and disconnect networks")
    actions = network.add_subparsers(dest="network_command", metavar="ACTION", required=True)

    create = actions.add_parser("create", parents=[common], help="create a Docker network")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--driver", "-d", default="bridge", help="network driver (default bridge)")
    create.add_argument("--subnet", metavar="CIDR", help="IPv4 subnet, e.g. 10.1.2.0/24")
    create.add_argument("--gateway", metavar="IP", help="gateway address inside the subnet")
    create.add_argument("--ip-range", metavar="CIDR", help="allocate container addresses from this part of the subnet")
    create.add_argument("--internal", action="store_true", help="no access to outside networks")
    create.add_argument("--attachable", action="store_true", help="let standalone containers attach (overlay)")
    create.add_argument("--label", action="append", default=[], metavar="K=V", help="label (repeatable)")
    create.add_argument(
        "--opt",
        "-o",
        action="append",
        default=[],
        metavar="K=V",
        help="driver option (repeatable), e.g. com.docker.network.bridge.name=br-app or "
        "com.docker.network.driver.mtu=1400",
    )
    create.set_defaults(func=run_create, remote=True)

    rm = actions.add_parser("rm", parents=[common], help="remove a Docker network")
    rm.add_argument("network", metavar="NAME|ID")
    rm.add_argument("--force", "-f", action="store_true", help="disconnect attached containers first")
    rm.set_defaults(func=run_rm, remote=True)

    conn = actions.add_parser("connect", parents=[common], help="connect a container to a network")
    conn.add_argument("network", metavar="NETWORK")
    conn.add_argument("container", metavar="CONTAINER")
    conn.add_argument("--ip", metavar="IP", help="IPv4 address on the network")
    conn.add_argument("--alias", action="append", default=[], metavar="A", help="DNS alias (repeatable)")
    conn.set_defaults(func=run_connect, remote=True)

    disc = actions.add_parser("disconnect", parents=[common], help="disconnect a container from a network")
    disc.add_argument("network", metavar="NETWORK")
    disc.add_argument("container", metavar="CONTAINER")
    disc.add_argument("--force", "-f", action="store_true", help="force it, as docker network disconnect -f")
    disc.set_defaults(func=run_disconnect, remote=True)


def run_create(args, ctx) -> int:
    done = change(
        args,
        ctx,
        "network.create",
        name=args.name,
        driver=args.driver,
        subnet=args.subnet,
        gateway=args.gateway,
        ip_range=args.ip_range,
        internal=args.internal,
        attachable=args.attachable,
        labels=args.label,
        options=args.opt,
    )
    details = ", ".join(
        f"{k} {v}" for k, v in (("subnet", done.subnet), ("gateway", done.gateway), ("ip-range", done.ip_range)) if v
    )
    print(f"created network {done.name} ({done.id[:12]}, driver {done.driver}{', ' + details if details else ''})")
    if done.warning:
        print(f"WARNING: {done.warning}")
    return 0


def run_rm(args, ctx) -> int:
    done = change(args, ctx, "network.rm", network=args.network, force=args.force)
    if done.disconnected:
        print(f"disconnected {', '.join(done.disconnected)}")
    print(f"removed network {done.name} ({done.id[:12]})")
    return 0


def run_connect(args, ctx) -> int:
    done = change(
        args, ctx, "network.connect", network=args.network, container=args.container, ip=args.ip, aliases=args.alias
    )
    extra = f" as {done.ip}" if done.ip else ""
    extra += f" (aliases {', '.join(done.aliases)})" if done.aliases else ""
    print(f"connected {done.container} to {done.network}{extra}")
    return 0


def run_disconnect(args, ctx) -> int:
    done = change(args, ctx, "network.disconnect", network=args.network, container=args.container, force=args.force)
    print(f"disconnected {done.container} from {done.network}")
    return 0
