"""One real lab with an sshd per host (``lab up --ssh``: real sshd, real dockerd per host, real etcd) shared by
the tests of a module, removed at its end even when a test fails."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from netcon.core.context import HostContext
from netcon.core.lab import lab
from netcon.core.lab.procs import processes_mentioning
from netcon.core.lab.state import LabState


@pytest.fixture(scope="module")
def ssh_lab() -> Iterator[LabState]:
    """The lab; afterwards ``lab down`` leaves no sshd, session or file of it (keys, configs, audit logs)."""
    ctx = HostContext()
    prefix = f"s{uuid.uuid4().hex[:5]}"
    directory = None
    try:
        state = lab.up(ctx, prefix, hosts=2, ssh=True)
        directory = state.directory
        yield state
    finally:
        lab.down(ctx, prefix)
    if directory is not None:
        assert processes_mentioning(directory) == [] and not os.path.exists(directory)
