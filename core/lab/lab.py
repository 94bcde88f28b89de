"""``netcon lab up|down|status``: build, inspect and remove the lab, recorded in its state file."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netcon.core.audit import mutation
from netcon.core.context import HostContext
from netcon.core.errors import NetconError, PermissionDenied, UsageError
from netcon.core.etcd import open_client
from netcon.core.flannel.registry import normalize_prefix
from netcon.core.image import ensure_busybox
from netcon.core.lab import firewall, overlay, procs, underlay
from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab import state as lab_state
from netcon.core.lab.scenario import ensure_probe, ensure_seed
from netcon.core.lab.state import LAB_ROOT, LabHost, LabState
from netcon.core.validate import values

DEFAULT_PREFIX = "nclab"
Progress = Callable[[str], None]  # told what lab up and down are doing, one sentence at a time
SEED_PREFIX = "/atomic.io/network"
SEED_CONFIG = '{"Network":"172.17.0.0/16","Backend":{"Type":"vxlan"}}'
MAX_HOSTS = 16


@dataclass(frozen=True)
class HostStatus:
    name: str
    netns: str
    netns_present: bool
    address: str
    docker_host: str
    dockerd_pid: int | None
    docker_up: bool
    docker_options: tuple[str, ...]
    agent_pid: int | None  # the flannel agent, when running
    flannel_subnet: str | None  # FLANNEL_SUBNET of its subnet.env
    ssh: str | None = None  # lab up --ssh: its target, ssh://root@<netns> (with the lab's ssh config)
    sshd_pid: int | None = None


@dataclass(frozen=True)
class LabStatus:
    prefix: str
    underlay: str
    bridge: str
    bridge_present: bool
    etcd_endpoint: str
    etcd_up: bool
    etcd_api: int
    hosts: tuple[HostStatus, ...]
    iptables_rules: tuple[str, ...]
    ssh_config: str | None = None  # lab up --ssh: the lab's ssh config file (netcon --ssh-config, ssh -F)

    @property
    def healthy(self) -> bool:
        return (
            self.bridge_present
            and self.etcd_up
            and all(
                h.netns_present and h.docker_up and h.agent_pid and (h.sshd_pid or self.ssh_config is None)
                for h in self.hosts
            )
        )


def _require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionDenied("The lab creates namespaces, links and daemons: run netcon lab as root.")


def host_context(host: LabHost, read_only: bool = False) -> HostContext:
    return HostContext(docker_host=host.docker_host, netns=host.netns_path, read_only=read_only)


def plan(prefix: str, hosts: int, underlay_cidr: str | None, etcd_api: int, flannel_prefix: str) -> LabState:
    if not 1 <= hosts <= MAX_HOSTS:
        raise UsageError(f"--hosts {hosts} is out of range: a lab has 1 to {MAX_HOSTS} hosts.")
    if etcd_api not in (2, 3):
        raise UsageError(f"--etcd-api {etcd_api} is not 2 or 3.")
    cidr = underlay.choose(underlay_cidr, hosts)
    directory = os.path.join(LAB_ROOT, f"lab-{prefix}")
    net = list(cidr.hosts())
    return LabState(
        prefix=prefix,
        underlay=str(cidr),
        bridge=f"{prefix}-br",
        bridge_address=str(net[0]),
        directory=directory,
        etcd_api=etcd_api,
        flannel_prefix=flannel_prefix,
        hosts=[
            LabHost(
                name=f"h{i}",
                netns=f"{prefix}-h{i}",
                root_veth=f"{prefix}-h{i}u",
                address=str(net[underlay.HOST_OFFSET + i - 1]),
                directory=os.path.join(directory, f"h{i}"),
            )
            for i in range(1, hosts + 1)
        ],
    )


@mutation("lab.up", "lab up {prefix}")
def up(
    ctx: HostContext,
    prefix: str = DEFAULT_PREFIX,
    hosts: int = 2,
    underlay_cidr: str | None = None,
    etcd_api: int = 2,
    flannel_prefix: str = SEED_PREFIX,
    seed: bool = True,
    progress: Progress = lambda message: None,
    ssh: bool = False,
) -> LabState:
    """Build the lab, or complete and repair the one recorded; on failure remove everything it made. ``ssh``:
    an sshd in each host too (``core.lab.ssh``); a lab once built with it keeps it."""
    _require_root()
    lab_state.check_prefix(prefix)
    existing = lab_state.load(prefix)
    if existing:
        if (hosts, etcd_api, normalize_prefix(flannel_prefix)) != (
            len(existing.hosts),
            existing.etcd_api,
            existing.flannel_prefix,
        ) or (underlay_cidr and underlay_cidr != existing.underlay):
            raise UsageError(
                f"Lab {prefix} exists with {len(existing.hosts)} hosts on {existing.underlay} "
                f"(etcd API {existing.etcd_api}, {existing.flannel_prefix}); run netcon lab down "
                f"first to change it."
            )
        state = existing
    else:
        procs.require_binary("dockerd", "docker.io")
        procs.require_binary("etcd", "etcd-server")
        procs.require_binary("nsenter", "util-linux")
        state = plan(prefix, hosts, underlay_cidr, etcd_api, normalize_prefix(flannel_prefix))
    if ssh and not state.ssh:
        if not os.path.exists(lab_ssh.SSHD):
            raise NetconError(f"{lab_ssh.SSHD} is not installed (Debian package openssh-server): --ssh needs it.")
        state.ssh = True
    lab_state.save(state)
    try:
        _build(state, seed, progress)
    except BaseException:
        if existing is None:
            progress("lab up failed; removing what it made")
            down(ctx, prefix)
        raise
    return state


def _build(state: LabState, seed: bool, progress: Progress) -> None:
    prefixlen = ipaddress.ip_network(state.underlay).prefixlen
    progress(f"underlay {state.underlay} on bridge {state.bridge}")
    underlay.ensure_bridge(state.bridge, state.bridge_address, prefixlen)
    rule = firewall.bridge_rule(state.bridge)
    if rule not in state.iptables_rules:
        state.iptables_rules.append(rule)
        lab_state.save(state)
    firewall.insert(rule)
    for host in state.hosts:
        underlay.ensure_host(host.netns, host.root_veth, state.bridge, host.address, prefixlen)
    if not (procs.owned(state.etcd_pid, state.directory) and procs.etcd_healthy(state)):
        progress(f"etcd on {state.etcd_endpoint}")
        if state.etcd_pid is not None and procs.owned(state.etcd_pid, state.directory):
            procs.stop([state.etcd_pid])
        state.etcd_pid = procs.start_etcd(state)
        lab_state.save(state)
    _write_flannel_config(state)
    for host in state.hosts:
        os.makedirs(host.directory, exist_ok=True)
        if not procs.owned(host.agent_pid, overlay.subnet_file(host)):
            progress(f"flannel agent in {host.netns}")
            host.agent_pid = overlay.start_agent(state, host)
            lab_state.save(state)
        options = overlay.docker_options(host)
        if not (
            procs.owned(host.dockerd_pid, host.exec_root)
            and procs.docker_answers(host)
            and options == host.docker_options
        ):
            progress(f"dockerd in {host.netns} with {' '.join(options)}")
            procs.stop(procs.processes_mentioning(host.exec_root))
            host.dockerd_pid = procs.start_dockerd(host, options)
            host.docker_options = options
            lab_state.save(state)
            firewall.accept_forwarding(host.netns_path)
        ensure_busybox(host_context(host))
        ensure_probe(host_context(host), state.prefix, f"{host.name}-probe")
    if state.ssh:
        _build_ssh(state, progress)
    if seed:
        progress("the seed's scenario on h1")
        ensure_seed(host_context(state.hosts[0]), state.prefix)


def _build_ssh(state: LabState, progress: Progress) -> None:
    lab_ssh.write_files(state)
    for host in state.hosts:
        if not lab_ssh.sshd_up(host):
            progress(f"sshd in {host.netns} on {host.address}:22")
            lab_ssh.stop_sshd(host)
            host.sshd_pid = lab_ssh.start_sshd(host)
            lab_state.save(state)


def _write_flannel_config(state: LabState) -> None:
    client = open_client(state.etcd_options())
    try:
        client.create(f"{state.flannel_prefix}/config", SEED_CONFIG)  # a config changed on purpose stays
    finally:
        client.close()


@mutation("lab.down", "lab down {prefix}")
def down(ctx: HostContext, prefix: str = DEFAULT_PREFIX, progress: Progress = lambda message: None) -> bool:
    """Remove exactly what the state file says the lab made; works after crashes and half-built ups.
    False when there was no lab."""
    _require_root()
    state = lab_state.load(prefix)
    if state is None:
        return False
    for host in state.hosts:
        if state.ssh:
            progress(f"stopping sshd of {host.netns}")
            lab_ssh.stop_sshd(host)
        progress(f"stopping dockerd of {host.netns}")
        procs.stop_dockerd(host)
    procs.stop(procs.processes_mentioning(state.directory))
    for rule in state.iptables_rules:
        firewall.delete(rule)
    for host in state.hosts:
        underlay.remove_host(host.netns, host.root_veth)
    underlay.remove_link(state.bridge)
    procs.unmount_below(state.directory)
    shutil.rmtree(state.directory, ignore_errors=True)
    lab_state.forget(prefix)
    return True


@dataclass(frozen=True)
class ExecDone:
    host: str
    command: tuple[str, ...]
    exit_code: int


def find_host(prefix: str, name: str) -> LabHost:
    """Lab host ``name`` (h1, or its netns name) of lab ``prefix``."""
    name = values.text(name, "host", "Lab host")
    if len(name) > 32 or not name.replace("-", "").isalnum():
        raise UsageError(f"Lab host {values.shown(name)} is not a lab host name like h1.", target="host")
    state = lab_state.require(prefix)
    host = state.host(name)
    if host is None:
        raise UsageError(
            f"Lab host {name} does not exist (hosts: {', '.join(h.name for h in state.hosts)}).", target="host"
        )
    return host


@mutation("lab.exec", "run a command in lab host {host}")
def exec_in(ctx: HostContext, prefix: str, host: str, command: Sequence[str]) -> ExecDone:
    """Run ``command`` in the lab host's network namespace (``nsenter --net=``, no shell) with this terminal as
    its own. Any command may change the host, so this is a change like the others: refused read-only, audited
    with its exit code."""
    if not command or not str(command[0]).strip():
        raise UsageError("lab exec needs a command after --, e.g. netcon lab exec h1 -- ip route.", target="command")
    lab_host = find_host(prefix, host)
    nsenter = procs.require_binary("nsenter", "util-linux")
    done = subprocess.run([nsenter, f"--net={lab_host.netns_path}", *command], check=False)
    return ExecDone(host=lab_host.name, command=tuple(command), exit_code=done.returncode)


def status(prefix: str = DEFAULT_PREFIX) -> LabStatus:
    state = lab_state.require(prefix)
    return LabStatus(
        prefix=state.prefix,
        underlay=state.underlay,
        bridge=state.bridge,
        bridge_present=underlay.exists(state.bridge),
        etcd_endpoint=state.etcd_endpoint,
        etcd_up=procs.etcd_healthy(state),
        etcd_api=state.etcd_api,
        hosts=tuple(
            HostStatus(
                name=h.name,
                netns=h.netns,
                netns_present=underlay.netns_exists(h.netns),
                address=h.address,
                docker_host=h.docker_host,
                dockerd_pid=h.dockerd_pid if procs.owned(h.dockerd_pid, h.directory) else None,
                docker_up=procs.docker_answers(h),
                docker_options=tuple(h.docker_options),
                agent_pid=h.agent_pid if procs.owned(h.agent_pid, overlay.subnet_file(h)) else None,
                flannel_subnet=overlay.flannel_subnet(h),
                ssh=lab_ssh.target(h) if state.ssh else None,
                sshd_pid=h.sshd_pid if state.ssh and lab_ssh.sshd_up(h) else None,
            )
            for h in state.hosts
        ),
        iptables_rules=tuple(" ".join(r) for r in state.iptables_rules if firewall.present(r)),
        ssh_config=lab_ssh.config_path(state) if state.ssh else None,
    )
