"""What the tests over the lab's sshd share: netcon run as a command, the command lines that read a lab host
over SSH or in-process, and the checks that nothing of a session is left behind."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab import state as lab_state
from netcon.core.lab.state import LabHost, LabState
from netcon.core.netns import netns_inode


def netcon(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "netcon.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def over_ssh(state: LabState, host: LabHost) -> list[str]:
    """``--ssh-config`` and ``--host`` reaching ``host`` through its sshd, as README shows."""
    return ["--ssh-config", lab_ssh.config_path(state), "--host", lab_ssh.target(host)]


def in_process(host: LabHost) -> list[str]:
    """The same host read locally: its own dockerd and its namespace."""
    return ["--docker-host", host.docker_host, "--netns", host.netns]


def without_counters(shown: dict) -> dict:
    """The view with every veth's byte counters dropped: they move between the two reads by themselves (the
    SSH session on the host's underlay veth, a fresh container's IPv6 neighbour discovery on its own veth).
    Every other value must be equal."""
    for row in shown.get("veths", ()):
        row.pop("rx_bytes", None)
        row.pop("tx_bytes", None)
    return shown


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def leftovers(state: LabState, also: str | None = None) -> list[str]:
    """What a finished session may not leave in the lab's hosts: an sshd session (any sshd but the listener),
    a ``netcon serve --stdio``, or a process whose command line names ``also`` (a test's script)."""
    found = []
    inodes = set()
    for host in state.hosts:
        inodes.add(netns_inode(host.netns_path))
        for pid in lab_ssh.session_pids(host):
            line = _cmdline(pid)
            if line and "[listener]" not in line:
                found.append(f"{host.name} {pid}: {line}")
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            inode = os.stat(f"/proc/{entry}/ns/net").st_ino
        except OSError:
            continue
        line = _cmdline(int(entry))
        if inode in inodes and ("serve --stdio" in line or (also is not None and also in line)):
            found.append(f"{entry}: {line}")
    return sorted(set(found))


def settled(state: LabState, also: str | None = None, timeout: float = 5.0) -> list[str]:
    """``leftovers`` once sshd has had ``timeout`` seconds to end the sessions that closed."""
    return eventually(lambda: leftovers(state, also), lambda found: not found, timeout)


def eventually(read: Callable[[], object], done: Callable[[object], bool], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@contextlib.contextmanager
def sshd_stopped(state: LabState, host: LabHost) -> Iterator[None]:
    """The host's sshd and its sessions killed (the host cut off), started again afterwards."""
    lab_ssh.stop_sshd(host)
    try:
        yield
    finally:
        host.sshd_pid = lab_ssh.start_sshd(host)
        lab_state.save(state)
