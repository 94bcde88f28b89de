"""SRC and DST as the user gives them, checked and resolved before anything is read or sent.

SRC: a container (name or id, on any host the trace reads), ``host``, or a lab host's name (``h1``). DST: a
container name, an IP, a host name resolved the way the source resolves it (as ``netcon ping`` does), or
``IP:PORT/PROTO``; ``--proto`` and ``--port`` say the same in options. Every bad value is one sentence.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.errors import NotFound, UsageError
from netcon.core.model import Container
from netcon.core.ping.resolve import resolve
from netcon.core.ping.sources import Source, check_container, host_source, netns_source, snapshot_source
from netcon.core.trace.hosts import LOCAL, Hosts, HostView, Netns
from netcon.core.validate import values

PROTOCOLS = ("icmp", "tcp", "udp")


@dataclass(frozen=True)
class Destination:
    text: str  # as given
    name: str  # the address or name part
    proto: str
    port: int | None


@dataclass(frozen=True)
class Origin:
    netns: Netns
    container: Container | None

    @property
    def label(self) -> str:
        return f"{self.netns.label} on {self.netns.host.name}" if self.netns.host.name != LOCAL else self.netns.label


def protocol(value: str | None, field: str = "proto", label: str = "--proto") -> str | None:
    if value is None:
        return None
    given = values.text(value, field, label).lower()
    if given not in PROTOCOLS:
        raise UsageError(f"{label} {values.shown(given)} is not icmp, tcp or udp.", target=field)
    return given


def destination(dst: str, proto: str | None = None, port: object = None) -> Destination:
    """``dst`` (``NAME``, ``IP``, ``IP:PORT`` or ``IP:PORT/PROTO``) with ``--proto`` and ``--port`` folded in;
    conflicting or incomplete combinations are refused."""
    text = values.text(dst, "dst", "Destination")
    name, given_proto, given_port = text, None, None
    if "/" in name:
        name, _, tail = name.rpartition("/")
        given_proto = protocol(tail, "dst", f"The protocol after / in {values.shown(text)}")
    if name.count(":") == 1:
        name, _, port_text = name.partition(":")
        given_port = values.port(port_text, "dst", f"The port in destination {values.shown(text)}")
    name = values.host(name, "dst", "Destination")
    option_proto = protocol(proto)
    option_port = values.port(port, "port", "--port") if port is not None else None
    if given_proto and option_proto and given_proto != option_proto:
        raise UsageError(f"Destination {text} says {given_proto} but --proto says {option_proto}.", target="proto")
    if given_port and option_port and given_port != option_port:
        raise UsageError(f"Destination {text} says port {given_port} but --port says {option_port}.", target="port")
    chosen_port = given_port or option_port
    chosen = given_proto or option_proto or ("tcp" if chosen_port else "icmp")
    if chosen == "icmp" and chosen_port:
        raise UsageError("ICMP has no ports: give --proto tcp or udp with a port, or no port.", target="port")
    if chosen != "icmp" and chosen_port is None:
        raise UsageError(f"A {chosen} trace needs a port: DST as IP:PORT/{chosen}, or --port N.", target="port")
    return Destination(text, name, chosen, chosen_port)


def origin(hosts: Hosts, ctx: HostContext, spec: str) -> Origin:
    """The namespace the probe leaves from."""
    given = values.text(spec, "src", "Source")
    if given == "host":
        if hosts.lab is None:
            return Origin(hosts.views[0].root, None)
        mine = next((h for h in hosts.views if h.ctx.netns == ctx.netns), None)
        if mine is None:
            names = ", ".join(h.name for h in hosts.views)
            raise UsageError(f"Source host is ambiguous in lab {hosts.lab.prefix}: name one of {names}.", target="src")
        return Origin(mine.root, None)
    view = hosts.host(given) if hosts.lab is not None else None
    if given.startswith("netns:"):  # a lab host as netcon ping names it: netns:NAME or netns:PATH
        name = given[len("netns:") :]
        view = next(
            (h for h in hosts.views if h.ctx.netns and name in (h.ctx.netns, h.ctx.netns.rsplit("/")[-1])), None
        )
        if view is None:
            raise NotFound(f"Network namespace {values.shown(name)} is not a host this trace reads.", target="src")
    if view is not None:
        return Origin(view.root, None)
    found = hosts.find_container(given, "src")
    if found is None:
        where = f" (hosts: {', '.join(h.name for h in hosts.views)})" if hosts.lab else ""
        raise NotFound(f"No container and no host named {values.shown(given)} to trace from{where}.", target="src")
    host, c = found
    if not isinstance(host, HostView):
        raise UsageError(
            f"Container {c.name} is on {host.name}, read over SSH: trace from a host read here "
            f"(or run netcon trace on {host.name}).",
            target="src",
        )
    mode = "host" if c.network_mode == "host" else "none" if c.network_mode == "none" else "bridge"
    check_container(c.name, c.state, mode, c.pid)
    return Origin(host.of_container(c), c)


def address(hosts: Hosts, src: Origin, dst: Destination) -> tuple[str, str | None]:
    """DST's IPv4 address, and a note on how it was found. A container of any host by name first; else the
    name as the source resolves it (its /etc/hosts, then its nameservers), refused as ping refuses it."""
    try:
        if ipaddress.ip_address(dst.name).version == 4:
            return dst.name, None
        raise UsageError(f"Destination {dst.name} is an IPv6 address; netcon traces IPv4.", target="dst")
    except ValueError:
        pass
    found = hosts.find_container(dst.name, "dst")
    if found is not None:
        host, c = found
        ip = _shared_address(src.container, c)
        if ip is None:
            raise UsageError(f"Container {c.name} on {host.name} has no IPv4 address to trace to.", target="dst")
        return ip, f"{dst.name} is a container on {host.name}: traced to its address {ip}"
    resolution = resolve(_ping_source(hosts, src), dst.name)
    return resolution.ip, f"{dst.name} resolves from {src.label} to {resolution.ip} via {resolution.via}"


def _shared_address(src: Container | None, dst: Container) -> str | None:
    """The destination's address on a network it shares with the source, else its first."""
    if src is not None:
        shared = [n for n in dst.networks if n in src.networks]
        if shared and dst.ipv4:
            index = dst.networks.index(shared[0])
            return dst.ipv4[index] if index < len(dst.ipv4) else dst.ipv4[0]
    return dst.ipv4[0] if dst.ipv4 else None


def _ping_source(hosts: Hosts, src: Origin) -> Source:
    if src.container is not None:
        return snapshot_source(src.container)
    ctx = src.netns.host.ctx
    return host_source(ctx) if ctx.netns is None else netns_source(ctx.netns)
