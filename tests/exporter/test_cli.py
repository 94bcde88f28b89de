"""``netcon exporter`` at its edges: a port in use, a malformed config, the example config; each failure one
line with a non-zero exit and nothing left running."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.exporter.procs import exporter, free_port, scrape


def netcon(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netcon.cli", *argv], capture_output=True, text=True, timeout=30)


def test_port_in_use_is_one_sentence_and_nothing_runs():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = netcon("exporter", "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert done.stderr.strip() == f"netcon: Cannot listen on 127.0.0.1:{port}: the port is in use by another program."
    assert done.stdout == ""  # it never said it serves


def test_malformed_config_names_the_line(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[[probe]]\nsource = "a"\ntarget = "b"\ninterval = "fast"\n')
    done = netcon("exporter", "--config", str(config), "--listen", f"127.0.0.1:{free_port()}")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"netcon: {config} line 4: [[probe]] 1 key 'interval': Interval 'fast' is not a duration like 500ms, 1s, "
        "2m or 1h."
    ]


def test_unreadable_config(tmp_path):
    done = netcon("exporter", "--config", str(tmp_path / "none.toml"))
    assert done.returncode == 2 and "does not exist" in done.stderr and len(done.stderr.splitlines()) == 1


def test_example_config_prints_and_serves(tmp_path):
    done = netcon("exporter", "--example-config")
    assert done.returncode == 0 and "[[probe]]" in done.stdout
    config = tmp_path / "example.toml"
    config.write_text(done.stdout)
    port = free_port()
    with exporter(config, port) as proc:  # its containers do not exist here: the probes say so, it serves on
        text = scrape(port)
        assert 'netcon_probe_success{error="starting"' in text or "source-missing" in text
        assert scrape(port, "/").startswith("netcon exporter")
    assert proc.returncode == 0  # SIGTERM ends it cleanly
