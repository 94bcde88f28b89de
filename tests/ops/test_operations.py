"""The operations doing what they say, through the CLI against the real engine."""

from __future__ import annotations

import ipaddress
import time

from tests.ops.conftest import free_subnets


def test_create_with_every_option(lab, netcon, dclient):
    subnet = ipaddress.IPv4Network(free_subnets()[0])
    gateway, ip_range = str(subnet.network_address + 254), str(list(subnet.subnets(1))[1])
    name, bridge = lab.name("full"), f"{lab.prefix}br"
    result = netcon(
        "network",
        "create",
        name,
        "--subnet",
        str(subnet),
        "--gateway",
        gateway,
        "--ip-range",
        ip_range,
        "--internal",
        "--attachable",
        "--label",
        lab.label,
        "--label",
        "tier=web",
        "--opt",
        f"com.docker.network.bridge.name={bridge}",
        "--opt",
        "com.docker.network.driver.mtu=1400",
    )
    assert result.code == 0, result.err
    assert result.out.startswith(f"created network {name} (")
    net = dclient.api.inspect_network(name)
    assert net["IPAM"]["Config"] == [{"Subnet": str(subnet), "IPRange": ip_range, "Gateway": gateway}]
    assert net["Internal"] and net["Attachable"] and net["Labels"]["tier"] == "web"
    assert net["Options"] == {"com.docker.network.bridge.name": bridge, "com.docker.network.driver.mtu": "1400"}
    run = netcon("container", "run", lab.name("c"), "--network", name, "--label", lab.label, "--", "sleep", "600")
    assert run.code == 0, run.err
    c = dclient.api.inspect_container(lab.name("c"))
    address = ipaddress.IPv4Address(c["NetworkSettings"]["Networks"][name]["IPAddress"])
    assert address in ipaddress.IPv4Network(ip_range)
    assert c["Config"]["Cmd"] == ["sleep", "600"]
    mtu = dclient.containers.get(c["Id"]).exec_run(["cat", "/sys/class/net/eth0/mtu"]).output.decode().strip()
    assert mtu == "1400"
    with open(f"/sys/class/net/{bridge}/bridge/bridge_id"):
        pass  # the Linux bridge carries the name asked for


def test_connect_with_ip_and_alias_then_disconnect(lab, netcon, dclient):
    subnet = ipaddress.IPv4Network(free_subnets()[0])
    net = lab.dobj.network("net", ipam={"Driver": "default", "Config": [{"Subnet": str(subnet)}]})
    peer = lab.dobj.container("peer", network=net.name)
    target = lab.dobj.container("target")  # on the default bridge
    address = str(subnet.network_address + 77)
    result = netcon("network", "connect", net.name, target.name, "--ip", address, "--alias", "db")
    assert result.code == 0, result.err
    assert result.out.strip() == f"connected {target.name} to {net.name} as {address} (aliases db)"
    endpoint = dclient.api.inspect_container(target.id)["NetworkSettings"]["Networks"][net.name]
    assert endpoint["IPAddress"] == address and "db" in endpoint["Aliases"]
    ping = peer.exec_run(["ping", "-c", "1", "-W", "2", "db"])
    assert ping.exit_code == 0 and address in ping.output.decode()
    result = netcon("network", "disconnect", net.name, target.name)
    assert result.code == 0, result.err
    assert net.name not in dclient.api.inspect_container(target.id)["NetworkSettings"]["Networks"]


def test_rm_force_disconnects_attached_containers_first(lab, netcon, dclient):
    net = lab.dobj.network("gone")
    a, b = lab.dobj.container("a", network=net.name), lab.dobj.container("b", network=net.name)
    result = netcon("network", "rm", net.name, "--force")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"disconnected {a.name}, {b.name}",
        f"removed network {net.name} ({net.short_id})",
    ]
    assert not dclient.api.networks(names=[net.name])
    for c in (a, b):
        c.reload()
        assert c.status == "running" and net.name not in c.attrs["NetworkSettings"]["Networks"]


def test_host_mode_with_publish_warns_and_runs(lab, netcon, dclient):
    name = lab.name("hostpub")
    result = netcon("container", "run", name, "--network", "host", "--publish", "8080:80", "--label", lab.label)
    assert result.code == 0, result.err
    assert result.err == "WARNING: Published ports are discarded when using host network mode\n"
    assert result.out.startswith(f"{name} ") and "running with --network host" in result.out
    state = dclient.api.inspect_container(name)
    assert state["State"]["Running"] and state["HostConfig"]["NetworkMode"] == "host"


def test_default_command_keeps_running_and_rm(lab, netcon, dclient):
    name = lab.name("idle")
    assert netcon("container", "run", name, "--label", lab.label).code == 0
    time.sleep(0.5)
    state = dclient.api.inspect_container(name)
    assert state["State"]["Running"] and state["Config"]["Tty"]
    result = netcon("container", "rm", name, "--force")
    assert result.code == 0 and result.out.startswith(f"removed container {name} ")
    assert not dclient.api.containers(all=True, filters={"name": f"^/{name}$"})
