"""The all-pairs matrix, and one pair cut by an iptables DROP inside one container's namespace."""

from __future__ import annotations

from netcon.core.context import HostContext
from netcon.core.ping.matrix import containers_matrix, network_matrix


def test_drop_rule_cuts_exactly_one_ordered_pair(trio, netns_iptables):
    net, boxes, _ = trio
    app1, app3 = boxes["app1"], boxes["app3"]
    ctx = HostContext()
    before = network_matrix(ctx, net)
    assert len(before.pairs) == 6 and all(p.received == p.sent == 3 and p.ttl == 64 for p in before.pairs)
    assert all(p.rtt_ms_median is not None for p in before.pairs)

    # only echo requests from app1 are dropped in app3: app1 -> app3 fails, app3 -> app1 (replies) still works
    rule = ("-p", "icmp", "--icmp-type", "echo-request", "-s", app1.ip, "-j", "DROP")
    netns_iptables(app3.netns, "INPUT", *rule)
    cut = network_matrix(ctx, net)
    assert [(p.src, p.dst) for p in cut.pairs if not p.reachable] == [(app1.name, app3.name)]
    assert cut.pair(app1.name, app3.name).received == 0

    netns_iptables.remove(app3.netns, "INPUT", *rule)
    after = network_matrix(ctx, net)
    assert all(p.reachable for p in after.pairs)


def test_chosen_containers_across_networks(trio):
    _net, boxes, _ = trio
    names = [boxes["app1"].name, boxes["app2"].name, boxes["lone"].name]
    m = containers_matrix(HostContext(), names)
    reachable = {(p.src, p.dst) for p in m.pairs if p.reachable}
    assert reachable == {(names[0], names[1]), (names[1], names[0])}  # Docker isolates the two bridges
    assert m.pair(names[0], names[2]).dst_ip == boxes["lone"].ip
