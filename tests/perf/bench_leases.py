"""Lease benchmark: N simulated hosts acquiring leases, listing 10,000 leases with a cold and a warm client (v2
and v3 side by side, in one run, on one etcd), and the Flannel pane applying one lease change while it shows
10,000 leases (a headless Textual app following the same etcd).

    python -m tests.perf.bench_leases --hosts 1000

Listing is measured three ways: ``keys`` (one request: what the pane and the agent do, TTLs read later or only
for their own lease), ``cold`` (a new client reading every TTL: ``show leases``; v3 pays one LeaseTimeToLive per
key, concurrently) and ``warm`` (the same client again: expiries cached).
Last line: ``leases hosts=<n> api=3 acquire_p50_ms=<x> acquire_p99_ms=<x> list10k_s=<x> pane_update_ms=<x>``
(list10k_s: the cold listing of the keys).
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


def bench_listing(endpoint: str, api: str, prefix: str) -> dict[str, float]:
    """Seconds to list 10,000 leases: keys only with a new client, with every TTL with a new client, and with
    every TTL again on that client."""
    times = {}
    keys_client = FlannelStore(open_client(EtcdOptions(endpoints=(endpoint,), api=api, timeout=30)), prefix)
    t0 = time.perf_counter()
    listing = keys_client.listing(ttls=False)
    times["keys"] = time.perf_counter() - t0
    keys_client.close()
    assert len(listing.leases) >= LIST_TARGET, len(listing.leases)
    cold = FlannelStore(open_client(EtcdOptions(endpoints=(endpoint,), api=api, timeout=30)), prefix)
    t0 = time.perf_counter()
    listing = cold.listing()
    times["cold"] = time.perf_counter() - t0
    assert all(lease.ttl_known for lease in listing.leases)
    t0 = time.perf_counter()
    cold.listing()
    times["warm"] = time.perf_counter() - t0
    cold.close()
    return times


async def _pane_updates(endpoint: str, store: FlannelStore, rounds: int) -> tuple[float, list[float], list[float]]:
    """(s to show the listing, ms per applied change, ms from an etcd write to its row on screen)."""
    from netcon.tui.app import NetconApp
    from netcon.tui.flannel_feed import EtcdSettings, FlannelFeed, LeasesChanged
    from netcon.tui.panes.flannel import FlannelPane
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
        listings = {}
        for api in ("2", "3"):
            store, _ = results[api]
            fill(store, args.hosts, LIST_TARGET)
            listings[api] = bench_listing(etcd.endpoint, api, store.prefix)
        for how in ("keys", "cold", "warm"):
            print(
                f"list10k {how:<4} v2_s={listings['2'][how]:.3f} v3_s={listings['3'][how]:.3f}",
                flush=True,
            )
        store, latencies = results["3"]
        cold_s = listings["3"]["keys"]
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
