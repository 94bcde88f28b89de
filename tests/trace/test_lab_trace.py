"""The issue's fidelity list, proven by breaking one real lab by hand: each fault must be named at the right
hop with the right reason (and, where nftables traces it, the exact rule), a healthy cross-host path must
show every hop seen and the reply with TTL 62, and no trace may leave a trace rule behind. Each case breaks
the lab, traces, and repairs it in ``finally`` (with the fix the trace printed, where it printed one)."""

from __future__ import annotations

import shlex
import subprocess
import time

import pytest

from netcon.core.trace.run import Options, trace

pytestmark = pytest.mark.lab


def hops(result: dict, **match: str) -> list[dict]:
    return [h for h in result["hops"] if all(h[k] == v for k, v in match.items())]


def run_fix(command: str) -> None:
    """A fix exactly as the trace printed it, as an argument list (no shell)."""
    subprocess.run(shlex.split(command), check=True, capture_output=True)


def test_healthy_cross_host_path_every_hop_seen(trace_lab):
    code, result, err = trace_lab.trace("h1-probe", "h2-probe")
    assert code == 0, err
    assert result["reached"] and result["reply_seen"] and result["failed_hop"] is None
    assert result["last_line"] == "reached, reply seen"
    captured = [h for h in result["hops"] if h["seen"] is not None]
    assert len(captured) >= 20 and all(h["seen"] for h in captured)  # every hop with an interface: seen
    assert {h["host"] for h in captured} == {"h1", "h2"}
    assert {"veth", "bridge", "vxlan", "underlay"} <= {h["stage"] for h in captured}
    # the request arrives with TTL 62 (two forwarding hosts), and so does the reply back at the source
    (arrived,) = hops(result, direction="request", netns="container h2-probe", device="eth0")
    (back,) = hops(result, direction="reply", netns="container h1-probe", device="eth0")
    assert arrived["seen"]["ttl"] == 62 and back["seen"]["ttl"] == 62
    # h1 masquerades the source behind flannel.1's address: the rewrite shows where it happens
    (out,) = hops(result, direction="request", host="h1", device="flannel.1")
    (left,) = hops(result, direction="request", host="h1", netns="container h1-probe", device="eth0")
    assert out["seen"]["src"] != left["seen"]["src"] == result["src_ip"]
    # nftrace quoted the exact rule h1's FORWARD accepted it with
    (firewall,) = hops(result, direction="request", host="h1", stage="firewall")
    assert "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT accept" in firewall["traced"]
    # the route h1 predicted is the one `ip route get` gives
    (route,) = hops(result, direction="request", host="h1", netns="h1", stage="route")
    reference = trace_lab.ns("h1", "ip", "route", "get", result["dst_ip"], "from", result["src_ip"], "iif", "docker0")
    assert "dev flannel.1" in reference.stdout and "dev flannel.1" in route["holds"]
    assert trace_lab.trace_tables() == []


def test_forward_policy_drop_on_h2(trace_lab):
    trace_lab.ns("h2", "iptables", "-P", "FORWARD", "DROP")  # the seed's own -P FORWARD ACCEPT undone
    try:
        code, result, _ = trace_lab.trace("h1-probe", "h2-probe")
    finally:
        trace_lab.ns("h2", "iptables", "-P", "FORWARD", "ACCEPT")
    assert code == 1 and not result["reply_seen"]
    failed = result["failed_hop"]
    assert (failed["host"], failed["netns"], failed["stage"], failed["direction"]) == (
        "h2",
        "h2",
        "firewall",
        "request",
    )
    assert failed["rule"] == "policy FORWARD DROP" and "policy drop" in failed["reason"]
    assert "filter FORWARD policy drop" in failed["reason"]  # nftrace saw the kernel apply the policy
    (decap,) = hops(result, direction="request", host="h2", device="flannel.1")
    assert decap["seen"]  # the last hop before the drop; nothing after it is predicted
    assert result["hops"][-1]["stage"] == "firewall" and not hops(result, direction="reply")
    assert trace_lab.trace_tables() == []


def test_two_user_networks_isolation_named_by_chain(trace_lab):
    api = trace_lab.docker("h1")
    api.create_network("trnet2", driver="bridge", labels={"netcon.lab": trace_lab.prefix})
    made = api.create_container(
        "netcon/busybox",
        ["sleep", "2147483647"],
        name="trother",
        host_config=api.create_host_config(network_mode="trnet2"),
        labels={"netcon.lab": trace_lab.prefix},
    )
    try:
        api.start(made["Id"])
        code, result, _ = trace_lab.trace("app1", "trother")
    finally:
        api.remove_container(made["Id"], force=True)
        api.remove_network("trnet2")
    assert code == 1
    failed = result["failed_hop"]
    assert (failed["host"], failed["stage"], failed["direction"]) == ("h1", "firewall", "request")
    assert failed["rule"].startswith("-A DOCKER-ISOLATION-STAGE-2 -o br-") and failed["rule"].endswith("-j DROP")
    assert "DOCKER-ISOLATION-STAGE-2" in failed["reason"]
    assert any("network connect trnet2 app1" in fix for fix in failed["fix"])


def test_missing_fdb_entry_names_the_lease(trace_lab):
    h2 = trace_lab.host("h2")
    mac = trace_lab.ns("h1", "bridge", "fdb", "show", "dev", "flannel.1").stdout.split()[0]
    trace_lab.ns("h1", "bridge", "fdb", "del", mac, "dev", "flannel.1", "dst", h2.address, "self")
    try:
        code, result, _ = trace_lab.trace("h1-probe", "h2-probe")
        failed = result["failed_hop"]
        assert code == 1
        assert (failed["host"], failed["device"], failed["stage"]) == ("h1", "flannel.1", "vxlan")
        assert f"missing FDB entry for VTEP {mac}" in failed["reason"]
        assert f"of {h2.address} (VTEP {mac}) should have produced it" in failed["reason"]
        # seen on flannel.1, never on the underlay: that is where it died
        (tunnel,) = hops(result, direction="request", host="h1", device="flannel.1")
        assert tunnel["seen"]
        assert not hops(result, direction="request", host="h1", device="eth0", stage="underlay")
        run_fix(failed["fix"][0])  # the fix as printed puts the entry back
    finally:
        trace_lab.ns("h1", "bridge", "fdb", "replace", mac, "dev", "flannel.1", "dst", h2.address, "self", "permanent")
    assert mac in trace_lab.ns("h1", "bridge", "fdb", "show", "dev", "flannel.1").stdout


def test_missing_route_dies_at_the_routing_decision(trace_lab):
    lease = next(r for r in trace_lab.ns("h1", "ip", "route").stdout.splitlines() if "flannel.1" in r)
    subnet = lease.split()[0]
    trace_lab.ns("h1", "ip", "route", "del", subnet)
    try:
        code, result, _ = trace_lab.trace("h1-probe", "h2-probe")
        failed = result["failed_hop"]
        assert code == 1
        assert (failed["host"], failed["netns"], failed["stage"], failed["device"]) == ("h1", "h1", "route", "")
        assert failed["reason"].startswith(f"no route to {result['dst_ip']}")
        assert f"the lease {subnet}" in failed["reason"]
        assert "the probe's socket: Destination Net Unreachable" in result["notes"]
        run_fix(failed["fix"][0])
        assert subnet in trace_lab.ns("h1", "ip", "route").stdout
    finally:
        trace_lab.ns("h1", "ip", "route", "replace", *lease.split()[:5], "onlink", check=False)


def test_input_drop_in_the_destination_container(trace_lab):
    rule = ("INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP")
    trace_lab.in_container("h2", "h2-probe", "iptables", "-I", *rule)
    try:
        code, result, _ = trace_lab.trace("h1-probe", "h2-probe")
    finally:
        trace_lab.in_container("h2", "h2-probe", "iptables", "-D", *rule)
    assert code == 1 and result["reached"] and not result["reply_seen"]
    failed = result["failed_hop"]
    assert (failed["netns"], failed["stage"], failed["direction"]) == ("container h2-probe", "firewall", "request")
    assert failed["rule"] == "-A INPUT -p icmp -m icmp --icmp-type 8 -j DROP"
    (eth0,) = hops(result, direction="request", netns="container h2-probe", device="eth0")
    assert eth0["seen"]  # the request reached the destination's eth0; no reply was sent
    assert not hops(result, direction="reply")


def test_published_port_dnat_shown_where_it_happens(trace_lab):
    api = trace_lab.docker("h1")
    made = api.create_container(
        "netcon/busybox",
        ["httpd", "-f", "-p", "80", "-h", "/var/www"],
        name="trweb",
        ports=[80],
        host_config=api.create_host_config(port_bindings={80: 8080}),
        labels={"netcon.lab": trace_lab.prefix},
    )
    h1 = trace_lab.host("h1")
    try:
        api.start(made["Id"])
        web = trace_lab.address("h1", "trweb")
        code, result, err = trace_lab.trace("h2-probe", f"{h1.address}:8080/tcp")
    finally:
        api.remove_container(made["Id"], force=True)
    assert code == 0, err
    assert result["reply_seen"] and result["proto"] == "tcp" and result["port"] == 8080
    (rewrite,) = hops(result, direction="request", host="h1", stage="firewall")
    assert "DNAT" in rewrite["holds"] and f"{h1.address} -> {web}" in rewrite["holds"]
    (arriving,) = hops(result, direction="request", host="h1", netns="h1", device="eth0")
    (bridged,) = hops(result, direction="request", host="h1", device="docker0")
    assert arriving["seen"]["dst"] == h1.address and bridged["seen"]["dst"] == web  # before and after the DNAT
    (deliver,) = hops(result, direction="request", netns="container trweb", stage="deliver")
    assert ":80 LISTEN" in deliver["holds"]
    (answer,) = hops(result, direction="reply", host="h2", netns="h2", device="eth0")
    assert answer["seen"]["src"] == h1.address  # conntrack undid the DNAT on the way back


def test_closed_ports_answer_with_a_reset_and_port_unreachable(trace_lab):
    """Nothing listens on the port: the request is delivered and the refusal comes back the whole way."""
    code, result, _ = trace_lab.trace("h1-probe", "h2-probe:5353/udp")
    assert code == 0 and result["last_line"] == (
        "reached, reply seen (ICMP port unreachable came back: the port is closed)"
    )
    (deliver,) = hops(result, direction="request", stage="deliver")
    assert deliver["holds"] == "nothing listens on udp/5353"
    (back,) = hops(result, direction="reply", netns="container h1-probe", device="eth0")
    assert back["seen"]["detail"] == "icmp port unreachable" and back["seen"]["ttl"] == 62
    code, result, _ = trace_lab.trace("h1-probe", "h2-probe", "--port", "81")  # tcp: the default with a port
    assert code == 0 and result["proto"] == "tcp"
    assert result["last_line"] == "reached, reply seen (a TCP reset came back: the port is closed)"
    (back,) = hops(result, direction="reply", netns="container h1-probe", device="eth0")
    assert "[R." in back["seen"]["detail"]


def test_reply_dropped_on_the_way_back(trace_lab):
    rule = ("FORWARD", "-p", "icmp", "--icmp-type", "echo-reply", "-j", "DROP")
    trace_lab.ns("h1", "iptables", "-I", *rule)
    try:
        code, result, _ = trace_lab.trace("h1-probe", "h2-probe")
    finally:
        trace_lab.ns("h1", "iptables", "-D", *rule)
    assert code == 1 and result["reached"] and not result["reply_seen"]
    failed = result["failed_hop"]
    assert (failed["host"], failed["stage"], failed["direction"]) == ("h1", "firewall", "reply")
    assert failed["rule"] == "-A FORWARD -p icmp -m icmp --icmp-type 0 -j DROP"
    assert all(h["seen"] for h in hops(result, direction="request") if h["seen"] is not None)
    (decap,) = hops(result, direction="reply", host="h1", device="flannel.1")
    assert decap["seen"] and result["hops"][-1]["stage"] == "firewall"  # the reply got back to h1, no further


def test_prediction_only_sends_nothing_and_is_fast(trace_lab, ctx):
    started = time.perf_counter()
    result = trace(ctx, "h1-probe", "h2-probe", Options(lab=trace_lab.prefix, probe=False))
    assert time.perf_counter() - started < 5  # a generous bound: the benchmark measures it
    assert not result.probed and result.reached and result.failed_hop is None
    assert all(not h.probed and h.seen is None for h in result.hops)
    assert result.last_line == "predicted to reach and to be answered (no probe sent)"
