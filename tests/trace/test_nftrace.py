"""The temporary nftrace rules: only the probe's packets, quoted as iptables prints them, always removed —
on success, when the probe fails, when adding them fails half-way, and when netcon is killed (the table is
owned by its netlink socket). Adding them is a change: refused in read-only mode and audited."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from netcon.core.context import HostContext
from netcon.core.errors import NetconError, ReadOnlyError
from netcon.core.trace import nftrace
from netcon.core.trace.nftrace import TraceRules
from netcon.core.trace.probe import Identity

pytestmark = pytest.mark.lab
PROBE = Identity("icmp", 43210, b"t" * 16)


def tables(path: str) -> list[str]:
    listed = subprocess.run(["nsenter", f"--net={path}", "nft", "list", "tables"], capture_output=True, text=True)
    return [line for line in listed.stdout.splitlines() if "netcon-trace" in line]


def test_removed_after_use_and_when_the_probe_fails(trace_lab, audit_log):
    paths = [trace_lab.host("h1").netns_path, trace_lab.host("h2").netns_path]
    seen: list[list[str]] = []

    def body() -> int:
        seen.append([line for p in paths for line in tables(p)])
        return 7

    result, traced = nftrace.traced(HostContext(), ["h1", "h2"], paths, PROBE, body)
    assert result == 7 and set(traced.events) == set(paths)
    assert len(seen[0]) == 2 and all("table ip netcon-trace-" in line for line in seen[0])  # one per namespace
    assert [tables(p) for p in paths] == [[], []]

    def failing() -> None:
        raise RuntimeError("the probe failed")

    with pytest.raises(RuntimeError):
        nftrace.traced(HostContext(), ["h1", "h2"], paths, PROBE, failing)
    assert [tables(p) for p in paths] == [[], []]
    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert [r["outcome"] for r in records] == ["started", "ok", "started", "failed"]
    assert records[0]["operation"] == "trace.nftrace" and records[0]["arguments"]["namespaces"] == ["h1", "h2"]


def test_removed_when_adding_fails_half_way(trace_lab):
    h1 = trace_lab.host("h1").netns_path
    rules = TraceRules([h1, "/proc/self/ns/net-no-such"])
    with pytest.raises(NetconError):
        rules.add(PROBE)
    assert tables(h1) == [] and not rules.sockets


def test_refused_read_only(trace_lab, audit_log):
    h1 = trace_lab.host("h1").netns_path
    with pytest.raises(ReadOnlyError):
        nftrace.traced(HostContext(read_only=True), ["h1"], [h1], PROBE, lambda: None)
    assert tables(h1) == []
    (record,) = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert record["outcome"] == "read-only"
    code, result, err = trace_lab.trace("h1-probe", "h2-probe", "--read-only")  # the trace goes on without it
    assert code == 0 and result["reply_seen"], err
    assert any("nftrace not used" in note and "read-only" in note for note in result["notes"])


def test_gone_when_netcon_is_killed(trace_lab):
    """The kernel deletes an owned table with its socket: a netcon killed mid-trace leaves no rule."""
    h1 = trace_lab.host("h1").netns_path
    script = (
        "import sys, time\n"
        "from netcon.core.trace.nftrace import TraceRules\n"
        "from netcon.core.trace.probe import Identity\n"
        f"rules = TraceRules([{h1!r}])\nrules.add(Identity('icmp', 43211, b''))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert len(tables(h1)) == 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert tables(h1) == []
