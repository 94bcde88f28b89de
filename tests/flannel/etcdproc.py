"""Private etcd members for tests that stop etcd or kill a cluster member (the shared one must stay up)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

from tests.fixtures.etcd import free_port, wait_healthy


class EtcdCluster:
    """``size`` members on loopback, v2 enabled; members can be stopped and started again on the same data."""

    def __init__(self, size: int = 1) -> None:
        self.names = [f"m{i}" for i in range(size)]
        self.client_ports = [free_port() for _ in range(size)]
        self.peer_ports = [free_port() for _ in range(size)]
        self.dirs = [tempfile.mkdtemp(prefix="netcon-etcd-") for _ in range(size)]
        self.procs: list[subprocess.Popen | None] = [None] * size
        self.cluster = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(self.names, self.peer_ports))
        try:
            for i in range(size):
                self.start(i, wait=False)
            for endpoint in self.endpoints:
                wait_healthy(endpoint, 30)
        except BaseException:
            self.close()
            raise

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(f"http://127.0.0.1:{p}" for p in self.client_ports)

    def start(self, i: int, wait: bool = True) -> None:
        url, peer = self.endpoints[i], f"http://127.0.0.1:{self.peer_ports[i]}"
        self.procs[i] = subprocess.Popen(
            [
                "etcd",
                "--name",
                self.names[i],
                "--data-dir",
                self.dirs[i],
                "--enable-v2",
                "--listen-client-urls",
                url,
                "--advertise-client-urls",
                url,
                "--listen-peer-urls",
                peer,
                "--initial-advertise-peer-urls",
                peer,
                "--initial-cluster",
                self.cluster,
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                "netcon-test",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if wait:
            wait_healthy(url, 30)

    def stop(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None:
            proc.kill()
            proc.wait()
            self.procs[i] = None

    def close(self) -> None:
        for i in range(len(self.procs)):
            self.stop(i)
        for directory in self.dirs:
            shutil.rmtree(directory, ignore_errors=True)
