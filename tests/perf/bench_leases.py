"""Lease benchmark: N simulated hosts acquiring leases (v3 and v2), listing 10,000 leases, and the work a live
lease view redoes per update with 10,000 leases (listing + diff + rows + kernel comparison; the Flannel pane
itself belongs to the console and is not measured here).

    python -m tests.perf.bench_leases --hosts 1000

Last line: ``leases hosts=<n> api=3 acquire_p50_ms=<x> acquire_p99_ms=<x> list10k_s=<x> pane_update_ms=<x>``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from core.context import HostContext
from core.etcd import EtcdOptions, open_client
from core.flannel.agent import remote_of
from core.flannel.lease import acquire_lease, diff_leases, vxlan_attrs
from core.flannel.registry import FlannelStore, set_config
from core.flannel.vxlan import VxlanState, check_remotes, random_mac
from tests.fixtures.etcd import EtcdProcess

CONFIG = '{"Network": "10.0.0.0/8", "Backend": {"Type": "vxlan"}}'
LIST_TARGET = 10_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def public_ip(n: int) -> str:
    return f"100.{64 + n // 65536}.{n // 256 % 256}.{n % 256}"


def bench_acquire(endpoint: str, api: str, hosts: int) -> tuple[FlannelStore, list[float], float]:
    ctx = HostContext()
    store = FlannelStore(open_client(EtcdOptions(endpoints=(endpoint,), api=api)), f"/bench{uuid.uuid4().hex[:6]}")
    set_config(ctx, store, CONFIG)
    latencies = []
    start = time.perf_counter()
    for n in range(hosts):
        t0 = time.perf_counter()
        acquire_lease(ctx, store, vxlan_attrs(public_ip(n), 1, random_mac()))
        latencies.append((time.perf_counter() - t0) * 1000)
    return store, latencies, time.perf_counter() - start


def fill(store: FlannelStore, have: int, target: int) -> None:
    """Top up to ``target`` leases with direct creates (acquire would re-list each time)."""
    ctx = HostContext()

    def one(n: int) -> None:
        subnet = f"10.{n // 256 % 256}.{n % 256}.0/24"
        store.create_lease(ctx, subnet, vxlan_attrs(public_ip(n), 1, random_mac()), 86400)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(40_000, 40_000 + target - have)))


def bench_listing(endpoint: str, store: FlannelStore) -> tuple[float, float, float]:
    """(cold listing s, warm listing s, per-update ms of the core work a live view does)."""
    cold = FlannelStore(open_client(EtcdOptions(endpoints=(endpoint,), api="3")), store.prefix)
    t0 = time.perf_counter()
    leases, _ = cold.leases()
    cold_s = time.perf_counter() - t0
    assert len(leases) >= LIST_TARGET, len(leases)
    t0 = time.perf_counter()
    cold.leases()
    warm_s = time.perf_counter() - t0
    kernel = VxlanState(None)
    updates = []
    previous = leases
    for _ in range(5):
        t0 = time.perf_counter()
        current, _ = cold.leases()
        diff_leases(previous, current)
        now = time.time()
        [lease.row(now) for lease in current]
        check_remotes(kernel, tuple(r for r in map(remote_of, current) if r is not None))
        updates.append((time.perf_counter() - t0) * 1000)
        previous = current
    cold.close()
    return cold_s, warm_s, statistics.median(updates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    args = parser.parse_args()
    etcd = EtcdProcess()
    try:
        results = {}
        for api in ("2", "3"):
            store, latencies, total = bench_acquire(etcd.endpoint, api, args.hosts)
            results[api] = (store, latencies)
            print(f"leases hosts={args.hosts} api={api} acquire_p50_ms={statistics.median(latencies):.2f} "
                  f"acquire_p99_ms={percentile(latencies, 0.99):.2f} total_s={total:.2f}", flush=True)
        store, latencies = results["3"]
        fill(store, args.hosts, LIST_TARGET)
        cold_s, warm_s, pane_ms = bench_listing(etcd.endpoint, store)
        print(f"list10k api=3 cold_s={cold_s:.3f} warm_s={warm_s:.3f} (cold: one TimeToLive per lease; "
              f"warm: lease expiries cached)", flush=True)
        print(f"leases hosts={args.hosts} api=3 acquire_p50_ms={statistics.median(latencies):.2f} "
              f"acquire_p99_ms={percentile(latencies, 0.99):.2f} list10k_s={cold_s:.3f} pane_update_ms={pane_ms:.1f}")
        for store, _ in results.values():
            store.close()
    finally:
        etcd.stop()


if __name__ == "__main__":
    main()
