"""Which hosts a cluster console or ``netcon cluster`` shows: this machine, the lab's hosts, the hosts of
``~/.config/netcon/hosts.toml``, ``--host`` flags, and every host a flannel lease names (its PublicIP) that no
other entry stands for. A lease's host that cannot be reached is still listed: that is a finding.

hosts.toml::

    [[host]]
    name = "h2"                                 # how the console labels it
    ssh = "ssh://root@10.10.110.32"             # how it is reached
    etcd = "http://10.10.110.8:2379"            # optional: the etcd it reads flannel's store from
    netcon = "/opt/netcon/.venv/bin/netcon"     # optional: netcon there, when not on its PATH
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from netcon.core.context import HostContext
from netcon.core.errors import NetconError, UsageError
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel.lease import Lease
from netcon.core.hosts.base import EtcdAccess, Host
from netcon.core.hosts.ssh import SshSettings
from netcon.core.validate import values

HOST_KEYS = {"name", "ssh", "etcd", "netcon"}
MAX_HOSTS = 256


@dataclass(frozen=True)
class HostEntry:
    """One host to show. ``target``: ``local``, ``netns:NAME`` (a lab host read in-process) or ``ssh://...``;
    ``address``: where it is on the underlay (a lease's PublicIP), when known before connecting."""

    name: str
    target: str
    source: str  # local, lab, hosts.toml, --host, lease
    address: str | None = None
    etcd: EtcdAccess | None = None
    netcon: str = "netcon"
    ssh_config: str | None = None
    docker_host: str | None = None  # a lab host's own dockerd (in-process)
    netns: str | None = None


def hosts_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "netcon" / "hosts.toml"


def load_hosts_file(path: Path | None = None, etcd: EtcdAccess | None = None) -> list[HostEntry]:
    """The entries of hosts.toml (none when the file does not exist); a mistake names the entry and key."""
    path = path or hosts_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} cannot be read: {getattr(error, 'strerror', None) or error}.") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path}: {error}.") from None
    unknown = set(raw) - {"host"}
    if unknown:
        raise UsageError(f"{path}: unknown table {sorted(unknown)[0]!r}; only [[host]] entries belong there.")
    hosts = raw.get("host", [])
    if not isinstance(hosts, list) or len(hosts) > MAX_HOSTS:
        raise UsageError(f"{path}: host must be [[host]] tables (at most {MAX_HOSTS}).")
    return [_entry(path, i, h, etcd) for i, h in enumerate(hosts, 1)]


def _entry(path: Path, index: int, raw: object, etcd: EtcdAccess | None) -> HostEntry:
    where = f"{path} [[host]] {index}"
    if not isinstance(raw, dict):
        raise UsageError(f"{where} is not a table.")
    extra = set(raw) - HOST_KEYS
    if extra:
        raise UsageError(f"{where}: unknown key {sorted(extra)[0]!r} (keys: {', '.join(sorted(HOST_KEYS))}).")
    for key in ("name", "ssh"):
        if not isinstance(raw.get(key), str):
            raise UsageError(f"{where}: key {key!r} is missing or not text.")
    from netcon.core.hosts.target import parse_target

    name = values.host_name(raw["name"], "name", f"{where} key 'name'")
    target = str(parse_target(raw["ssh"], "ssh", f"{where} key 'ssh'"))
    own_etcd = etcd
    if "etcd" in raw:
        endpoint = values.text(str(raw["etcd"]), "etcd", f"{where} key 'etcd'")
        own_etcd = EtcdAccess(EtcdOptions(endpoints=(endpoint,)), etcd.prefix if etcd else None)
    netcon = values.text(str(raw.get("netcon", "netcon")), "netcon", f"{where} key 'netcon'")
    return HostEntry(name, target, "hosts.toml", etcd=own_etcd, netcon=netcon)


def lab_entries(prefix: str, over_ssh: bool) -> tuple[list[HostEntry], EtcdAccess]:
    """The lab's hosts, in-process (their netns and dockerd) or, ``over_ssh``, through their sshd; and the lab's
    etcd."""
    from netcon.core.lab import ssh as lab_ssh
    from netcon.core.lab import state as lab_state

    state = lab_state.require(prefix)
    etcd = EtcdAccess(state.etcd_options(), state.flannel_prefix)
    if over_ssh and not state.ssh:
        raise UsageError(f"Lab {prefix} has no sshd in its hosts: run netcon lab up --ssh --prefix {prefix} first.")
    entries = []
    for h in state.hosts:
        if over_ssh:
            entries.append(
                HostEntry(h.name, lab_ssh.target(h), "lab", h.address, etcd, ssh_config=lab_ssh.config_path(state))
            )
        else:
            local = HostEntry(h.name, f"netns:{h.netns}", "lab", h.address, etcd)
            entries.append(replace(local, docker_host=h.docker_host, netns=h.netns_path))
    return entries, etcd


@dataclass(frozen=True)
class Cluster:
    """The hosts of a cluster: ``own`` is read in-process (this machine, or the lab host this process runs in;
    None when every host is read over SSH), ``others`` over SSH; ``leases_error`` says why the leases were not
    read (their hosts are then not listed)."""

    own: HostEntry | None
    others: tuple[HostEntry, ...]
    etcd: EtcdAccess | None
    leases: tuple[Lease, ...] = ()
    leases_error: str | None = None

    @property
    def entries(self) -> list[HostEntry]:
        return [*([self.own] if self.own else []), *self.others]


def cluster_entries(
    ctx: HostContext,
    etcd: EtcdAccess | None,
    lab: str | None = None,
    flags: Iterable[str] = (),
    with_leases: bool = True,
    with_own: bool = True,
) -> Cluster:
    """The one rule for which hosts a cluster has: this machine (``with_own``; within a lab host's namespace,
    that lab host), the lab's hosts over SSH, hosts.toml, ``flags``, and (``with_leases``) every lease's host
    that none of those stands for, this machine's own lease found by ``cluster.own_address``."""
    own = HostEntry("local", "local", "local", etcd=etcd) if with_own else None
    entries: list[HostEntry] = []
    if lab is not None:
        lab_hosts, lab_etcd = lab_entries(lab, over_ssh=True)
        etcd = etcd or lab_etcd
        if own is not None:
            in_process, _ = lab_entries(lab, over_ssh=False)
            own = next((e for e in in_process if ctx.netns and e.netns == ctx.netns), replace(own, etcd=etcd))
        entries += [e for e in lab_hosts if own is None or e.name != own.name]
    entries += load_hosts_file(etcd=etcd)
    entries += flag_entries(flags, etcd)
    leases: tuple[Lease, ...] = ()
    error = None
    if with_leases and etcd is not None and etcd.options is not None:
        from netcon.core.hosts.cluster import own_address, read_leases

        try:
            leases = read_leases(etcd)
        except NetconError as failure:
            error = str(failure)
        if leases and own is not None and own.address is None:
            own = replace(own, address=own_address(ctx, leases))
        known = [*([own] if own else []), *entries]
        entries += lease_entries((lease.attrs.public_ip for lease in leases), known, etcd)
    kept = unique([*([own] if own else []), *entries])
    others = tuple(e for e in kept if own is None or e.target != own.target)
    return Cluster(own, others, etcd, leases, error)


def flag_entries(targets: Iterable[str], etcd: EtcdAccess | None) -> list[HostEntry]:
    from netcon.core.hosts.target import parse_target

    entries = []
    for given in targets:
        target = parse_target(given)
        entries.append(HostEntry(target.host, str(target), "--host", etcd=etcd))
    return entries


def lease_entries(public_ips: Iterable[str], known: list[HostEntry], etcd: EtcdAccess | None) -> list[HostEntry]:
    """A host for each lease PublicIP that no known entry stands for (by address or ssh host)."""
    claimed = {e.address for e in known if e.address} | {_ssh_host(e.target) for e in known}
    out = []
    for ip in dict.fromkeys(public_ips):
        if ip and ip not in claimed:
            out.append(HostEntry(ip, f"ssh://{ip}", "lease", ip, etcd))
    return out


def _ssh_host(target: str) -> str | None:
    if not target.startswith("ssh://"):
        return None
    rest = target[len("ssh://") :].rsplit("@", 1)[-1]
    return rest[1:].split("]")[0] if rest.startswith("[") else rest.split(":")[0]


def unique(entries: Iterable[HostEntry]) -> list[HostEntry]:
    """One entry per target, the first kept; names made unique (``h2``, ``h2-2``) so a key picks one host."""
    seen: dict[str, HostEntry] = {}
    names: set[str] = set()
    for entry in entries:
        if entry.target in seen:
            continue
        name, n = entry.name, 1
        while name in names:
            n += 1
            name = f"{entry.name}-{n}"
        names.add(name)
        seen[entry.target] = replace(entry, name=name)
    return list(seen.values())


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def open_host(entry: HostEntry, read_only: bool, ssh_config: str | None = None, ctx: HostContext | None = None) -> Host:
    """The host behind an entry: in-process for this machine and lab namespaces, over SSH otherwise."""
    from netcon.core.hosts.local import LocalHost

    if entry.target == "local":
        return LocalHost(ctx or HostContext(read_only=read_only), "local", "local", etcd=entry.etcd)
    if entry.target.startswith("netns:"):
        lab_ctx = HostContext(docker_host=entry.docker_host, netns=entry.netns, read_only=read_only)
        return LocalHost(lab_ctx, entry.name, entry.target, etcd=entry.etcd, address=entry.address)
    from netcon.core.hosts.remote import RemoteHost
    from netcon.core.hosts.target import parse_target

    host = RemoteHost(
        parse_target(entry.target),
        entry.name,
        SshSettings(entry.ssh_config or ssh_config),
        read_only=read_only,
        etcd=entry.etcd,
        netcon=entry.netcon,
    )
    host.address = entry.address
    return host
