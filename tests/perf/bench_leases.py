"""Lease benchmark: N simulated hosts acquiring leases (v3 and v2), listing 10,000 leases, and the Flannel pane
applying one lease change while it shows 10,000 leases (a headless Textual app following the same etcd).

    python -m tests.perf.bench_leases --hosts 1000

Last line: ``leases hosts=<n> api=3 acquire_p50_ms=<x> acquire_p99_ms=<x> list10k_s=<x> pane_update_ms=<x>``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from netcon.core.context import HostContext
from netcon.core.etcd import EtcdOptions, open_client
from netcon.core.flannel.lease import acquire_lease, vxlan_attrs
from netcon.core.flannel.registry import FlannelStore, LeaseEvent, set_config
from netcon.core.flannel.vxlan import random_mac
from tests.fixtures.etcd import EtcdProcess

CONFIG = '{"Network": "10.0.0.0/8", "Backend": {"Type": "vxlan"}}'
LIST_TARGET = 10_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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


def bench_listing(endpoint: str, store: FlannelStore) -> tuple[float, float]:
    """(cold listing s, warm listing s)."""
    cold = FlannelStore(open_client(EtcdOptions(endpoints=(endpoint,), api="3")), store.prefix)
    t0 = time.perf_counter()
    leases, _ = cold.leases()
    cold_s = time.perf_counter() - t0
    assert len(leases) >= LIST_TARGET, len(leases)
    t0 = time.perf_counter()
    cold.leases()
    warm_s = time.perf_counter() - t0
    cold.close()
    return cold_s, warm_s


async def _pane_updates(endpoint: str, store: FlannelStore, rounds: int) -> tuple[float, list[float], list[float]]:
    """(s to show the listing, ms per applied change, ms from an etcd write to its row on screen)."""
    from netcon.tui.app import NetconApp
    from netcon.tui.flannel_feed import EtcdSettings, FlannelFeed
    from netcon.tui.panes.flannel import FlannelPane, LeasesChanged
    from tests.fixtures.ports_scene import FixturePorts
    from tests.tui.conftest import SceneCollector
    from tests.tui.screen_text import screen_text

    ctx = HostContext()
    feed = FlannelFeed(ctx, EtcdSettings(EtcdOptions(endpoints=(endpoint,), api="3"), store.prefix))
    app = NetconApp(ctx, SceneCollector(), watch=False, flannel=feed, ports=FixturePorts())
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(FlannelPane)
        t0 = time.perf_counter()
        await pilot.press("5")
        while pane.table.row_count < LIST_TARGET:
            await asyncio.sleep(0.01)
        screen_text(app)
        shown_s = time.perf_counter() - t0
        applied, end_to_end = [], []
        lease = next(iter(pane.leases.values()))
        for _ in range(rounds):
            for event in (LeaseEvent("removed", lease.subnet, None), LeaseEvent("added", lease.subnet, lease)):
                t0 = time.perf_counter()
                pane.post_message(LeasesChanged([event]))
                await pilot.pause()
                screen_text(app)  # the whole screen rendered, as the terminal would get it
                applied.append((time.perf_counter() - t0) * 1000)
        for n in range(rounds):
            subnet = f"10.250.{n}.0/24"
            t0 = time.perf_counter()
            store.create_lease(ctx, subnet, vxlan_attrs(public_ip(60_000 + n), 1, random_mac()), 86400)
            while subnet not in pane.table.rows:
                await asyncio.sleep(0.001)
            screen_text(app)
            end_to_end.append((time.perf_counter() - t0) * 1000)
    return shown_s, applied, end_to_end


def bench_pane(endpoint: str, store: FlannelStore, rounds: int = 20) -> tuple[float, float, float, float]:
    """(s to show 10,000 leases, median and p99 ms per applied change, median ms etcd write -> on screen)."""
    shown_s, applied, end_to_end = asyncio.run(_pane_updates(endpoint, store, rounds))
    return shown_s, statistics.median(applied), percentile(applied, 0.99), statistics.median(end_to_end)


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
            print(
                f"leases hosts={args.hosts} api={api} acquire_p50_ms={statistics.median(latencies):.2f} "
                f"acquire_p99_ms={percentile(latencies, 0.99):.2f} total_s={total:.2f}",
                flush=True,
            )
        store, latencies = results["3"]
        fill(store, args.hosts, LIST_TARGET)
        cold_s, warm_s = bench_listing(etcd.endpoint, store)
        print(
            f"list10k api=3 cold_s={cold_s:.3f} warm_s={warm_s:.3f} (cold: one TimeToLive per lease; "
            f"warm: lease expiries cached)",
            flush=True,
        )
        shown_s, pane_ms, pane_p99, e2e_ms = bench_pane(etcd.endpoint, store)
        print(
            f"pane leases=10000 shown_s={shown_s:.2f} update_p50_ms={pane_ms:.1f} update_p99_ms={pane_p99:.1f} "
            f"etcd_write_to_screen_ms={e2e_ms:.1f}",
            flush=True,
        )
        print(
            f"leases hosts={args.hosts} api=3 acquire_p50_ms={statistics.median(latencies):.2f} "
            f"acquire_p99_ms={percentile(latencies, 0.99):.2f} list10k_s={cold_s:.3f} pane_update_ms={pane_ms:.1f}"
        )
        for store, _ in results.values():
            store.close()
    finally:
        etcd.stop()


if __name__ == "__main__":
    main()
