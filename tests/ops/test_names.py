"""Names that fit more than one object, and creates racing each other, against the real engine: netcon refuses
an ambiguous name with the matching ids (as ``docker network rm`` does), accepts an id or any id prefix, and
never leaves two networks with one name behind."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from netcon.core import network_ops
from netcon.core.context import HostContext
from netcon.core.errors import DockerRefused

ROUNDS = 5


def twin_networks(lab, suffix: str) -> tuple[str, list[str]]:
    """Two networks with one name: Docker 20.10 makes them when asked without its duplicate check (what two
    concurrent creates end up with)."""
    name = lab.name(suffix)
    ids = [
        lab.client.api.create_network(name, check_duplicate=False, labels={"netcon.test": lab.prefix})["Id"]
        for _ in range(2)
    ]
    return name, sorted(ids)


def named(lab, name: str) -> list[str]:
    return sorted(n["Id"] for n in lab.client.api.networks() if n["Name"] == name)


def test_an_ambiguous_network_name_is_refused_everywhere(lab, netcon):
    name, ids = twin_networks(lab, "relY")
    box = lab.dobj.container("box")
    expected = (
        f"netcon: Network name {name} is ambiguous: 2 networks have it ({ids[0][:12]}, {ids[1][:12]}); "
        "give the id or an id prefix.\n"
    )
    for args in (
        ("network", "rm", name),
        ("network", "connect", name, box.name),
        ("network", "disconnect", name, box.name),
        ("container", "run", lab.name("new"), "--network", name, "--label", lab.label),
        ("ping", "matrix", "--network", name),
    ):
        result = netcon(*args)
        assert (result.code, result.err) == (2, expected), args
    assert named(lab, name) == ids  # nothing was removed
    assert lab.owned()[1] == (box.name,)  # nothing was run

    removed = netcon("network", "rm", ids[0][:5])  # an id prefix shorter than Docker's short id
    assert removed.code == 0, removed.err
    assert named(lab, name) == ids[1:]
    assert netcon("network", "rm", name).code == 0  # the name is unique again
    assert named(lab, name) == []


def test_an_ambiguous_container_id_prefix_is_refused(lab, netcon):
    """Containers made until two of this test's share a first hex digit: that digit names neither (the error
    lists every container of the host whose id starts with it)."""
    first: dict[str, str] = {}
    while True:
        cid = lab.client.api.create_container(lab.dobj.image, ["true"], labels={"netcon.test": lab.prefix})["Id"]
        lab.dobj.containers.append(cid)
        if cid[0] in first:
            break
        first[cid[0]] = cid
    matching = sorted(c["Id"][:12] for c in lab.client.api.containers(all=True) if c["Id"].startswith(cid[0]))
    result = netcon("container", "rm", cid[0])
    assert result.code == 2
    assert result.err == (
        f"netcon: Container id prefix {cid[0]} is ambiguous: it starts the ids of {len(matching)} containers "
        f"({', '.join(matching)}); give more of the id.\n"
    )
    assert netcon("container", "rm", cid[:12]).code == 0


def _race(argv: list[str]) -> list[subprocess.CompletedProcess]:
    """Start two netcon processes at the same instant with the same arguments."""
    start = threading.Barrier(2)
    results: list[subprocess.CompletedProcess] = []

    def one() -> None:
        start.wait()
        results.append(
            subprocess.run([sys.executable, "-m", "netcon.cli", *argv], capture_output=True, text=True, timeout=60)
        )

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_network_creates_leave_one_network(lab):
    for round_ in range(ROUNDS):
        name = lab.name(f"race{round_}")
        results = _race(["network", "create", name, "--label", lab.label])
        codes = sorted(r.returncode for r in results)
        assert codes == [0, 2], [r.stderr for r in results]
        loser = next(r for r in results if r.returncode)
        assert loser.stderr.startswith(f"netcon: Network name {name} is already taken (network ")
        assert len(named(lab, name)) == 1


def test_concurrent_container_runs_leave_one_container(lab):
    name = lab.name("racer")
    results = _race(["container", "run", name, "--label", lab.label, "--", "sleep", "600"])
    assert sorted(r.returncode for r in results) == [0, 2], [r.stderr for r in results]
    loser = next(r for r in results if r.returncode)
    assert loser.stderr.startswith(f"netcon: Container name {name} is already taken (container ")
    assert lab.owned()[1] == (name,)


def test_a_create_outside_netcon_in_the_race_window_wins(lab, monkeypatch, dclient):
    """Another tool makes the name while Docker is creating netcon's network (Docker checks names and creates
    in two steps, so both creates succeed). netcon's lock cannot stop a creator outside netcon; the check after
    the create must. That window is microseconds wide, so the test opens it deterministically: the other
    creator's real create runs right after netcon's real create returns (a wrapper around network_ops._create)."""
    name = lab.name("window")
    real_create = network_ops._create
    other: list[str] = []

    def then_another_creator(*args, **kwargs):
        made = real_create(*args, **kwargs)
        other.append(dclient.api.create_network(name, check_duplicate=False, labels={"netcon.test": lab.prefix})["Id"])
        return made

    monkeypatch.setattr(network_ops, "_create", then_another_creator)
    with pytest.raises(DockerRefused, match="was taken by another creator at the same moment"):
        network_ops.create_network(HostContext(), name, labels=[lab.label])
    assert named(lab, name) == other
