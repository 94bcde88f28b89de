"""Flannel test fixtures: a store on the shared etcd under a unique prefix (both APIs), removed afterwards."""

from __future__ import annotations

import uuid

import pytest

from netcon.core.etcd import EtcdOptions, open_client
from netcon.core.flannel.registry import FlannelStore

SEED_CONFIG = '{ "Network":"172.17.0.0/16", "Backend": {"Type": "vxlan"}} '


def wipe(client, prefix: str) -> None:
    for kv in client.list_prefix(prefix).items:
        client.delete(kv.key)


@pytest.fixture
def make_store(etcd_endpoint):
    """``make_store(api, prefix_tail)`` -> a FlannelStore under ``/nct<uuid>/<prefix_tail>``."""
    made = []

    def make(api: str = "3", tail: str = "coreos.com/network", endpoint: str | None = None) -> FlannelStore:
        prefix = f"/nct{uuid.uuid4().hex[:8]}/{tail}"
        store = FlannelStore(open_client(EtcdOptions(endpoints=(endpoint or etcd_endpoint,), api=api)), prefix)
        made.append(store)
        return store

    try:
        yield make
    finally:
        for store in made:
            try:
                wipe(store.client, store.prefix)
            finally:
                store.close()
