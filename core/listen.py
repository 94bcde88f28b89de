"""A server that cannot bind, in one sentence: shared by the exporter and ``netcon serve``."""

from __future__ import annotations

import errno

from netcon.core.errors import NetconError

REASONS = {
    errno.EADDRINUSE: "the port is in use by another program",
    errno.EADDRNOTAVAIL: "that address is not one of this host's",
    errno.EACCES: "ports under 1024 need root",
}


def shown(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_failure(host: str, port: int, error: OSError) -> NetconError:
    reason = REASONS.get(error.errno or 0) or (error.strerror or str(error)).rstrip(".")
    return NetconError(f"Cannot listen on {shown(host, port)}: {reason}.", target="listen")
