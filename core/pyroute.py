"""pyroute2 in any network namespace without forking.

pyroute2's ``IPRoute(netns=...)`` and ``netns.create`` fork a helper process, which crashes once gRPC's
threads (etcd v3) run in this process. ``Netlink`` instead gives one worker thread the namespace (setns
affects only the calling thread); it owns the IPRoute socket and runs the calls handed to it.
"""

from __future__ import annotations

import errno
import queue
import threading
from collections.abc import Callable
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from netcon.core.context import HostContext
from netcon.core.errors import NetlinkFailure, PermissionDenied
from netcon.core.netns import enter_netns

# pyroute2 has no type information: its IPRoute and the messages it returns are Any here, read by the callers
# with ``msg["index"]`` and ``msg.get_attr("IFLA_IFNAME")``. This module is where that boundary is.
_Reply = tuple[bool, Any]  # (True, the call's result) or (False, the exception it raised)
_Job = tuple[Callable[[Any], Any], "queue.Queue[_Reply]"]


class Netlink:
    """pyroute2 in the context's network namespace, fork-free: a worker thread enters the namespace (setns
    affects only the calling thread) and owns the IPRoute socket; calls are handed to it. pyroute2's
    ``IPRoute(netns=...)`` would fork a helper, which crashes once gRPC's threads run in this process."""

    def __init__(self, ctx: HostContext) -> None:
        self.ctx = ctx
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        started: queue.Queue[BaseException | None] = queue.Queue()
        self._thread = threading.Thread(
            target=self._serve, args=(ctx.netns, started), daemon=True, name=f"netlink {ctx.netns or 'host'}"
        )
        self._thread.start()
        error = started.get()
        if error is not None:
            raise failure(error, f"open netlink in {ctx.netns or 'this netns'}") from error

    def _serve(self, path: str | None, started: queue.Queue[BaseException | None]) -> None:
        try:
            if path:
                enter_netns(path)
            ipr = IPRoute()
        except (NetlinkError, OSError) as error:
            started.put(error)
            return
        started.put(None)
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                fn, reply = job
                try:
                    reply.put((True, fn(ipr)))
                except BaseException as error:  # handed back to the caller's thread
                    reply.put((False, error))
        finally:
            ipr.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(5)

    def call(self, what: str, method: str, *args: Any, ignore: tuple[int, ...] = (), **kwargs: Any) -> Any:
        """``IPRoute.<method>(*args, **kwargs)`` on the worker; pyroute2's answer as it gives it. A netlink
        error whose code is in ``ignore`` gives None; any other is a NetconError naming ``what``."""
        reply: queue.Queue[_Reply] = queue.Queue()
        self._jobs.put((lambda ipr: getattr(ipr, method)(*args, **kwargs), reply))
        ok, value = reply.get()
        if ok:
            return value
        if isinstance(value, NetlinkError):
            if value.code in ignore:
                return None
            raise failure(value, what) from value
        raise value

    def index(self, ifname: str) -> int | None:
        found = self.call(f"look up {ifname}", "link_lookup", ifname=ifname)
        if not found:
            return None
        index: int = found[0]
        return index


def failure(error: BaseException, what: str) -> Exception:
    """A pyroute2 or OS error as a NetconError naming what was being done."""
    code = getattr(error, "code", None) or getattr(error, "errno", 0) or 0
    reason = errno.errorcode.get(code, "") if code else ""
    text = f"{what}: {getattr(error, 'args', [None, ''])[-1] or reason}".rstrip()
    if code in (errno.EPERM, errno.EACCES):
        return PermissionDenied(f"Not permitted to {text} (run as root).", target=what)
    return NetlinkFailure(f"Netlink refused to {text}.", code=code, target=what)
