"""Flannel's network config (``<prefix>/config``), parsed and checked the way flanneld does it.

Go's JSON decoding matches keys case-insensitively (a later duplicate wins) and ignores unknown keys; flanneld's
``CheckNetworkConfig`` then fills SubnetLen/SubnetMin/SubnetMax. Each refusal is one sentence.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from netcon.core.errors import UsageError

KNOWN_BACKENDS = (
    "udp",
    "vxlan",
    "host-gw",
    "ipip",
    "ipsec",
    "wireguard",
    "alloc",
    "extension",
    "ali-vpc",
    "aws-vpc",
    "gce",
    "tencent-vpc",
)
EXAMPLE_CONFIG = '{"Network": "10.5.0.0/16", "Backend": {"Type": "vxlan"}}'  # what a new config form starts from
MAX_SUBNET_LEN = 30  # flanneld refuses longer subnets (no room for a gateway and hosts)
DEFAULT_VXLAN_PORT = 8472  # the kernel's default when flannel leaves Port at 0


class ConfigError(UsageError):
    """The flannel config is malformed or inconsistent; nothing was written."""


@dataclass(frozen=True)
class FlannelConfig:
    """The config with flanneld's defaults applied (``text`` is what etcd holds)."""

    network: str  # "10.5.0.0/16"
    subnet_len: int
    subnet_min: str
    subnet_max: str
    backend_type: str
    vni: int = 1
    port: int = DEFAULT_VXLAN_PORT
    direct_routing: bool = False
    learning: bool = False
    gbp: bool = False
    text: str = ""

    @property
    def net(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.network)

    @property
    def pool(self) -> str:
        """``10.5.1.0/24-10.5.255.0/24 of 10.5.0.0/16``: what "out of subnets" is about."""
        return f"{self.subnet_min}/{self.subnet_len}-{self.subnet_max}/{self.subnet_len} of {self.network}"

    @property
    def pool_size(self) -> int:
        step = 1 << (32 - self.subnet_len)
        first, last = int(ipaddress.IPv4Address(self.subnet_min)), int(ipaddress.IPv4Address(self.subnet_max))
        return max(0, (last - first) // step + 1)

    def fits(self, subnet: str) -> bool:
        """flanneld's isSubnetConfigCompat: right length, between SubnetMin and SubnetMax."""
        iface = ipaddress.IPv4Interface(subnet)
        return iface.network.prefixlen == self.subnet_len and int(ipaddress.IPv4Address(self.subnet_min)) <= int(
            iface.ip
        ) <= int(ipaddress.IPv4Address(self.subnet_max))

    def effective(self) -> dict[str, Any]:
        """The config as flanneld uses it, defaults filled in (for ``config show`` and the pane)."""
        backend: dict[str, Any] = {"Type": self.backend_type}
        if self.backend_type == "vxlan":
            backend.update(VNI=self.vni, Port=self.port, DirectRouting=self.direct_routing)
        return {
            "Network": self.network,
            "SubnetLen": self.subnet_len,
            "SubnetMin": self.subnet_min,
            "SubnetMax": self.subnet_max,
            "Backend": backend,
        }


def parse_config(text: str) -> FlannelConfig:
    """Parse and check ``text``; raises ConfigError with one sentence naming the problem."""
    try:
        data = json.loads(text, object_pairs_hook=_Object)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"Flannel config is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}."
        ) from None
    except RecursionError:
        raise ConfigError("Flannel config nests JSON too deeply to be a flannel config.") from None
    if not isinstance(data, _Object):
        raise ConfigError("Flannel config must be a JSON object.")
    fields = _fold(data, ("Network", "SubnetLen", "SubnetMin", "SubnetMax", "Backend", "EnableIPv4", "EnableIPv6"))
    if fields.get("EnableIPv6") is True or fields.get("EnableIPv4") is False:
        raise ConfigError("Flannel config asks for IPv6, which netcon does not support (IPv4 only).")
    network = _network(fields.get("Network"))
    prefix = network.prefixlen
    subnet_len = fields.get("SubnetLen")
    if subnet_len is not None and (isinstance(subnet_len, bool) or not isinstance(subnet_len, int) or subnet_len < 0):
        raise ConfigError(f"Flannel config SubnetLen {subnet_len!r} is not a non-negative integer.")
    if prefix > MAX_SUBNET_LEN - 2:
        raise ConfigError(
            f"Flannel config Network {network} is too small for any subnet length flannel accepts: it must hold "
            f"at least four subnets of /{MAX_SUBNET_LEN} or shorter, so the Network must be /{MAX_SUBNET_LEN - 2} "
            f"or larger."
        )
    if subnet_len:
        if subnet_len > MAX_SUBNET_LEN:
            raise ConfigError(
                f"Flannel config SubnetLen /{subnet_len} is too long; it must be /{MAX_SUBNET_LEN} or shorter."
            )
        if subnet_len < prefix + 2:
            raise ConfigError(
                f"Flannel config SubnetLen /{subnet_len} must be at least /{prefix + 2} so that "
                f"{network} holds four subnets."
            )
    else:
        subnet_len = 24 if prefix <= 22 else prefix + 2
    size = 1 << (32 - subnet_len)
    first, last = int(network.network_address), int(network.broadcast_address) + 1
    subnet_min = _address(fields.get("SubnetMin"), "SubnetMin") or first + size
    subnet_max = _address(fields.get("SubnetMax"), "SubnetMax") or last - size
    for name, value in (("SubnetMin", subnet_min), ("SubnetMax", subnet_max)):
        shown = ipaddress.IPv4Address(value)
        if not first <= value < last:
            raise ConfigError(f"Flannel config {name} {shown} is outside Network {network}.")
        if value % size:
            raise ConfigError(f"Flannel config {name} {shown} is not on a /{subnet_len} boundary.")
    backend_type, backend = _backend(fields.get("Backend", _MISSING))
    return FlannelConfig(
        network=str(network),
        subnet_len=subnet_len,
        subnet_min=str(ipaddress.IPv4Address(subnet_min)),
        subnet_max=str(ipaddress.IPv4Address(subnet_max)),
        backend_type=backend_type,
        text=text.strip(),
        **backend,
    )


_MISSING = object()


class _Object(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in order, duplicates kept, as Go's decoder sees them."""


def _fold(pairs: list[tuple[str, Any]], names: tuple[str, ...]) -> dict[str, Any]:
    """Go's encoding/json field matching: each key goes to the field it names exactly or case-insensitively,
    in document order, so a later key overwrites an earlier one."""
    lower = {n.lower(): n for n in names}
    out: dict[str, Any] = {}
    for key, value in pairs:
        name = lower.get(key.lower())
        if name is not None:
            out[name] = value
    return out


def _network(value: Any) -> ipaddress.IPv4Network:
    if value in (None, ""):
        raise ConfigError('Flannel config has no Network (for example "Network": "10.5.0.0/16").')
    if not isinstance(value, str):
        raise ConfigError(f'Flannel config Network {value!r} is not a string like "10.5.0.0/16".')
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ConfigError(f"Flannel config Network {value!r} is not a CIDR like 10.5.0.0/16.") from None
    if "/" not in value or network.version != 4:
        raise ConfigError(f"Flannel config Network {value!r} is not an IPv4 CIDR like 10.5.0.0/16.")
    assert isinstance(network, ipaddress.IPv4Network)
    return network


def _address(value: Any, name: str) -> int:
    """0 when absent (flanneld treats 0.0.0.0 as not given)."""
    if value is None:
        return 0
    if not isinstance(value, str):
        raise ConfigError(f'Flannel config {name} {value!r} is not a string like "10.5.1.0".')
    try:
        return int(ipaddress.IPv4Address(value))
    except (ValueError, TypeError):
        raise ConfigError(f"Flannel config {name} {value!r} is not an IPv4 address.") from None


def _backend(value: Any) -> tuple[str, dict[str, Any]]:
    if value is _MISSING:
        return "udp", {}
    if not isinstance(value, _Object):
        raise ConfigError('Flannel config Backend must be a JSON object like {"Type": "vxlan"}.')
    fields = _fold(value, ("Type", "VNI", "Port", "DirectRouting", "Learning", "GBP"))
    kind = fields.get("Type")
    if not isinstance(kind, str) or kind not in KNOWN_BACKENDS:
        raise ConfigError(f"Flannel config Backend.Type {kind!r} is not a known backend ({', '.join(KNOWN_BACKENDS)}).")
    if kind != "vxlan":
        return kind, {}
    out: dict[str, Any] = {}
    for name, key, low, high, default in (
        ("VNI", "vni", 0, (1 << 24) - 1, 1),
        ("Port", "port", 0, 65535, DEFAULT_VXLAN_PORT),
    ):
        number = fields.get(name)
        if number is None:
            out[key] = default
            continue
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise ConfigError(f"Flannel config Backend.{name} {number!r} is not an integer from {low} to {high}.")
        out[key] = number or default
    for name, key in (("DirectRouting", "direct_routing"), ("Learning", "learning"), ("GBP", "gbp")):
        flag = fields.get(name, False)
        if not isinstance(flag, bool):
            raise ConfigError(f"Flannel config Backend.{name} {flag!r} is not true or false.")
        out[key] = flag
    return kind, out
