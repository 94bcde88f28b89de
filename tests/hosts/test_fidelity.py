"""Over real SSH (the lab's sshd per host), netcon reads a host exactly as netcon on that host reads it: the
views, the cluster's table and doctor; and read-only travels to the remote, which refuses and audits itself."""

from __future__ import annotations

import json
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest

from netcon.core.flannel.registry import FlannelStore
from netcon.core.flannel.subnet_file import read_subnet_file
from netcon.core.hosts import inventory
from netcon.core.hosts.cluster import rows
from netcon.core.lab import overlay
from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab.state import LabHost, LabState
from tests.hosts.lab_ssh import in_process, netcon, over_ssh, settled, without_counters

VIEWS = ("veths", "bridges", "networks", "containers")
ROW_KEYS = {
    "name",
    "target",
    "reachable",
    "docker_version",
    "containers",
    "subnet",
    "lease_ttl_s",
    "vtep_mac",
    "errors",
    "warnings",
    "rtt_ms",
}


def test_every_view_over_ssh_equals_the_local_read(ssh_lab: LabState):
    def both(host: LabHost, view: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
        return (
            netcon(*over_ssh(ssh_lab, host), "show", view, "--json"),
            netcon(*in_process(host), "show", view, "--json"),
        )

    cases = [(host, view) for host in ssh_lab.hosts for view in VIEWS]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: both(*case), cases))
    for (host, view), (remote, local) in zip(cases, results):
        assert remote.returncode == 0 and local.returncode == 0, remote.stderr + local.stderr
        shown = without_counters(json.loads(remote.stdout))
        assert shown == without_counters(json.loads(local.stdout)), (host.name, view)
        assert shown[view] and shown["not_read"] == [], (host.name, view)  # a real answer, complete
    assert settled(ssh_lab) == []


def test_lab_status_gives_the_ssh_config_and_targets(ssh_lab: LabState):
    shown = netcon("lab", "status", "--prefix", ssh_lab.prefix, "--json")
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["ssh_config"] == lab_ssh.config_path(ssh_lab)
    assert [(h["ssh"], bool(h["sshd_pid"])) for h in status["hosts"]] == [
        (f"ssh://root@{h.netns}", True) for h in ssh_lab.hosts
    ]
    # the same file works for OpenSSH's own client: the reference netcon replaces
    ssh = subprocess.run(
        ["ssh", "-F", status["ssh_config"], ssh_lab.hosts[1].netns, "cat", "/proc/net/dev"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ssh.returncode == 0, ssh.stderr
    assert f"{ssh_lab.hosts[1].root_veth}:" not in ssh.stdout and "eth0:" in ssh.stdout  # it ran in h2's netns


def test_cluster_status_equals_what_netcon_reads_on_each_host(ssh_lab: LabState):
    shown = netcon("cluster", "status", "--lab", ssh_lab.prefix, "--json")
    assert shown.returncode == 0, shown.stderr
    table = json.loads(shown.stdout)
    assert [r["name"] for r in table] == [h.name for h in ssh_lab.hosts]
    assert all(set(r) == ROW_KEYS | {"error"} for r in table), table  # the documented keys, and why not read

    # the same rows read in-process (each host's netns and dockerd), the reference netcon on the host would give
    entries, etcd = inventory.lab_entries(ssh_lab.prefix, over_ssh=False)
    assert etcd.options is not None
    store = FlannelStore.open(etcd.options, etcd.prefix)
    try:
        leases = store.listing().leases
    finally:
        store.close()
    hosts = [inventory.open_host(e, read_only=True) for e in entries]
    try:
        local = [r.json() for r in rows(hosts, leases, doctor=True)]
    finally:
        for host in hosts:
            host.close()
    for host, row, reference in zip(ssh_lab.hosts, table, local):
        assert row["target"] == lab_ssh.target(host) and row["reachable"] is True and row["error"] is None
        moving = ("target", "lease_ttl_s", "rtt_ms")
        assert {k: v for k, v in row.items() if k not in moving} == {
            k: v for k, v in reference.items() if k not in moving
        }
        assert abs(row["lease_ttl_s"] - reference["lease_ttl_s"]) <= 30
        # and against the sources themselves: the lease etcd holds for the host's address, flannel.1's MAC
        (lease,) = [lease for lease in leases if lease.attrs.public_ip == host.address]
        assert row["subnet"] == lease.subnet
        link = subprocess.run(
            ["ip", "-n", host.netns, "-j", "link", "show", "flannel.1"], capture_output=True, text=True, check=True
        )
        assert row["vtep_mac"] == json.loads(link.stdout)[0]["address"]
        assert row["containers"] == len(docker.APIClient(base_url=host.docker_host).containers(all=True))
        assert isinstance(row["rtt_ms"], float) and 0 < row["rtt_ms"] < 1000
        assert (row["errors"], row["warnings"]) == (0, 0)


def test_cluster_status_on_a_flannel_host_lists_that_host_once(ssh_lab: LabState):
    """Run on h1 with the overlay's etcd, h1's own lease is this machine ("local"), not a second host at h1's
    PublicIP over SSH (cluster status listed it twice; the console already matched its own lease)."""
    h1, h2 = ssh_lab.hosts
    etcd = ["--etcd-endpoints", ssh_lab.etcd_endpoint, "--etcd-api", str(ssh_lab.etcd_api)]
    shown = netcon(*in_process(h1), "cluster", "status", *etcd, "--etcd-prefix", ssh_lab.flannel_prefix, "--json")
    table = json.loads(shown.stdout)
    # h2's lease is reached at its PublicIP, which the lab's ssh config does not name: listed, not reachable
    assert [(r["name"], r["target"]) for r in table] == [("local", "local"), (h2.address, f"ssh://{h2.address}")]
    store = FlannelStore.open(*_lab_store(ssh_lab))
    try:
        (lease,) = [lease for lease in store.listing().leases if lease.attrs.public_ip == h1.address]
    finally:
        store.close()
    assert table[0]["reachable"] is True and table[0]["subnet"] == lease.subnet
    assert shown.returncode == 1 and table[1]["reachable"] is False


def _lab_store(state: LabState):
    _entries, etcd = inventory.lab_entries(state.prefix, over_ssh=False)
    assert etcd.options is not None
    return etcd.options, etcd.prefix


def test_a_hosts_subnet_env_is_read_by_its_netcon(ssh_lab: LabState):
    """h2's subnet.env (its flannel agent's file: the lab's sshd names it as a real host's default path would)
    read over SSH by h2's netcon, as the Flannel pane's lease and MTU checks take it: the file's values, and its
    subnet is h2's lease. Read in-process for h2's namespace there is none (the file is not the root's)."""
    h2 = ssh_lab.hosts[1]
    (entry,) = [e for e in inventory.lab_entries(ssh_lab.prefix, over_ssh=True)[0] if e.name == h2.name]
    host = inventory.open_host(entry, read_only=True)
    try:
        env = host.subnet_env()
    finally:
        host.close()
    assert env is not None and env == read_subnet_file(overlay.subnet_file(h2))
    store = FlannelStore.open(*_lab_store(ssh_lab))
    try:
        (lease,) = [lease for lease in store.listing().leases if lease.attrs.public_ip == h2.address]
    finally:
        store.close()
    assert env.lease_subnet == lease.subnet and env.mtu == 1450
    local = inventory.open_host(inventory.lab_entries(ssh_lab.prefix, over_ssh=False)[0][1], read_only=True)
    try:
        assert local.subnet_env() is None
    finally:
        local.close()


def test_the_global_host_is_one_more_cluster_host(ssh_lab: LabState):
    """netcon --host X cluster status: X joins the lab's hosts (it was refused as if cluster took no --host)."""
    h1 = ssh_lab.hosts[0]
    config = lab_ssh.config_path(ssh_lab)
    shown = netcon(
        "--ssh-config", config, "--host", "ssh://root@h1", "cluster", "status", "--lab", ssh_lab.prefix, "--json"
    )
    assert shown.returncode == 0, shown.stderr
    table = {r["name"]: r for r in json.loads(shown.stdout)}
    assert list(table) == ["h1", "h2", "h1-2"] and table["h1-2"]["target"] == "ssh://root@h1"
    moving = ("name", "target", "lease_ttl_s", "rtt_ms")
    assert {k: v for k, v in table["h1-2"].items() if k not in moving} == {
        k: v for k, v in table["h1"].items() if k not in moving
    }
    assert table["h1-2"]["vtep_mac"] and table["h1"]["target"] == lab_ssh.target(h1)


def test_cluster_doctor_tags_each_hosts_findings(ssh_lab: LabState):
    shown = netcon("cluster", "doctor", "--lab", ssh_lab.prefix, "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    report = json.loads(shown.stdout)
    assert report["healthy"] is True
    assert [h["host"] for h in report["hosts"] if not h["host"].startswith("etcd ")] == ["h1", "h2"]
    assert all(h["checks"] for h in report["hosts"])  # the checks ran there
    assert ssh_lab.etcd_endpoint in (report["etcd"] or "")


def audit_records(host: LabHost) -> list[dict]:
    try:
        with open(lab_ssh.audit_log(host)) as f:
            return [json.loads(line) for line in f]
    except FileNotFoundError:
        return []


def test_read_only_travels_and_the_remote_audits(ssh_lab: LabState, audit_log):
    """The remote netcon starts read-only and refuses the change itself (exit 3), in its own audit log with
    the SSH user and client; without --read-only the change is made there and audited there."""
    h2 = ssh_lab.hosts[1]
    name = f"ro{uuid.uuid4().hex[:6]}"
    client = docker.APIClient(base_url=h2.docker_host)
    try:
        refused = netcon("--read-only", *over_ssh(ssh_lab, h2), "network", "create", name)
        assert refused.returncode == 3, refused.stderr
        assert refused.stderr.startswith(f"netcon: {h2.netns}: Refused ") and refused.stderr.endswith(
            "netcon runs in read-only mode.\n"
        ), refused.stderr  # one sentence, naming the host that refused
        assert client.networks(names=[name]) == []
        (record,) = [r for r in audit_records(h2) if r["arguments"].get("name") == name]
        assert (record["operation"], record["outcome"], record["user"]) == ("network.create", "read-only", "root")
        assert record["ssh_from"].startswith(ssh_lab.bridge_address + ":")  # the client, from the root namespace
        assert not audit_log.exists() or name not in audit_log.read_text()  # not the local log: the remote's

        made = netcon(*over_ssh(ssh_lab, h2), "network", "create", name, "--label", f"netcon.test={name}")
        assert made.returncode == 0, made.stderr
        assert [n["Name"] for n in client.networks(names=[name])] == [name]
        outcomes = [r["outcome"] for r in audit_records(h2) if r["arguments"].get("name") == name]
        assert outcomes == ["read-only", "started", "ok"]

        removed = netcon(*over_ssh(ssh_lab, h2), "network", "rm", name)
        assert removed.returncode == 0, removed.stderr
        assert client.networks(names=[name]) == []
    finally:
        for network in client.networks(names=[name]):
            client.remove_network(network["Id"])
    assert settled(ssh_lab) == []


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--host", "h2", "show", "veths"], "netcon: --host 'h2' is not a host like ssh://[user@]host[:port].\n"),
        (
            ["--host", "ssh://root@{netns}", "--netns", "{netns}", "show", "veths"],
            "netcon: --host reaches another machine, --netns and --docker-host name parts of this one: give one.\n",
        ),
    ],
)
def test_bad_host_options_are_refused_before_connecting(ssh_lab: LabState, args, said):
    h2 = ssh_lab.hosts[1]
    shown = netcon(*[a.format(netns=h2.netns) for a in args])
    assert (shown.returncode, shown.stderr, shown.stdout) == (2, said, "")
