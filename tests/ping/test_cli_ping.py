"""``netcon ping`` as a sysadmin runs it, and every bad input refused in one sentence with nothing left running."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

import pytest

from netcon.core.context import HostContext
from netcon.core.errors import NotFound, UsageError
from netcon.core.ping.engine import PingEngine
from netcon.core.ping.probe import ProbeSpec
from netcon.core.ping.sources import find_source


def netcon(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netcon.cli", *args], capture_output=True, text=True, timeout=60)


def one_sentence(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netcon: ") and lines[0].endswith("."), result.stderr
    return lines[0]


def test_prints_like_ping(trio):
    _net, boxes, _ = trio
    app1, app2 = boxes["app1"], boxes["app2"]
    result = netcon("ping", "--from", app1.name, app2.name, "-c", "3", "-i", "0.2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{app2.name} -> {app2.ip} via 127.0.0.11 (from container {app1.name})"
    assert lines[1] == f"PING {app2.name} ({app2.ip}) 56(84) bytes of data."
    assert all(
        re.fullmatch(rf"64 bytes from {re.escape(app2.ip)}: icmp_seq={n} ttl=64 time=[\d.]+ ms", line)
        for n, line in zip((1, 2, 3), lines[2:5])
    )
    assert "3 packets transmitted, 3 received, 0% packet loss" in result.stdout
    assert re.search(r"rtt min/avg/max/mdev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms", result.stdout)


def test_no_reply_exits_1_and_json(trio):
    _net, boxes, _ = trio
    nobody = boxes["app1"].ip.rsplit(".", 1)[0] + ".251"
    result = netcon("ping", "--from", boxes["app1"].name, nobody, "-c", "2", "-i", "0.2", "-W", "0.5", "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["summary"]["loss_pct"] == 100.0 and [r["status"] for r in doc["replies"]] == ["timeout"] * 2


def test_matrix_json(trio):
    net, boxes, _ = trio
    result = netcon("ping", "matrix", "--network", net, "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 6
    assert all(set(r) == {"src", "dst", "dst_ip", "sent", "received", "rtt_ms_median", "ttl"} for r in rows)
    table = netcon("ping", "matrix", "--containers", f"{boxes['app1'].name},{boxes['app2'].name}")
    assert table.returncode == 0 and "2/2 ordered pairs reachable" in table.stdout


@pytest.mark.parametrize(
    "args, code, phrase",
    [
        (("--from", "nct-no-such-box", "1.2.3.4"), 2, "No container and no network namespace named"),
        (("--from", "{app1}", "{lone}"), 2, "does not resolve from container"),
        (("--from", "{app1}", "{app2}", "-c", "0"), 2, "Count 0 is out of range"),
        (("--from", "{app1}", "{app2}", "-i", "0.1"), 2, "add --flood-ok"),
        (("--from", "{app1}", "{app2}", "-i", "0.0001", "--flood-ok"), 2, "Interval 0.0001 s is out of range"),
        (("matrix",), 2, "Give exactly one of --network NAME or --containers"),
        (("matrix", "--network", "nct-no-such-net"), 2, "No network named"),
    ],
)
def test_bad_input_cli(trio, args, code, phrase):
    _net, boxes, _ = trio
    names = {k: b.name for k, b in boxes.items()}
    result = netcon("ping", *(a.format(**names) for a in args))
    assert result.returncode == code
    assert phrase in one_sentence(result)


def test_flood_ok_allows_a_short_interval(trio):
    _net, boxes, _ = trio
    result = netcon("ping", "--from", boxes["app1"].name, boxes["app2"].ip, "-c", "5", "-i", "0.01", "--flood-ok")
    assert result.returncode == 0 and "5 received" in result.stdout


def test_refused_sources(dobj):
    """Stopped, host-mode and none-mode containers: refused before any socket or thread exists."""
    stopped = dobj.container("stopped", command=("true",))
    stopped.wait(timeout=30)
    host = dobj.container("hostmode", network_mode="host")
    none = dobj.container("nonemode", network_mode="none")
    ctx = HostContext()
    threads = threading.active_count()
    with pytest.raises(UsageError, match=r"is not running \(exited\); start it"):
        find_source(ctx, stopped.name)
    with pytest.raises(UsageError, match=r"uses the host's network \(network mode host\)"):
        find_source(ctx, host.name)
    with pytest.raises(UsageError, match="network mode none: its namespace holds only loopback"):
        find_source(ctx, none.name)
    with pytest.raises(NotFound, match="No container and no network namespace named"):
        find_source(ctx, dobj.name("never-made"))
    assert threading.active_count() == threads
    result = netcon("ping", "--from", none.name, "127.0.0.1", "-c", "1")
    assert result.returncode == 2 and "only loopback" in one_sentence(result)


def test_bad_values_start_nothing():
    engine = PingEngine()
    source = find_source(HostContext(), "host")
    try:
        for bad in ({"count": 0}, {"interval": 0.1}, {"timeout": 0}, {"size": -1}, {"ttl": 0}):
            with pytest.raises(UsageError):
                engine.start(ProbeSpec(source, "127.0.0.1", **bad))
        assert engine._thread is None and engine._socks == {}
    finally:
        engine.close()
