"""Entering network namespaces without forking: a short-lived thread calls setns(2), creates what it needs
(a socket stays bound to the netns it was created in), and returns to its own namespace before exiting."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from netcon.core.context import NETNS_RUN_DIR
from netcon.core.errors import NetconError, NotFound, PermissionDenied

T = TypeVar("T")
OWN_NETNS = "/proc/self/ns/net"  # this process's netns: its main thread's, which never leaves it
THREAD_NETNS = "/proc/thread-self/ns/net"  # the calling thread's, which a helper thread returns to
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 2
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


def enter_netns(path: str) -> None:
    """Move the calling thread (for good) into the namespace at ``path``: for threads that live there."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _setns(fd)
    finally:
        os.close(fd)


def create_named(name: str) -> str:
    """``ip netns add NAME`` without forking: a helper thread unshares a new network namespace and
    bind-mounts it on /var/run/netns/NAME, then returns to its own. Returns the path."""
    os.makedirs(NETNS_RUN_DIR, exist_ok=True)
    path = os.path.join(NETNS_RUN_DIR, name)
    with open(path, "x"):
        pass

    def bind() -> None:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"unshare: {os.strerror(ctypes.get_errno())}")
        if _libc.mount(THREAD_NETNS.encode(), path.encode(), None, MS_BIND, None) != 0:
            raise OSError(ctypes.get_errno(), f"bind mount on {path}: {os.strerror(ctypes.get_errno())}")

    own = os.open(THREAD_NETNS, os.O_RDONLY)
    result: list[BaseException] = []

    def worker() -> None:
        try:
            try:
                bind()
            finally:
                _setns(own)
        except BaseException as error:  # handed to the caller's thread
            result.append(error)

    thread = threading.Thread(target=worker, name=f"netns-create:{name}")
    thread.start()
    thread.join()
    os.close(own)
    if result:
        os.unlink(path)
        raise NetconError(f"Creating network namespace {name} failed: {result[0]}.", target=name)
    return path


def root_netns() -> str:
    """The machine's root network namespace: netcon's own, unless ``NETCON_ROOT_NETNS`` names it (a netcon
    started inside a lab host by its sshd, where /proc/1 may not be readable: the lab bind-mounts the root one)."""
    given = os.environ.get("NETCON_ROOT_NETNS")
    return given if given and os.path.exists(given) else OWN_NETNS


def bind_netns(source: str, path: str) -> None:
    """Keep the namespace ``source`` reachable at the file ``path`` (a bind mount, as ``ip netns`` makes)."""
    if not os.path.exists(path):
        with open(path, "x"):
            pass
    if os.stat(path).st_dev == os.stat(source).st_dev:  # already a namespace file (nsfs)
        return
    if _libc.mount(source.encode(), path.encode(), None, MS_BIND, None) != 0:
        err = ctypes.get_errno()
        raise NetconError(f"Bind-mounting {source} on {path} failed: {os.strerror(err)}.", target=path)


def remove_named(name: str) -> None:
    """``ip netns del NAME``: unmount and unlink; the namespace goes when nothing else holds it."""
    path = os.path.join(NETNS_RUN_DIR, name)
    _libc.umount2(path.encode(), MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


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
        own = os.open(THREAD_NETNS, os.O_RDONLY)
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
