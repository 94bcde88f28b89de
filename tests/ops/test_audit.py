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
    return [json.loads(line) for line in path.read_text().splitlines()]


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
