"""The engine against the real kernel, checked against iputils ping run in the same namespace."""

from __future__ import annotations

import threading
import time

import pytest

from netcon.core.context import HostContext
from netcon.core.errors import UsageError
from netcon.core.ping.probe import ProbeFinished, ProbeSpec, Reply
from netcon.core.ping.sources import find_source, host_source
from tests.ping.conftest import real_ping

SPEC = {"count": 3, "interval": 0.2, "timeout": 1.0}


def run(engine, spec: ProbeSpec) -> tuple[list[Reply], object]:
    replies: list[Reply] = []
    probe = engine.start(spec, on_event=lambda e: replies.append(e) if isinstance(e, Reply) else None)
    return replies, engine.wait(probe, 10)


def test_same_bridge_agrees_with_real_ping(engine, trio):
    _net, boxes, _ = trio
    app1, app2 = boxes["app1"], boxes["app2"]
    replies, summary = run(engine, ProbeSpec(find_source(HostContext(), app1.name), app2.ip, **SPEC))
    theirs = real_ping(app1.netns, app2.ip)
    assert (summary.transmitted, summary.received) == (theirs.transmitted, theirs.received) == (3, 3)
    assert {r.ttl for r in replies} == set(theirs.ttls) == {64}
    assert [r.seq for r in replies] == [1, 2, 3] and all(r.status == "reply" and r.size == 64 for r in replies)
    assert abs(summary.rtt_avg_ms - theirs.avg_ms) < 2.0, theirs.output


def test_host_source_uses_raw_fallback_and_agrees(engine, trio):
    """The host's ping_group_range usually excludes gid 0: the engine falls back to a raw socket there."""
    _net, boxes, _ = trio
    app2 = boxes["app2"]
    _, summary = run(engine, ProbeSpec(host_source(HostContext()), app2.ip, **SPEC))
    theirs = real_ping(None, app2.ip)
    assert summary.received == theirs.received == 3
    assert summary.ttl == theirs.ttls[0] == 64


def test_loss_agrees_for_an_address_nobody_has(engine, trio):
    _net, boxes, _ = trio
    app1 = boxes["app1"]
    nobody = app1.ip.rsplit(".", 1)[0] + ".250"
    replies, summary = run(engine, ProbeSpec(find_source(HostContext(), app1.name), nobody, **SPEC))
    theirs = real_ping(app1.netns, nobody)
    assert summary.loss_pct == 100.0 and theirs.received == 0
    assert [r.status for r in replies] == ["timeout"] * 3


def test_reject_is_unreachable_and_drop_is_timeout(engine, trio, netns_iptables):
    _net, boxes, _ = trio
    app1, app3 = boxes["app1"], boxes["app3"]
    source = find_source(HostContext(), app1.name)
    rule = ("-p", "icmp", "--icmp-type", "echo-request", "-s", app1.ip)
    netns_iptables(app3.netns, "INPUT", *rule, "-j", "REJECT", "--reject-with", "icmp-host-unreachable")
    replies, summary = run(engine, ProbeSpec(source, app3.ip, **SPEC))
    theirs = real_ping(app1.netns, app3.ip)
    assert [r.status for r in replies] == ["unreachable"] * 3
    assert all(r.responder == app3.ip and r.detail == "Destination Host Unreachable" for r in replies)
    assert "Destination Host Unreachable" in theirs.output and theirs.received == summary.received == 0
    netns_iptables.remove(app3.netns, "INPUT", *rule, "-j", "REJECT", "--reject-with", "icmp-host-unreachable")
    netns_iptables(app3.netns, "INPUT", *rule, "-j", "DROP")
    replies, _ = run(engine, ProbeSpec(source, app3.ip, **SPEC))
    assert [r.status for r in replies] == ["timeout"] * 3


def test_ttl_exceeded_at_the_host_router(engine, trio):
    """lone (default bridge) -> app1 (user network) is routed by the host: with TTL 1 the host answers
    Time to live exceeded from the default bridge's gateway, as iputils ping -t 1 shows."""
    _net, boxes, _ = trio
    lone, app1 = boxes["lone"], boxes["app1"]
    replies, _ = run(engine, ProbeSpec(find_source(HostContext(), lone.name), app1.ip, ttl=1, **SPEC))
    theirs = real_ping(lone.netns, app1.ip, extra=("-t", "1"))
    assert [r.status for r in replies] == ["ttl-exceeded"] * 3
    responder = replies[0].responder
    assert f"From {responder} icmp_seq=1 Time to live exceeded" in theirs.output


def test_one_socket_per_namespace_serves_many_probes(engine, trio):
    _net, boxes, _ = trio
    source = find_source(HostContext(), boxes["app1"].name)
    finished = []
    unsubscribe = engine.subscribe(lambda e: finished.append(e) if isinstance(e, ProbeFinished) else None)
    ids = engine.start_many([ProbeSpec(source, boxes[n].ip, **SPEC) for n in ("app2", "app3")] * 5, spread=True)
    assert len(engine._socks) == 1  # white-box: ten probes, one namespace, one socket
    summaries = [engine.wait(i, 10) for i in ids]
    unsubscribe()
    assert all(s.received == 3 and s.ttl == 64 for s in summaries)
    assert sorted(e.summary.probe for e in finished) == sorted(ids)
    assert engine._socks == {} and engine.probes() == ()


def test_endless_probe_until_stopped(engine, trio):
    _net, boxes, _ = trio
    source = find_source(HostContext(), boxes["app1"].name)
    probe = engine.start(ProbeSpec(source, boxes["app2"].ip, interval=0.2, timeout=1.0))
    time.sleep(0.9)
    running = engine.summary(probe)
    assert running.running and running.received >= 3 and len(running.recent_rtts_ms) == running.received
    stopped = engine.stop(probe)
    assert not stopped.running and engine.probes() == ()


def test_caps_refuse_without_starting_anything(engine, trio):
    _net, boxes, _ = trio
    source = find_source(HostContext(), boxes["app1"].name)
    threads = threading.active_count()
    engine.max_probes, engine.max_pps = 2, 9
    with pytest.raises(UsageError, match="cap is 2"):
        engine.start_many([ProbeSpec(source, boxes["app2"].ip)] * 3)
    with pytest.raises(UsageError, match="over the cap of 9"):
        engine.start_many([ProbeSpec(source, boxes["app2"].ip, interval=0.2)] * 2)
    assert engine.probes() == () and engine._socks == {} and threading.active_count() == threads


@pytest.fixture
def lab_netns():
    """A bare named namespace with only loopback up, like a lab host before it is wired (removed after)."""
    import subprocess
    import uuid

    name = f"nctping{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_named_netns_source(engine, lab_netns):
    """A fresh namespace has ping_group_range "1 0", so this also exercises the raw-socket fallback."""
    source = find_source(HostContext(), f"netns:{lab_netns}")
    assert (source.kind, source.netns) == ("netns", f"/var/run/netns/{lab_netns}")
    replies, summary = run(engine, ProbeSpec(source, "127.0.0.1", **SPEC))
    theirs = real_ping(source.netns, "127.0.0.1")
    assert summary.received == theirs.received == 3 and {r.ttl for r in replies} == set(theirs.ttls) == {64}
    assert find_source(HostContext(), lab_netns).netns == source.netns  # a bare name works when no container has it
