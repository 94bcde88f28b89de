"""The checks of Docker networks a user creates, connects containers to or disconnects them from: subnets,
gateways and ranges, drivers, which network and container are meant, and addresses, against the host's state
(``HostFacts``, read once) where it matters."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from netcon.core.errors import UsageError
from netcon.core.host_facts import ContainerFact, HostFacts, NetworkFact, RouteFact
from netcon.core.validate.fields import Check, Value, Values, given
from netcon.core.validate.items import split_items
from netcon.core.validate.names import NAME_MAX, NAME_RE, check_alias, check_network_name
from netcon.core.validate.values import MAX_SHOWN, fail, ipv4_address, ipv4_network, shown, text

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
