"""Fixtures over the real Docker engine: everything a test makes is named ``<prefix>-...``, labelled, and
removed afterwards even when the test fails."""

from __future__ import annotations

import contextlib
import uuid

import docker
import pytest
from hypothesis import settings

from netcon.core.context import HostContext
from netcon.core.image import BUSYBOX_IMAGE, ensure_busybox

# Property tests check logic, not speed: on a loaded 2-core CI machine a per-example deadline only adds flakes.
settings.register_profile("netcon", deadline=None)
settings.load_profile("netcon")

TEST_LABEL = "netcon.test"

pytest_plugins = ["tests.fixtures.etcd"]


@pytest.fixture(autouse=True)
def audit_log(tmp_path, monkeypatch):
    """Every test (and every netcon it starts) writes its own audit log, never the user's."""
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("NETCON_AUDIT_LOG", str(path))
    monkeypatch.delenv("NETCON_READ_ONLY", raising=False)
    return path


@pytest.fixture(scope="session")
def ctx() -> HostContext:
    return HostContext()


@pytest.fixture(scope="session")
def dclient() -> docker.DockerClient:
    client = docker.from_env(timeout=60)
    client.ping()
    return client


@pytest.fixture(scope="session")
def busybox(ctx, dclient) -> str:
    ensure_busybox(ctx)
    return BUSYBOX_IMAGE


class DockerObjects:
    """Creates networks and containers with a unique prefix and a label, and removes them all at the end."""

    def __init__(self, client: docker.DockerClient, image: str) -> None:
        self.client = client
        self.image = image
        self.prefix = f"nct{uuid.uuid4().hex[:6]}"
        self.containers: list[str] = []
        self.networks: list[str] = []

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def network(self, suffix: str, **kwargs):
        labels = {TEST_LABEL: self.prefix, **kwargs.pop("labels", {})}
        net = self.client.networks.create(self.name(suffix), labels=labels, **kwargs)
        self.networks.append(net.id)
        return net

    def container(self, suffix: str, network: str | None = None, command=("sleep", "3600"), **kwargs):
        labels = {TEST_LABEL: self.prefix, **kwargs.pop("labels", {})}
        container = self.client.containers.run(
            self.image, list(command), name=self.name(suffix), detach=True, labels=labels, network=network, **kwargs
        )
        self.containers.append(container.id)
        return container

    def cleanup(self) -> None:
        for cid in reversed(self.containers):
            with contextlib.suppress(docker.errors.NotFound):
                self.client.api.remove_container(cid, force=True)
        for filters in ({"label": f"{TEST_LABEL}={self.prefix}"},):
            for c in self.client.api.containers(all=True, filters=filters):
                self.client.api.remove_container(c["Id"], force=True)
            for n in self.client.api.networks(filters=filters):
                self.client.api.remove_network(n["Id"])
        for nid in self.networks:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.api.remove_network(nid)


@pytest.fixture
def dobj(dclient, busybox):
    objects = DockerObjects(dclient, busybox)
    try:
        yield objects
    finally:
        objects.cleanup()
