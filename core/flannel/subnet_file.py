"""``/run/flannel/subnet.env``: what flanneld tells docker (via mk-docker-opts.sh) about this host's lease.

Written atomically (temp file in the same directory, then rename) so a reader never sees half a file.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.errors import NetconError, NotFound, UsageError

DEFAULT_SUBNET_FILE = "/run/flannel/subnet.env"


@dataclass(frozen=True)
class SubnetEnv:
    network: str | None  # FLANNEL_NETWORK, "10.5.0.0/16"
    subnet: str | None  # FLANNEL_SUBNET, "10.5.34.1/24" (first address of the lease)
    mtu: int | None
    ipmasq: bool | None

    @property
    def lease_subnet(self) -> str | None:
        """The leased network, ``10.5.34.0/24`` (flanneld's previous-subnet reading)."""
        return str(ipaddress.IPv4Interface(self.subnet).network) if self.subnet else None


def render(network: str, lease_subnet: str, mtu: int, ipmasq: bool) -> str:
    """flanneld's WriteSubnetFile text for an IPv4 lease."""
    iface = ipaddress.IPv4Interface(lease_subnet)
    first = f"{iface.network.network_address + 1}/{iface.network.prefixlen}"
    return (
        f"FLANNEL_NETWORK={network}\nFLANNEL_SUBNET={first}\n"
        f"FLANNEL_MTU={mtu}\nFLANNEL_IPMASQ={'true' if ipmasq else 'false'}\n"
    )


def write_subnet_file(ctx: HostContext, path: str, network: str, lease_subnet: str, mtu: int, ipmasq: bool) -> None:
    ctx.require_writable(f"write {path}")
    atomic_write(path, render(network, lease_subnet, mtu, ipmasq))


def atomic_write(path: str, text: str, mode: int = 0o644) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def parse_env(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines as a shell's ``source`` reads the simple files flannel writes (quotes stripped)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def read_env(path: str = DEFAULT_SUBNET_FILE) -> dict[str, str]:
    """The subnet file's variables; NotFound names the file when the agent has not written it."""
    try:
        with open(path) as f:
            return parse_env(f.read())
    except FileNotFoundError:
        raise NotFound(
            f"Subnet file {path} does not exist (has the flannel agent run on this host?).", target=path
        ) from None


def read_subnet_file(path: str = DEFAULT_SUBNET_FILE) -> SubnetEnv:
    values = read_env(path)
    subnet = values.get("FLANNEL_SUBNET") or None
    if subnet is not None:
        try:
            ipaddress.IPv4Interface(subnet)
        except ValueError:
            raise UsageError(f"Subnet file {path} has FLANNEL_SUBNET={subnet!r}, not an address/prefix.") from None
    mtu = values.get("FLANNEL_MTU")
    masq = values.get("FLANNEL_IPMASQ")
    return SubnetEnv(
        values.get("FLANNEL_NETWORK") or None,
        subnet,
        int(mtu) if mtu and mtu.isdigit() else None,
        None if masq is None else masq == "true",
    )


SUBNET_FILE_ENV = "NETCON_SUBNET_FILE"  # where this host's flanneld writes it, when not the default (a lab host's)


def host_subnet_env(ctx: HostContext) -> SubnetEnv | None:
    """This host's subnet.env (``$NETCON_SUBNET_FILE``, else the default path); None for another netns of this
    machine (the file is the root host's) or when there is none to read."""
    if ctx.netns:
        return None
    try:
        return read_subnet_file(os.environ.get(SUBNET_FILE_ENV) or DEFAULT_SUBNET_FILE)
    except (NetconError, OSError, ValueError):
        return None


def previous_subnet(path: str) -> str | None:
    """The subnet this host had before (flanneld reuses it if still free), None without a readable file."""
    try:
        return read_subnet_file(path).lease_subnet
    except (NotFound, UsageError, OSError):
        return None
