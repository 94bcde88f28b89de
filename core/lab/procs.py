"""The lab's daemons: one dockerd per host netns, one etcd on the underlay bridge address.

A dockerd is started inside its namespace with ``nsenter --net=`` (not ``ip netns exec``, which remounts
/sys and hides the cgroup mounts dockerd needs). Pids are recorded, and a pid is only trusted while its
command line still names the lab's directory, so a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable

import docker
import requests

from netcon.core.errors import NetconError
from netcon.core.lab.state import LabHost, LabState

_children: dict[int, subprocess.Popen[bytes]] = {}  # daemons this process started: reaped when stopped


def spawn(argv: list[str], log_path: str) -> subprocess.Popen[bytes]:
    """Start a daemon in its own session, output to ``log_path``; it outlives netcon."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    _children[proc.pid] = proc
    return proc


def wait_ready(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float, failure: str) -> int:
    """Wait until ``ready()``; the pid, or stop the daemon and raise ``failure`` when it died or took too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return proc.pid
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop([proc.pid])
    raise NetconError(failure)


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        raise NetconError(f"{name} is not installed (Debian package {package}).")
    return path


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def owned(pid: int | None, marker: str) -> bool:
    """True when ``pid`` is alive and its command line mentions ``marker`` (the lab's directory)."""
    return pid is not None and pid > 0 and any(marker in arg for arg in cmdline(pid))


def processes_mentioning(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and owned(int(entry), marker):
            pids.append(int(entry))
    return pids


def stop(pids: list[int], timeout: float = 10.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child = _children.pop(pid, None)
        if child is not None:
            child.wait(5)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def unmount_below(directory: str) -> None:
    """dockerd leaves overlay and netns mounts under its data/exec roots when it dies abruptly."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f]
    for point in sorted((p for p in points if p.startswith(directory + "/")), key=len, reverse=True):
        libc.umount2(point.encode(), 2)  # MNT_DETACH


def docker_answers(host: LabHost, timeout: int = 2) -> bool:
    """Whether the host's dockerd answers a ping. Not answering is what docker-py and requests raise: no
    socket, refused, timed out, or an error status (DockerException, APIError among them, while the client
    asks the API version; RequestException during the ping). Anything else is a bug and propagates."""
    try:
        client = docker.APIClient(base_url=host.docker_host, timeout=timeout)
        try:
            return client.ping() is True
        finally:
            client.close()
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return False


def start_dockerd(host: LabHost, extra_args: list[str] | None = None, timeout: float = 60) -> int:
    nsenter = require_binary("nsenter", "util-linux")
    dockerd = require_binary("dockerd", "docker.io")
    # Runtime state of a daemon that died is stale: its containerd.pid may name a zombie, which dockerd
    # takes for a live containerd and then waits on forever.
    for leftover in ("docker.sock", "docker.pid"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(host.directory, leftover))
    exec_root = host.exec_root
    unmount_below(exec_root)
    shutil.rmtree(exec_root, ignore_errors=True)
    os.makedirs(os.path.join(host.directory, "data"), exist_ok=True)
    os.makedirs(exec_root, exist_ok=True)
    proc = spawn(
        [
            nsenter,
            f"--net={host.netns_path}",
            dockerd,
            "--data-root",
            os.path.join(host.directory, "data"),
            "--exec-root",
            exec_root,
            "--pidfile",
            os.path.join(host.directory, "docker.pid"),
            "-H",
            host.docker_host,
            "--shutdown-timeout",
            "1",  # lab containers run `sleep` as PID 1, which ignores SIGTERM
            *(extra_args or []),
        ],
        os.path.join(host.directory, "dockerd.log"),
    )
    return wait_ready(
        proc,
        lambda: docker_answers(host),
        timeout,
        f"dockerd for lab host {host.name} did not start; see {host.directory}/dockerd.log.",
    )


def stop_dockerd(host: LabHost) -> None:
    """Remove the host's containers (killing them: busybox sleep ignores SIGTERM), then stop its daemons."""
    if docker_answers(host):
        client = docker.APIClient(base_url=host.docker_host, timeout=30)
        try:
            for c in client.containers(all=True):
                client.remove_container(c["Id"], force=True)
        except docker.errors.DockerException:
            pass  # the daemon is stopped below either way
        finally:
            client.close()
    stop(processes_mentioning(host.directory))


def etcd_healthy(state: LabState, timeout: float = 1) -> bool:
    try:
        with urllib.request.urlopen(f"{state.etcd_endpoint}/health", timeout=timeout) as resp:
            answered: bool = resp.status == 200
            return answered
    except OSError:
        return False


def _check_port_free(address: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as etcd does: TIME_WAIT is no conflict
        try:
            probe.bind((address, port))
        except OSError as error:
            raise NetconError(
                f"Port {port} on {address} is already in use, so the lab's etcd cannot listen there ({error.strerror})."
            ) from error


def start_etcd(state: LabState, timeout: float = 30) -> int:
    etcd = require_binary("etcd", "etcd-server")
    for port in (state.etcd_port, state.etcd_port + 1):
        _check_port_free(state.bridge_address, port)
    peer = f"http://{state.bridge_address}:{state.etcd_port + 1}"
    os.makedirs(state.directory, exist_ok=True)
    proc = spawn(
        [
            etcd,
            "--name",
            state.prefix,
            "--data-dir",
            state.etcd_dir,
            "--enable-v2",
            "--listen-client-urls",
            state.etcd_endpoint,
            "--advertise-client-urls",
            state.etcd_endpoint,
            "--listen-peer-urls",
            peer,
            "--initial-advertise-peer-urls",
            peer,
            "--initial-cluster",
            f"{state.prefix}={peer}",
        ],
        os.path.join(state.directory, "etcd.log"),
    )
    return wait_ready(
        proc,
        lambda: etcd_healthy(state),
        timeout,
        f"etcd for the lab did not start on {state.etcd_endpoint}; see {state.directory}/etcd.log.",
    )
