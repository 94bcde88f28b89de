"""A small synchronous etcd client with two backends: the v2 HTTP keys API and the v3 gRPC API (aetcd).

``open_client(options, probe_key)`` picks the backend; ``api="auto"`` uses the API under which ``probe_key``
(flannel's ``<prefix>/config``) exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netcon.core.errors import NetconError
from netcon.core.etcd.base import KeyValue, Listing, Watch, WatchEvent, WatchReset
from netcon.core.etcd.options import EtcdOptions
from netcon.core.etcd.v2 import V2Client

if TYPE_CHECKING:
    from netcon.core.etcd.v3 import V3Client

    EtcdClient = V2Client | V3Client

__all__ = [
    "EtcdClient",
    "EtcdOptions",
    "KeyValue",
    "Listing",
    "V2Client",
    "V3Client",
    "Watch",
    "WatchEvent",
    "WatchReset",
    "open_client",
]


def __getattr__(name: str) -> Any:
    """``V3Client`` (and the ``EtcdClient`` union) load aetcd and grpc, ~45 ms: imported when first asked for,
    so a process that speaks v2 only (a remote ``netcon serve --stdio`` of a v2 store) never pays for them."""
    if name in ("V3Client", "EtcdClient"):
        from netcon.core.etcd.v3 import V3Client

        return V3Client if name == "V3Client" else V2Client | V3Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_client(options: EtcdOptions, probe_key: str | None = None) -> EtcdClient:
    """A client for ``options.api``; for "auto" the API holding ``probe_key`` (v3 when neither does)."""
    if options.api == "2":
        return V2Client(options)
    from netcon.core.etcd.v3 import V3Client

    if options.api == "3" or not probe_key:
        return V3Client(options)
    v3 = V3Client(options.with_api("3"))
    if v3.get(probe_key) is not None:
        return v3
    v2 = V2Client(options.with_api("2"))
    try:
        found = v2.get(probe_key) is not None
    except NetconError:
        found = False  # v2 not served: the v3 answer stands
    if found:
        v3.close()
        return v2
    return v3
