"""Every doctor check proven on a real lab: break a healthy host in exactly one way, see the finding with the
right object and evidence, run the fix it gives, see the finding gone; restore what a fix does not.

Tests that restart daemons (dockerd, the flannel agent, etcd) come last, etcd's very last: the agents wait
60 s before retrying an etcd that went away.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import uuid

import docker

from netcon.core.context import HostContext
from netcon.core.doctor.findings import WARNING
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel.registry import FlannelStore
from netcon.core.lab import procs
from tests.doctor.conftest import apply_fix, wait_until


def netcon(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "netcon.cli", *args], capture_output=True, text=True, timeout=60, check=False, **kwargs
    )


def evidence(finding) -> dict:
    return dict(finding.evidence)


def store_of(lab) -> FlannelStore:
    state = lab.state
    return FlannelStore.open(
        EtcdOptions(endpoints=(state.etcd_endpoint,), api=str(state.etcd_api)), state.flannel_prefix
    )


def lease_of(lab, host: str):
    store = store_of(lab)
    try:
        leases, _ = store.leases()
    finally:
        store.close()
    return next(lease for lease in leases if lease.attrs.public_ip == lab.host(host).address)


def test_healthy_lab_has_no_errors_or_warnings(doctor_lab):
    report = doctor_lab.doctor()
    assert [h.host for h in report.hosts] == [doctor_lab.label("h1"), doctor_lab.label("h2")]
    assert doctor_lab.problems(report) == [], [f.title for f in doctor_lab.problems(report)]
    assert all(len(h.checks) >= 20 for h in report.hosts) and report.etcd and not report.notes
    result = netcon("doctor", "--lab", doctor_lab.prefix, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["healthy"] is True and len(data["hosts"]) == 2
    # one host the long way: its netns, its Docker socket and the etcd flags
    state, h2 = doctor_lab.state, doctor_lab.host("h2")
    result = netcon(
        "--netns",
        h2.netns,
        "--docker-host",
        h2.docker_host,
        "doctor",
        "--etcd-endpoints",
        state.etcd_endpoint,
        "--etcd-prefix",
        state.flannel_prefix,
        "--etcd-api",
        "2",
    )
    assert result.returncode == 0 and "no errors" in result.stdout, result.stdout + result.stderr


def test_ip_forward_off(doctor_lab):
    try:
        doctor_lab.ns("h1", "sysctl", "-w", "net.ipv4.ip_forward=0")
        [found] = doctor_lab.findings("ip-forward-off", "h1")
        assert found.severity == "error" and found.object == "net.ipv4.ip_forward"
        assert evidence(found) == {"net.ipv4.ip_forward": "0"}
        assert doctor_lab.findings("ip-forward-off", "h2") == []
        result = netcon("doctor", "--lab", doctor_lab.prefix)
        assert result.returncode == 1 and "ip-forward-off" in result.stdout
        apply_fix(found)
        assert doctor_lab.findings("ip-forward-off") == []
    finally:
        doctor_lab.ns("h1", "sysctl", "-w", "net.ipv4.ip_forward=1")


def test_forward_policy_drop(doctor_lab):
    try:
        doctor_lab.ns("h1", "iptables", "-P", "FORWARD", "DROP")
        [found] = doctor_lab.findings("forward-policy-drop", "h1")
        ev = evidence(found)
        assert ev["FORWARD policy"] == "DROP"
        overlay = [k for k in ev if k.startswith("dropped: overlay traffic") and "flannel.1" in k]
        assert overlay and ev[overlay[0]] == "policy FORWARD DROP"
        # Docker's own rules still let containers out of docker0 towards the overlay: only inbound is named
        assert not any(k.startswith("dropped: containers on docker0") for k in ev)
        apply_fix(found)  # flanneld's ACCEPT rules for its Network
        assert doctor_lab.findings("forward-policy-drop", "h1") == []
    finally:
        for flag in ("-s", "-d"):
            doctor_lab.ns("h1", "iptables", "-D", "FORWARD", flag, "172.17.0.0/16", "-j", "ACCEPT", check=False)
        doctor_lab.ns("h1", "iptables", "-P", "FORWARD", "ACCEPT")


def test_bridge_nf_disabled(doctor_lab):
    try:
        doctor_lab.ns("h2", "sysctl", "-w", "net.bridge.bridge-nf-call-iptables=0")
        [found] = doctor_lab.findings("bridge-nf", "h2")
        assert found.severity == "warning"
        assert evidence(found) == {"net.bridge.bridge-nf-call-iptables": "0"}
        apply_fix(found)
        assert doctor_lab.findings("bridge-nf") == []
    finally:
        doctor_lab.ns("h2", "sysctl", "-w", "net.bridge.bridge-nf-call-iptables=1")


def test_bridge_nf_drops_frames_inside_docker0(doctor_lab):
    rule = ["FORWARD", "-i", "docker0", "-o", "docker0", "-j", "ACCEPT"]
    try:
        doctor_lab.ns("h1", "iptables", "-P", "FORWARD", "DROP")
        doctor_lab.ns("h1", "iptables", "-D", *rule)  # Docker's inter-container ACCEPT for docker0
        [found] = doctor_lab.findings("bridge-nf", "h1")
        assert found.severity == "error" and found.object == "docker0"
        ev = evidence(found)
        assert ev["net.bridge.bridge-nf-call-iptables"] == "1"
        assert ev["verdict for frames between its ports"] == "DROP by policy FORWARD DROP"
        assert "busybox" not in ev["ports"] and len(ev["ports"].split()) == 2  # busybox and h1-probe's veths
        apply_fix(found)
        assert doctor_lab.findings("bridge-nf", "h1") == []
    finally:
        while doctor_lab.ns("h1", "iptables", "-D", *rule, check=False).returncode == 0:
            pass
        doctor_lab.ns("h1", "iptables", "-A", *rule)
        doctor_lab.ns("h1", "iptables", "-P", "FORWARD", "ACCEPT")


def test_vxlan_fdb_missing_and_pointing_elsewhere(doctor_lab):
    remote = lease_of(doctor_lab, "h2")
    mac, dst = remote.attrs.vtep_mac, remote.attrs.public_ip
    try:
        doctor_lab.ns("h1", "bridge", "fdb", "del", mac, "dev", "flannel.1", "dst", dst, "self")
        [found] = doctor_lab.findings("vxlan-fdb-missing", "h1")
        assert found.object == f"flannel.1 fdb {mac}"
        assert evidence(found) == {"remote lease": remote.subnet, "wanted": f"{mac} dst {dst}", "found": "none"}
        apply_fix(found)
        assert doctor_lab.findings("vxlan-fdb-missing") == []

        doctor_lab.ns(
            "h1", "bridge", "fdb", "replace", mac, "dev", "flannel.1", "dst", "198.18.0.250", "self", "permanent"
        )
        [found] = doctor_lab.findings("vxlan-fdb-missing", "h1")
        assert evidence(found)["found"] == f"{mac} dst 198.18.0.250"
        apply_fix(found)
        assert doctor_lab.findings("vxlan-fdb-missing") == []
        assert doctor_lab.problems() == []
    finally:
        doctor_lab.ns("h1", "bridge", "fdb", "replace", mac, "dev", "flannel.1", "dst", dst, "self", "permanent")


def test_vxlan_neigh_missing(doctor_lab):
    remote = lease_of(doctor_lab, "h1")
    gateway = remote.subnet.split("/")[0]
    try:
        doctor_lab.ns("h2", "ip", "neigh", "del", gateway, "dev", "flannel.1")
        [found] = doctor_lab.findings("vxlan-neigh-missing", "h2")
        assert found.object == f"flannel.1 neighbour {gateway}" and evidence(found)["found"] == "none"
        apply_fix(found)
        assert doctor_lab.findings("vxlan-neigh-missing") == []
    finally:
        doctor_lab.ns(
            "h2",
            "ip",
            "neigh",
            "replace",
            gateway,
            "lladdr",
            remote.attrs.vtep_mac,
            "dev",
            "flannel.1",
            "nud",
            "permanent",
        )


def test_vxlan_route_missing(doctor_lab):
    remote = lease_of(doctor_lab, "h2")
    gateway = remote.subnet.split("/")[0]
    try:
        doctor_lab.ns("h1", "ip", "route", "del", remote.subnet, "dev", "flannel.1")
        [found] = doctor_lab.findings("vxlan-route-missing", "h1")
        assert found.object == f"route {remote.subnet}"
        assert evidence(found)["wanted"] == f"{remote.subnet} via {gateway} dev flannel.1 onlink"
        apply_fix(found)
        assert doctor_lab.findings("vxlan-route-missing") == []
    finally:
        doctor_lab.ns("h1", "ip", "route", "replace", remote.subnet, "via", gateway, "dev", "flannel.1", "onlink")


def test_vxlan_stale_entries(doctor_lab):
    leased = {lease_of(doctor_lab, h).network for h in ("h1", "h2")}
    subnet = next(
        n
        for n in ipaddress.ip_network("172.17.0.0/16").subnets(new_prefix=24)
        if n.network_address.packed[2] > 200 and n not in leased
    )
    gateway, mac, dst = str(subnet.network_address), "02:00:5e:00:00:99", "198.18.0.250"
    try:
        doctor_lab.ns("h1", "ip", "neigh", "replace", gateway, "lladdr", mac, "dev", "flannel.1", "nud", "permanent")
        doctor_lab.ns("h1", "bridge", "fdb", "append", mac, "dev", "flannel.1", "dst", dst, "self", "permanent")
        doctor_lab.ns("h1", "ip", "route", "replace", str(subnet), "via", gateway, "dev", "flannel.1", "onlink")
        found = doctor_lab.findings("vxlan-stale-entry", "h1")
        assert {f.object for f in found} == {
            f"flannel.1 neighbour {gateway}",
            f"flannel.1 fdb {mac}",
            f"route {subnet}",
        }
        assert {evidence(f)["entry"] for f in found} == {
            f"{gateway} lladdr {mac}",
            f"{mac} dst {dst}",
            f"{subnet} via {gateway} dev flannel.1",
        }
        for finding in found:
            apply_fix(finding)
        assert doctor_lab.findings("vxlan-stale-entry") == []
    finally:
        doctor_lab.ns("h1", "ip", "route", "del", str(subnet), "dev", "flannel.1", check=False)
        doctor_lab.ns("h1", "bridge", "fdb", "del", mac, "dev", "flannel.1", "dst", dst, "self", check=False)
        doctor_lab.ns("h1", "ip", "neigh", "del", gateway, "dev", "flannel.1", check=False)


def test_vxlan_device_down_then_the_entries_it_lost(doctor_lab):
    remote = lease_of(doctor_lab, "h2")
    try:
        doctor_lab.ns("h1", "ip", "link", "set", "flannel.1", "down")
        report = doctor_lab.doctor()
        [found] = doctor_lab.findings("vxlan-device", "h1", report)
        assert found.object == "flannel.1" and evidence(found)["up"] == "no"
        apply_fix(found)
        report = doctor_lab.doctor()
        assert doctor_lab.findings("vxlan-device", report=report) == []
        # taking the device down flushed the route and neighbour through it: the doctor names both
        lost = doctor_lab.problems(report)
        assert {f.id for f in lost} == {"vxlan-route-missing", "vxlan-neigh-missing"}
        for finding in lost:
            apply_fix(finding)
        assert doctor_lab.problems() == []
    finally:
        doctor_lab.ns("h1", "ip", "link", "set", "flannel.1", "up")
        gateway = remote.subnet.split("/")[0]
        doctor_lab.ns(
            "h1",
            "ip",
            "neigh",
            "replace",
            gateway,
            "lladdr",
            remote.attrs.vtep_mac,
            "dev",
            "flannel.1",
            "nud",
            "permanent",
        )
        doctor_lab.ns("h1", "ip", "route", "replace", remote.subnet, "via", gateway, "dev", "flannel.1", "onlink")


def test_docker0_mtu_above_the_overlay(doctor_lab):
    try:
        doctor_lab.ns("h1", "ip", "link", "set", "docker0", "mtu", "1500")
        [found] = doctor_lab.findings("mtu-mismatch", "h1")
        assert found.object == "docker0"
        assert evidence(found) == {"MTU": "1500", "overlay allows": "1450 (underlay MTU 1500 - 50)"}
        apply_fix(found)
        assert doctor_lab.findings("mtu-mismatch") == []
    finally:
        doctor_lab.ns("h1", "ip", "link", "set", "docker0", "mtu", "1450")


def _probe_veth(doctor_lab, host: str) -> str:
    from netcon.core.lab.lab import host_context
    from netcon.core.snapshot import collect

    snap = collect(host_context(doctor_lab.host(host)))
    return next(v.ifname for v in snap.veths if v.container == f"{host}-probe")


def test_veth_down(doctor_lab):
    veth = _probe_veth(doctor_lab, "h2")
    try:
        doctor_lab.ns("h2", "ip", "link", "set", veth, "down")
        [found] = doctor_lab.findings("veth-down", "h2")
        assert found.object == veth
        assert evidence(found)["container"] == "h2-probe" and evidence(found)["admin"] == "down"
        apply_fix(found)
        assert doctor_lab.findings("veth-down") == []
    finally:
        doctor_lab.ns("h2", "ip", "link", "set", veth, "up")


def test_bridge_down(doctor_lab):
    try:
        doctor_lab.ns("h2", "ip", "link", "set", "docker0", "down")
        [found] = doctor_lab.findings("bridge-port-down", "h2")
        assert found.object == "docker0" and evidence(found)["admin"] == "down"
        apply_fix(found)
        assert doctor_lab.findings("bridge-port-down") == []
        assert doctor_lab.problems() == []
    finally:
        doctor_lab.ns("h2", "ip", "link", "set", "docker0", "up")


def test_veth_orphan(doctor_lab):
    other = f"dorph{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", other], check=True)
    try:
        doctor_lab.ns(
            "h1", "ip", "link", "add", "dorph0", "mtu", "1450", "type", "veth", "peer", "name", "dorph1", "netns", other
        )
        doctor_lab.ns("h1", "ip", "link", "set", "dorph0", "master", "docker0", "up")
        [found] = doctor_lab.findings("veth-orphan", "h1")
        assert found.object == "dorph0" and evidence(found)["bridge"] == "docker0"
        assert evidence(found)["peer netnsid"] != "None"
        apply_fix(found)
        assert doctor_lab.findings("veth-orphan") == []
        assert doctor_lab.problems() == []
    finally:
        doctor_lab.ns("h1", "ip", "link", "del", "dorph0", check=False)
        subprocess.run(["ip", "netns", "del", other], check=False)


def test_subnet_overlap(doctor_lab):
    leased = {lease_of(doctor_lab, h).network for h in ("h1", "h2")}
    inside = next(
        n
        for n in ipaddress.ip_network("172.17.0.0/16").subnets(new_prefix=24)
        if n.network_address.packed[2] > 200 and n not in leased
    )
    underlay = ipaddress.ip_network(doctor_lab.state.underlay)
    clash = list(underlay.subnets(new_prefix=underlay.prefixlen + 1))[1]
    client = docker.APIClient(base_url=doctor_lab.host("h1").docker_host)
    tag = uuid.uuid4().hex[:6]
    names = {f"dov{tag}a": inside, f"dov{tag}b": clash}
    try:
        for name, subnet in names.items():
            client.create_network(
                name,
                driver="bridge",
                ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet))]),
            )
        found = {f.object: f for f in doctor_lab.findings("subnet-overlap", "h1")}
        in_flannel, on_underlay = list(names)
        assert set(found) == {
            f"network {in_flannel} / flannel 172.17.0.0/16",
            f"network {on_underlay} / route {underlay}",
        }
        assert evidence(found[f"network {on_underlay} / route {underlay}"])["route"] == f"{underlay} dev eth0"
        for finding in found.values():
            apply_fix(finding)  # netcon --docker-host ... network rm NAME
        assert doctor_lab.findings("subnet-overlap") == []
    finally:
        for name in names:
            with contextlib.suppress(docker.errors.NotFound):
                client.remove_network(name)
        client.close()


def test_vxlan_port_blocked(doctor_lab):
    rule = ["INPUT", "-p", "udp", "-m", "udp", "--dport", "8472", "-j", "DROP"]
    try:
        doctor_lab.ns("h2", "iptables", "-I", *rule)
        [found] = doctor_lab.findings("vxlan-port-blocked", "h2")
        assert found.object == "iptables INPUT udp/8472"
        assert evidence(found)["verdict"] == "DROP by -A INPUT -p udp -m udp --dport 8472 -j DROP"
        apply_fix(found)
        assert doctor_lab.findings("vxlan-port-blocked") == []
    finally:
        while doctor_lab.ns("h2", "iptables", "-D", *rule, check=False).returncode == 0:
            pass


def test_not_root():
    """The CLI as user nobody (setpriv drops root), then as root: the fix is running it with sudo."""
    as_nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        sys.executable,
        "-m",
        "netcon.cli",
        "doctor",
        "--json",
    ]
    result = subprocess.run(as_nobody, capture_output=True, text=True, timeout=60, check=False)
    data = json.loads(result.stdout)
    [found] = [f for h in data["hosts"] for f in h["findings"] if f["id"] == "not-root"]
    assert found["object"] == "uid 65534" and found["fix"] == ["sudo netcon doctor"]
    result = netcon("doctor", "--json")
    assert "not-root" not in {f["id"] for h in json.loads(result.stdout)["hosts"] for f in h["findings"]}


def test_flannel_config_missing_under_a_wrong_prefix(doctor_lab):
    report = doctor_lab.doctor(etcd_prefix="/nowhere.example/network")
    [found] = [f for f in report.findings if f.id == "flannel-config-missing"]
    assert found.object == "/nowhere.example/network/config"
    assert doctor_lab.findings("flannel-config-missing") == []


def test_lease_expiring(doctor_lab):
    """A stuck agent (SIGSTOP) whose lease has 10 minutes left; the fix renews it."""
    host = doctor_lab.host("h1")
    lease = lease_of(doctor_lab, "h1")
    os.kill(host.agent_pid, signal.SIGSTOP)
    store = store_of(doctor_lab)
    try:
        store.write_lease(HostContext(), lease.subnet, lease.attrs, 600)
        [found] = doctor_lab.findings("lease-expiring", "h1")
        assert found.object == f"lease {lease.subnet}" and int(evidence(found)["TTL"].split()[0]) <= 600
        apply_fix(found)  # netcon flannel lease renew SUBNET --etcd-...
        assert doctor_lab.findings("lease-expiring") == []
    finally:
        store.close()
        os.kill(host.agent_pid, signal.SIGCONT)


def test_lease_publicip_mismatch(doctor_lab):
    lease = lease_of(doctor_lab, "h2")
    store = store_of(doctor_lab)
    try:
        wrong = type(lease.attrs)(
            public_ip="198.18.0.250", backend_type=lease.attrs.backend_type, backend_data=lease.attrs.backend_data
        )
        store.write_lease(HostContext(), lease.subnet, wrong, 86400)
        [found] = doctor_lab.findings("lease-publicip-mismatch", "h2")
        assert found.object == f"lease {lease.subnet}"
        assert evidence(found)["PublicIP"] == "198.18.0.250"
        assert doctor_lab.host("h2").address in evidence(found)["addresses of this host"]
        apply_fix(found)  # revoke: the agent acquires the subnet again with its real address
        assert wait_until(lambda: doctor_lab.problems() == [], timeout=10)
        assert lease_of(doctor_lab, "h2").subnet == lease.subnet
    finally:
        if store.lease(lease.subnet) is None or store.lease(lease.subnet).attrs.public_ip != lease.attrs.public_ip:
            store.write_lease(HostContext(), lease.subnet, lease.attrs, 86400)
        store.close()


def test_docker_unreachable(doctor_lab):
    """dockerd killed from outside; the fix (netcon lab up for a lab host) starts it again."""
    host = doctor_lab.host("h2")
    os.kill(host.dockerd_pid, signal.SIGKILL)
    wait_until(lambda: not procs.docker_answers(host, timeout=0.5), timeout=5)
    [found] = doctor_lab.findings("docker-unreachable", "h2")
    assert found.object == host.docker_host and evidence(found)["docker endpoint"] == host.docker_host
    apply_fix(found)
    assert doctor_lab.problems() == []


def test_docker_without_flannel_options(doctor_lab):
    """The issue's case: dockerd restarted without --bip (and docker0 recreated), so docker0 leaves the lease."""
    host = doctor_lab.host("h2")
    procs.stop(procs.processes_mentioning(host.exec_root))
    # a dockerd that never had --bip: no docker0, and no default network remembered in its store
    doctor_lab.ns("h2", "ip", "link", "del", "docker0")
    os.unlink(os.path.join(host.directory, "data", "network", "files", "local-kv.db"))
    procs.start_dockerd(host, [])
    lease = lease_of(doctor_lab, "h2")
    [found] = doctor_lab.findings("docker0-outside-lease", "h2")
    assert found.object == "docker0" and evidence(found)["lease"] == lease.subnet
    assert evidence(found)["docker0 addresses"] == "172.17.0.1/16"  # Docker's default, as in the seed before
    assert evidence(found)["wanted"] == f"--bip={lease.first_address}"
    apply_fix(found)
    assert doctor_lab.problems() == []


def test_lease_missing(doctor_lab):
    """h2's agent dies and its lease is deleted; the fix (netcon lab up) starts the agent, which leases again."""
    host = doctor_lab.host("h2")
    lease = lease_of(doctor_lab, "h2")
    procs.stop([host.agent_pid])
    store = store_of(doctor_lab)
    try:
        store.delete_lease(HostContext(), lease.subnet)
    finally:
        store.close()
    [found] = doctor_lab.findings("lease-missing", "h2")
    assert host.address in evidence(found)["addresses of this host"]
    assert lease.subnet not in evidence(found)["leases in etcd"]
    apply_fix(found)
    assert wait_until(lambda: doctor_lab.problems() == [], timeout=10), [f.title for f in doctor_lab.problems()]


def test_etcd_unreachable(doctor_lab):
    state = doctor_lab.state
    procs.stop([state.etcd_pid])
    report = doctor_lab.doctor()
    [found] = [f for f in report.findings if f.id == "etcd-unreachable"]
    assert found.object == state.etcd_endpoint and "error" in evidence(found)
    assert not report.healthy
    apply_fix(found)
    assert doctor_lab.problems() == []


def test_broken_key_and_lease_outside_the_network(doctor_lab):
    """Issue 12 item 4: a key under subnets/ that is not a lease and a lease outside the configured Network are
    findings with the key and the reason; the good leases are still checked (no other problem appears)."""
    store = store_of(doctor_lab)
    broken_key = f"{store.subnets_prefix}/garbagekey"
    bad_value_key = f"{store.subnets_prefix}/198.51.100.0-24"
    foreign = "198.51.101.0/24"  # TEST-NET-2: outside the lab's Network; no backend data, so no host routes it
    try:
        store.client.put(broken_key, "{}")
        store.client.put(bad_value_key, '{"PublicIP":"198.18.0.99",BROKEN')
        store.write_lease(HostContext(), foreign, type(lease_of(doctor_lab, "h1").attrs)("198.51.100.7"), 600)
        report = doctor_lab.doctor()
        malformed = {f.object: f for f in report.findings if f.id == "lease-malformed"}
        assert set(malformed) == {broken_key, bad_value_key}
        assert all(f.severity == WARNING for f in malformed.values())
        assert "is not a subnet" in evidence(malformed[broken_key])["error"]
        assert evidence(malformed[bad_value_key])["error"].startswith("The value is not JSON")
        [outside] = [f for f in report.findings if f.id == "lease-outside-network"]
        assert outside.object == f"lease {foreign}" and evidence(outside)["PublicIP"] == "198.51.100.7"
        others = [f for f in doctor_lab.problems(report) if f.id not in ("lease-malformed", "lease-outside-network")]
        assert others == []
        for finding in (*malformed.values(), outside):
            apply_fix(finding)
        assert doctor_lab.problems() == []
    finally:
        for key in (broken_key, bad_value_key, store.lease_key(foreign)):
            store.client.delete(key)
        store.close()
