"""The exporter against the real things: a live scrape that Debian's ``promtool check metrics`` accepts, and a
real Prometheus that scrapes it and answers, through its HTTP API, ``netcon_probe_success`` 1 for a healthy
pair and 0 once an iptables DROP is added in the test's own namespace."""

from __future__ import annotations

import subprocess

import pytest

from netcon.core.context import HostContext
from netcon.core.errors import UsageError
from netcon.core.exporter.config import ExporterConfig
from netcon.core.exporter.server import Exporter
from tests.capture.netpair import NetPair
from tests.exporter.procs import exporter, free_port, prometheus, query, scrape, wait_for


def samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric in an exposition."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels, _, value = line.rpartition(" ")
            found[labels[len(name) :]] = float(value)
    return found


@pytest.fixture
def pair():
    with NetPair() as made:
        yield made


def test_scrape_passes_promtool_and_reports_each_kind(dobj, tmp_path):
    """Containers on a network, a probe between two, a probe from a source that does not exist, and the
    network's matrix: promtool accepts the exposition, and each part is in it."""
    net = dobj.network("exp")
    for name in ("a", "b"):
        dobj.container(name, network=net.name)
    config = tmp_path / "exporter.toml"
    config.write_text(
        '[snapshot]\ninterval = "1s"\n[counters]\ninterval = "1s"\n'
        f'[[probe]]\nsource = "{dobj.name("a")}"\ntarget = "{dobj.name("b")}"\ninterval = "500ms"\n'
        f'[[probe]]\nsource = "{dobj.name("gone")}"\ntarget = "{dobj.name("b")}"\ninterval = "1s"\n'
        f'[[matrix]]\nnetwork = "{net.name}"\ninterval = "1s"\n'
    )
    port = free_port()
    with exporter(config, port) as proc:
        a, b = dobj.name("a"), dobj.name("b")

        def ready() -> str | None:
            text = scrape(port)
            got = samples(text, "netcon_probe_success")
            healthy = got.get(f'{{error="",network="",source="{a}",target="{b}"}}') == 1
            matrix = got.get(f'{{error="",network="{net.name}",source="{b}",target="{a}"}}') == 1
            return text if healthy and matrix and f'container="{a}"' in text else None

        text = wait_for(ready, 20, "the probe, the matrix and the veth counters")
        assert proc.poll() is None
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    success = samples(text, "netcon_probe_success")
    gone = dobj.name("gone")
    assert success[f'{{error="source-missing",network="",source="{gone}",target="{b}"}}'] == 0
    assert samples(text, "netcon_probe_rtt_seconds_count")[f'{{network="",source="{a}",target="{b}"}}'] >= 1
    assert samples(text, "netcon_probe_ttl")[f'{{network="",source="{a}",target="{b}"}}'] == 64
    received = [v for k, v in samples(text, "netcon_veth_receive_packets_total").items() if f'container="{a}"' in k]
    assert received and received[0] > 0
    assert samples(text, "netcon_network_containers")[f'{{driver="bridge",network="{net.name}"}}'] == 2
    bridge = next(k for k in samples(text, "netcon_bridge_ports") if f'network="{net.name}"' in k)
    assert samples(text, "netcon_bridge_ports")[bridge] == 2
    assert all(v == 1 for v in samples(text, "netcon_exporter_collector_up").values())
    assert samples(text, "netcon_doctor_findings")  # one gauge per check id and severity


def test_prometheus_sees_a_pair_go_down_after_an_iptables_drop(pair, tmp_path):
    config = tmp_path / "exporter.toml"
    source = f"netns:{pair.ns_a}"
    config.write_text(
        f'[[probe]]\nsource = "{source}"\ntarget = "{pair.addr_b}"\ninterval = "500ms"\ntimeout = "400ms"\n'
    )
    port = free_port()
    wanted = f'netcon_probe_success{{source="{source}",target="{pair.addr_b}"}}'
    rule = ["INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP"]
    with exporter(config, port), prometheus(tmp_path, port) as prom:
        up = wait_for(lambda: [r for r in query(prom, wanted) if r["value"][1] == "1"], 30, "success 1 in Prometheus")
        assert "error" not in up[0]["metric"]  # Prometheus drops an empty label
        subprocess.run(["ip", "netns", "exec", pair.ns_b, "iptables", "-I", *rule], check=True, timeout=20)
        try:
            down = wait_for(lambda: [r for r in query(prom, wanted) if r["value"][1] == "0"], 20, "success 0")
            assert down[0]["metric"]["error"] == "timeout"
        finally:
            subprocess.run(["ip", "netns", "exec", pair.ns_b, "iptables", "-D", *rule], timeout=20)


def test_exporter_refuses_a_context_that_may_change_things():
    with pytest.raises(UsageError, match="read-only"):
        Exporter(HostContext(read_only=False), ExporterConfig(), ("127.0.0.1", 0))
