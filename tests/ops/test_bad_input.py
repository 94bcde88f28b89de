"""Every bad input of issue 4 through the CLI: the exit code, one sentence naming the field, and nothing
changed on the engine (this test's networks and containers, with their connections, are the same after)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import pytest
from pyroute2 import IPRoute

from tests.conftest import DockerObjects
from tests.ops.conftest import Lab, free_subnets


@dataclass(frozen=True)
class Scene:
    lab: Lab
    subnet: str  # of network "net"
    routed: str  # a subnet routed on the host through this test's routed_if interface
    routed_if: str

    def n(self, suffix: str) -> str:
        return self.lab.name(suffix)

    def state(self):
        """This test's networks and containers, with each container's state and networks."""
        api = self.lab.client.api
        nets = sorted(n["Name"] for n in api.networks() if n["Name"].startswith(self.lab.prefix))
        ctrs = sorted(
            (c["Names"][0].lstrip("/"), c["State"], tuple(sorted(c["NetworkSettings"]["Networks"])))
            for c in api.containers(all=True)
            if c["Names"][0].lstrip("/").startswith(self.lab.prefix)
        )
        return nets, ctrs


@pytest.fixture(scope="module")
def scene(dclient, busybox):
    """net (own subnet) with web at .10; host-, none- and container:web-mode containers; a stopped one;
    a veth pair in the root netns (no routed_if module here) giving the host a route this test owns."""
    objects = DockerObjects(dclient, busybox)
    lab = Lab(objects)
    subnet, routed = free_subnets(2)
    routed_if = f"{objects.prefix}d"
    try:
        with IPRoute() as ipr:
            ipr.link("add", ifname=routed_if, kind="veth", peer=f"{routed_if}p")
            index = ipr.link_lookup(ifname=routed_if)[0]
            routed_net = ipaddress.IPv4Network(routed)
            ipr.addr("add", index=index, address=str(routed_net.network_address + 1), prefixlen=24)
            ipr.link("set", index=index, state="up")
        net = objects.network("net", ipam={"Driver": "default", "Config": [{"Subnet": subnet}]})
        host = ipaddress.IPv4Network(subnet)
        web = objects.container("web", network=net.name)
        dclient.api.disconnect_container_from_network(web.id, net.id)
        dclient.api.connect_container_to_network(web.id, net.id, ipv4_address=str(host.network_address + 10))
        objects.container("hostc", network_mode="host")
        objects.container("nonec", network_mode="none")
        objects.container("side", network_mode=f"container:{web.id}")
        stopped = objects.container("stopped")
        stopped.stop(timeout=0)
        yield Scene(lab, subnet, routed, routed_if)
    finally:
        lab.cleanup()
        objects.cleanup()
        with IPRoute() as ipr:
            if ipr.link_lookup(ifname=routed_if):
                ipr.link("del", ifname=routed_if)


def _host(subnet: str, n: int) -> str:
    return str(ipaddress.IPv4Network(subnet).network_address + n)


def _other(subnet: str) -> str:
    net = ipaddress.IPv4Network(subnet)
    return str(ipaddress.IPv4Network((int(net.network_address) ^ (1 << 8), 24)))


CASES = {
    # id: (argv builder, exit code, words of the one-sentence message)
    "prefix-33": (
        lambda s: ["network", "create", s.n("new"), "--subnet", "10.0.0.0/33"],
        2,
        "Subnet '10.0.0.0/33' is not a valid IPv4 CIDR: the prefix length must be 0 to 32.",
    ),
    "octet-300": (
        lambda s: ["network", "create", s.n("new"), "--subnet", "300.1.1.0/24"],
        2,
        "Subnet '300.1.1.0/24' is not a valid IPv4 CIDR: 300.1.1.0 is not an IPv4 address.",
    ),
    "host-bits": (
        lambda s: ["network", "create", s.n("new"), "--subnet", _host(_other(s.subnet), 1) + "/24"],
        2,
        "has host bits set: did you mean",
    ),
    "gateway-outside": (
        lambda s: ["network", "create", s.n("new"), "--subnet", _other(s.subnet), "--gateway", _host(s.subnet, 1)],
        2,
        "is outside the subnet",
    ),
    "range-outside": (
        lambda s: ["network", "create", s.n("new"), "--subnet", _other(s.subnet), "--ip-range", s.subnet],
        2,
        "is not inside the subnet",
    ),
    "overlaps-docker-network": (
        lambda s: ["network", "create", s.n("new"), "--subnet", s.subnet.replace("/24", "/25")],
        2,
        "overlaps Docker network {net}",
    ),
    "overlaps-host-route": (
        lambda s: ["network", "create", s.n("new"), "--subnet", s.routed.replace("/24", "/26")],
        2,
        "overlaps the host's route to {routed} via {routed_if}",
    ),
    "name-taken": (
        lambda s: ["network", "create", s.n("net"), "--subnet", _other(s.subnet)],
        2,
        "Network name {net} is already taken",
    ),
    "name-slash": (lambda s: ["network", "create", s.n("a/b")], 2, "Network name '{prefix}-a/b' is not allowed"),
    "name-space": (lambda s: ["network", "create", s.n("a b")], 2, "Network name '{prefix}-a b' is not allowed"),
    "name-dash-first": (
        lambda s: ["network", "create", "-" + s.n("x")],
        2,
        "the following arguments are required: NAME (see netcon network create --help).",
    ),
    "overlay-without-swarm": (
        lambda s: ["network", "create", s.n("new"), "--driver", "overlay"],
        1,
        "overlay networks span hosts and need swarm mode",
    ),
    "unknown-driver": (
        lambda s: ["network", "create", s.n("new"), "--driver", "nosuchdriver"],
        2,
        "Driver nosuchdriver is not available on this engine (it offers bridge, ",
    ),
    "label-not-kv": (
        lambda s: ["network", "create", s.n("new"), "--label", "lonely"],
        2,
        "Label 'lonely' is not of the form key=value.",
    ),
    "mtu-bad": (
        lambda s: ["network", "create", s.n("new"), "--opt", "com.docker.network.driver.mtu=9"],
        2,
        "MTU '9' (com.docker.network.driver.mtu) must be a whole number from 68 to 65535.",
    ),
    "bridge-name-long": (
        lambda s: ["network", "create", s.n("new"), "--opt", "com.docker.network.bridge.name=abcdefghijklmnop"],
        2,
        "is not a valid Linux interface name",
    ),
    "rm-with-containers": (
        lambda s: ["network", "rm", s.n("net")],
        2,
        "Network {net} still has containers attached ({prefix}-web)",
    ),
    "rm-predefined": (lambda s: ["network", "rm", "bridge"], 2, "Network bridge is predefined by Docker"),
    "run-container-missing": (
        lambda s: ["container", "run", s.n("new"), "--network", f"container:{s.n('ghost')}"],
        2,
        "names a container that does not exist",
    ),
    "run-container-stopped": (
        lambda s: ["container", "run", s.n("new"), "--network", f"container:{s.n('stopped')}"],
        2,
        "is exited, not running",
    ),
    "run-network-missing": (
        lambda s: ["container", "run", s.n("new"), "--network", s.n("ghost")],
        2,
        "Network {prefix}-ghost does not exist",
    ),
    "run-name-taken": (lambda s: ["container", "run", s.n("web")], 2, "Container name {prefix}-web is already taken"),
    "run-name-rejected": (lambda s: ["container", "run", "x"], 2, "Container name 'x' is not allowed"),
    "run-image-missing": (
        lambda s: ["container", "run", s.n("new"), "--image", "netcon/absent:1"],
        2,
        "Image netcon/absent:1 is not present locally",
    ),
    "run-publish-bad": (
        lambda s: ["container", "run", s.n("new"), "--publish", "80"],
        2,
        "Published port '80' must be HOST:CONTAINER",
    ),
    "run-publish-none": (
        lambda s: ["container", "run", s.n("new"), "--network", "none", "-p", "8080:80"],
        2,
        "Ports cannot be published with network mode none",
    ),
    "ip-outside-subnet": (
        lambda s: ["network", "connect", s.n("net"), s.n("stopped"), "--ip", _host(_other(s.subnet), 5)],
        2,
        "is not a usable address of network {net}",
    ),
    "ip-in-use": (
        lambda s: ["network", "connect", s.n("net"), s.n("stopped"), "--ip", _host(s.subnet, 10)],
        2,
        "is already used by container {prefix}-web on {net}",
    ),
    "ip-gateway": (
        lambda s: ["network", "connect", s.n("net"), s.n("stopped"), "--ip", _host(s.subnet, 1)],
        2,
        "is the gateway of network {net}",
    ),
    "ip-on-default-bridge": (
        lambda s: ["network", "connect", "bridge", s.n("web"), "--ip", "172.17.0.200"],
        2,
        "An IP address can only be chosen on a user-defined network",
    ),
    "connect-host-mode": (
        lambda s: ["network", "connect", s.n("net"), s.n("hostc")],
        2,
        "runs with --network host: it uses the host's own network stack",
    ),
    "connect-none-mode": (lambda s: ["network", "connect", s.n("net"), s.n("nonec")], 2, "runs with --network none"),
    "connect-container-mode": (
        lambda s: ["network", "connect", s.n("net"), s.n("side")],
        2,
        "shares the network namespace of container {prefix}-web",
    ),
    "connect-to-host-network": (
        lambda s: ["network", "connect", "host", s.n("stopped")],
        2,
        "Network host is Docker's host mode",
    ),
    "connect-twice": (
        lambda s: ["network", "connect", s.n("net"), s.n("web")],
        2,
        "Container {prefix}-web is already connected to network {net}",
    ),
    "disconnect-not-connected": (
        lambda s: ["network", "disconnect", s.n("net"), s.n("stopped")],
        2,
        "is not connected to network {net}",
    ),
    "disconnect-missing": (
        lambda s: ["network", "disconnect", s.n("net"), s.n("ghost")],
        2,
        "Container {prefix}-ghost does not exist",
    ),
    "rm-running-container": (
        lambda s: ["container", "rm", s.n("web")],
        2,
        "Container {prefix}-web is running; stop it first or use --force.",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_and_changes_nothing(case, scene, netcon):
    argv, code, words = CASES[case]
    before = scene.state()
    result = netcon(*argv(scene))
    expected = words.format(net=scene.n("net"), prefix=scene.lab.prefix, routed=scene.routed, routed_if=scene.routed_if)
    assert result.code == code, result.err
    assert expected in result.err
    assert result.err.count("\n") == 1 and result.err.startswith("netcon: ")
    assert scene.state() == before


def test_failed_start_leaves_no_container(scene, netcon, dclient):
    """Docker refuses to start (the host port is taken): exit 1 and the created container is removed again."""
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        before = scene.state()
        result = netcon("container", "run", scene.n("busyport"), "--publish", f"{port}:80", "--label", scene.lab.label)
    assert result.code == 1
    assert result.err.startswith(f"netcon: Docker refused to start container {scene.n('busyport')}")
    assert "address already in use" in result.err
    assert scene.state() == before
