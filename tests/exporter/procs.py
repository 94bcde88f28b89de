"""Starting the real ``netcon exporter`` and a real Prometheus on loopback for the tests, each stopped (and
waited for) afterwards, also when a test fails."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.read().decode()


def wait_line(proc: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """The first line the process prints (its 'serving ...' line), or fail with what it said on stderr."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline and not line:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"it exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
    assert line, "it printed nothing in time"
    return line


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@contextlib.contextmanager
def exporter(config: Path | None, port: int, *extra: str) -> Iterator[subprocess.Popen[str]]:
    argv = [sys.executable, "-m", "netcon.cli", "exporter", "--listen", f"127.0.0.1:{port}", *extra]
    if config is not None:
        argv += ["--config", str(config)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_line(proc)
        yield proc
    finally:
        stop(proc)


@contextlib.contextmanager
def prometheus(tmp: Path, target_port: int) -> Iterator[int]:
    """Debian's Prometheus on loopback, scraping ``127.0.0.1:target_port`` every second, with its own data dir."""
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: netcon\n    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
    )
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "prometheus.log", "w"),  # noqa: SIM115 - the process owns it until it exits
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2).close()
                break
            assert proc.poll() is None, (tmp / "prometheus.log").read_text()
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def query(port: int, promql: str) -> list[dict]:
    """An instant query through Prometheus' HTTP API: its result vector."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


def wait_for(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout:g} s (last: {last!r})")


def pid_alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")
