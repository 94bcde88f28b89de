"""The Flannel pane against a real etcd: leases written with the core under a unique prefix appear, a lease
deleted elsewhere disappears without a key press, actions change etcd, read-only hides them. The host side is
the fixture scene (its eth0 is 192.0.2.10, so the lease with that PublicIP is this host's) and the real kernel
(which has no flannel device here). Snapshot tests use the fixture feed (tests/fixtures/flannel_scene.py)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from netcon.core.context import HostContext
from netcon.core.etcd import EtcdOptions, open_client
from netcon.core.flannel.lease import LEASE_TTL, revoke_lease, vxlan_attrs
from netcon.core.flannel.registry import BrokenLease, FlannelStore, set_config
from netcon.tui.app import NetconApp
from netcon.tui.flannel_feed import EtcdSettings, FlannelFeed
from netcon.tui.panes.flannel import FlannelPane
from tests.fixtures.flannel_scene import FixtureFeed
from tests.fixtures.ports_scene import FixturePorts
from tests.tui.conftest import Clock, SceneCollector
from tests.tui.screen_text import screen_text

CONFIG = '{"Network": "10.77.0.0/16", "Backend": {"Type": "vxlan", "VNI": 1}}'


@pytest.fixture
def store(etcd_endpoint):
    """A flannel network under a unique prefix: config, this host's lease, a remote one, a reservation."""
    store = FlannelStore(
        open_client(EtcdOptions(endpoints=(etcd_endpoint,), api="3")), f"/nctui{uuid.uuid4().hex[:8]}/net"
    )
    ctx = HostContext()
    try:
        set_config(ctx, store, CONFIG)
        store.create_lease(ctx, "10.77.3.0/24", vxlan_attrs("192.0.2.10", 1, "02:aa:00:00:00:03"), LEASE_TTL)
        store.create_lease(ctx, "10.77.9.0/24", vxlan_attrs("198.18.99.9", 1, "02:aa:00:00:00:09"), LEASE_TTL)
        store.write_lease(ctx, "10.77.20.0/24", vxlan_attrs("198.18.99.20", 1, "02:aa:00:00:00:14"), None)
        yield store
    finally:
        for kv in store.client.list_prefix(store.prefix).items:
            store.client.delete(kv.key)
        store.close()


def app_for(etcd_endpoint, store, *, read_only=False) -> NetconApp:
    settings = EtcdSettings(EtcdOptions(endpoints=(etcd_endpoint,)), store.prefix)
    ctx = HostContext(read_only=read_only)
    return NetconApp(
        ctx, SceneCollector(), watch=False, clock=time.time, flannel=FlannelFeed(ctx, settings), ports=FixturePorts()
    )


async def until(pilot, predicate, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout} s:\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)


def rows(app) -> set[str]:
    return {key.value for key in app.query_one(FlannelPane).table.rows}


async def test_leases_appear_follow_etcd_and_count_down(etcd_endpoint, store):
    app = app_for(etcd_endpoint, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: rows(app) == {"10.77.3.0/24", "10.77.9.0/24", "10.77.20.0/24"})
        text = screen_text(app)
        assert f"etcd: {etcd_endpoint} (v3) up" in text
        assert "Network 10.77.0.0/16" in text and "SubnetLen 24*" in text and "Port 8472*" in text
        assert "This host 10.77.3.0/24" in text  # its PublicIP is the scene's eth0 address
        line = next(line for line in text.splitlines() if "10.77.3.0/24" in line and "this host" in line)
        assert line.lstrip().startswith("●")
        assert next(line for line in text.splitlines() if "10.77.20.0/24" in line).lstrip().startswith("R")
        assert "reserved" in text and "no flannel.1" in text  # this machine has no flannel device

        pane = app.query_one(FlannelPane)
        column = pane.column_keys.index("ttl")
        # v3 TTLs are read after the listing, for the rows on screen (one request per lease)
        await until(pilot, lambda: pane.shown["10.77.9.0/24"][column] != "…", timeout=3)
        ttl = pane.shown["10.77.9.0/24"][column]
        assert ttl.startswith("23h59m")
        await until(
            pilot,
            lambda: (
                app.query_one(FlannelPane).shown["10.77.9.0/24"][app.query_one(FlannelPane).column_keys.index("ttl")]
                != ttl
            ),
            timeout=3,
        )

        revoke_lease(HostContext(), store, "10.77.9.0/24")  # elsewhere: no key pressed here
        await until(pilot, lambda: "10.77.9.0/24" not in rows(app))
        store.create_lease(
            HostContext(), "10.77.44.0/24", vxlan_attrs("198.18.99.44", 1, "02:aa:00:00:00:2c"), LEASE_TTL
        )
        await until(pilot, lambda: "10.77.44.0/24" in rows(app))
        order = [row.key.value for row in app.query_one(FlannelPane).table.ordered_rows]
        assert order == ["10.77.3.0/24", "10.77.20.0/24", "10.77.44.0/24"]  # by address, not as text


async def test_actions_change_etcd(etcd_endpoint, store, tmp_path, monkeypatch):
    audit = tmp_path / "audit.jsonl"
    monkeypatch.setenv("NETCON_AUDIT_LOG", str(audit))
    app = app_for(etcd_endpoint, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        pane = app.query_one(FlannelPane)
        await until(pilot, lambda: len(rows(app)) == 3)
        # revoke the highlighted lease (the first: 10.77.3.0/24), after confirming
        await pilot.press("x")
        await until(pilot, lambda: "Revoke the lease 10.77.3.0/24" in screen_text(app))
        await pilot.press("y")
        await until(pilot, lambda: "10.77.3.0/24" not in rows(app))
        assert store.lease("10.77.3.0/24") is None
        # the config form validates while typing and stores only a valid config
        await pilot.press("c")
        await until(pilot, lambda: "Set the flannel config" in screen_text(app))
        field = app.screen.query_one("#field-config")
        field.value = '{"Network": "10.77.0.0/30"}'
        await pilot.pause()
        assert "Network 10.77.0.0/30 is too small" in screen_text(app)
        await pilot.press("enter")
        assert "Set the flannel config" in screen_text(app)  # not submitted
        field.value = '{"Network": "10.77.0.0/16", "SubnetLen": 26, "Backend": {"Type": "vxlan"}}'
        await pilot.pause()
        assert "valid: pool" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: pane.config is not None and pane.config.subnet_len == 26)
        assert '"SubnetLen": 26' in store.config_text()
        # acquire a lease for another PublicIP through the form
        await pilot.press("a")
        await until(pilot, lambda: "Acquire a lease" in screen_text(app))
        app.screen.query_one("#field-public_ip").value = "198.18.99.77"
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: any(lease.attrs.public_ip == "198.18.99.77" for lease in pane.leases.values()))
        assert any(lease.attrs.public_ip == "198.18.99.77" for lease in store.leases()[0])
    # the dialogs ran the core's audited operations, with what was typed (the etcd the console was given)
    records = [r for r in map(json.loads, audit.read_text().splitlines()) if r["outcome"] != "started"]
    assert [(r["operation"], r["outcome"]) for r in records] == [
        ("flannel.lease.revoke", "ok"),
        ("flannel.config.set", "ok"),
        ("flannel.lease.acquire", "ok"),
    ]
    assert records[0]["arguments"]["subnet"] == "10.77.3.0/24"
    assert records[2]["arguments"]["public_ip"] == "198.18.99.77"
    assert records[2]["arguments"]["etcd"]["prefix"] == store.prefix


async def test_read_only_hides_the_actions(etcd_endpoint, store):
    app = app_for(etcd_endpoint, store, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: len(rows(app)) == 3)
        descriptions = {description for _, description, _ in app.key_entries()}
        assert not descriptions & {"Set config", "Acquire", "Renew", "Revoke", "Reserve"}
        assert "Filter" in descriptions
        text = screen_text(app)
        assert "Revoke" not in text and "READ-ONLY" in text
        await pilot.press("x", "y")
        await pilot.pause(0.3)
        assert "10.77.3.0/24" in rows(app) and store.lease("10.77.3.0/24") is not None


async def test_without_etcd_the_pane_says_so():
    app = NetconApp(HostContext(), SceneCollector(), watch=False, clock=Clock(), ports=FixturePorts())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        text = screen_text(app)
        assert "No etcd configured" in text and "etcd: not configured" in text


async def test_default_etcd_that_does_not_answer_means_not_configured():
    """No flags and no variables: the default endpoint is only tried. A closed loopback port stands in for it."""
    from tests.fixtures.etcd import free_port

    settings = EtcdSettings(EtcdOptions(endpoints=(f"http://127.0.0.1:{free_port()}",), timeout=1), given=False)
    ctx = HostContext()
    app = NetconApp(
        ctx, SceneCollector(), watch=False, clock=Clock(), flannel=FlannelFeed(ctx, settings), ports=FixturePorts()
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: "No etcd configured" in screen_text(app))
        assert "etcd: not configured" in screen_text(app)


def _fixture_app() -> NetconApp:
    return NetconApp(
        HostContext(), SceneCollector(), watch=False, clock=Clock(), flannel=FixtureFeed(), ports=FixturePorts()
    )


async def _flannel_shown(pilot) -> None:
    await pilot.press("5")
    await until(pilot, lambda: len(rows(pilot.app)) == 4 and pilot.app.query_one(FlannelPane).kernel is not None)
    await until(pilot, lambda: pilot.app.etcd_status.endswith(" up"))  # the pane's message reached the header
    # ... and the header was laid out again (at 80 columns it grows to two lines, the mode on the second)
    await until(pilot, lambda: "RW" in "\n".join(screen_text(pilot.app).splitlines()[:2]))
    await pilot.pause()
    await asyncio.sleep(0)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot(snap_compare, size):
    assert snap_compare(_fixture_app(), terminal_size=size, run_before=_flannel_shown)


async def test_broken_keys_are_rows_from_the_listing_and_the_watch(etcd_endpoint, store):
    """Issue 12 item 4: a key that is not a lease is a row marked broken with the key and the reason, listed or
    arriving through the watch; a lease whose value breaks turns into a broken row; the good rows stay."""
    store.client.put(f"{store.subnets_prefix}/garbagekey", "{}")
    app = app_for(etcd_endpoint, store)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("5")
        pane = app.query_one(FlannelPane)
        await until(pilot, lambda: f"{store.subnets_prefix}/garbagekey" in rows(app) and len(rows(app)) == 4)
        text = screen_text(app)
        assert "1 broken key" in text and "BROKEN" in text and "'garbagekey' is not a subnet" in text, text
        store.client.put(store.lease_key("10.77.9.0/24"), '{"PublicIP":"198.18.0.99",BROKEN')  # through the watch
        await until(pilot, lambda: isinstance(pane.leases.get("10.77.9.0/24"), BrokenLease))
        await until(pilot, lambda: "2 broken keys" in screen_text(app))
        line = next(line for line in screen_text(app).splitlines() if "10.77.9.0/24" in line)
        assert "BROKEN" in line and "The value is not JSON" in line
        assert {"10.77.3.0/24", "10.77.20.0/24"} <= rows(app)  # the good ones are still there
        store.client.delete(f"{store.subnets_prefix}/garbagekey")
        await until(pilot, lambda: f"{store.subnets_prefix}/garbagekey" not in rows(app))


async def test_quitting_does_not_wait_for_the_etcd_worker():
    """The feed's waits end when the pane goes: with etcd unreachable the worker sits in its 3 s retry wait,
    yet it is finished right after the app exits."""
    from tests.fixtures.etcd import free_port

    settings = EtcdSettings(EtcdOptions(endpoints=(f"http://127.0.0.1:{free_port()}",), timeout=1), given=True)
    ctx = HostContext()
    app = NetconApp(
        ctx, SceneCollector(), watch=False, clock=Clock(), flannel=FlannelFeed(ctx, settings), ports=FixturePorts()
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: "etcd unreachable" in screen_text(app))
        [worker] = [w for w in app.workers if w.name == "follow etcd"]
        await pilot.pause(0.2)  # into the retry wait
    deadline = time.monotonic() + 1.0
    while not worker.is_finished and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert worker.is_finished, "the flannel worker still runs after the console quit"
