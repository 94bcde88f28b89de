"""A host-wide lock that serialises netcon's own creates against one Docker engine.

Docker 20.10 checks a network name and creates the network in two steps, so two creates started at the same
instant both succeed and leave two networks with one name. netcon's creates (network create, container run)
read the host's facts, check the name and create under this lock, so two netcons never race each other; a
creator outside netcon is caught by the check after the create (core.network_ops).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator

from netcon.core.context import HostContext
from netcon.core.errors import NetconError

LOCK_DIR = "/run/lock"  # tmpfs, world-writable with the sticky bit on Debian; else the temp directory
WAIT_S = 30.0
POLL_S = 0.02


def lock_path(ctx: HostContext) -> str:
    """One lock file per Docker endpoint, shared by every user of this host."""
    digest = hashlib.sha256(ctx.docker_url.encode()).hexdigest()[:16]
    directory = LOCK_DIR if os.access(LOCK_DIR, os.W_OK) else tempfile.gettempdir()
    return os.path.join(directory, f"netcon-create-{digest}.lock")


@contextlib.contextmanager
def create_lock(ctx: HostContext, wait_s: float = WAIT_S) -> Iterator[None]:
    """Hold the create lock of ``ctx``'s engine; another netcon holding it longer than ``wait_s`` is an error
    naming the lock file, not an endless wait."""
    path = lock_path(ctx)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise NetconError(f"Cannot open the lock file {path}: {error.strerror}; nothing was changed.") from error
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise NetconError(
                        f"Another netcon has been creating on this engine for {wait_s:g} s (it holds {path}); "
                        "nothing was changed."
                    ) from None
                time.sleep(POLL_S)
        yield
    finally:
        os.close(fd)  # closing releases the lock
