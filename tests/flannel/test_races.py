"""Many in-process agents acquiring at once: distinct subnets, and an exact count when the pool runs out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from netcon.core.errors import NetconError
from netcon.core.flannel.lease import acquire_lease, vxlan_attrs
from netcon.core.flannel.registry import set_config
from netcon.core.flannel.vxlan import random_mac


def _acquire_all(ctx, store, count: int, workers: int):
    def one(n: int):
        try:
            return acquire_lease(ctx, store, vxlan_attrs(f"198.18.{n // 250}.{n % 250 + 1}", 1, random_mac()))
        except NetconError as error:
            return error

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.parametrize("api", ["2", "3"])
def test_64_agents_get_distinct_subnets(make_store, ctx, api):
    store = make_store(api)
    set_config(ctx, store, '{"Network": "10.5.0.0/16", "Backend": {"Type": "vxlan"}}')
    results = _acquire_all(ctx, store, 64, 64)
    assert all(not isinstance(r, Exception) for r in results), [r for r in results if isinstance(r, Exception)]
    assert len({r.subnet for r in results}) == 64
    leases, _ = store.leases()
    assert len(leases) == 64 and len({lease.attrs.public_ip for lease in leases}) == 64


def test_300_agents_on_254_subnets(make_store, ctx):
    store = make_store("3")
    set_config(ctx, store, '{"Network": "10.6.0.0/16", "SubnetMin": "10.6.1.0", "SubnetMax": "10.6.254.0"}')
    results = _acquire_all(ctx, store, 300, 64)
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 254 and len({r.subnet for r in won}) == 254
    assert len(lost) == 46 and all(str(e).startswith("out of subnets") for e in lost), {str(e) for e in lost}
    assert "10.6.1.0/24-10.6.254.0/24 of 10.6.0.0/16" in str(lost[0])
