"""Names sort naturally (``c2`` before ``c10``): the key itself, and the snapshot's own order of containers,
networks, bridges and veths on the real Docker engine."""

from __future__ import annotations

from netcon.core.naming import natural_key
from netcon.core.snapshot import SnapshotCollector


def test_digit_runs_compare_as_numbers():
    names = ["c10", "c2", "C1", "app", "app-10", "app-2", "app1", "veth10", "veth1a", "9", "10", ""]
    assert sorted(names, key=natural_key) == [
        "",
        "9",
        "10",
        "app",
        "app1",
        "app-2",
        "app-10",
        "C1",
        "c2",
        "c10",
        "veth1a",
        "veth10",
    ]
    assert sorted(["b", "B", "a"], key=natural_key) == ["a", "B", "b"]  # case-insensitive, total


def test_the_snapshot_lists_c2_before_c10(ctx, dobj):
    nets = [dobj.network(f"n{i}") for i in (10, 2)]
    for i in (10, 2, 1):
        dobj.container(f"c{i}", network=nets[0].name)
    snap = SnapshotCollector(ctx).collect()
    mine = [c.name for c in snap.containers if c.name.startswith(dobj.prefix)]
    assert mine == [dobj.name("c1"), dobj.name("c2"), dobj.name("c10")]
    assert [n.name for n in snap.networks if n.name.startswith(dobj.prefix)] == [dobj.name("n2"), dobj.name("n10")]
    for kind in (snap.containers, snap.networks, snap.bridges):
        assert [x.name for x in kind] == sorted((x.name for x in kind), key=natural_key)
    assert [v.ifname for v in snap.veths] == sorted((v.ifname for v in snap.veths), key=natural_key)
