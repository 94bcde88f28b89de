"""The checks of Docker networks and containers a user names or asks for — names, subnets, gateways, network
modes, published ports — against the host's state (``HostFacts``, read once) where it matters.

Every check raises ``UsageError`` with one sentence naming the field; ``error.target`` is the field's key.
Checks that take ``facts=None`` skip the parts that need the host, so a form can validate syntax before the
facts have been read.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from netcon.core.errors import UsageError
from netcon.core.host_facts import ContainerFact, HostFacts, NetworkFact, RouteFact
from netcon.core.image import BUSYBOX_IMAGE
from netcon.core.snapshot_join import BRIDGE_NAME_OPTION
from netcon.core.validate.values import IFNAME_RE, MAX_SHOWN, fail, ipv4_address, ipv4_network, shown, text

# Docker's own rule for container names (daemon/names); netcon applies it to networks, aliases too, since
# Docker 20.10 accepts network names with "/" or spaces that its API paths and CLI then cannot address.
NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
NAME_MAX = 255  # longer names make Docker's bridge and endpoint names fail later
MTU_OPTION = "com.docker.network.driver.mtu"
MTU_MIN, MTU_MAX = 68, 65535
PORT_RE = re.compile(r"(\d{1,5}):(\d{1,5})(?:/(tcp|udp|sctp))?")

Value = Any  # a form's text, or the typed value an API caller passes (sequence or mapping of k=v)
Values = Mapping[str, Value]
Check = Callable[[Value, Values, HostFacts | None], Any]


def given(value: Value) -> bool:
    """False for "not given" (None, or an empty sequence); an empty string is given, and refused where a value
    is needed."""
    return value not in (None, (), [], {})


# --- addresses -------------------------------------------------------------------------------------------


def usable_host(address: ipaddress.IPv4Address, subnet: ipaddress.IPv4Network) -> bool:
    """True for an address Docker can hand out in ``subnet``: inside it, and (below /31) neither the network
    nor the broadcast address, which Docker refuses as 'already in use'."""
    if address not in subnet:
        return False
    if subnet.prefixlen >= 31:
        return True
    return address not in (subnet.network_address, subnet.broadcast_address)


def check_gateway(value: str, subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    gateway = ipv4_address(value, "gateway", "Gateway")
    if gateway not in subnet:
        raise fail("gateway", f"Gateway {gateway} is outside the subnet {subnet}.")
    if not usable_host(gateway, subnet):
        raise fail(
            "gateway",
            f"Gateway {gateway} is the {'network' if gateway == subnet.network_address else 'broadcast'}"
            f" address of {subnet}; pick a host address inside it.",
        )
    return gateway


def check_ip_range(value: str, subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    ip_range = ipv4_network(value, "ip_range", "IP range")
    if not ip_range.subnet_of(subnet):
        raise fail("ip_range", f"IP range {ip_range} is not inside the subnet {subnet}.")
    return ip_range


def check_subnet_free(
    subnet: ipaddress.IPv4Network, networks: Iterable[NetworkFact], routes: Iterable[RouteFact] = ()
) -> None:
    """Refuse a subnet that overlaps a Docker network's subnet or a route of the host, naming which."""
    for net in networks:
        for cidr in net.subnets:
            if subnet.overlaps(ipaddress.IPv4Network(cidr, strict=False)):
                raise fail("subnet", f"Subnet {subnet} overlaps Docker network {net.name} ({cidr}).")
    for route in routes:
        if subnet.overlaps(ipaddress.IPv4Network(route.destination, strict=False)):
            where = f" via {route.device}" if route.device else ""
            raise fail("subnet", f"Subnet {subnet} overlaps the host's route to {route.destination}{where}.")


# --- names -----------------------------------------------------------------------------------------------


def _name(value: str | None, label: str, rule: str) -> str:
    name = text(value, "name", label)
    if len(name) > NAME_MAX:
        raise fail("name", f"{label} {shown(name)} is longer than {NAME_MAX} characters.")
    if not NAME_RE.fullmatch(name):
        raise fail("name", f"{label} {shown(name)} is not allowed: {rule}.")
    return name


def check_network_name(value: str | None, facts: HostFacts | None = None) -> str:
    name = _name(
        value, "Network name", "it must start with a letter or digit and hold only letters, digits, '_', '.' and '-'"
    )
    if facts is not None:
        taken = next((n for n in facts.networks if n.name == name), None)
        if taken is not None:
            raise fail("name", f"Network name {name} is already taken (network {taken.id[:12]}).")
    return name


def check_container_name(value: str | None, facts: HostFacts | None = None) -> str:
    rule = (
        "Docker wants at least two characters, starting with a letter or digit, then only letters, digits, "
        "'_', '.' and '-'"
    )
    name = _name(value, "Container name", rule)
    if len(name) < 2:
        raise fail("name", f"Container name {shown(name)} is not allowed: {rule}.")
    if facts is not None:
        taken = next((c for c in facts.containers if c.name == name), None)
        if taken is not None:
            raise fail("name", f"Container name {name} is already taken (container {taken.id[:12]}, {taken.state}).")
    return name


def check_alias(value: str) -> str:
    alias = text(value, "aliases", "Alias")
    if len(alias) > NAME_MAX or not NAME_RE.fullmatch(alias):
        raise fail("aliases", f"Alias {shown(alias)} is not a valid DNS name: use letters, digits, '_', '.' and '-'.")
    return alias


# --- key=value items -------------------------------------------------------------------------------------


def split_items(value: Value) -> list[str]:
    """A form's text of several items (separated by spaces or commas), or a sequence of them, as a list."""
    if isinstance(value, str):
        return [item for item in re.split(r"[\s,]+", value.strip()) if item]
    return [str(item) for item in (value or ())]


def parse_kv(item: str, field: str, label: str) -> tuple[str, str]:
    key, sep, val = str(item).partition("=")
    if not sep or not key.strip():
        raise fail(field, f"{label} {shown(item)} is not of the form key=value.")
    return key.strip(), val


def parse_kv_items(value: Value, field: str, label: str) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return dict(parse_kv(item, field, label) for item in split_items(value))


def check_options(value: Value, facts: HostFacts | None = None) -> dict[str, str]:
    """Driver options; the bridge name and MTU are checked, since Docker only fails on them later."""
    options = parse_kv_items(value, "options", "Option")
    bridge = options.get(BRIDGE_NAME_OPTION)
    if bridge is not None:
        if not IFNAME_RE.fullmatch(bridge) or bridge in (".", ".."):
            raise fail(
                "options",
                f"Bridge name {shown(bridge)} ({BRIDGE_NAME_OPTION}) is not a valid Linux interface "
                "name: 1 to 15 characters without '/', ':' or spaces.",
            )
        if facts is not None:
            user = next((n for n in facts.networks if n.bridge_name == bridge), None)
            if user is not None:
                raise fail("options", f"Bridge name {bridge} is already used by Docker network {user.name}.")
    mtu = options.get(MTU_OPTION)
    if mtu is not None and not (mtu.strip().isdigit() and MTU_MIN <= int(mtu) <= MTU_MAX):
        raise fail("options", f"MTU {shown(mtu)} ({MTU_OPTION}) must be a whole number from {MTU_MIN} to {MTU_MAX}.")
    return options


def check_labels(value: Value) -> dict[str, str]:
    return parse_kv_items(value, "labels", "Label")


# --- network create --------------------------------------------------------------------------------------


def _subnet_of_form(values: Mapping[str, Value]) -> ipaddress.IPv4Network | None:
    """The form's subnet when it parses; a bad subnet is reported on its own field, not on its dependants."""
    if not given(values.get("subnet")):
        return None
    try:
        return ipv4_network(values["subnet"], "subnet", "Subnet")
    except UsageError:
        return None


def _create_name(value: Value, values: Values, facts: HostFacts | None) -> str:
    return check_network_name(value, facts)


def _create_driver(value: Value, values: Values, facts: HostFacts | None) -> str:
    driver = "bridge" if value is None else text(value, "driver", "Driver")
    if len(driver) > NAME_MAX or not NAME_RE.fullmatch(driver):
        raise fail("driver", f"Driver {shown(driver)} is not a driver name.")
    if facts is not None and facts.drivers and driver not in facts.drivers:
        raise fail(
            "driver", f"Driver {driver} is not available on this engine (it offers {', '.join(sorted(facts.drivers))})."
        )
    return driver


def _create_subnet(value: Value, values: Values, facts: HostFacts | None) -> ipaddress.IPv4Network | None:
    if not given(value):
        return None
    subnet = ipv4_network(value, "subnet", "Subnet")
    if facts is not None:
        check_subnet_free(subnet, facts.networks, facts.routes)
    return subnet


def _dependent(field: str, label: str, check: Callable[[str, ipaddress.IPv4Network], Any]) -> Check:
    def run(value: Value, values: Values, facts: HostFacts | None) -> Any:
        if not given(value):
            return None
        if not given(values.get("subnet")):
            raise fail(field, f"{label} needs a subnet to belong to: give the subnet too.")
        subnet = _subnet_of_form(values)
        return check(value, subnet) if subnet is not None else None

    return run


# --- network connect / disconnect ------------------------------------------------------------------------


def _find(value: str | None, lookup: Callable[[str, str], Any], field: str, label: str) -> Any:
    ref = text(value, field, label)
    found = lookup(ref, field)
    if found is None:
        raise fail(field, f"{label} {shown(ref) if len(ref) > MAX_SHOWN else ref} does not exist.")
    return found


def _other(lookup: Callable[[str], Any], value: Value) -> Any:
    """Another field's object, for a check that depends on it; None when that field is empty or wrong (its
    own check says why)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return lookup(value.strip())
    except UsageError:
        return None


def find_network(value: str, facts: HostFacts, field: str = "network") -> NetworkFact:
    found: NetworkFact = _find(value, facts.network, field, "Network")
    return found


def find_container(value: str, facts: HostFacts, field: str = "container") -> ContainerFact:
    found: ContainerFact = _find(value, facts.container, field, "Container")
    return found


def mode_kind(network_mode: str) -> str:
    """'host', 'none', 'container' or 'network' for a HostConfig.NetworkMode."""
    if network_mode in ("host", "none"):
        return network_mode
    return "container" if network_mode.startswith("container:") else "network"


def shared_stack_reason(container: ContainerFact, facts: HostFacts | None = None) -> str | None:
    """Why Docker will not connect ``container`` to a network, or None."""
    kind = mode_kind(container.network_mode)
    if kind == "host":
        return (
            f"Container {container.name} runs with --network host: it uses the host's own network stack, "
            "so Docker cannot connect it to any other network."
        )
    if kind == "none":
        return (
            f"Container {container.name} runs with --network none: Docker keeps it without networking and "
            "cannot connect it to any network."
        )
    if kind == "container":
        ref = container.network_mode.split(":", 1)[1]
        owner = facts.container(ref) if facts is not None else None
        return (
            f"Container {container.name} shares the network namespace of container "
            f"{owner.name if owner else ref[:12]} (--network container:), so Docker cannot connect it "
            "to a network of its own."
        )
    return None


def check_attachable_network(net: NetworkFact, field: str = "network") -> NetworkFact:
    if net.driver in ("host", "null"):
        mode = "host" if net.driver == "host" else "none"
        raise fail(
            field,
            f"Network {net.name} is Docker's {mode} mode, not a network a container can be "
            f"connected to; run the container with --network {mode} instead.",
        )
    return net


def check_ip_for(
    value: str, net: NetworkFact, facts: HostFacts | None, container: ContainerFact | None = None
) -> ipaddress.IPv4Address:
    """An address inside ``net``'s subnet, not its gateway and not held by another container."""
    address = ipv4_address(value, "ip", "IP address")
    if net.name == "bridge":
        raise fail("ip", "An IP address can only be chosen on a user-defined network, not on the default bridge.")
    if not net.subnets:
        raise fail("ip", f"Network {net.name} has no IPv4 subnet, so an IP address cannot be chosen on it.")
    subnets = [ipaddress.IPv4Network(s, strict=False) for s in net.subnets]
    if not any(usable_host(address, s) for s in subnets):
        raise fail(
            "ip", f"IP address {address} is not a usable address of network {net.name} ({', '.join(net.subnets)})."
        )
    if str(address) in net.gateways:
        raise fail("ip", f"IP address {address} is the gateway of network {net.name}.")
    if facts is not None:
        for other in facts.containers:
            if container is not None and other.id == container.id:
                continue
            if any(e.network_id == net.id and e.ipv4 == str(address) for e in other.endpoints):
                raise fail("ip", f"IP address {address} is already used by container {other.name} on {net.name}.")
    return address


def _connect_network(value: Value, values: Values, facts: HostFacts | None) -> NetworkFact | str:
    if facts is None:
        return text(value, "network", "Network")
    return check_attachable_network(find_network(value, facts))


def _connect_container(value: Value, values: Values, facts: HostFacts | None) -> ContainerFact | str:
    if facts is None:
        return text(value, "container", "Container")
    container = find_container(value, facts)
    reason = shared_stack_reason(container, facts)
    if reason:
        raise fail("container", reason)
    net = _other(facts.network, values.get("network"))
    if net is not None and any(e.network_id == net.id for e in container.endpoints):
        raise fail("container", f"Container {container.name} is already connected to network {net.name}.")
    return container


def _connect_ip(value: Value, values: Values, facts: HostFacts | None) -> ipaddress.IPv4Address | None:
    if not given(value):
        return None
    if facts is None:
        return ipv4_address(value, "ip", "IP address")
    net = _other(facts.network, values.get("network"))
    if net is None:
        return ipv4_address(value, "ip", "IP address")
    return check_ip_for(value, net, facts, _other(facts.container, values.get("container")))


def _aliases(value: Value, values: Values, facts: HostFacts | None) -> tuple[str, ...]:
    return tuple(check_alias(a) for a in split_items(value))


def _disconnect_network(value: Value, values: Values, facts: HostFacts | None) -> NetworkFact | str:
    if facts is None:
        return text(value, "network", "Network")
    net = find_network(value, facts)
    if net.driver in ("host", "null"):
        raise fail(
            "network",
            f"Network {net.name} is Docker's {'host' if net.driver == 'host' else 'none'} mode: "
            "a container cannot be disconnected from it, only removed.",
        )
    return net


def _disconnect_container(value: Value, values: Values, facts: HostFacts | None) -> ContainerFact | str:
    if facts is None:
        return text(value, "container", "Container")
    container = find_container(value, facts)
    net = _other(facts.network, values.get("network"))
    if (
        net is not None
        and net.driver not in ("host", "null")
        and not any(e.network_id == net.id for e in container.endpoints)
    ):
        raise fail("container", f"Container {container.name} is not connected to network {net.name}.")
    return container


# --- container run ---------------------------------------------------------------------------------------


def check_network_mode(value: str, facts: HostFacts | None) -> str:
    """``bridge``, a user network, ``host``, ``none`` or ``container:<name|id>`` of a running container;
    returned as Docker's NetworkMode (container: with the full id)."""
    mode = "bridge" if value is None else text(value, "network", "Network mode")
    if mode in ("bridge", "host", "none", "default"):
        return mode
    if mode.startswith("container:"):
        ref = mode.split(":", 1)[1].strip()
        if not ref:
            raise fail("network", "Network mode container: needs the name or id of the container to share with.")
        if facts is None:
            return mode
        other = facts.container(ref, "network")
        if other is None:
            raise fail("network", f"Network mode container:{ref} names a container that does not exist.")
        if not other.running:
            raise fail(
                "network",
                f"Network mode container:{ref} names a container that is {other.state}, "
                "not running, so it has no network namespace to share.",
            )
        return f"container:{other.id}"
    if facts is None:
        if len(mode) > NAME_MAX or not NAME_RE.fullmatch(mode):
            raise fail("network", f"Network {shown(mode)} is not a network name.")
        return mode
    net = facts.network(mode, "network")
    if net is None:
        raise fail(
            "network",
            f"Network {shown(mode) if len(mode) > MAX_SHOWN else mode} does not exist (modes: bridge, host, none, "
            "container:<name>, or a user network).",
        )
    return net.name


def parse_publish(item: str) -> tuple[int, int, str]:
    """``HOST:CONTAINER[/tcp|udp|sctp]`` as (host port, container port, protocol)."""
    match = PORT_RE.fullmatch(str(item).strip())
    if not match or not all(1 <= int(p) <= 65535 for p in match.group(1, 2)):
        raise fail(
            "publish",
            f"Published port {shown(item)} must be HOST:CONTAINER with ports 1 to 65535 "
            "(optionally /tcp, /udp or /sctp).",
        )
    return int(match.group(1)), int(match.group(2)), match.group(3) or "tcp"


def _run_publish(value: Value, values: Values, facts: HostFacts | None) -> tuple[tuple[int, int, str], ...]:
    published = tuple(parse_publish(item) for item in split_items(value))
    mode = str(values.get("network") or "bridge").strip()
    if published and (mode == "none" or mode.startswith("container:")):
        raise fail(
            "publish",
            f"Ports cannot be published with network mode {mode}: the container has no "
            "network of its own to publish from.",
        )
    return published


def _run_image(value: Value, values: Values, facts: HostFacts | None) -> str:
    image = BUSYBOX_IMAGE if value is None else text(value, "image", "Image")
    if facts is not None:
        candidates = {image, f"{image}:latest"}
        if not candidates & set(facts.images):
            raise fail(
                "image",
                f"Image {image} is not present locally and no registry is reachable "
                f"(netcon image ensure-busybox imports {BUSYBOX_IMAGE}).",
            )
    return image


def split_command(value: Value) -> tuple[str, ...]:
    """A form's command text split like a shell would split words (no shell ever runs it), or a sequence."""
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as error:
            raise fail("command", f"Command {shown(value)} cannot be split into words: {error}.") from None
    return tuple(str(v) for v in (value or ()))
