"""Name resolution the way the source itself would do it: its ``/etc/hosts`` first, then the nameservers of
its ``resolv.conf`` (Docker's embedded DNS, 127.0.0.11, on user networks), asked from a UDP socket created
inside the source's namespace. A name that does not resolve from a source is a finding, reported as such."""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from dataclasses import dataclass

from netcon.core.errors import NotFound
from netcon.core.netns import run_in_netns
from netcon.core.ping.dns import MalformedAnswer, decode_answer, encode_query
from netcon.core.ping.sources import Source
from netcon.core.validate import values

MAX_TIMEOUT_S = 2.0  # per nameserver try; resolv.conf's default of 5 s is too long for a console


class NameNotResolved(NotFound):
    """The target name does not resolve from the source (like ping's "Name or service not known", exit 2)."""


@dataclass(frozen=True)
class Resolution:
    name: str
    ip: str
    via: str  # "literal", "/etc/hosts" (the source's) or the nameserver that answered

    def __str__(self) -> str:
        return f"{self.name} -> {self.ip} via {self.via}"


@dataclass(frozen=True)
class ResolvConf:
    nameservers: tuple[str, ...]
    search: tuple[str, ...]
    ndots: int = 1
    timeout: float = MAX_TIMEOUT_S
    attempts: int = 2


def _read(source: Source, name: str) -> str | None:
    for directory in source.etc:
        try:
            with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            continue
    return None


def hosts_lookup(text: str, name: str) -> str | None:
    """The first IPv4 address ``hosts`` gives ``name`` (case-insensitive, like glibc and musl)."""
    wanted = name.lower().rstrip(".")
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and wanted in (f.lower() for f in fields[1:]):
            try:
                if ipaddress.ip_address(fields[0]).version == 4:
                    return fields[0]
            except ValueError:
                continue
    return None


def parse_resolv_conf(text: str) -> ResolvConf:
    servers, search, ndots, timeout, attempts = [], [], 1, MAX_TIMEOUT_S, 2
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            try:
                if ipaddress.ip_address(fields[1]).version == 4:
                    servers.append(fields[1])
            except ValueError:
                pass
        elif fields[0] in ("search", "domain"):
            search = fields[1:]
        elif fields[0] == "options":
            for opt in fields[1:]:
                key, _, value = opt.partition(":")
                if value.isdigit():
                    if key == "ndots":
                        ndots = int(value)
                    elif key == "timeout":
                        timeout = min(float(value), MAX_TIMEOUT_S)
                    elif key == "attempts":
                        attempts = max(1, min(int(value), 2))
    return ResolvConf(tuple(servers), tuple(search), ndots, timeout, attempts)


def candidates(name: str, conf: ResolvConf) -> list[str]:
    """The names a stub resolver tries, in order (search list first when the name has fewer than ndots dots)."""
    if name.endswith("."):
        return [name]
    searched = [f"{name}.{domain}" for domain in conf.search]
    return [name, *searched] if name.count(".") >= conf.ndots else [*searched, name]


def _ask(sock: socket.socket, server: str, name: str, conf: ResolvConf) -> tuple[str, tuple[str, ...]]:
    """(outcome, addresses) of asking ``server`` about ``name``; outcome is an rcode or why there was none."""
    ident, query = encode_query(name)
    for _ in range(conf.attempts):
        try:
            sock.send(query)
        except OSError as error:
            return f"unreachable ({error.strerror})", ()
        deadline = time.monotonic() + conf.timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(4096)
            except TimeoutError:
                break
            except ConnectionRefusedError:
                return "refused (nothing listens on port 53)", ()
            except OSError as error:
                return f"unreachable ({error.strerror})", ()
            try:
                answer = decode_answer(data, ident)
            except MalformedAnswer:
                continue
            return answer.rcode, answer.addresses
    return f"no answer in {conf.attempts} x {conf.timeout:g} s", ()


def resolve(source: Source, name: str) -> Resolution:
    """Resolve ``name`` from ``source``; raise ``NameNotResolved`` saying what was asked and what it said."""
    name = values.host(name, "target", "Target")
    try:
        if ipaddress.ip_address(name).version == 4:
            return Resolution(name, name, "literal")
    except ValueError:
        pass
    hosts = _read(source, "hosts")
    if hosts is not None and (ip := hosts_lookup(hosts, name)):
        return Resolution(name, ip, "/etc/hosts")
    conf = parse_resolv_conf(_read(source, "resolv.conf") or "")
    tried = ["not in its /etc/hosts" if hosts is not None else "it has no /etc/hosts"]
    if not conf.nameservers:
        raise NameNotResolved(
            f"{name} does not resolve from {source.label}: {tried[0]}, and it has no nameserver.", target=name
        )

    def open_sockets() -> list[socket.socket]:
        socks = []
        for server in conf.nameservers:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.connect((server, 53))
            socks.append(sock)
        return socks

    socks = run_in_netns(source.netns, open_sockets)
    try:
        for candidate in candidates(name, conf):
            for server, sock in zip(conf.nameservers, socks):
                outcome, addresses = _ask(sock, server, candidate, conf)
                if addresses:
                    return Resolution(name, addresses[0], server)
                tried.append(f"nameserver {server} said {outcome} for {candidate}")
                if outcome in ("NXDOMAIN", "NOERROR"):  # an authoritative "no": other servers are not asked
                    break
    finally:
        for sock in socks:
            sock.close()
    raise NameNotResolved(f"{name} does not resolve from {source.label}: {'; '.join(tried)}.", target=name)
