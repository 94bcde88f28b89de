"""The cluster's table: one row per host (reachable, Docker, containers, its flannel lease, VTEP MAC, the
doctor's count, the round-trip time to it), and the doctor over every host. Hosts are read in parallel, one
thread each, so a host that does not answer delays no other; its row says why it is unreachable."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.doctor.findings import ERROR, WARNING, Finding, HostReport, Report
from netcon.core.errors import NetconError
from netcon.core.flannel.host_rules import own_lease
from netcon.core.flannel.lease import Lease
from netcon.core.flannel.vxlan import device_name
from netcon.core.hosts.base import EtcdAccess, Host
from netcon.core.model import Snapshot

Rtt = Callable[[Host], float | None]


@dataclass(frozen=True)
class HostRow:
    """A host as the Cluster pane and ``netcon cluster status`` show it; None: not read (``error`` says why)."""

    name: str
    target: str
    reachable: bool
    docker_version: str | None = None
    containers: int | None = None
    subnet: str | None = None
    lease_ttl_s: int | None = None
    vtep_mac: str | None = None
    errors: int | None = None
    warnings: int | None = None
    rtt_ms: float | None = None
    error: str | None = None  # why it is unreachable, or what could not be read
    down_since: float | None = None
    address: str | None = None

    def json(self) -> dict[str, object]:
        """The record of ``netcon cluster status --json``."""
        keys = ("name", "target", "reachable", "docker_version", "containers", "subnet", "lease_ttl_s", "vtep_mac")
        return {k: getattr(self, k) for k in (*keys, "errors", "warnings", "rtt_ms", "error")}


def read_leases(etcd: EtcdAccess) -> tuple[Lease, ...]:
    """The flannel leases every host's row is matched against, read once from the store ``etcd`` names (none when
    it names no etcd); ``NetconError`` when the store cannot be read."""
    if etcd.options is None:
        return ()
    from netcon.core.flannel.registry import FlannelStore

    store = FlannelStore.open(etcd.options, etcd.prefix)
    try:
        return tuple(store.listing().leases)
    finally:
        store.close()


def lease_of(snapshot: Snapshot, vxlan_mac: str | None, leases: Sequence[Lease]) -> Lease | None:
    """This host's lease by the one rule (``host_rules.own_lease``): its flannel device's MAC, else its
    addresses."""
    addresses = [a for i in snapshot.interfaces for a in i.addresses]
    return own_lease(leases, vxlan_mac, addresses)


def own_address(ctx: HostContext, leases: Sequence[Lease]) -> str | None:
    """The PublicIP of the lease that is this machine's (``lease_of``), so a cluster does not list this machine
    a second time as a host to reach over SSH; None when it has none or cannot be read."""
    from netcon.core.hosts.local import LocalHost

    host = LocalHost(ctx)
    try:
        snapshot = host.snapshot()
        try:
            device = host.vxlan(device_name(vni_of(leases))).device
        except NetconError:
            device = None
        mine = lease_of(snapshot, device.mac if device else None, leases)
        return mine.attrs.public_ip if mine is not None else None
    except NetconError:
        return None
    finally:
        host.close()


def vni_of(leases: Sequence[Lease]) -> int:
    return next((lease.attrs.vni for lease in leases if lease.attrs.vni is not None), 1)


def row(host: Host, leases: Sequence[Lease], doctor: bool = True, rtt: Rtt | None = None) -> HostRow:
    """Read one host; a host that cannot be read is a row saying why, never an exception."""
    base = HostRow(host.name, host.target, False, address=getattr(host, "address", None))
    try:
        snapshot = host.snapshot()
    except NetconError as error:
        return dataclasses.replace(base, error=str(error), down_since=getattr(host, "down_since", None))
    base = dataclasses.replace(
        base,
        reachable=True,
        docker_version=snapshot.docker_version,
        containers=len(snapshot.containers) if snapshot.docker_error is None else None,
        error=snapshot.docker_error,
    )
    try:
        device = host.vxlan(device_name(vni_of(leases))).device
    except NetconError:
        device = None
    mine = lease_of(snapshot, device.mac if device else None, leases)
    if mine is not None:
        base = dataclasses.replace(
            base,
            subnet=mine.subnet,
            lease_ttl_s=mine.ttl_seconds(),
            vtep_mac=mine.attrs.vtep_mac or (device.mac if device else None),
            address=base.address or mine.attrs.public_ip,
        )
    elif device is not None:
        base = dataclasses.replace(base, vtep_mac=device.mac)
    if doctor:
        base = with_doctor(host, base)
    if rtt is not None:
        base = dataclasses.replace(base, rtt_ms=rtt(host))
    return base


def with_doctor(host: Host, base: HostRow) -> HostRow:
    """``base`` (the host's row read without the doctor) with the doctor's count of errors and warnings on the
    host, or why it could not run."""
    try:
        findings = host.doctor().findings
    except NetconError as error:
        return dataclasses.replace(base, error=base.error or f"doctor: {error}")
    return dataclasses.replace(
        base,
        errors=sum(f.severity == ERROR for f in findings),
        warnings=sum(f.severity == WARNING for f in findings),
    )


def rows(hosts: Sequence[Host], leases: Sequence[Lease], doctor: bool = True, rtt: Rtt | None = None) -> list[HostRow]:
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=len(hosts), thread_name_prefix="netcon-cluster") as pool:
        return list(pool.map(lambda h: row(h, leases, doctor, rtt), hosts))


def doctor(hosts: Sequence[Host]) -> Report:
    """The doctor on every host, in parallel; each finding tagged with its host's name, a host that cannot be
    reached reported as a ``host-unreachable`` error."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, len(hosts)), thread_name_prefix="netcon-cluster") as pool:
        results = list(pool.map(_doctor_one, hosts))
    reports: list[HostReport] = []
    notes: list[str] = []
    etcd = None
    seen_etcd = False
    for host, result in zip(hosts, results):
        if isinstance(result, NetconError):
            reports.append(_unreachable(host, result))
            continue
        etcd = etcd or result.etcd
        notes += [f"{host.name}: {note}" for note in result.notes]
        for report in result.hosts:
            if report.host.startswith("etcd "):  # the store's own findings: every host reads the same etcd
                if not seen_etcd:
                    reports.append(report)
                seen_etcd = True
                continue
            label = host.name if report.host in ("local", host.name) or report.netns else f"{host.name} {report.host}"
            findings = tuple(dataclasses.replace(f, host=label) for f in report.findings)
            reports.append(dataclasses.replace(report, host=label, findings=findings))
    return Report(tuple(reports), time.perf_counter() - started, etcd, tuple(notes))


def _doctor_one(host: Host) -> Report | NetconError:
    try:
        return host.doctor()
    except NetconError as error:
        return error


def _unreachable(host: Host, error: NetconError) -> HostReport:
    finding = Finding(
        "host-unreachable",
        ERROR,
        host.target,
        (("target", host.target), ("error", str(error))),
        "netcon could not read this host, so none of its checks ran: its containers, bridges and overlay are "
        "unknown from here.",
        (f"ssh {host.target.removeprefix('ssh://')} netcon doctor",) if host.target.startswith("ssh://") else (),
        host.name,
    )
    return HostReport(host.name, None, None, (finding,), ("host-unreachable",), 0.0)


def icmp_rtt(timeout: float = 1.0) -> Rtt:
    """The round trip of one ICMP echo from this machine to a host's address (None: no address, or no answer)."""
    from netcon.core.context import HostContext
    from netcon.core.ping.engine import PingEngine
    from netcon.core.ping.probe import ProbeSpec
    from netcon.core.ping.sources import host_source

    def measure(host: Host) -> float | None:
        address = getattr(host, "address", None)
        if not address:
            return None
        with PingEngine(max_probes=1, max_pps=1.0) as engine:
            probe = engine.start(ProbeSpec(host_source(HostContext()), address, count=1, timeout=timeout))
            return engine.wait(probe, timeout + 1).last_rtt_ms

    return measure
