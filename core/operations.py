"""Every operation that changes the host, in one registry: the read-only tests and the console enumerate it.

Importing this module imports the modules whose ``@mutation`` functions fill ``core.audit.REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netcon.core import container_ops, image, network_ops
from netcon.core.audit import REGISTRY
from netcon.core.flannel import docker_opts
from netcon.core.flannel import operations as flannel_operations
from netcon.core.lab import lab
from netcon.core.trace import nftrace

MODULES = (network_ops, container_ops, image, lab, flannel_operations, docker_opts, nftrace)


def mutating_operations() -> dict[str, Callable[..., Any]]:
    """Operation name (e.g. ``network.create``) to its core function ``fn(ctx, ...)``."""
    return dict(REGISTRY)
