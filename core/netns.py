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


def _translate(path: str, error: BaseException) -> BaseException:
    if isinstance(error, FileNotFoundError):
        return NotFound(f"Network namespace {path} is gone.", target=path)
    if isinstance(error, PermissionError) or (isinstance(error, OSError) and error.errno == errno.EPERM):
        return PermissionDenied(f"Entering network namespace {path} needs root (CAP_SYS_ADMIN).", target=path)
    if isinstance(error, OSError) and not isinstance(error, NetconError):
        return NetconError(f"Entering network namespace {path} failed: {error.strerror}.", target=path)
    return error  # a NetconError, or a programming error inside fn: surfaces as itself


def run_in_each_netns(paths: list[str], fn: Callable[[], T]) -> dict[str, T | BaseException]:
    """Call ``fn`` once inside each namespace of ``paths``, all from one helper thread; per path, the
    result or the (translated) exception. One thread for many namespaces keeps a snapshot cheap."""
    results: dict[str, T | BaseException] = {}

    def worker() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            for path in paths:
                try:
                    target = os.open(path, os.O_RDONLY)
                    try:
                        _setns(target)
                        try:
                            results[path] = fn()
                        finally:
                            _setns(own)
                    finally:
                        os.close(target)
                except BaseException as error:  # handed to the caller's thread
                    results[path] = _translate(path, error)
        finally:
            os.close(own)

    thread = threading.Thread(target=worker, name="netns-switch")
    thread.start()
    thread.join()
    return results


def run_in_netns(path: str | None, fn: Callable[[], T]) -> T:
    """Call ``fn`` with the calling thread's network namespace set to ``path`` (None: no switch)."""
    if path is None:
        return fn()
    result = run_in_each_netns([path], fn)[path]
    if isinstance(result, BaseException):
        raise result
    return result
