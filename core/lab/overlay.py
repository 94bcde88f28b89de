"""The seed's flannel half in the lab: one netcon flannel agent per host (the flanneld drop-in), and the
docker options it leads to (``mk-docker-opts.sh -k DOCKER_NETWORK_OPTIONS``) for that host's dockerd."""

from __future__ import annotations

import contextlib
import os
import sys

from netcon.core.context import HostContext
from netcon.core.errors import NotFound
from netcon.core.flannel.docker_opts import write_docker_opts
from netcon.core.flannel.subnet_file import parse_env, read_env
from netcon.core.lab.procs import require_binary, spawn, wait_ready
from netcon.core.lab.state import LabHost, LabState

OPTIONS_KEY = "DOCKER_NETWORK_OPTIONS"


def subnet_file(host: LabHost) -> str:
    return os.path.join(host.directory, "subnet.env")


def start_agent(state: LabState, host: LabHost, timeout: float = 30) -> int:
    """``flanneld --etcd-endpoints=... --etcd-prefix=/atomic.io/network --iface=eth0`` inside the host's netns;
    returns its pid once it has written the subnet file."""
    nsenter = require_binary("nsenter", "util-linux")
    os.makedirs(host.directory, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(subnet_file(host))
    proc = spawn(
        [
            nsenter,
            f"--net={host.netns_path}",
            sys.executable,
            "-m",
            "netcon.cli",
            "flannel",
            "agent",
            f"--etcd-endpoints={state.etcd_endpoint}",
            f"--etcd-prefix={state.flannel_prefix}",
            f"--etcd-api={state.etcd_api}",
            "--iface=eth0",
            f"--subnet-file={subnet_file(host)}",
        ],
        os.path.join(host.directory, "flannel.log"),
    )
    return wait_ready(
        proc,
        lambda: os.path.exists(subnet_file(host)),
        timeout,
        f"The flannel agent of lab host {host.name} wrote no subnet file; see {host.directory}/flannel.log.",
    )


def flannel_subnet(host: LabHost) -> str | None:
    """FLANNEL_SUBNET of the host's subnet.env (its docker0 address), None before the agent wrote it."""
    try:
        return read_env(subnet_file(host)).get("FLANNEL_SUBNET")
    except NotFound:
        return None


def docker_options(host: LabHost) -> list[str]:
    """What mk-docker-opts.sh derives from the host's subnet.env: ``--bip=... --ip-masq=... --mtu=...``."""
    path = os.path.join(host.directory, "docker_opts.env")
    write_docker_opts(HostContext(), subnet_file(host), path, OPTIONS_KEY)
    with open(path) as f:
        return parse_env(f.read())[OPTIONS_KEY].split()
