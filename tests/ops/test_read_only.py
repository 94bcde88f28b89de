"""Read-only mode refuses every mutating operation in the core (ReadOnlyError), and the CLI exits 3.

Both enumerate core.operations (every module's operations, so one added later must be covered here; the
console's tests can reuse ``mutating_operations()`` and ``dummy_arguments``).
"""

from __future__ import annotations

import inspect
import json

import pytest

from netcon.core.context import HostContext
from netcon.core.errors import ReadOnlyError
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel.lease import acquire_lease, vxlan_attrs
from netcon.core.flannel.registry import FlannelStore, set_config
from netcon.core.operations import mutating_operations
from tests.conftest import DockerObjects
from tests.ops.conftest import Lab

ETCD = ("--etcd-endpoints", "{etcd}", "--etcd-prefix", "/{p}/network", "--etcd-api", "2")
CLI_ARGV = {
    "network.create": ["network", "create", "{p}-ro", "--subnet", "10.213.0.0/24"],
    "network.rm": ["network", "rm", "{p}-net"],
    "network.connect": ["network", "connect", "{p}-net", "{p}-c"],
    "network.disconnect": ["network", "disconnect", "{p}-net", "{p}-c"],
    "container.run": ["container", "run", "{p}-ro", "--network", "host"],
    "container.rm": ["container", "rm", "{p}-c", "--force"],
    "image.import": ["image", "ensure-busybox", "--image", "{p}/busybox:latest"],
    "lab.up": ["lab", "up", "--prefix", "nro"],
    "lab.down": ["lab", "down", "--prefix", "nro"],
    "lab.exec": ["lab", "exec", "--prefix", "nro", "h1", "--", "ip", "link", "add", "ro0", "type", "dummy"],
    "flannel.config.set": ["flannel", "config", "set", '{{"Network": "10.77.0.0/16"}}', *ETCD],
    "flannel.lease.acquire": ["flannel", "lease", "acquire", "--public-ip", "198.18.250.2", *ETCD],
    "flannel.lease.renew": ["flannel", "lease", "renew", "{subnet}", *ETCD],
    "flannel.lease.revoke": ["flannel", "lease", "revoke", "{subnet}", *ETCD],
    "flannel.lease.reserve": ["flannel", "lease", "reserve", "{subnet}", *ETCD],
    "flannel.docker-opts": ["flannel", "docker-opts", "-f", "{subnet_file}", "-d", "{subnet_file}.docker"],
    "flannel.agent": ["flannel", "agent", "--iface", "lo", "--subnet-file", "{subnet_file}.agent", *ETCD],
}

# Changes made as one step of a command that only reads: read-only refuses the step (audited), and the command
# goes on without it, so its CLI does not exit 3. Each is checked where its command is tested.
READ_ONLY_STEPS = {
    "trace.nftrace": "tests/trace/test_nftrace.py::test_refused_read_only",  # the trace runs without nftrace
}


@pytest.fixture(scope="module")
def lab(dclient, busybox):
    """One network with one container, shared by every case here (none of them may change anything)."""
    objects = DockerObjects(dclient, busybox)
    objects.network("net")
    objects.container("c", network=objects.name("net"))
    try:
        yield Lab(objects)
    finally:
        objects.cleanup()


def dummy_arguments(fn, value: str) -> list[str]:
    """``value`` for each required parameter after ctx: read-only is refused before anything is looked at."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    return [value for p in params if p.default is inspect.Parameter.empty]


def test_every_operation_has_a_cli_case():
    assert set(CLI_ARGV) | set(READ_ONLY_STEPS) == set(mutating_operations())
    assert not set(CLI_ARGV) & set(READ_ONLY_STEPS)


@pytest.fixture(scope="module")
def flannel_prefix(lab, etcd_endpoint, tmp_path_factory) -> dict[str, str]:
    """A flannel config and one lease under the test's own prefix, and a subnet file, for the flannel cases."""
    store = FlannelStore.open(EtcdOptions(endpoints=(etcd_endpoint,), api="2"), f"/{lab.prefix}/network")
    set_config(HostContext(), store, '{"Network": "10.77.0.0/16", "Backend": {"Type": "vxlan"}}')
    lease = acquire_lease(HostContext(), store, vxlan_attrs("198.18.250.1", 1, "02:00:00:00:00:01"))
    subnet_file = tmp_path_factory.mktemp("flannel") / "subnet.env"
    subnet_file.write_text(
        "FLANNEL_NETWORK=10.77.0.0/16\nFLANNEL_SUBNET=10.77.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n"
    )
    try:
        yield {"etcd": etcd_endpoint, "subnet": lease.subnet, "subnet_file": str(subnet_file)}
    finally:
        for key in (store.config_key, store.lease_key(lease.subnet)):
            store.client.delete(key)


@pytest.mark.parametrize("operation", sorted(mutating_operations()))
def test_core_refuses_in_read_only_mode(operation, lab, audit_log):
    before = lab.owned()
    fn = mutating_operations()[operation]
    with pytest.raises(ReadOnlyError) as error:
        fn(HostContext(read_only=True), *dummy_arguments(fn, lab.name("net")))
    assert str(error.value).startswith("Refused ") and "read-only mode" in str(error.value)
    assert lab.owned() == before
    [line] = audit_log.read_text().splitlines()
    assert json.loads(line)["outcome"] == "read-only" and json.loads(line)["operation"] == operation


@pytest.mark.parametrize("operation", sorted(CLI_ARGV))
@pytest.mark.parametrize("switch", ["option", "environment"])
def test_cli_exits_3(operation, switch, lab, flannel_prefix, netcon, monkeypatch, audit_log):
    before = lab.owned()
    argv = [a.format(p=lab.prefix, **flannel_prefix) for a in CLI_ARGV[operation]]
    if switch == "option":  # after the operation's own options, before a command after --
        argv.insert(argv.index("--") if "--" in argv else len(argv), "--read-only")
    else:
        monkeypatch.setenv("NETCON_READ_ONLY", "1")
    result = netcon(*argv)
    assert result.code == 3
    assert result.err.startswith("netcon: Refused ") and result.err.endswith("netcon runs in read-only mode.\n")
    assert lab.owned() == before
    [line] = audit_log.read_text().splitlines()  # the refusal is audited, once, by the core's wrapper
    assert json.loads(line)["outcome"] == "read-only" and json.loads(line)["operation"] == operation
