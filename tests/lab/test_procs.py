"""``docker_answers`` against real sockets: the machine's dockerd answers; a missing socket, a socket nobody
listens on, a daemon that never replies and one that hangs up mid-request do not; a bug is not taken for
"not answering"."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcon.core.lab.procs import docker_answers
from netcon.core.lab.state import LabHost

VERSION_REPLY = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n{"ApiVersion": "1.41"}'


def host_in(directory: Path | str) -> LabHost:
    """A lab host whose dockerd socket is ``directory``/docker.sock."""
    return LabHost(name="h1", netns="unused", root_veth="unused", address="198.18.0.31", directory=str(directory))


@contextlib.contextmanager
def serving(path: Path, reply: bytes | None) -> Iterator[None]:
    """A unix-socket server at ``path`` that answers every request with ``reply`` for the API version and
    hangs up without a word on anything else (``reply`` None: it accepts and never answers at all)."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536)
                if reply is None:
                    stop.wait()
                elif b"/version" in request.split(b"\r\n", 1)[0]:
                    conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(5)


def test_the_machines_dockerd_answers():
    assert docker_answers(host_in("/var/run")) is True


def test_no_socket_and_nobody_listening_are_not_answering(tmp_path):
    assert docker_answers(host_in(tmp_path)) is False
    stale = socket.socket(socket.AF_UNIX)  # a daemon that died leaves its socket file behind
    stale.bind(str(tmp_path / "docker.sock"))
    try:
        assert docker_answers(host_in(tmp_path)) is False
    finally:
        stale.close()


def test_a_silent_daemon_is_not_answering(tmp_path):
    with serving(tmp_path / "docker.sock", None):
        assert docker_answers(host_in(tmp_path), timeout=0.5) is False


def test_a_daemon_hanging_up_on_the_ping_is_not_answering(tmp_path):
    """The API version is read, then the ping's connection drops: requests' error, not docker-py's."""
    with serving(tmp_path / "docker.sock", VERSION_REPLY):
        assert docker_answers(host_in(tmp_path)) is False


def test_a_bug_is_not_taken_for_not_answering():
    with pytest.raises(AttributeError):
        docker_answers(object())  # type: ignore[arg-type]  # not a LabHost: the caller's bug must surface
