"""Entering network namespaces without forking: a short-lived thread calls setns(2), creates what it needs
(a socket stays bound to the netns it was created in), and returns to its own namespace before exiting."""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from core.errors import NetconError, NotFound, PermissionDenied

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def netns_inode(path: str) -> int:
    """The inode that identifies a network namespace (what ``ls -i /proc/PID/ns/net`` shows)."""
    return os.stat(path).st_ino


def proc_netns(pid: int) -> str:
    return f"/proc/{pid}/ns/net"


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def run_in_netns(path: str | None, fn: Callable[[], T]) -> T:
    """Call ``fn`` with the calling thread's network namespace set to ``path`` (None: no switch)."""
    if path is None:
        return fn()
    result: dict[str, object] = {}

    def worker() -> None:
        try:
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            try:
                target = os.open(path, os.O_RDONLY)
                try:
                    _setns(target)
                    try:
                        result["value"] = fn()
                    finally:
                        _setns(own)
                finally:
                    os.close(target)
            finally:
                os.close(own)
        except BaseException as error:  # handed to the caller's thread
            result["error"] = error

    thread = threading.Thread(target=worker, name=f"netns:{path}")
    thread.start()
    thread.join()
    if "error" in result:
        error = result["error"]
        if isinstance(error, FileNotFoundError):
            raise NotFound(f"Network namespace {path} is gone.", target=path) from error
        if isinstance(error, PermissionError) or (isinstance(error, OSError) and error.errno == errno.EPERM):
            raise PermissionDenied(f"Entering network namespace {path} needs root (CAP_SYS_ADMIN).",
                                   target=path) from error
        if isinstance(error, NetconError):
            raise error
        if isinstance(error, OSError):
            raise NetconError(f"Entering network namespace {path} failed: {error.strerror}.", target=path) from error
        raise error  # a programming error inside fn: let it surface as itself
    return result["value"]  # type: ignore[return-value]
