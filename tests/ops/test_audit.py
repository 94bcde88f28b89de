"""The audit log: one JSON line per attempted change, whatever its outcome, and the reader the console uses."""

from __future__ import annotations

import json
import os
import socket

import pytest

from netcon.core import audit
from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.network_ops import create_network

KEYS = {"time", "user", "host", "operation", "arguments", "outcome", "error"}


def lines(path) -> list[dict]:
    """One record per attempt: the outcome line of each, checked against the "started" line before it."""
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    started = {r["id"]: r for r in raw if r["outcome"] == "started"}
    finals = [r for r in raw if r["outcome"] != "started"]
    for record in finals:
        if record["outcome"] != "read-only":  # a read-only refusal happens before anything starts
            assert started.pop(record["id"])["arguments"] == record["arguments"]
    assert not started, "an attempt without an outcome line"
    return finals


def test_each_attempt_is_one_line(lab, netcon, audit_log, monkeypatch):
    monkeypatch.setenv("SUDO_USER", "alice")
    name = lab.name("aud")
    assert netcon("network", "create", name, "--label", lab.label).code == 0
    assert netcon("network", "create", name, "--label", lab.label).code == 2
    assert netcon("network", "create", lab.name("ovl"), "--driver", "overlay").code == 1
    assert netcon("--read-only", "network", "rm", name).code == 3
    assert netcon("network", "rm", name).code == 0
    records = lines(audit_log)
    assert [(r["operation"], r["outcome"]) for r in records] == [
        ("network.create", "ok"),
        ("network.create", "invalid"),
        ("network.create", "refused"),
        ("network.rm", "read-only"),
        ("network.rm", "ok"),
    ]
    for r in records:
        assert set(r) >= KEYS and r["user"] == "alice" and r["host"] == socket.gethostname()
    assert records[0]["arguments"]["name"] == name and records[0]["arguments"]["labels"] == [lab.label]
    assert records[0]["error"] is None and records[0]["result"]["name"] == name
    assert records[1]["error"] == f"Network name {name} is already taken (network {records[0]['result']['id'][:12]})."
    assert "swarm mode" in records[2]["error"]
    assert records[4]["result"]["disconnected"] == []


def test_user_falls_back_to_the_login_name(monkeypatch):
    monkeypatch.delenv("SUDO_USER", raising=False)
    try:
        expected = os.getlogin()
    except OSError:
        import getpass

        expected = getpass.getuser()
    assert audit.current_user() == expected


def test_default_location_is_xdg_state(monkeypatch, tmp_path):
    monkeypatch.delenv("NETCON_AUDIT_LOG")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert audit.log_path() == tmp_path / "netcon" / "audit.jsonl"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert audit.log_path() == tmp_path / ".local" / "state" / "netcon" / "audit.jsonl"


def test_unwritable_log_refuses_the_change(lab, monkeypatch, tmp_path, dclient):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("NETCON_AUDIT_LOG", str(blocker / "audit.jsonl"))
    with pytest.raises(NetconError, match=r"Cannot write the audit log .*nothing was changed"):
        create_network(HostContext(), lab.name("unlogged"))
    assert not dclient.api.networks(names=[lab.name("unlogged")])


def test_a_full_disk_refuses_the_change(lab, netcon, monkeypatch, dclient):
    """The audit log fails closed: /dev/full accepts the open and fails every write with ENOSPC, as a full
    disk does, so the "started" line cannot be written and nothing is created."""
    monkeypatch.setenv("NETCON_AUDIT_LOG", "/dev/full")
    result = netcon("network", "create", lab.name("full"), "--label", lab.label)
    assert result.code == 1
    assert result.err == "netcon: Cannot write the audit log /dev/full: No space left on device; nothing was changed.\n"
    assert not dclient.api.networks(names=[lab.name("full")])


def test_only_values_the_user_gave_are_recorded(audit_log):
    """A progress callback (lab up's) is not a value the user gave; neither are defaults left alone."""

    @audit.mutation("test.progress", "test {name}")
    def change(ctx, name: str, count: int = 2, progress=lambda message: None) -> None:
        progress("working")

    change(HostContext(), "x", progress=print)
    (record,) = lines(audit_log)
    assert record["arguments"] == {"name": "x"}
    audit.REGISTRY.pop("test.progress")


def test_an_attempt_that_died_shows_without_outcome(audit_log):
    record = {"id": "a1", "time": "t", "user": "u", "host": "h", "operation": "lab.up", "arguments": {}}
    audit_log.write_text(json.dumps({**record, "outcome": "started", "error": None}) + "\n")
    (entry,) = audit.last_entries(5)
    assert entry.summary == "t u@h lab.up  -> started (no outcome recorded)"


def test_reader_returns_the_newest_entries(audit_log):
    with open(audit_log, "w") as f:
        for i in range(3000):  # more than one 64 KiB block
            f.write(
                json.dumps(
                    {
                        "time": f"t{i}",
                        "user": "u",
                        "host": "h",
                        "operation": "network.rm",
                        "arguments": {"network": f"n{i}", "force": False},
                        "outcome": "ok",
                        "error": None,
                    }
                )
                + "\n"
            )
        f.write("not json\n")
    entries = audit.last_entries(3)
    assert [e.time for e in entries] == ["t2997", "t2998", "t2999"]
    assert entries[-1].arguments == (("network", "n2999"), ("force", "false"))
    assert entries[-1].summary == "t2999 u@h network.rm network=n2999 -> ok"
    assert audit.last_entries(5, audit_log.parent / "absent.jsonl") == ()
