"""The lab's state file: everything the lab created, written after every step, read by down and status."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field

from netcon.core.context import NETNS_RUN_DIR
from netcon.core.errors import NetconError, NotFound, UsageError
from netcon.core.etcd.options import EtcdOptions
from netcon.core.validate import values

LAB_ROOT = os.environ.get("NETCON_LAB_ROOT", "/var/lib/netcon")


@dataclass
class LabHost:
    name: str  # h1, h2, ...
    netns: str  # <prefix>-h1
    root_veth: str  # the underlay veth's end on the root bridge
    address: str  # underlay address, "198.18.0.31"
    directory: str
    dockerd_pid: int | None = None
    docker_options: list[str] = field(default_factory=list)  # from the agent's subnet.env, as mk-docker-opts.sh
    agent_pid: int | None = None
    sshd_pid: int | None = None  # lab up --ssh: the host's own sshd

    @property
    def socket(self) -> str:
        return os.path.join(self.directory, "docker.sock")

    @property
    def exec_root(self) -> str:
        """Named on the command line of this host's dockerd, containerd and shims, not of its agent."""
        return os.path.join(self.directory, "exec")

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def netns_path(self) -> str:
        return os.path.join(NETNS_RUN_DIR, self.netns)


@dataclass
class LabState:
    prefix: str
    underlay: str  # "198.18.0.0/24"
    bridge: str
    bridge_address: str
    directory: str
    etcd_api: int = 2
    flannel_prefix: str = "/atomic.io/network"  # the seed's; flanneld's default is /coreos.com/network
    etcd_pid: int | None = None
    etcd_port: int = 2379
    hosts: list[LabHost] = field(default_factory=list)
    iptables_rules: list[list[str]] = field(default_factory=list)  # each: [chain, *match], inserted by the lab
    ssh: bool = False  # lab up --ssh: an sshd in each host (core.lab.ssh)

    @property
    def etcd_endpoint(self) -> str:
        return f"http://{self.bridge_address}:{self.etcd_port}"

    @property
    def etcd_dir(self) -> str:
        return os.path.join(self.directory, "etcd")

    def etcd_options(self) -> EtcdOptions:
        """How netcon reaches the lab's etcd (its endpoint and the API the lab wrote flannel's config with)."""
        return EtcdOptions(endpoints=(self.etcd_endpoint,), api=str(self.etcd_api))

    def host(self, name: str) -> LabHost | None:
        return next((h for h in self.hosts if name in (h.name, h.netns)), None)


def check_prefix(prefix: str) -> str:
    """A lab prefix names interfaces (``<prefix>-h1u``), so it is short and plain."""
    given = values.text(prefix, "prefix", "Lab prefix")
    if not given.isascii() or not given.replace("-", "").isalnum() or not 1 <= len(given) <= 8:
        raise UsageError(
            f"Lab prefix {values.shown(given)} must be 1 to 8 letters, digits or dashes (it names interfaces).",
            target="prefix",
        )
    return given


def require(prefix: str) -> LabState:
    """The recorded lab ``prefix``; a missing one is an error saying how to build it."""
    state = load(prefix)
    if state is None:
        raise NotFound(f"No lab {prefix} here (netcon lab up builds it).", target="prefix")
    return state


def state_path(prefix: str) -> str:
    return os.path.join(LAB_ROOT, f"lab-{prefix}", "state.json")


def load(prefix: str) -> LabState | None:
    """The recorded lab, None when there is none; a state file that is not what ``save`` wrote is an error
    (netcon cannot tell what such a lab made, so it touches nothing)."""
    path = state_path(check_prefix(prefix))
    try:
        with open(path, "rb") as f:
            raw = json.loads(f.read())
        hosts = [LabHost(**h) for h in raw.pop("hosts", [])]
        return LabState(**raw, hosts=hosts)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, AttributeError, RecursionError) as error:
        reason = error.strerror if isinstance(error, OSError) else type(error).__name__
        raise NetconError(
            f"The lab state file {path} cannot be read ({reason}): netcon cannot tell what lab {prefix} made, so "
            "it changes nothing; remove the lab's parts by hand, or the file to forget the lab."
        ) from error


def save(state: LabState) -> None:
    path = state_path(state.prefix)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(asdict(state), f, indent=2)
    os.replace(tmp, path)


def forget(prefix: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(state_path(prefix))
