"""One real lab with an sshd per host (``lab up --ssh``: real sshd, real dockerd per host, real etcd) shared by
the tests of a module, removed at its end even when a test fails."""

from __future__ import annotations

import uuid

import pytest

from netcon.core.context import HostContext
from netcon.core.lab import lab
from netcon.core.lab.state import LabState


@pytest.fixture(scope="module")
def ssh_lab() -> LabState:
    ctx = HostContext()
    prefix = f"s{uuid.uuid4().hex[:5]}"
    try:
        yield lab.up(ctx, prefix, hosts=2, ssh=True)
    finally:
        lab.down(ctx, prefix)
