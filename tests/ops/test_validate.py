"""The pure validators: messages naming the field, and a property test of the CIDR / gateway / range rules
against Python's ipaddress."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netcon.core.errors import UsageError
from netcon.core.host_facts import ContainerFact, EndpointFact, HostFacts, NetworkFact, RouteFact
from netcon.core.validate.containers import parse_publish, split_command
from netcon.core.validate.forms import field_error
from netcon.core.validate.items import check_options, parse_kv_items
from netcon.core.validate.networks import check_gateway, check_ip_range, check_subnet_free, usable_host
from netcon.core.validate.values import ipv4_network


def parse_subnet(text: str):
    return ipv4_network(text, "subnet", "Subnet")


@pytest.mark.parametrize(
    "text, words",
    [
        ("10.0.0.0/33", "prefix length must be 0 to 32"),
        ("300.1.1.0/24", "300.1.1.0 is not an IPv4 address"),
        ("10.0.0.1/24", "host bits set: did you mean 10.0.0.0/24"),
        ("10.0.0.0", "is not a CIDR"),
        ("10.0.0.0/255.255.255.0", "is not a CIDR"),
        ("fd00::/64", "is not an IPv4 address"),
    ],
)
def test_bad_subnets_name_the_field(text, words):
    with pytest.raises(UsageError) as error:
        parse_subnet(text)
    assert str(error.value).startswith(f"Subnet {text!r}") and words in str(error.value)
    assert error.value.target == "subnet"


def test_gateway_and_range_messages():
    subnet = ipaddress.IPv4Network("10.9.0.0/24")
    for gateway, words in (
        ("10.9.1.1", "outside the subnet"),
        ("10.9.0.0", "network address"),
        ("10.9.0.255", "broadcast address"),
        ("10.9.0", "not an IPv4 address"),
    ):
        with pytest.raises(UsageError, match=words) as error:
            check_gateway(gateway, subnet)
        assert error.value.target == "gateway" and str(error.value).startswith("Gateway")
    with pytest.raises(UsageError, match=r"IP range 10.9.0.0/23 is not inside the subnet 10.9.0.0/24") as error:
        check_ip_range("10.9.0.0/23", subnet)
    assert error.value.target == "ip_range"


def _net(name, *subnets, **kw):
    return NetworkFact(
        id=f"{name:0<64}",
        name=name,
        driver=kw.get("driver", "bridge"),
        subnets=subnets,
        gateways=kw.get("gateways", ()),
        bridge_name=kw.get("bridge_name"),
    )


def test_overlap_names_the_network_or_route():
    nets = [_net("web", "10.5.0.0/16")]
    routes = [RouteFact("192.0.2.0/24", "eth0")]
    with pytest.raises(UsageError, match=r"overlaps Docker network web \(10.5.0.0/16\)"):
        check_subnet_free(ipaddress.IPv4Network("10.5.3.0/24"), nets, routes)
    with pytest.raises(UsageError, match=r"overlaps the host's route to 192.0.2.0/24 via eth0"):
        check_subnet_free(ipaddress.IPv4Network("192.0.0.0/16"), nets, routes)
    check_subnet_free(ipaddress.IPv4Network("10.6.0.0/16"), nets, routes)


def test_key_values_options_publish_command():
    assert parse_kv_items(["a=1", "b=x=y", "c="], "labels", "Label") == {"a": "1", "b": "x=y", "c": ""}
    assert parse_kv_items("a=1, b=2", "labels", "Label") == {"a": "1", "b": "2"}
    with pytest.raises(UsageError, match="Label 'nokey' is not of the form key=value"):
        parse_kv_items(["nokey"], "labels", "Label")
    with pytest.raises(UsageError, match="not a valid Linux interface name"):
        check_options(["com.docker.network.bridge.name=" + "x" * 16])
    with pytest.raises(UsageError, match="MTU 'big'"):
        check_options(["com.docker.network.driver.mtu=big"])
    assert check_options(["com.docker.network.driver.mtu=1400"]) == {"com.docker.network.driver.mtu": "1400"}
    assert parse_publish("8080:80") == (8080, 80, "tcp") and parse_publish("53:53/udp") == (53, 53, "udp")
    for bad in ("80", "0:80", "70000:80", "a:b", "1:2/icmp"):
        with pytest.raises(UsageError, match="Published port"):
            parse_publish(bad)
    assert split_command("sh -c 'echo hi; sleep 1'") == ("sh", "-c", "echo hi; sleep 1")
    with pytest.raises(UsageError, match="Command"):
        split_command("sh -c 'unbalanced")


def test_field_error_as_the_user_types():
    """The console calls field_error per keystroke: syntax without facts, the host's state with them. A blank
    field reaches the checks as None (not given); an empty string is a value given, and refused."""
    form = {"name": "app", "subnet": "10.7.0.0/24", "gateway": "10.7.1.1", "ip_range": None}
    assert field_error("network.create", "subnet", form) is None
    assert field_error("network.create", "gateway", form) == "Gateway 10.7.1.1 is outside the subnet 10.7.0.0/24."
    assert field_error("network.create", "ip_range", form) is None
    # A bad subnet is reported on the subnet field only, not again on the fields that depend on it.
    assert "prefix length" in field_error("network.create", "subnet", {**form, "subnet": "10.7.0.0/40"})
    assert field_error("network.create", "gateway", {**form, "subnet": "10.7.0.0/40"}) is None
    assert "needs a subnet" in field_error("network.create", "gateway", {**form, "subnet": None})
    assert field_error("network.create", "ip_range", {**form, "ip_range": ""}) == "IP range is empty."

    app = _net("app", "10.7.0.0/24", gateways=("10.7.0.1",))
    owner = ContainerFact(
        id="c" * 64,
        name="db",
        state="running",
        network_mode="app",
        endpoints=(EndpointFact(app.id, "app", "10.7.0.5", ()),),
    )
    sharer = ContainerFact(
        id="d" * 64, name="side", state="running", network_mode=f"container:{owner.id}", endpoints=()
    )
    facts = HostFacts(networks=(app,), containers=(owner, sharer), images=("netcon/busybox:latest",), routes=())
    assert (
        field_error("network.create", "name", form, facts)
        == f"Network name app is already taken (network {app.id[:12]})."
    )
    assert "overlaps Docker network app" in field_error("network.create", "subnet", form, facts)
    connect = {"network": "app", "container": "side", "ip": "10.7.0.5"}
    assert "shares the network namespace of container db" in field_error("network.connect", "container", connect, facts)
    assert (
        field_error("network.connect", "ip", connect, facts)
        == "IP address 10.7.0.5 is already used by container db on app."
    )
    assert (
        field_error("network.connect", "ip", {**connect, "ip": "10.7.0.1"}, facts)
        == "IP address 10.7.0.1 is the gateway of network app."
    )
    run = {"name": "x", "network": "container:nope", "image": None, "publish": "80:80"}
    assert "at least two characters" in field_error("container.run", "name", run, facts)
    assert "does not exist" in field_error("container.run", "network", run, facts)
    assert "cannot be published" in field_error("container.run", "publish", run, facts)
    assert field_error("container.run", "image", run, facts) is None
    assert "not present locally" in field_error("container.run", "image", {"image": "nginx:1.20"}, facts)


# --- property: the validators agree with ipaddress --------------------------------------------------------

octet = st.integers(min_value=0, max_value=300)
prefix = st.integers(min_value=0, max_value=40)
cidr_text = st.builds(lambda a, b, c, d, p: f"{a}.{b}.{c}.{d}/{p}", octet, octet, octet, octet, prefix)
address = st.integers(min_value=0, max_value=2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))


def _accepted(fn, *args):
    try:
        return fn(*args)
    except UsageError:
        return None


@given(cidr_text)
def test_subnet_parsing_matches_ipaddress(text):
    try:
        expected = ipaddress.IPv4Network(text, strict=True)
    except ValueError:
        expected = None
    assert _accepted(parse_subnet, text) == expected


@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=20, max_value=32), address)
def test_gateway_rule_matches_ipaddress_hosts(base, prefixlen, gateway):
    subnet = ipaddress.IPv4Network((base, prefixlen), strict=False)
    near = str(subnet.network_address + (int(ipaddress.IPv4Address(gateway)) % subnet.num_addresses))
    for candidate in (gateway, near, str(subnet.network_address), str(subnet.broadcast_address)):
        # Docker hands out exactly the addresses ipaddress calls hosts (it refuses network and broadcast).
        expected = ipaddress.IPv4Address(candidate) in set(subnet.hosts())
        assert (_accepted(check_gateway, candidate, subnet) is not None) == expected
        assert usable_host(ipaddress.IPv4Address(candidate), subnet) == expected


@given(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=8, max_value=30),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=0, max_value=32),
)
def test_ip_range_rule_matches_ipaddress(base, prefixlen, range_base, range_prefix):
    subnet = ipaddress.IPv4Network((base, prefixlen), strict=False)
    inside = ipaddress.IPv4Network(
        (int(subnet.network_address) + range_base % subnet.num_addresses, range_prefix), strict=False
    )
    for candidate in (ipaddress.IPv4Network((range_base, range_prefix), strict=False), inside):
        expected = candidate.network_address in subnet and candidate.broadcast_address in subnet
        assert (_accepted(check_ip_range, str(candidate), subnet) is not None) == expected
