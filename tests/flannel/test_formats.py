"""Golden strings (lease JSON, key names, subnet.env, docker options) and property tests of the parsers."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netcon.core.errors import UsageError
from netcon.core.flannel.config import ConfigError, parse_config
from netcon.core.flannel.docker_opts import docker_opts_text, write_docker_opts
from netcon.core.flannel.lease import (
    Lease,
    LeaseAttrs,
    compact_json,
    free_subnets,
    parse_subnet_key,
    subnet_key,
    vxlan_attrs,
)
from netcon.core.flannel.subnet_file import parse_env, read_subnet_file, render, write_subnet_file

GOLDEN_LEASE = (
    '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan",'
    '"BackendData":{"VNI":1,"VtepMAC":"d6:80:cc:3a:bc:2e"}}'
)
GOLDEN_ENV = "FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n"
GOLDEN_DOCKER = (
    'DOCKER_OPT_BIP="--bip=10.5.34.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\n'
    'DOCKER_OPT_MTU="--mtu=1450"\nKEY=" --bip=10.5.34.1/24 --ip-masq=true --mtu=1450"\n'
)


def test_lease_json_is_flanneld_bytes():
    assert vxlan_attrs("198.18.0.1", 1, "D6:80:CC:3A:BC:2E").to_json() == GOLDEN_LEASE
    assert LeaseAttrs.from_json(GOLDEN_LEASE).to_json() == GOLDEN_LEASE


def test_old_flanneld_lease_is_read():
    old = '{"PublicIP":"10.10.110.8","BackendType":"vxlan","BackendData":{"VtepMAC":"3e:f4:3d:f3:0d:4d"}}'
    attrs = LeaseAttrs.from_json(old)
    assert (attrs.public_ip, attrs.vtep_mac, attrs.vni) == ("10.10.110.8", "3e:f4:3d:f3:0d:4d", None)
    assert LeaseAttrs.from_json('{"publicip":"10.0.0.1","backendtype":"udp"}').backend_type == "udp"
    assert LeaseAttrs(public_ip="10.0.0.1").to_json() == '{"PublicIP":"10.0.0.1","PublicIPv6":null}'


def test_key_names():
    assert subnet_key("10.5.34.0/24") == "10.5.34.0-24"
    assert parse_subnet_key("/atomic.io/network/subnets/10.5.34.0-24") == ("10.5.34.0", 24)
    assert parse_subnet_key("/coreos.com/network/subnets/10.5.34.0-24&fc00::-64") == ("10.5.34.0", 24)
    for bad in ("/x/subnets/10.5.34.0-32", "/x/config", "/x/subnets/10.5.34.0-24\n", "10.5.34.256-24", "10.5-24"):
        assert parse_subnet_key(bad) is None


def test_subnet_env_and_docker_opts(tmp_path, ctx):
    assert render("10.5.0.0/16", "10.5.34.0/24", 1450, False) == GOLDEN_ENV
    path = tmp_path / "run" / "subnet.env"
    write_subnet_file(ctx, str(path), "10.5.0.0/16", "10.5.34.0/24", 1450, False)
    assert path.read_text() == GOLDEN_ENV
    env = read_subnet_file(str(path))
    assert (env.lease_subnet, env.mtu, env.ipmasq) == ("10.5.34.0/24", 1450, False)
    assert docker_opts_text(parse_env(GOLDEN_ENV), "KEY") == GOLDEN_DOCKER
    masq = docker_opts_text(parse_env(GOLDEN_ENV.replace("IPMASQ=false", "IPMASQ=true")))
    assert 'DOCKER_OPT_IPMASQ="--ip-masq=false"' in masq
    assert (
        docker_opts_text(parse_env(GOLDEN_ENV), individual=False, ip_masq=False)
        == 'DOCKER_OPTS=" --bip=10.5.34.1/24 --mtu=1450"\n'
    )
    out = tmp_path / "docker"
    assert write_docker_opts(ctx, str(path), str(out), "KEY", env={}) == GOLDEN_DOCKER
    assert out.read_text() == GOLDEN_DOCKER


def test_docker_opts_bad_input_writes_nothing(tmp_path, ctx):
    out = tmp_path / "docker"
    with pytest.raises(UsageError, match="does not exist"):
        write_docker_opts(ctx, str(tmp_path / "missing.env"), str(out))
    with pytest.raises(UsageError, match="is a directory"):
        write_docker_opts(ctx, str(tmp_path), str(out))
    with pytest.raises(UsageError, match="is a directory"):
        write_docker_opts(ctx, str(bad_env(tmp_path)), str(tmp_path))
    bad = tmp_path / "bad.env"
    bad.write_text("FLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_IPMASQ=maybe\n")
    with pytest.raises(UsageError, match="Invalid value of FLANNEL_IPMASQ"):
        write_docker_opts(ctx, str(bad), str(out))
    assert not out.exists()


def bad_env(tmp_path):
    path = tmp_path / "ok.env"
    path.write_text("FLANNEL_SUBNET=10.5.34.1/24\n")
    return path


def test_lease_rows_and_reservation():
    lease = Lease("10.5.34.0/24", LeaseAttrs.from_json(GOLDEN_LEASE), 1000.0)
    assert lease.row(now=400.0) == {
        "key": "",
        "broken": False,
        "error": None,
        "subnet": "10.5.34.0/24",
        "public_ip": "198.18.0.1",
        "backend_type": "vxlan",
        "vni": 1,
        "vtep_mac": "d6:80:cc:3a:bc:2e",
        "expires_at": 1000.0,
        "ttl_seconds": 600,
        "reservation": False,
    }
    assert Lease("10.5.34.0/24", lease.attrs, None).row()["reservation"] is True
    assert lease.first_address == "10.5.34.1/24"


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"Backend": {"Type": "vxlan"}}', "has no Network"),
        ('{"Network": "10.0.0.0/29"}', "10.0.0.0/29 is too small for any subnet length flannel accepts"),
        # issue 12 item 9: a SubnetLen does not make the message contradict itself (/31 vs "/30 or shorter")
        ('{"Network": "10.0.0.0/29", "SubnetLen": 30}', "10.0.0.0/29 is too small for any subnet length"),
        ('{"Network": "10.0.0.0/29", "SubnetLen": 31}', "10.0.0.0/29 is too small for any subnet length"),
        ('{"Network": "10.0.0.0/28", "SubnetLen": 31}', "must be /30 or shorter"),
        ('{"Network": "10.0.0.0/16", "SubnetLen": 31}', "must be /30 or shorter"),
        ('{"Network": "10.0.0.0/16", "SubnetLen": 17}', "must be at least /18"),
        ('{"Network": "10.0.0.0/16", "SubnetMin": "10.0.1.5"}', "SubnetMin 10.0.1.5 is not on a /24 boundary"),
        ('{"Network": "10.0.0.0/16", "SubnetMax": "10.1.0.0"}', "SubnetMax 10.1.0.0 is outside Network"),
        ('{"Network": "10.0.0.0/16", "Backend": {"Type": "vxlann"}}', "'vxlann' is not a known backend"),
        ('{"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan", "VNI": "1"}}', "Backend.VNI '1' is not an integer"),
        ('{"Network": "fc00::/48"}', "not an IPv4 CIDR"),
    ],
)
def test_bad_configs_one_sentence(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert message in str(caught.value)
    assert str(caught.value).count(". ") == 0 and str(caught.value).endswith(".")


def test_config_defaults_and_case_insensitive_keys():
    config = parse_config('{"network": "10.5.0.0/16", "BACKEND": {"type": "vxlan", "vni": 4, "directrouting": true}}')
    assert (config.subnet_len, config.subnet_min, config.subnet_max) == (24, "10.5.1.0", "10.5.255.0")
    assert (config.backend_type, config.vni, config.port, config.direct_routing) == ("vxlan", 4, 8472, True)
    assert parse_config('{"Network": "10.5.0.0/16"}').backend_type == "udp"
    assert parse_config('{"Network": "10.5.0.0/24"}').subnet_len == 26
    assert parse_config('{"Network": "10.5.0.0/16", "network": "10.6.0.0/16"}').network == "10.6.0.0/16"


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.integers(0, 32),
    subnet_len=st.one_of(st.none(), st.integers(0, 40)),
    base=st.integers(0, 2**32 - 1),
    min_off=st.one_of(st.none(), st.integers(0, 2**20)),
)
def test_config_validation_properties(prefix, subnet_len, base, min_off):
    """Whatever the input: either a ConfigError, or a config satisfying every flanneld invariant."""
    network = ipaddress.IPv4Network((base, prefix), strict=False)
    doc = {"Network": str(network)}
    if subnet_len is not None:
        doc["SubnetLen"] = subnet_len
    if min_off is not None:
        doc["SubnetMin"] = str(ipaddress.IPv4Address((int(network.network_address) + min_off) % 2**32))
    import json

    try:
        config = parse_config(json.dumps(doc))
    except ConfigError as error:
        assert str(error).endswith(".") and "\n" not in str(error)
        return
    assert prefix <= 28 and config.subnet_len <= 30 and config.subnet_len >= prefix + 2
    size = 1 << (32 - config.subnet_len)
    for value in (config.subnet_min, config.subnet_max):
        assert ipaddress.IPv4Address(value) in network and int(ipaddress.IPv4Address(value)) % size == 0
    if subnet_len in (None, 0):
        assert config.subnet_len == (24 if prefix <= 22 else prefix + 2)


@settings(max_examples=500, deadline=None)
@given(ip=st.integers(0, 2**32 - 1), plen=st.integers(0, 31), head=st.text(max_size=20))
def test_subnet_key_roundtrip(ip, plen, head):
    address = str(ipaddress.IPv4Address(ip))
    key = subnet_key(f"{address}/{plen}")
    assert parse_subnet_key(f"/{head}/subnets/{key}") in ((address, plen), None)
    assert parse_subnet_key(f"/p/subnets/{key}") == (address, plen)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789.-&:abcdef/\n x", max_size=40))
def test_subnet_key_parser_never_raises_and_agrees_with_flannels_regex(text):
    parsed = parse_subnet_key(text)
    match = re.search(r"(\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?\Z", text, re.ASCII)
    if match is None:
        assert parsed is None
    elif parsed is not None:
        assert parsed == (match.group(1), int(match.group(2)))
        assert int(match.group(2)) < 32


def test_compact_json_keeps_literals():
    assert compact_json('{ "a" : [1.0, "x y"] ,\n "b": true }') == '{"a":[1.0,"x y"],"b":true}'


def test_free_subnets_walk():
    config = parse_config('{"Network": "10.5.0.0/16", "SubnetMin": "10.5.250.0"}')
    taken = tuple(Lease(f"10.5.{n}.0/24", LeaseAttrs("1.1.1.1"), None) for n in (250, 252))
    assert free_subnets(config, taken) == ["10.5.251.0/24", "10.5.253.0/24", "10.5.254.0/24", "10.5.255.0/24"]
    wide = (Lease("10.5.248.0/21", LeaseAttrs("1.1.1.1"), None),)
    assert free_subnets(config, wide) == []
    assert len(free_subnets(parse_config('{"Network": "10.0.0.0/8"}'), ())) == 100
