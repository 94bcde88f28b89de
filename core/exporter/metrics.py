"""Turns the last readings into Prometheus metric families at scrape time: no I/O here, only copies of what
the readings left. Names, units and types follow Prometheus' conventions (base units, ``_total`` counters,
``_seconds``); every label value comes from a bounded set: names of the host's containers, networks,
bridges and leases, the config's probes, check ids, and fixed error words."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from netcon.core.exporter.doctor_reader import DoctorReading
from netcon.core.exporter.flannel_reader import FlannelReading
from netcon.core.exporter.inventory import Inventory
from netcon.core.exporter.loop import Health
from netcon.core.exporter.probes import RTT_BUCKETS, ProbeView

PROBE = ["source", "target", "network"]
VETH = ["interface", "container", "container_interface", "network", "bridge"]
VETH_COUNTERS = (  # (metric name part, Counters field, help)
    ("receive_bytes", "rx_bytes", "Bytes the host-side veth received (what the container sent)."),
    ("transmit_bytes", "tx_bytes", "Bytes the host-side veth sent (what the container received)."),
    ("receive_packets", "rx_packets", "Packets the host-side veth received."),
    ("transmit_packets", "tx_packets", "Packets the host-side veth sent."),
    ("receive_errors", "rx_errors", "Receive errors of the host-side veth."),
    ("transmit_errors", "tx_errors", "Transmit errors of the host-side veth."),
    ("receive_drops", "rx_dropped", "Packets dropped on receive by the host-side veth."),
    ("transmit_drops", "tx_dropped", "Packets dropped on transmit by the host-side veth."),
)
KERNEL_CHECKS = ("lease", "device", "vni", "mtu", "bridge")
BUCKET_BOUNDS = [*(f"{b:g}" for b in RTT_BUCKETS), "+Inf"]


class FamilyCollector(Collector):
    """One group of families, from a function that yields them (a registry of its own renders just these)."""

    def __init__(self, families: Callable[[], Iterator[Metric]]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return self.families()


def probe_metrics(views: list[ProbeView]) -> Iterator[Metric]:
    success = GaugeMetricFamily(
        "netcon_probe_success",
        "1 when the probe's last echo was answered, else 0; error says why not (starting, source-missing, "
        "source-unusable, source-error, target-unresolved, timeout, unreachable, ttl-exceeded, send).",
        labels=[*PROBE, "error"],
    )
    rtt = HistogramMetricFamily("netcon_probe_rtt_seconds", "Round-trip time of answered echoes.", labels=PROBE)
    ttl = GaugeMetricFamily("netcon_probe_ttl", "IP TTL of the last reply.", labels=PROBE)
    loss = GaugeMetricFamily(
        "netcon_probe_loss_ratio", "Share of the last 60 echoes (fewer at first) not answered.", labels=PROBE
    )
    sent = CounterMetricFamily("netcon_probe_sent", "Echoes sent.", labels=PROBE)
    received = CounterMetricFamily("netcon_probe_received", "Echoes answered.", labels=PROBE)
    for v in views:
        labels = [v.labels.source, v.labels.target, v.labels.network]
        success.add_metric([*labels, v.error], v.success)
        rtt.add_metric(labels, list(zip(BUCKET_BOUNDS, [*v.buckets, v.rtt_count])), v.rtt_sum)
        if v.ttl is not None:
            ttl.add_metric(labels, v.ttl)
        if v.loss_ratio is not None:
            loss.add_metric(labels, v.loss_ratio)
        sent.add_metric(labels, v.sent)
        received.add_metric(labels, v.received)
    yield from (success, rtt, ttl, loss, sent, received)


def inventory_metrics(inv: Inventory) -> Iterator[Metric]:
    docker = GaugeMetricFamily("netcon_docker_up", "1 when the last snapshot could read the Docker engine.")
    docker.add_metric([], 1 if inv.docker_up else 0)
    yield docker
    counters = dict(inv.counters)
    families = [CounterMetricFamily(f"netcon_veth_{name}", text, labels=VETH) for name, _field, text in VETH_COUNTERS]
    for row in inv.veths:
        c = counters.get(row.ifindex)
        if c is None:
            continue
        labels = [row.interface, row.container, row.container_interface, row.network, row.bridge]
        for family, (_name, field, _text) in zip(families, VETH_COUNTERS):
            family.add_metric(labels, getattr(c, field))
    yield from families
    ports = GaugeMetricFamily("netcon_bridge_ports", "Interfaces enslaved to the bridge.", labels=["bridge", "network"])
    stp = GaugeMetricFamily("netcon_bridge_stp_enabled", "1 when STP runs on the bridge.", labels=["bridge", "network"])
    for b in inv.bridges:
        ports.add_metric([b.bridge, b.network], b.ports)
        stp.add_metric([b.bridge, b.network], 1 if b.stp else 0)
    yield from (ports, stp)
    networks = GaugeMetricFamily(
        "netcon_network_containers", "Running containers attached to the Docker network.", labels=["network", "driver"]
    )
    for name, driver, count in inv.networks:
        networks.add_metric([name, driver], count)
    containers = GaugeMetricFamily("netcon_containers", "Docker containers by state.", labels=["state"])
    for state, count in inv.containers:
        containers.add_metric([state], count)
    yield from (networks, containers)


def flannel_metrics(reading: FlannelReading, now: float) -> Iterator[Metric]:
    leases = GaugeMetricFamily("netcon_flannel_leases", "Subnet leases in etcd (reservations included).")
    broken = GaugeMetricFamily("netcon_flannel_broken_keys", "Keys under flannel's subnets/ that are not leases.")
    ttl = GaugeMetricFamily(
        "netcon_flannel_lease_ttl_seconds", "Seconds until the lease expires.", labels=["subnet", "public_ip"]
    )
    own = GaugeMetricFamily("netcon_flannel_own_lease", "1 for the lease that is this host's.", labels=["subnet"])
    match = GaugeMetricFamily(
        "netcon_flannel_kernel_match",
        "1 when this host's kernel matches its lease: lease (one is this host's), device (flannel.<VNI> exists), "
        "vni, mtu (as flanneld sets it), bridge (Docker's bridge inside the lease).",
        labels=["check"],
    )
    if reading.read:
        leases.add_metric([], len(reading.leases))
        broken.add_metric([], reading.broken)
        for row in reading.leases:
            if row.expires_at is not None:
                ttl.add_metric([row.subnet, row.public_ip], max(0.0, row.expires_at - now))
        m = reading.match
        if m is not None:
            if m.lease is not None:
                own.add_metric([m.lease], 1)
            verdicts = (m.lease is not None, m.device_present, m.vni_ok, m.mtu_ok, m.bridge_in_lease)
            for check, verdict in zip(KERNEL_CHECKS, verdicts):
                if verdict is not None:
                    match.add_metric([check], 1 if verdict else 0)
    yield from (leases, broken, ttl, own, match)


def doctor_metrics(reading: DoctorReading) -> Iterator[Metric]:
    findings = GaugeMetricFamily(
        "netcon_doctor_findings",
        "Findings of the last doctor run, per check id and severity.",
        labels=["id", "severity"],
    )
    for check, severity, count in reading.counts:
        findings.add_metric([check, severity], count)
    duration = GaugeMetricFamily("netcon_doctor_run_duration_seconds", "How long the last doctor run took.")
    if reading.read:
        duration.add_metric([], reading.duration_s)
    yield from (findings, duration)


def health_metrics(health: list[Health], scrapes: tuple[list[tuple[str, int]], float, int]) -> Iterator[Metric]:
    labels = ["collector"]
    up = GaugeMetricFamily("netcon_exporter_collector_up", "1 when the reading's last run succeeded.", labels=labels)
    errors = CounterMetricFamily("netcon_exporter_collector_errors", "Failed runs of the reading.", labels=labels)
    runs = CounterMetricFamily("netcon_exporter_collector_runs", "Runs of the reading.", labels=labels)
    took = GaugeMetricFamily(
        "netcon_exporter_collector_duration_seconds", "How long the reading's last run took.", labels=labels
    )
    last = GaugeMetricFamily(
        "netcon_exporter_collector_last_success_timestamp_seconds",
        "When the reading last succeeded (Unix time).",
        labels=labels,
    )
    for h in health:
        up.add_metric([h.name], 1 if h.ok else 0)
        errors.add_metric([h.name], h.errors)
        runs.add_metric([h.name], h.runs)
        took.add_metric([h.name], h.duration_s)
        if h.last_success is not None:
            last.add_metric([h.name], h.last_success)
    buckets, total, failed = scrapes
    duration = HistogramMetricFamily(
        "netcon_exporter_scrape_duration_seconds", "How long earlier scrapes of this exporter took."
    )
    duration.add_metric([], buckets, total)
    scrape_errors = CounterMetricFamily("netcon_exporter_scrape_errors", "Scrapes that failed with an error.")
    scrape_errors.add_metric([], failed)
    yield from (up, errors, runs, took, last, duration, scrape_errors)
