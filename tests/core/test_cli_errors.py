"""What a user sees when netcon itself has a bug: one line naming the error and the log file holding its
traceback, exit code 1 — never a traceback on the terminal."""

from __future__ import annotations

from netcon.cli.main import main
from netcon.core.hosts.local import LocalHost


def test_an_unexpected_error_is_one_line_and_its_traceback_is_logged(monkeypatch, tmp_path, capsys):
    """A bug on purpose: nothing real makes netcon fail unexpectedly on demand, so the snapshot collector is
    replaced by one that raises (the CLI path around it, through the host interface, is the real one)."""
    log = tmp_path / "netcon.log"
    monkeypatch.setenv("NETCON_LOG", str(log))

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(LocalHost, "snapshot", broken)
    assert main(["show", "veths"]) == 1
    err = capsys.readouterr().err
    assert err == f"netcon: internal error (RuntimeError: boom); the traceback is in {log}.\n"
    logged = log.read_text()
    assert "netcon show failed" in logged and "Traceback (most recent call last)" in logged
    assert 'raise RuntimeError("boom")' in logged


def test_an_unwritable_log_still_leaves_one_line(monkeypatch, capsys):
    monkeypatch.setenv("NETCON_LOG", "/proc/netcon.log")  # /proc takes no new files

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(LocalHost, "snapshot", broken)
    assert main(["show", "veths"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("netcon: internal error (RuntimeError: boom); The traceback could not be written")
