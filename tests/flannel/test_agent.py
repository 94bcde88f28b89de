"""The agent on real kernels: two host namespaces joined by a veth underlay, each with a "container" namespace;
leases in a real etcd. Pings cross the vxlan overlay (TTL 62: one hop on each host)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from netcon.core.context import HostContext
from netcon.core.errors import EtcdUnavailable
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel import vxlan
from netcon.core.flannel.agent import Agent, AgentOptions, remote_of
from netcon.core.flannel.lease import acquire_lease, revoke_lease, vxlan_attrs
from netcon.core.flannel.registry import FlannelStore, set_config
from netcon.core.flannel.subnet_file import read_subnet_file
from netcon.core.pyroute import Netlink
from tests.flannel.etcdproc import EtcdCluster
from tests.flannel.netlab import Lab, free_network, nsexec

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


def wait_for(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


class Hosts:
    """A lab, a flannel network in etcd and one in-process agent per host; everything undone in close()."""

    def __init__(self, endpoints: tuple[str, ...], api: str, tail: str, **agent_options) -> None:
        self.lab = Lab()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.network = free_network([f"10.{n}.0.0/16" for n in range(240, 250)])
        self.options = EtcdOptions(endpoints=endpoints, api=api, timeout=2)
        self.store = FlannelStore.open(self.options, f"/nct{uuid.uuid4().hex[:8]}/{tail}")
        set_config(HostContext(), self.store, f'{{"Network": "{self.network}", "Backend": {{"Type": "vxlan"}}}}')
        self.dir = f"/tmp/nctf-{self.lab.tag}"
        self.agents = [
            Agent(
                HostContext(netns=self.lab.path(host)),
                AgentOptions(
                    etcd=self.options,
                    prefix=self.store.prefix,
                    ifaces=("ul0",),
                    subnet_file=f"{self.dir}/h{i}/subnet.env",
                    **agent_options,
                ),
            )
            for i, host in enumerate(self.lab.hosts)
        ]
        for i, agent in enumerate(self.agents):
            thread = threading.Thread(target=agent.run, args=(self.stop,), name=f"agent{i}", daemon=True)
            thread.start()
            self.threads.append(thread)
        for agent in self.agents:
            assert agent.ready.wait(15), "agent did not become ready"
        self.ips = [
            self.lab.attach_container(i, agent.lease.subnet, self.network) for i, agent in enumerate(self.agents)
        ]

    def state(self, i: int) -> vxlan.VxlanState:
        return vxlan.read_state(self.agents[i].ctx, "flannel.1")

    def checks(self, i: int, lease) -> vxlan.RemoteCheck:
        return vxlan.check_remotes(self.state(i), (remote_of(lease),))[0]

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
        try:
            self.lab.close()
        finally:
            try:
                for kv in self.store.client.list_prefix(self.store.prefix).items:
                    self.store.client.delete(kv.key)
            except Exception:
                pass
            self.store.close()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def hosts_factory():
    made = []

    def make(*args, **kwargs) -> Hosts:
        made.append(Hosts(*args, **kwargs))
        return made[-1]

    try:
        yield make
    finally:
        for hosts in made:
            hosts.close()


@pytest.mark.parametrize("api, tail", [("2", "atomic.io/network"), ("3", "coreos.com/network")])
def test_overlay_ping_and_lease_events(hosts_factory, etcd_endpoint, api, tail):
    hosts = hosts_factory((etcd_endpoint,), api, tail, retry_interval=1)
    a, b = hosts.agents
    for i, agent in enumerate(hosts.agents):
        state = hosts.state(i)
        dev = state.device
        assert (dev.vni, dev.mtu, dev.port, dev.learning, dev.up) == (1, 1450, 8472, False, True)
        assert dev.mac == agent.lease.attrs.vtep_mac and dev.local == hosts.lab.underlay_ip[i]
        assert dev.addresses == (f"{agent.lease.network.network_address}/32",)
        env = read_subnet_file(agent.options.subnet_file)
        assert (env.network, env.subnet, env.mtu, env.ipmasq) == (hosts.network, agent.lease.first_address, 1450, False)
    assert wait_for(lambda: hosts.checks(0, b.lease).complete and hosts.checks(1, a.lease).complete, 3)
    ping = hosts.lab.ping(0, hosts.ips[1])
    assert ping.returncode == 0 and "ttl=62" in ping.stdout, ping.stdout + ping.stderr

    # A third host's lease, without an agent behind it: programmed, removed within 2 s, restored.
    ctx = HostContext()
    ghost = acquire_lease(ctx, hosts.store, vxlan_attrs("198.19.199.9", 1, "02:00:00:00:00:09"))
    assert wait_for(lambda: all(hosts.checks(i, ghost).complete for i in (0, 1)), 2)
    revoke_lease(ctx, hosts.store, ghost.subnet)

    def gone() -> bool:
        return all(not (c.neighbour or c.fdb or c.route) for c in (hosts.checks(0, ghost), hosts.checks(1, ghost)))

    assert wait_for(gone, 2)
    hosts.store.write_lease(ctx, ghost.subnet, ghost.attrs, 86400)
    assert wait_for(lambda: all(hosts.checks(i, ghost).complete for i in (0, 1)), 2)

    # Host 1's own lease revoked: it says so and leases again (flanneld would exit); traffic recovers.
    revoke_lease(ctx, hosts.store, b.lease.subnet)
    assert wait_for(lambda: b.reacquisitions >= 1 and b.lease is not None, 5)
    assert wait_for(lambda: hosts.checks(0, b.lease).complete, 3)
    assert hosts.lab.ping(0, hosts.ips[1]).returncode == 0


def test_stale_entries_are_reconciled_on_start(hosts_factory, etcd_endpoint):
    hosts = hosts_factory((etcd_endpoint,), "3", "coreos.com/network", retry_interval=1)
    a = hosts.agents[0]
    stale = vxlan.Remote("10.0.99.0/24", "198.19.199.99", "02:00:00:00:00:99")
    with Netlink(a.ctx) as nl:
        vxlan.add_remote(a.ctx, nl, hosts.state(0).device.ifindex, stale)
    assert vxlan.check_remotes(hosts.state(0), (stale,))[0].complete
    hosts.stop.set()
    hosts.threads[0].join(10)
    restart = threading.Event()
    again = Agent(a.ctx, a.options)
    thread = threading.Thread(target=again.run, args=(restart,), daemon=True)
    thread.start()
    try:
        assert again.ready.wait(10) and again.lease.subnet == a.lease.subnet  # same PublicIP, same lease

        def check():
            return vxlan.check_remotes(hosts.state(0), (stale,))[0]

        assert wait_for(lambda: not (check().neighbour or check().fdb or check().route), 3)
        assert wait_for(lambda: hosts.checks(0, hosts.agents[1].lease).complete, 3)
    finally:
        restart.set()
        thread.join(10)


def test_etcd_down_keeps_forwarding_then_renews():
    cluster = EtcdCluster(1)
    hosts = None
    try:
        # Renewal falls due 4 s after acquiring (TTL 60 s, margin 56 s); etcd is gone then.
        hosts = Hosts(cluster.endpoints, "3", "coreos.com/network", retry_interval=1, lease_ttl=60, renew_margin=56)
        cluster.stop(0)
        time.sleep(6)
        ping = hosts.lab.ping(0, hosts.ips[1])
        assert ping.returncode == 0 and "ttl=62" in ping.stdout
        assert all(agent.renewals == 0 for agent in hosts.agents)
        cluster.start(0)
        assert wait_for(lambda: all(agent.renewals >= 1 for agent in hosts.agents), 15)
        assert all(agent.lease.ttl_seconds() > 50 for agent in hosts.agents)
        assert hosts.lab.ping(0, hosts.ips[1]).returncode == 0
    finally:
        if hosts is not None:
            hosts.close()
        cluster.close()


def test_three_member_cluster_with_one_member_killed():
    cluster = EtcdCluster(3)
    hosts = None
    try:
        hosts = Hosts(cluster.endpoints, "3", "coreos.com/network", retry_interval=1)
        cluster.stop(0)  # the endpoint every client started on
        ctx = HostContext()
        survivor = FlannelStore.open(EtcdOptions(endpoints=cluster.endpoints, api="3"), hosts.store.prefix)
        try:
            ghost = acquire_lease(ctx, survivor, vxlan_attrs("198.19.199.9", 1, "02:00:00:00:00:09"))
            assert wait_for(lambda: all(hosts.checks(i, ghost).complete for i in (0, 1)), 10)
        finally:
            survivor.close()
        assert hosts.lab.ping(0, hosts.ips[1]).returncode == 0
    finally:
        if hosts is not None:
            hosts.close()
        cluster.close()


def test_cli_agent_is_a_flanneld_drop_in(etcd_endpoint, tmp_path):
    """`netcon flannel agent` with flanneld's flags and FLANNELD_* variables, READY=1 on NOTIFY_SOCKET."""
    lab = Lab()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock_path = str(tmp_path / "notify.sock")
    notify.bind(sock_path)
    notify.settimeout(20)
    prefix = f"/nct{uuid.uuid4().hex[:8]}/atomic.io/network"
    store = FlannelStore.open(EtcdOptions(endpoints=(etcd_endpoint,), api="2"), prefix)
    proc = None
    try:
        set_config(HostContext(), store, '{ "Network":"10.248.0.0/16", "Backend": {"Type": "vxlan"}} ')
        env = {
            **os.environ,
            "NOTIFY_SOCKET": sock_path,
            "FLANNELD_IFACE": "ul0",
            "FLANNELD_SUBNET_FILE": str(tmp_path / "subnet.env"),
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "netcon.cli",
                "--netns",
                lab.hosts[0],
                "flannel",
                "agent",
                f"--etcd-endpoints={etcd_endpoint}",
                f"--etcd-prefix={prefix}/",
                "-subnet-lease-renew-margin=30",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert notify.recv(64) == b"READY=1"
        leases, _ = store.leases()
        assert len(leases) == 1 and leases[0].attrs.public_ip == lab.underlay_ip[0]
        assert read_subnet_file(str(tmp_path / "subnet.env")).subnet == leases[0].first_address
        link = nsexec(lab.hosts[0], "ip", "-d", "link", "show", "flannel.1").stdout
        assert "vxlan id 1" in link and "mtu 1450" in link and leases[0].attrs.vtep_mac in link
    finally:
        if proc is not None:
            proc.terminate()
            out, _ = proc.communicate(timeout=15)
        notify.close()
        for kv in store.client.list_prefix(prefix).items:
            store.client.delete(kv.key)
        store.close()
        lab.close()
    assert proc.returncode == 0, out


def test_retry_backs_off_from_one_second_so_renewal_follows_etcd_s_return():
    """Issue 12 item 14: with the default retry settings (backoff from ~1 s, capped at --retry-interval's 5 s)
    agents whose etcd was gone 10 s, during which their renewal fell due, renew within a few seconds of its
    return (they waited 60 s before)."""
    cluster = EtcdCluster(1)
    hosts = None
    try:
        hosts = Hosts(cluster.endpoints, "3", "coreos.com/network", lease_ttl=60, renew_margin=57)
        assert all(agent.options.retry_interval == 5.0 for agent in hosts.agents)
        cluster.stop(0)
        time.sleep(10)  # renewal fell due 3 s after acquiring; every attempt since failed
        assert all(agent.renewals == 0 for agent in hosts.agents)
        cluster.start(0)
        back = time.monotonic()
        assert wait_for(lambda: all(agent.renewals >= 1 for agent in hosts.agents), 15)
        assert time.monotonic() - back < 8, "renewed, but not within a few seconds of etcd's return"
        assert hosts.lab.ping(0, hosts.ips[1]).returncode == 0
    finally:
        if hosts is not None:
            hosts.close()
        cluster.close()


def test_stop_ends_a_retry_wait_at_once():
    """Every wait of the agent ends when its stop event is set (the console and the CLI quit without delay)."""
    agent = Agent(HostContext(), AgentOptions(etcd=EtcdOptions(endpoints=("http://127.0.0.1:9",)), retry_interval=60))
    stop = threading.Event()
    calls = []

    def failing():
        calls.append(time.monotonic())
        raise EtcdUnavailable("No etcd endpoint answered (test).")

    thread = threading.Thread(target=agent._retry, args=(stop, "reach etcd", failing))
    thread.start()
    assert wait_for(lambda: len(calls) >= 2, 5)  # the first retry came after about 1 s, not 60
    assert 0.8 < calls[1] - calls[0] < 2.5
    stop.set()
    thread.join(2)
    assert not thread.is_alive()


def test_broken_keys_are_logged_once_each(make_store, caplog):
    """The agent skips keys that are not leases, as flanneld does, but says so: once per key and reason, however
    often it lists them again."""
    store = make_store("3")
    set_config(HostContext(), store, '{"Network": "10.250.0.0/16", "Backend": {"Type": "vxlan"}}')
    store.client.put(f"{store.subnets_prefix}/garbagekey", "{}")
    store.client.put(store.lease_key("10.250.7.0/24"), '{"PublicIP":"198.18.0.99",BROKEN')
    agent = Agent(HostContext(), AgentOptions(etcd=store.client.options, prefix=store.prefix))
    with caplog.at_level("WARNING", logger="netcon.flannel.agent"):
        for _ in range(3):
            agent._report(store.listing(ttls=False).broken)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all(line.startswith("skipping ") for line in lines)
    assert any("garbagekey" in line and "is not a subnet" in line for line in lines)
    assert any("10.250.7.0-24" in line and "The value is not JSON" in line for line in lines)
