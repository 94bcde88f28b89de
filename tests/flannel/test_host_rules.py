"""The rules that tie a host to flannel's data (core/flannel/host_rules), which the agent, the doctor and the
Flannel pane all call: pure functions, checked here on the cases where the pane and the doctor used to differ."""

from __future__ import annotations

from dataclasses import replace

from netcon.core.flannel.host_rules import bridge_in_lease, docker_bridge, expected_mtu, own_lease
from netcon.core.flannel.lease import Lease, vxlan_attrs
from netcon.core.flannel.subnet_file import SubnetEnv
from tests.fixtures.scene import networks

MINE, OTHER = "d6:80:cc:3a:bc:2e", "6e:1f:0a:77:42:90"


def lease(subnet: str, public_ip: str, mac: str) -> Lease:
    return Lease(subnet, vxlan_attrs(public_ip, 1, mac), 2_000_000_000.0)


def test_own_lease_prefers_the_device_mac_then_the_address_then_subnet_env():
    by_mac = lease("10.5.34.0/24", "198.18.0.250", MINE)  # its PublicIP is stale: still this host's VTEP
    by_ip = lease("10.5.61.0/24", "192.0.2.10", OTHER)
    env = SubnetEnv("10.5.0.0/16", "10.5.77.1/24", 1450, False)
    by_env = lease("10.5.77.0/24", "198.18.0.77", "a2:5c:31:08:de:11")
    leases = (by_env, by_ip, by_mac)
    assert own_lease(leases, MINE.upper(), ["192.0.2.10/24"], env) is by_mac  # the pane used to pick by_ip
    assert own_lease(leases, None, ["192.0.2.10/24"], env) is by_ip
    assert own_lease(leases, None, ["203.0.113.1"], env) is by_env
    assert own_lease(leases, None, ["203.0.113.1"], None) is None


def test_expected_mtu_is_the_underlay_less_the_vxlan_overhead_else_subnet_env():
    env = SubnetEnv("10.5.0.0/16", "10.5.34.1/24", 1400, False)
    assert expected_mtu(1500, env) == 1450  # the pane used to prefer subnet.env's value
    assert expected_mtu(9000) == 8950
    assert expected_mtu(None, env) == 1400
    assert expected_mtu(None, None) is None


def test_docker_bridge_and_lease():
    scene = networks()
    assert docker_bridge(scene) == "docker0"
    moved = tuple(replace(n, bridge="cbr0") if n.name == "bridge" else n for n in scene)  # dockerd --bridge cbr0
    assert docker_bridge(moved) == "cbr0"
    assert docker_bridge(()) == "docker0"
    mine = lease("10.5.34.0/24", "192.0.2.10", MINE)
    assert bridge_in_lease(["10.5.34.1/24", "fe80::1/64"], mine)
    assert not bridge_in_lease(["172.17.0.1/16"], mine)
    assert not bridge_in_lease(["10.5.0.1/16"], mine)  # wider than the lease: not inside it
