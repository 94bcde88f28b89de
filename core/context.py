"""Where the core looks and whether it may change anything.

Every operation takes a ``HostContext``; mutations call ``ctx.require_writable(...)`` first, so read-only
mode is enforced here, in the core, whatever the UI shows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from netcon.core.errors import ReadOnlyError, UsageError
from netcon.core.validate import values

NETNS_RUN_DIR = "/var/run/netns"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def resolve_netns(name_or_path: str | None) -> str | None:
    """Turn ``--netns NAME|PATH`` into a path of a network namespace file, or None for our own netns."""
    if name_or_path is None:
        return None
    given = values.text(name_or_path, "netns", "Network namespace")
    path = given if "/" in given else os.path.join(NETNS_RUN_DIR, given)
    if len(path) > 4096 or not os.path.exists(path):
        raise UsageError(f"Network namespace {values.shown(given)} does not exist (looked for {path}).", target="netns")
    if os.stat(path).st_dev != os.stat("/proc/self/ns/net").st_dev:  # namespace files live on nsfs
        raise UsageError(f"{path} is not a network namespace (like /var/run/netns/NAME).", target="netns")
    return path


@dataclass(frozen=True)
class HostContext:
    """The host netcon works on: its Docker endpoint, its network namespace and the read-only switch."""

    docker_host: str | None = None
    netns: str | None = None
    read_only: bool = False

    @classmethod
    def from_options(
        cls, docker_host: str | None = None, netns: str | None = None, read_only: bool = False
    ) -> HostContext:
        if docker_host is not None:
            docker_host = values.docker_url(docker_host, "docker_host", "--docker-host")
        elif os.environ.get("DOCKER_HOST"):
            docker_host = values.docker_url(os.environ["DOCKER_HOST"], "docker_host", "DOCKER_HOST")
        return cls(
            docker_host=docker_host,
            netns=resolve_netns(netns),
            read_only=read_only or _truthy(os.environ.get("NETCON_READ_ONLY")),
        )

    @property
    def docker_url(self) -> str:
        return self.docker_host or "unix:///var/run/docker.sock"

    def require_writable(self, operation: str) -> None:
        """Refuse ``operation`` in read-only mode; every mutating core function calls this first."""
        if self.read_only:
            raise ReadOnlyError(f"Refused {operation}: netcon runs in read-only mode.", target=operation)
