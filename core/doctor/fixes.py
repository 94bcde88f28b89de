"""Fix commands as a sysadmin would type them: iproute2/iptables/sysctl entered into the host's netns with
nsenter, netcon's own commands for Docker and etcd, and the service restarts (``netcon lab up`` for a lab
host, whose daemons the lab owns)."""

from __future__ import annotations

import shlex

from netcon.core.doctor.facts import HostEvidence, Target


def in_netns(target: Target, *argv: str) -> str:
    command = shlex.join(argv)
    return f"nsenter --net={target.ctx.netns} {command}" if target.ctx.netns else command


def delete_rule(target: Target, rule: str) -> str:
    """``iptables -D ...`` for a rule as iptables-save prints it (``-A CHAIN ...``)."""
    argv = shlex.split(rule)
    return in_netns(target, "iptables", "-D", *argv[1:])


def netcon(target: Target, *argv: str, docker: bool = False) -> str:
    """A netcon command aimed at the same host (its Docker endpoint when ``docker``)."""
    where = ["--docker-host", target.ctx.docker_host] if docker and target.ctx.docker_host else []
    return shlex.join(["netcon", *where, *argv])


def flannel_command(facts: HostEvidence, *argv: str) -> str:
    assert facts.flannel is not None
    return shlex.join(["netcon", "flannel", *argv]) + " " + facts.flannel.flags


def restart_docker(target: Target) -> tuple[str, ...]:
    """dockerd started again with flannel's options (the seed: mk-docker-opts.sh, then restart docker)."""
    if target.lab_prefix:
        return (f"netcon lab up --prefix {shlex.quote(target.lab_prefix)}",)
    return (
        "netcon flannel docker-opts -f /run/flannel/subnet.env -k DOCKER_NETWORK_OPTIONS -d /run/flannel/docker",
        "systemctl restart docker",
    )


def start_docker(target: Target) -> tuple[str, ...]:
    if target.lab_prefix:
        return (f"netcon lab up --prefix {shlex.quote(target.lab_prefix)}",)
    return ("systemctl start docker",)


def restart_flannel(target: Target) -> tuple[str, ...]:
    if target.lab_prefix:
        return (f"netcon lab up --prefix {shlex.quote(target.lab_prefix)}",)
    return ("systemctl restart flanneld",)


def restart_etcd(target: Target | None) -> tuple[str, ...]:
    if target is not None and target.lab_prefix:
        return (f"netcon lab up --prefix {shlex.quote(target.lab_prefix)}",)
    return ("systemctl start etcd",)


def vxlan_neighbour(target: Target, device: str, gateway: str, vtep_mac: str) -> str:
    """The permanent neighbour entry flannel programs for a remote lease's gateway."""
    return in_netns(target, "ip", "neigh", "replace", gateway, "lladdr", vtep_mac, "dev", device, "nud", "permanent")


def vxlan_fdb(target: Target, device: str, vtep_mac: str, public_ip: str) -> str:
    """The FDB entry flannel programs: frames for a remote VTEP MAC go to that host's underlay address."""
    return in_netns(target, "bridge", "fdb", "replace", vtep_mac, "dev", device, "dst", public_ip, "self", "permanent")


def vxlan_route(target: Target, device: str, subnet: str, gateway: str) -> str:
    """The onlink route flannel programs to a remote lease through its VXLAN device."""
    return in_netns(target, "ip", "route", "replace", subnet, "via", gateway, "dev", device, "onlink")


def accept_forwarding(target: Target, in_iface: str, out_iface: str) -> tuple[str, ...]:
    """Let forwarded traffic from ``in_iface`` to ``out_iface`` through a FORWARD chain whose policy drops it:
    a narrow ACCEPT in DOCKER-USER (Docker keeps it first), or the seed's ``iptables -P FORWARD ACCEPT``."""
    return (
        in_netns(target, "iptables", "-I", "DOCKER-USER", "-i", in_iface, "-o", out_iface, "-j", "ACCEPT"),
        in_netns(target, "iptables", "-P", "FORWARD", "ACCEPT"),
    )
