"""Run every check on every host: the facts of all hosts are read in parallel (one thread per host, etcd
once), then the checks, pure functions of the facts, run in a fixed order. Nothing is changed."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from netcon.core.context import HostContext
from netcon.core.doctor import flannel, host, links
from netcon.core.doctor.facts import (
    RENEW_MARGIN_S,
    FlannelView,
    HostEvidence,
    Target,
    read_evidence,
    read_flannel,
)
from netcon.core.doctor.findings import ERROR, WARNING, Finding, HostReport, Report, order
from netcon.core.doctor.fixes import restart_etcd, restart_flannel
from netcon.core.etcd import EtcdOptions
from netcon.core.snapshot import SnapshotCollector

CHECKS = host.CHECKS + flannel.CHECKS + links.CHECKS
NO_ETCD_NOTE = (
    "A VXLAN device exists but no etcd endpoint was given: pass --etcd-endpoints (and --etcd-prefix) "
    "to check it against flannel's leases."
)
ETCD_IDS = ("etcd-unreachable", "flannel-config-missing", "lease-malformed", "lease-outside-network")
CHECK_IDS = (*tuple(i for ids, _ in CHECKS for i in ids), *ETCD_IDS)


def target_for(ctx: HostContext, label: str | None = None) -> Target:
    return Target(label or (os.path.basename(ctx.netns) if ctx.netns else "local"), ctx)


def check_host(facts: HostEvidence) -> HostReport:
    started = time.perf_counter()
    findings: list[Finding] = []
    for ids, check in CHECKS:
        findings.extend(f for f in check(facts) if f.id in ids)
    label = facts.target.label
    findings = [Finding(f.id, f.severity, f.object, f.evidence, f.explanation, f.fix, label) for f in findings]
    return HostReport(
        label,
        facts.target.ctx.netns,
        facts.target.ctx.docker_host,
        order(findings),
        tuple(i for ids, _ in CHECKS for i in ids),
        facts.read_s + time.perf_counter() - started,
    )


def etcd_findings(view: FlannelView, targets: list[Target]) -> tuple[Finding, ...]:
    """Findings about the flannel store itself, reported once for the run."""
    lab = next((t for t in targets if t.lab_prefix), None)
    label = f"etcd {','.join(view.endpoints)}"
    if view.unreachable:
        return (
            Finding(
                "etcd-unreachable",
                ERROR,
                ",".join(view.endpoints),
                (("endpoints", ", ".join(view.endpoints)), ("API", view.api), ("error", view.error or "")),
                "No etcd endpoint answers: flannel's config and leases cannot be read, so the lease, route, FDB and "
                "neighbour checks did not run. The agents keep forwarding with what they have, but cannot renew "
                "their leases (they expire after 24 h) or learn about hosts that come and go.",
                restart_etcd(lab),
                label,
            ),
        )
    if view.error:
        return (config_missing(view, lab, label),)
    return lease_records(view, label)


def config_missing(view: FlannelView, lab: Target | None, label: str) -> Finding:
    return Finding(
        "flannel-config-missing",
        WARNING,
        f"{view.prefix}/config",
        (("etcd", view.where), ("error", view.error or "")),
        "etcd answers but holds no flannel config under this prefix: either the prefix or API is wrong "
        "(flanneld's default is /coreos.com/network, the seed uses /atomic.io/network) or flannel was never "
        "configured, and flanneld waits for it forever.",
        restart_flannel(lab) if lab else (),
        label,
    )


def lease_records(view: FlannelView, label: str) -> tuple[Finding, ...]:
    """lease-malformed: a key under subnets/ that is not a lease; lease-outside-network: a lease outside the
    configured Network (left from an earlier config: flanneld never hands it out again, routes to it stay)."""
    findings = [
        Finding(
            "lease-malformed",
            WARNING,
            broken.key,
            (("key", broken.key), ("error", broken.error)),
            "This key under flannel's subnets is not a lease flanneld can read: flanneld and netcon's agent skip "
            "it, so no host programs a route for it, and its subnet (if its name is one) cannot be acquired while "
            "the key exists. Delete it, or write a valid lease in its place.",
            (_etcdctl_delete(view, broken.key),),
            label,
        )
        for broken in view.broken
    ]
    network = view.config.net if view.config else None
    findings += [
        Finding(
            "lease-outside-network",
            WARNING,
            f"lease {lease.subnet}",
            (("lease", lease.subnet), ("PublicIP", lease.attrs.public_ip), ("Network", str(network))),
            f"The lease {lease.subnet} of {lease.attrs.public_ip} lies outside the configured Network {network}: "
            f"it is left from an earlier config. The other hosts still route {lease.subnet} to that host, while "
            f"containers there are outside the overlay's Network; its agent replaces it when it restarts.",
            (f"netcon flannel lease revoke {lease.subnet} {view.flags}",),
            label,
        )
        for lease in view.leases
        if network is not None and not lease.network.subnet_of(network)
    ]
    return tuple(findings)


def _etcdctl_delete(view: FlannelView, key: str) -> str:
    endpoints = ",".join(view.endpoints)
    if view.where.startswith("etcd v2"):
        return f"env ETCDCTL_API=2 etcdctl --endpoints {endpoints} rm {shlex.quote(key)}"
    return f"env ETCDCTL_API=3 etcdctl --endpoints {endpoints} del {shlex.quote(key)}"


def run(
    targets: list[Target],
    etcd: EtcdOptions | None = None,
    etcd_prefix: str | None = None,
    renew_margin: float = RENEW_MARGIN_S,
    collectors: Mapping[str, SnapshotCollector] | None = None,
) -> Report:
    """Check every target (read-only); with ``etcd`` also flannel's store and each host's overlay. ``collectors``:
    a long-lived caller's warm snapshot collector per target label (a cold one inspects every container)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(targets) + 1) as pool:
        view_future = pool.submit(read_flannel, etcd, etcd_prefix, renew_margin) if etcd else None
        view = view_future.result() if view_future else None
        usable = view if view and not view.error else None
        facts = list(pool.map(lambda t: read_evidence(t, usable, (collectors or {}).get(t.label)), targets))
    reports = [check_host(f) for f in facts]
    notes = tuple(f"{f.target.label}: {p}" for f in facts for p in f.problems)
    if view is not None:
        extra = etcd_findings(view, targets)
        if extra:
            reports.append(HostReport(extra[0].host, None, None, order(list(extra)), ETCD_IDS, 0.0))
    elif any(i.kind == "vxlan" for f in facts if f.snapshot for i in f.snapshot.interfaces):
        notes += (NO_ETCD_NOTE,)
    return Report(
        tuple(reports), time.perf_counter() - started, view.where + " " + view.prefix if view else None, notes
    )
