"""One root error for everything the core refuses or fails at.

Each I/O boundary (Docker API, netlink, /proc, etcd, subprocesses) translates its own exceptions into one
of these, carrying what failed, so the console shows ``str(error)`` and the CLI exits with ``exit_code``.
"""

from __future__ import annotations


class NetconError(Exception):
    """Root of every error the core raises on purpose. ``str()`` is one sentence naming what failed."""

    exit_code = 1

    def __init__(self, message: str, *, target: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.target = target

    def __str__(self) -> str:
        return self.message


class UsageError(NetconError):
    """Bad input: a value the user gave is malformed or contradicts the host's state. Nothing was changed."""

    exit_code = 2


class ReadOnlyError(NetconError):
    """A mutation was asked for while the core runs read-only. Nothing was changed."""

    exit_code = 3


class DockerUnavailable(NetconError):
    """The Docker daemon cannot be reached."""


class DockerRefused(NetconError):
    """The Docker daemon answered with an error (its reason is in the message)."""


class NotFound(NetconError):
    """A named object (container, network, namespace, key) does not exist."""

    exit_code = 2


class NetlinkFailure(NetconError):
    """A netlink request failed; ``code`` is the errno the kernel returned."""

    def __init__(self, message: str, *, code: int = 0, target: str | None = None) -> None:
        super().__init__(message, target=target)
        self.code = code


class PermissionDenied(NetconError):
    """The operation needs privileges this process does not have."""


class EtcdUnavailable(NetconError):
    """No etcd endpoint answered."""
