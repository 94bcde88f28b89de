"""Config and leases on the real etcd, over both APIs, as the seed and flanneld use them."""

from __future__ import annotations

import json
import random
import urllib.request

import pytest

from netcon.core.context import HostContext
from netcon.core.errors import EtcdUnavailable, NetconError, NotFound, ReadOnlyError, UsageError
from netcon.core.etcd import EtcdOptions, V2Client, V3Client, open_client
from netcon.core.flannel.config import ConfigError
from netcon.core.flannel.docker_opts import write_docker_opts
from netcon.core.flannel.lease import (
    LEASE_TTL,
    OutOfSubnets,
    acquire_lease,
    renew_lease,
    reserve_subnet,
    revoke_lease,
    vxlan_attrs,
)
from netcon.core.flannel.registry import FlannelStore, set_config
from netcon.core.flannel.subnet_file import write_subnet_file
from tests.flannel.conftest import SEED_CONFIG

MAC1, MAC2 = "d6:80:cc:3a:bc:2e", "12:0e:69:a9:8d:09"


@pytest.mark.parametrize("api, tail", [("2", "atomic.io/network"), ("3", "coreos.com/network")])
def test_seed_sequence(make_store, ctx, tmp_path, api, tail):
    """etcdctl set <prefix>/config; two flanneld hosts lease subnets; subnet.env and docker options follow."""
    store = make_store(api, tail)
    set_config(ctx, store, SEED_CONFIG)
    leases = [
        acquire_lease(ctx, store, vxlan_attrs(ip, 1, mac))
        for ip, mac in (("10.10.110.31", MAC1), ("10.10.110.32", MAC2))
    ]
    assert leases[0].subnet != leases[1].subnet
    listed, _ = store.leases()
    assert {lease.subnet for lease in listed} == {lease.subnet for lease in leases}
    for lease in listed:
        assert store.config().fits(lease.subnet) and not lease.reservation
        assert LEASE_TTL - 5 < lease.ttl_seconds() <= LEASE_TTL
    raw = store.client.get(leases[0].key)
    assert raw.key == f"{store.prefix}/subnets/{leases[0].subnet.replace('/', '-')}"
    assert raw.value == (
        f'{{"PublicIP":"10.10.110.31","PublicIPv6":null,"BackendType":"vxlan",'
        f'"BackendData":{{"VNI":1,"VtepMAC":"{MAC1}"}}}}'
    )
    env = tmp_path / "subnet.env"
    write_subnet_file(ctx, str(env), "172.17.0.0/16", leases[0].subnet, 1450, False)
    docker = write_docker_opts(ctx, str(env), str(tmp_path / "docker"), "DOCKER_NETWORK_OPTIONS", env={})
    bip = leases[0].first_address
    assert docker.endswith(f'DOCKER_NETWORK_OPTIONS=" --bip={bip} --ip-masq=true --mtu=1450"\n')


def test_v2_wire_format_is_flanneld_s(make_store, ctx, etcd_endpoint):
    """prevExist=false create with ttl=86400, read back over the raw HTTP API."""
    store = make_store("2", "atomic.io/network")
    set_config(ctx, store, SEED_CONFIG)
    lease = acquire_lease(ctx, store, vxlan_attrs("198.18.0.1", 1, MAC1))
    with urllib.request.urlopen(f"{etcd_endpoint}/v2/keys{lease.key}") as resp:
        node = json.load(resp)["node"]
    assert node["ttl"] > LEASE_TTL - 5 and json.loads(node["value"])["PublicIP"] == "198.18.0.1"
    assert not store.client.create(lease.key, "x", 60)


def test_v3_lease_is_a_granted_lease(make_store, ctx):
    store = make_store("3")
    set_config(ctx, store, SEED_CONFIG)
    lease = acquire_lease(ctx, store, vxlan_attrs("198.18.0.1", 1, MAC1))
    kv = store.client.get(lease.key)
    assert kv.lease_id and kv.expires_at is not None
    renewed = renew_lease(ctx, store, lease)
    assert store.client.get(lease.key).lease_id != kv.lease_id and renewed.ttl_seconds() > LEASE_TTL - 5


@pytest.mark.parametrize("api", ["2", "3"])
def test_reuse_previous_reservation_revoke(make_store, ctx, api):
    store = make_store(api)
    set_config(ctx, store, '{"Network": "10.5.0.0/16", "Backend": {"Type": "vxlan"}}')
    first = acquire_lease(ctx, store, vxlan_attrs("198.18.0.1", 1, MAC1))
    again = acquire_lease(ctx, store, vxlan_attrs("198.18.0.1", 1, MAC2))  # same PublicIP: same subnet
    assert again.subnet == first.subnet and store.lease(first.subnet).attrs.vtep_mac == MAC2
    # the previous subnet lies beyond the first 100 free ones, among which the first lease is picked at random
    other = acquire_lease(ctx, store, vxlan_attrs("198.18.0.2", 1, MAC1), previous_subnet="10.5.177.0/24")
    assert other.subnet == "10.5.177.0/24"
    taken = acquire_lease(ctx, store, vxlan_attrs("198.18.0.3", 1, MAC1), previous_subnet="10.5.177.0/24")
    assert taken.subnet != "10.5.177.0/24"
    reserved = reserve_subnet(ctx, store, first.subnet)
    assert reserved.reservation and store.lease(first.subnet).reservation
    assert acquire_lease(ctx, store, vxlan_attrs("198.18.0.1", 1, MAC1)).reservation  # stays a reservation
    fresh = reserve_subnet(ctx, store, "10.5.200.0/24", "198.18.0.9")
    assert fresh.reservation and fresh.attrs.to_json() == '{"PublicIP":"198.18.0.9","PublicIPv6":null}'
    assert acquire_lease(ctx, store, vxlan_attrs("198.18.0.9", 1, MAC1)).subnet == "10.5.200.0/24"
    revoke_lease(ctx, store, other.subnet)
    assert store.lease(other.subnet) is None
    with pytest.raises(NetconError, match=r"no lease for 10\.5\.177\.0/24"):
        revoke_lease(ctx, store, other.subnet)
    with pytest.raises(UsageError, match="not a /24 inside the pool"):
        reserve_subnet(ctx, store, "10.6.0.0/24", "198.18.0.9")


def test_lease_outside_new_config_is_replaced(make_store, ctx):
    store = make_store("3")
    set_config(ctx, store, '{"Network": "10.5.0.0/16"}')
    old = acquire_lease(ctx, store, vxlan_attrs("198.18.0.1", 1, MAC1))
    set_config(ctx, store, '{"Network": "10.6.0.0/16"}')
    new = acquire_lease(ctx, store, vxlan_attrs("198.18.0.1", 1, MAC1))
    assert new.subnet.startswith("10.6.") and store.lease(old.subnet) is None


def test_out_of_subnets_names_the_pool(make_store, ctx):
    store = make_store("3")
    set_config(ctx, store, '{"Network": "10.9.0.0/28"}')  # /30s: 10.9.0.4 .. 10.9.0.12, three subnets
    for n in range(3):
        acquire_lease(ctx, store, vxlan_attrs(f"198.18.0.{n + 1}", 1, MAC1))
    with pytest.raises(OutOfSubnets, match=r"out of subnets: .*10\.9\.0\.4/30-10\.9\.0\.12/30 of 10\.9\.0\.0/28"):
        acquire_lease(ctx, store, vxlan_attrs("198.18.0.9", 1, MAC1))


@pytest.mark.parametrize("api", ["2", "3"])
def test_bad_config_writes_nothing(make_store, ctx, api):
    store = make_store(api)
    for text in (
        "{",
        '{"Network": "10.0.0.0/29"}',
        '{"Network": "10.0.0.0/16", "SubnetLen": 40}',
        '{"Network": "10.0.0.0/16", "SubnetMin": "10.0.0.1"}',
        '{"Network": "10.0.0.0/16", "Backend": {"Type": "nope"}}',
    ):
        with pytest.raises(ConfigError):
            set_config(ctx, store, text)
    assert store.client.get(store.config_key) is None


def test_read_only_refuses_every_mutation(make_store, ctx):
    store = make_store("3")
    set_config(ctx, store, SEED_CONFIG)
    lease = acquire_lease(ctx, store, vxlan_attrs("198.18.0.1", 1, MAC1))
    ro = HostContext(read_only=True)
    for call in (
        lambda: set_config(ro, store, SEED_CONFIG),
        lambda: acquire_lease(ro, store, vxlan_attrs("198.18.0.2", 1, MAC1)),
        lambda: renew_lease(ro, store, lease),
        lambda: revoke_lease(ro, store, lease.subnet),
        lambda: reserve_subnet(ro, store, lease.subnet),
    ):
        with pytest.raises(ReadOnlyError):
            call()
    assert [item.subnet for item in store.leases()[0]] == [lease.subnet] and not store.lease(lease.subnet).reservation


def test_auto_api_follows_the_config_key(make_store, ctx, etcd_endpoint):
    v2 = make_store("2", "atomic.io/network")
    set_config(ctx, v2, SEED_CONFIG)
    auto = FlannelStore.open(EtcdOptions(endpoints=(etcd_endpoint,), api="auto"), v2.prefix + "/")
    assert isinstance(auto.client, V2Client) and auto.prefix == v2.prefix
    v3 = make_store("3")
    set_config(ctx, v3, SEED_CONFIG)
    assert isinstance(FlannelStore.open(EtcdOptions(endpoints=(etcd_endpoint,)), v3.prefix).client, V3Client)


def test_wrong_prefix_and_unreachable_etcd(make_store, etcd_endpoint):
    store = make_store("3", "no/such/prefix")
    with pytest.raises(NotFound, match=r"No flannel config at /nct\w+/no/such/prefix/config \(etcd v3 at "):
        store.config()
    for api in ("2", "3"):
        dead = open_client(EtcdOptions(endpoints=("http://127.0.0.1:9",), api=api, timeout=2))
        with pytest.raises(EtcdUnavailable, match=r"No etcd endpoint answered .*127\.0\.0\.1:9: connection refused"):
            dead.get("/x")
        dead.close()


@pytest.mark.parametrize("api", ["2", "3"])
def test_failover_to_the_endpoint_that_answers(make_store, etcd_endpoint, api):
    store = make_store(api)
    client = open_client(EtcdOptions(endpoints=("http://127.0.0.1:9", etcd_endpoint), api=api))
    client.put(f"{store.prefix}/probe", "1")
    assert client.get(f"{store.prefix}/probe").value == "1" and client.endpoint == etcd_endpoint
    client.close()


def test_etcdctl_environment():
    env = {
        "ETCDCTL_ENDPOINTS": "http://10.0.0.1:2379, http://10.0.0.2:2379",
        "ETCDCTL_API": "2",
        "ETCDCTL_USER": "root:secret",
    }
    options = EtcdOptions.from_values(env)
    assert options.endpoints == ("http://10.0.0.1:2379", "http://10.0.0.2:2379") and options.api == "2"
    assert (options.username, options.password) == ("root", "secret")
    assert EtcdOptions.from_values(env, endpoints="http://h:1", api="3").endpoints == ("http://h:1",)
    v2_names = {"ETCDCTL_PEERS": "http://p:4001", "ETCDCTL_USERNAME": "u", "ETCDCTL_PASSWORD": "p"}
    options = EtcdOptions.from_values(v2_names)
    assert options.endpoints == ("http://p:4001",) and (options.username, options.password) == ("u", "p")
    with pytest.raises(UsageError, match="does not exist"):
        EtcdOptions.from_values({"ETCDCTL_CA_FILE": "/nonexistent/ca.pem"})
    with pytest.raises(UsageError, match="is not a http:// or https:// URL"):
        EtcdOptions.from_values({}, endpoints="127.0.0.1:2379")


def test_random_pick_is_among_the_first_hundred_free(make_store, ctx):
    store = make_store("3")
    set_config(ctx, store, '{"Network": "10.0.0.0/8"}')
    lease = acquire_lease(ctx, store, vxlan_attrs("198.18.0.1", 1, MAC1), rng=random.Random(7))
    octets = [int(part) for part in lease.subnet.split("/")[0].split(".")]
    assert octets[:2] == [10, 0] and 1 <= octets[2] <= 100
