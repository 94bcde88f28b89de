"""The watcher against real sources: the kernel's rtnetlink groups (in a namespace of our own), Docker's
event stream, and Docker going away, simulated by cutting a unix-socket relay to the real daemon."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
import uuid

import pytest

from netcon.core.context import HostContext
from netcon.core.netlink.monitor import changes_view, open_netlink_monitor
from netcon.core.watch import Watcher


class Seen:
    """Collects the watcher's calls; ``wait_for`` blocks until a reason matching a predicate arrived."""

    def __init__(self) -> None:
        self.calls: list[frozenset[str]] = []
        self.cond = threading.Condition()

    def __call__(self, reasons: frozenset[str]) -> None:
        with self.cond:
            self.calls.append(reasons)
            self.cond.notify_all()

    def wait_for(self, match, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(match(r) for call in self.calls for r in call):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    def clear(self) -> None:
        with self.cond:
            self.calls.clear()


@pytest.fixture
def netns():
    name = f"nct{uuid.uuid4().hex[:6]}-watch"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_netlink_changes_in_another_netns_wake_the_watcher(netns):
    seen = Seen()
    watcher = Watcher(HostContext.from_options(netns=netns), seen, docker=False, debounce=0.05).start()
    try:
        time.sleep(0.2)
        assert not seen.calls  # idle: nothing fires before the (30 s) fallback
        subprocess.run(["ip", "-n", netns, "link", "add", "wa0", "type", "veth", "peer", "name", "wb0"], check=True)
        assert seen.wait_for(lambda r: r == "netlink", timeout=5)
    finally:
        watcher.stop()
    assert all(not t.is_alive() for t in watcher._threads)


def test_a_burst_is_folded_into_one_call_and_the_fallback_fires(netns):
    seen = Seen()
    watcher = Watcher(HostContext.from_options(netns=netns), seen, docker=False, debounce=0.3, fallback=1.5).start()
    try:
        time.sleep(0.1)
        for i in range(5):
            subprocess.run(
                ["ip", "-n", netns, "link", "add", f"b{i}a", "type", "veth", "peer", "name", f"b{i}b"], check=True
            )
        assert seen.wait_for(lambda r: r == "netlink", timeout=5)
        time.sleep(0.5)
        assert len(seen.calls) == 1
        assert seen.wait_for(lambda r: r == "periodic", timeout=5)
    finally:
        watcher.stop()


def test_dynamic_neighbour_churn_is_not_a_change_but_permanent_entries_are(netns):
    """ARP entries changing state on busy bridges must not keep an idle console refreshing."""
    subprocess.run(["ip", "-n", netns, "link", "add", "na0", "type", "veth", "peer", "name", "nb0"], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "na0", "up"], check=True)
    sock = open_netlink_monitor(f"/var/run/netns/{netns}")
    try:

        def messages_after(*command: str) -> list[bytes]:
            subprocess.run(["ip", "-n", netns, "neigh", *command], check=True)
            time.sleep(0.1)
            got = []
            while True:
                try:
                    got.append(sock.recv(65536))
                except BlockingIOError:
                    return got

        def seen_as_change(*command: str) -> bool:
            datagrams = messages_after(*command)
            assert datagrams, f"no netlink message after ip neigh {' '.join(command)}"
            return any(changes_view(d) for d in datagrams)

        messages_after("flush", "dev", "na0")  # whatever came before
        assert not seen_as_change("add", "198.18.99.2", "lladdr", "02:00:00:00:00:02", "dev", "na0", "nud", "reachable")
        assert not seen_as_change("change", "198.18.99.2", "lladdr", "02:00:00:00:00:02", "dev", "na0", "nud", "stale")
        assert seen_as_change("add", "198.18.99.3", "lladdr", "02:00:00:00:00:03", "dev", "na0", "nud", "permanent")
        assert seen_as_change("del", "198.18.99.3", "dev", "na0")
    finally:
        sock.close()


def test_bridge_port_state_changes_are_not_a_change_but_joining_a_bridge_is(netns):
    """A new bridge port turns forwarding after the forward delay: one AF_BRIDGE message per port, which
    must not refresh an idle console; the port joining the bridge must."""
    ip = ["ip", "-n", netns]
    subprocess.run([*ip, "link", "add", "pbr0", "type", "bridge"], check=True)
    subprocess.run([*ip, "link", "add", "pa0", "type", "veth", "peer", "name", "pb0"], check=True)
    # A second port that stays forwarding keeps the bridge's carrier up whatever pa0's state: otherwise pa0
    # leaving forwarding takes the bridge down, a real change (the kernel reports it up to a second later).
    subprocess.run([*ip, "link", "add", "pc0", "type", "veth", "peer", "name", "pd0"], check=True)
    subprocess.run([*ip, "link", "set", "pc0", "master", "pbr0"], check=True)
    sock = open_netlink_monitor(f"/var/run/netns/{netns}")
    try:

        def change_after(*command: str) -> bool:
            subprocess.run(command, check=True)
            time.sleep(0.1)
            datagrams = []
            while True:
                try:
                    datagrams.append(sock.recv(65536))
                except BlockingIOError:
                    break
            assert datagrams, f"no netlink message after {' '.join(command)}"
            return any(changes_view(d) for d in datagrams)

        assert change_after(*ip, "link", "set", "pa0", "master", "pbr0")
        for name in ("pbr0", "pa0", "pb0", "pc0", "pd0"):  # a port's state can only be set while it is up
            subprocess.run([*ip, "link", "set", name, "up"], check=True)
        # Bringing links up is followed, up to a second later, by their carrier coming up (real link changes):
        # wait until the monitor has been quiet for half a second before the state changes are tried.
        quiet_since, deadline = time.monotonic(), time.monotonic() + 5
        while time.monotonic() - quiet_since < 0.5 and time.monotonic() < deadline:
            try:
                sock.recv(65536)
                quiet_since = time.monotonic()
            except BlockingIOError:
                time.sleep(0.05)
        assert not change_after("bridge", "-n", netns, "link", "set", "dev", "pa0", "state", "2")  # learning
        assert not change_after("bridge", "-n", netns, "link", "set", "dev", "pa0", "state", "3")  # forwarding
    finally:
        sock.close()


def test_docker_events_wake_the_watcher(dobj):
    seen = Seen()
    watcher = Watcher(HostContext(), seen, netlink=False, debounce=0.05).start()
    try:
        time.sleep(0.3)  # let the stream connect
        dobj.network("watched")
        assert seen.wait_for(lambda r: r == "docker:network:create", timeout=10)
    finally:
        watcher.stop()


class Relay:
    """A unix socket that forwards to the real Docker socket until ``cut()``; ``restore()`` listens again."""

    def __init__(self, path: str, target: str = "/var/run/docker.sock") -> None:
        self.path, self.target = path, target
        self.conns: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def restore(self) -> None:
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen()
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.listener.close()
        os.unlink(self.path)
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self.conns.clear()


def test_docker_going_away_and_coming_back(tmp_path, dobj):
    relay = Relay(str(tmp_path / "docker.sock"))
    relay.restore()
    seen = Seen()
    watcher = Watcher(HostContext(docker_host=f"unix://{relay.path}"), seen, netlink=False, debounce=0.05).start()
    try:
        time.sleep(0.5)
        dobj.network("before")
        assert seen.wait_for(lambda r: r == "docker:network:create")
        relay.cut()
        assert seen.wait_for(lambda r: r == "docker-lost")
        seen.clear()
        relay.restore()
        assert seen.wait_for(lambda r: r == "docker-back", timeout=15)  # backoff is at most a few seconds here
        time.sleep(0.3)
        dobj.network("after")
        assert seen.wait_for(lambda r: r == "docker:network:create")
    finally:
        watcher.stop()
        if relay.listener is not None:
            relay.listener.close()


def test_live_is_said_once_every_source_is_connected(netns):
    """A watcher is not live the instant it starts; its client (a remote console, through serve --stdio) learns
    that it became live from a ``live`` call, not from the next change or the 30 s fallback."""
    seen = Seen()
    watcher = Watcher(HostContext.from_options(netns=netns), seen, debounce=0.05, fallback=60).start()
    try:
        assert seen.wait_for(lambda r: r == "live", timeout=5)
        assert watcher.live
    finally:
        watcher.stop()
    assert sum("live" in call for call in seen.calls) == 1


def test_stopping_twice_does_nothing_the_second_time(netns):
    """A console that stops a host's watcher when it switches away and again when it quits: the second stop
    must neither raise nor close descriptors it no longer owns."""
    watcher = Watcher(HostContext.from_options(netns=netns), lambda reasons: None, docker=False).start()
    watcher.stop()
    spare_r, spare_w = os.pipe()  # takes the numbers the watcher's wake pipe had
    try:
        watcher.stop()
        os.write(spare_w, b"x")
        assert os.read(spare_r, 1) == b"x"
    finally:
        os.close(spare_r)
        os.close(spare_w)
