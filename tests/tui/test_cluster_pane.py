"""The Cluster pane and host switching over real SSH: a two-host lab built with ``--ssh`` (a real sshd in each
host's namespace, the real Docker engines, etcd and kernel), the console opened as ``netcon lab console h1
--cluster`` opens it (h1 in-process, h2 through its sshd), driven with Textual's Pilot. The reference for the
rows is ``netcon cluster status --json --lab PREFIX``; for a switched pane, h2's snapshot read locally."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from textual.widgets import DataTable, Input, OptionList

from netcon.cli.console import etcd_settings
from netcon.cli.console_hosts import cluster_hosts, flannel_settings, given_host
from netcon.cli.main import build_parser
from netcon.core.aioloop import stop_loop
from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.flannel.registry import FlannelStore
from netcon.core.hosts import inventory
from netcon.core.hosts.local import LocalHost
from netcon.core.lab import lab
from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab.state import LabHost, LabState
from netcon.core.model import Snapshot
from netcon.core.network_ops import remove_network
from netcon.core.trace.model import Trace, TraceAsk
from netcon.tui.app import NetconApp
from netcon.tui.docker_forms import CreateNetworkForm, RemoveNetwork
from netcon.tui.panes.base import TablePane
from netcon.tui.panes.capture import CapturePane
from netcon.tui.panes.trace import TracePane
from netcon.tui.ping_screens import MatrixScreen, TargetPicker
from tests.hosts.lab_ssh import settled
from tests.hosts.test_capture_over_ssh import sockets_there
from tests.tui.screen_text import screen_text
from tests.tui.test_console_e2e import column
from tests.tui.test_quit import FOREIGN_THREADS, QUIT_LIMIT_S, drain, read_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOST_LIMIT_S = 5.0


@pytest.fixture(scope="module")
def cluster_lab() -> Iterator[LabState]:
    prefix = f"k{uuid.uuid4().hex[:5]}"
    ctx = HostContext()
    try:
        yield lab.up(ctx, prefix, hosts=2, ssh=True)
    finally:
        stop_loop()  # the SSH connections' loop thread, as the console's run() ends it
        lab.down(ctx, prefix)


def console_args(state: LabState) -> list[str]:
    """What ``netcon lab console h1 --cluster`` runs."""
    h1 = state.hosts[0]
    return [
        "--docker-host",
        h1.docker_host,
        "--netns",
        h1.netns_path,
        "console",
        "--etcd-endpoints",
        state.etcd_endpoint,
        "--etcd-api",
        str(state.etcd_api),
        "--etcd-prefix",
        state.flannel_prefix,
        "--lab",
        state.prefix,
    ]


def open_console(state: LabState) -> NetconApp:
    """The app ``netcon lab console h1 --cluster`` opens, built through the CLI's own option handling."""
    args = build_parser(["console"]).parse_args(console_args(state))
    ctx = HostContext(docker_host=args.docker_host, netns=args.netns)
    settings = etcd_settings(args, env={})
    name, hosts, leases_etcd = cluster_hosts(args, ctx, settings)
    return NetconApp(ctx, etcd=settings, name=name, hosts=hosts, cluster_etcd=leases_etcd)


async def until(pilot, check: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds until ``check()`` is true (fails the test after ``timeout``)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what} within {timeout:g} s:\n{screen_text(pilot.app)}"
        await pilot.pause(0.1)
    return time.monotonic() - started


async def show_h2(pilot, app: NetconApp) -> None:
    """Enter on h2's row of the Cluster pane: every pane shows h2 (read over SSH)."""
    await pilot.press("minus")
    await until(pilot, lambda: table_keys(app, "cluster") == {"h1", "h2"}, 30, "both hosts listed")
    await pilot.press("down", "enter")
    await until(pilot, lambda: app.host.name == "h2" and app.state.snapshot is not None, 15, "h2 shown")


async def on_container(pilot, app: NetconApp, container_id: str) -> None:
    """The Containers pane shown, its cursor on the container ``container_id`` of the shown host."""
    await pilot.press("2")
    await until(pilot, lambda: container_id in table_keys(app, "containers"), 15, "the host's containers")
    table = app.pane("containers").table
    table.move_cursor(row=table.get_row_index(container_id))


def table_keys(app: NetconApp, pane_id: str) -> set[str]:
    pane = app.pane(pane_id)
    assert isinstance(pane, TablePane)
    return {str(key.value) for key in pane.table.rows}


def own_lease_line(app: NetconApp, public_ip: str | None) -> bool:
    """The Flannel pane marks (●) the lease announced from ``public_ip`` as the shown host's."""
    return any(line.lstrip().startswith("●") and f"{public_ip} " in line for line in screen_text(app).splitlines())


def full_rows(app: NetconApp) -> bool:
    return all(f.row.reachable and f.row.errors is not None for f in app.cluster.feeds.values())


async def test_rows_equal_cluster_status(cluster_lab):
    status = subprocess.run(
        [sys.executable, "-m", "netcon.cli", "cluster", "status", "--json", "--lab", cluster_lab.prefix],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    expected = {r["name"]: r for r in json.loads(status.stdout)}
    app = open_console(cluster_lab)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("minus")
        await until(pilot, lambda: full_rows(app), 30, "every host's row filled")
        assert app.cluster.names == ["h1", "h2"]
        text = screen_text(app)
        for name, feed in app.cluster.feeds.items():
            row = feed.row
            want = expected[name]
            got = (row.subnet, row.vtep_mac, row.docker_version, row.containers)
            assert got == (want["subnet"], want["vtep_mac"], want["docker_version"], want["containers"]), name
            assert row.subnet in text and row.vtep_mac in text
        assert table_keys(app, "cluster") == {"h1", "h2"}


async def test_every_row_is_read_however_few_threads_the_loop_lends(cluster_lab):
    """Each host is followed by a thread of its own. Textual's thread workers share the asyncio loop's default
    executor (min(32, CPUs + 4) threads) and a host's follower never ends, so a console with more hosts than
    that left the later hosts "reading…" for good (8 lab hosts on this 2-CPU machine: 4 of them). The loop's
    executor is made 1 thread here to reach that limit with this module's two hosts."""
    executor = ThreadPoolExecutor(max_workers=1)
    asyncio.get_running_loop().set_default_executor(executor)
    try:
        app = open_console(cluster_lab)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("minus")
            await until(pilot, lambda: full_rows(app), 30, "every host's row filled")
    finally:
        executor.shutdown(wait=False)


def snapshot_of(host: LabHost) -> Snapshot:
    """The lab host's snapshot read locally (its netns and Docker socket), the reference for what SSH shows."""
    local = LocalHost(lab.host_context(host))
    try:
        return local.snapshot()
    finally:
        local.close()


async def test_without_cluster_options_the_pane_is_this_host_alone(cluster_lab):
    """``netcon lab console h1`` (no --cluster): one row, h1's own, read in-process; h is not offered."""
    args = build_parser(["console"]).parse_args(console_args(cluster_lab)[:-2])  # without --lab
    ctx = HostContext(docker_host=args.docker_host, netns=args.netns)
    app = NetconApp(ctx, etcd=etcd_settings(args, env={}))
    reference = snapshot_of(cluster_lab.hosts[0])
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("minus")
        await until(pilot, lambda: full_rows(app), 30, "this host's row filled")
        assert table_keys(app, "cluster") == {"local"}
        row = app.cluster.feeds["local"].row
        assert row.containers == len(reference.containers) and row.subnet and row.subnet in screen_text(app)
        assert "Next host" not in screen_text(app)


async def test_enter_and_h_switch_every_pane(cluster_lab):
    reference = snapshot_of(cluster_lab.hosts[1])
    app = open_console(cluster_lab)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("minus")
        await until(pilot, lambda: table_keys(app, "cluster") == {"h1", "h2"}, 30, "both hosts listed")
        await pilot.press("down", "enter")  # the cursor starts on h1, the first row
        await until(pilot, lambda: app.host.name == "h2", 5, "Enter switched to h2")
        await pilot.press("4")
        veths = {f"{v.ifindex}:{v.ifname}" for v in reference.veths}
        await until(pilot, lambda: table_keys(app, "veths") == veths, 15, "h2's veths shown")
        assert "h2 (" in screen_text(app).splitlines()[0]  # the header names the host
        await pilot.press("2")
        containers = {c.id for c in reference.containers}
        await until(pilot, lambda: table_keys(app, "containers") == containers, 15, "h2's containers shown")
        await pilot.press("5")  # the shared store, h2's own lease marked by h2's flannel device read over SSH
        h2_lease = cluster_lab.hosts[1].address
        await until(pilot, lambda: own_lease_line(app, h2_lease), 15, "h2's lease marked as this host's")
        assert "Acquire" in screen_text(app)  # lease edits change the shared store, from here
        await pilot.press("h")  # the next host: back to h1, read in-process
        await until(pilot, lambda: app.host.name == "h1", 5, "h cycled to h1")
        await pilot.press("4")
        await until(pilot, lambda: "app1" in screen_text(app), 15, "h1's veths shown")
        await pilot.press("ctrl+p", *"switch to host h2")  # the palette lists every host
        await until(pilot, lambda: "Switch to host h2" in screen_text(app), 5, "the palette's entry")
        await pilot.press("enter")
        await until(pilot, lambda: app.host.name == "h2", 5, "the palette switched to h2")


async def test_host_option_opens_the_console_on_that_host(cluster_lab):
    """``netcon --ssh-config F --host ssh://root@h2 console``: the console opens showing h2 (read over SSH, read
    only as the console is), this machine one key away; it was refused as a command that takes no --host."""
    h2 = cluster_lab.hosts[1]
    argv = ["--ssh-config", lab_ssh.config_path(cluster_lab), "--host", lab_ssh.target(h2), "--read-only", "console"]
    args = build_parser(argv).parse_args(argv)
    ctx = HostContext(read_only=args.read_only)
    settings = etcd_settings(args, env={})
    name, hosts, leases_etcd = cluster_hosts(args, ctx, settings)
    shown = given_host(args, hosts)
    assert (name, shown, [h.target for h in hosts]) == ("local", h2.netns, [lab_ssh.target(h2)])
    app = NetconApp(ctx, etcd=settings, name=name, hosts=hosts, cluster_etcd=leases_etcd, show_first=shown)
    reference = snapshot_of(h2)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: app.host.name == h2.netns, 5, "the console opened on h2")
        await pilot.press("2")
        containers = {c.id for c in reference.containers}
        await until(pilot, lambda: table_keys(app, "containers") == containers, 15, "h2's containers shown")
        assert f"{h2.netns} (" in screen_text(app).splitlines()[0]  # the header names the host
        assert app.host.read_only and "Create" not in screen_text(app)  # read-only travelled: no change keys
        await pilot.press("h")
        await until(pilot, lambda: app.host.name == "local", 5, "h went to this machine")


async def test_lab_option_alone_gives_the_flannel_pane_the_labs_etcd(cluster_lab):
    """``netcon --netns h1 ... console --lab P`` without etcd flags: the Flannel pane reads the lab's store (it
    tried the default endpoint, where nothing answers), and lists every lab host's lease."""
    h1 = cluster_lab.hosts[0]
    argv = ["--docker-host", h1.docker_host, "--netns", h1.netns_path, "console", "--lab", cluster_lab.prefix]
    args = build_parser(argv).parse_args(argv)
    ctx = HostContext(docker_host=args.docker_host, netns=args.netns)
    settings = etcd_settings(args, env={})
    name, hosts, leases_etcd = cluster_hosts(args, ctx, settings)
    assert not settings.given and leases_etcd is not None and leases_etcd.options is not None
    settings = flannel_settings(settings, leases_etcd)
    store = FlannelStore.open(leases_etcd.options, leases_etcd.prefix)
    try:
        subnets = {lease.subnet for lease in store.listing().leases}
    finally:
        store.close()
    assert len(subnets) == len(cluster_lab.hosts)
    app = NetconApp(ctx, etcd=settings, name=name, hosts=hosts, cluster_etcd=leases_etcd)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("5")
        table = app.pane("flannel").table
        await until(pilot, lambda: subnets <= set(table.shown), 15, "the lab's leases")
        assert cluster_lab.etcd_endpoint in screen_text(app)  # the header names the lab's etcd


async def test_ping_from_a_remote_hosts_container_across_the_overlay(cluster_lab):
    """The Ping pane on h2 (read over SSH): h2's netcon probes from h2's container to busybox on h1, through the
    overlay (two routers on the way: TTL 62); s stops it there."""
    h1_busybox = snapshot_of(cluster_lab.hosts[0]).container("busybox")
    assert h1_busybox is not None and h1_busybox.ipv4
    target = h1_busybox.ipv4[0]
    source = next(c.name for c in snapshot_of(cluster_lab.hosts[1]).containers)
    app = open_console(cluster_lab)
    async with app.run_test(size=(160, 40)) as pilot:
        await show_h2(pilot, app)
        await pilot.press("6")
        pane = app.pane("ping")
        pane.start_probe(source, target)  # what the Containers pane's p starts with the target picked
        await until(pilot, lambda: any(t.summary.received >= 2 for t in pane.tracked.values()), 15, "replies")
        probe = next(iter(pane.tracked.values()))
        assert (probe.source, probe.resolution.ip, probe.summary.ttl) == (source, target, 62)
        assert f"{source}" in screen_text(app) and target in screen_text(app)
        await pilot.press("s")
        await until(pilot, lambda: not next(iter(pane.tracked.values())).summary.running, 10, "stopped there")


def traced(app: NetconApp) -> Trace | None:
    pane = app.query_one("#trace", TracePane)
    return pane.result if not pane.running else None


async def test_trace_on_a_remote_host_is_run_by_its_netcon(cluster_lab):
    """The Trace pane on h2 (read over SSH): t on h2's probe container, the trace run by h2's netcon (its probe
    captured on h2's hops), to h1's probe container across the overlay; its hops on h2 are the ones the
    in-process lab trace walks there. From h1 (in-process) the walk goes on over SSH on h2 (``over``)."""
    h1, h2 = cluster_lab.hosts
    h1_probe = snapshot_of(h1).container("h1-probe")
    h2_probe = snapshot_of(h2).container("h2-probe")
    assert h1_probe and h1_probe.ipv4 and h2_probe and h2_probe.ipv4
    reference = LocalHost(lab.host_context(h2)).trace(TraceAsk("h2-probe", h1_probe.ipv4[0], probe=False))
    # the in-process lab trace names h2's root namespace "h2", h2's own netcon "host"
    on_h2 = [("host" if h.netns == "h2" else h.netns, h.device, h.stage) for h in reference.hops if h.host == "h2"]
    on_h2 = on_h2[: [stage for _netns, _device, stage in on_h2].index("underlay") + 1]
    app = open_console(cluster_lab)
    async with app.run_test(size=(160, 40)) as pilot:
        await show_h2(pilot, app)
        await on_container(pilot, app, h2_probe.id)
        await pilot.press("t")  # the key is offered on a host read over SSH
        await until(pilot, lambda: isinstance(app.screen, TargetPicker), 5, "the target picker")
        app.screen.query_one(Input).value = h1_probe.ipv4[0]
        await pilot.press("enter")
        await until(pilot, lambda: traced(app) is not None, 30, "the trace from h2")
        result = traced(app)
        assert result is not None and result.reply_seen, result
        mine = [h for h in result.hops if h.host == "h2"]
        assert [(h.netns, h.device, h.stage) for h in mine][: len(on_h2)] == on_h2
        assert all(h.over == lab_ssh.target(h2) for h in result.hops)
        assert any(h.seen for h in mine if h.device == "flannel.1")  # h2's netcon captured its probe there
        assert "reached, reply seen" in screen_text(app)

        await pilot.press("h")  # back to h1, read in-process: the walk crosses to h2 over SSH
        await until(pilot, lambda: app.host.name == "h1" and app.state.snapshot is not None, 15, "h1 shown")
        app.query_one("#trace", TracePane).start("h1-probe", h2_probe.ipv4[0])
        await until(pilot, lambda: traced(app) is not None, 30, "the trace from h1")
        result = traced(app)
        assert result is not None and result.reply_seen, result
        assert {h.over for h in result.hops if h.host == "h2"} == {lab_ssh.target(h2)}
        assert {h.over for h in result.hops if h.host == "h1"} == {None}


async def test_capture_on_a_remote_host_shows_its_packets(cluster_lab):
    """c on h2's container (h2 read over SSH): h2's netcon captures in that container's namespace and the pane
    shows the echoes h2-probe sends to its gateway there (docker exec on h2's own dockerd), decoded here, with
    the ICMP id of that ping; s stops the capture on h2 (its netcon holds no packet socket any more)."""
    h2 = cluster_lab.hosts[1]
    probe = snapshot_of(h2).container("h2-probe")
    assert probe is not None and probe.ipv4 and probe.pid
    gateway = f"{probe.ipv4[0].rsplit('.', 1)[0]}.1"
    app = open_console(cluster_lab)
    async with app.run_test(size=(160, 40)) as pilot:
        await show_h2(pilot, app)
        await on_container(pilot, app, probe.id)
        await pilot.press("c")
        pane = app.pane("capture")
        assert isinstance(pane, CapturePane) and app.current == "capture"
        await until(pilot, lambda: pane.state_text == "capturing", 15, "the capture open on h2")
        assert sockets_there(h2, probe.pid) == 1  # h2's netcon captures, in the container's namespace
        ident = await asyncio.to_thread(ping_from, h2, "h2-probe", gateway)
        echoes = [f"IP {probe.ipv4[0]} > {gateway}: ICMP echo request, id {ident}, seq {n}" for n in range(2)]
        await until(pilot, lambda: all(any(e in s for s in summaries(pane)) for e in echoes), 15, "the echoes")
        assert {str(v) for v in pane.packets.get_column("netns")} == {"container h2-probe"}
        assert "capturing on eth0 [container h2-probe]" in screen_text(app)
        await pilot.press("s")
        await until(pilot, lambda: pane.capture is None and not pane.running, 10, "the capture stopped")
        # the stop reaches h2's netcon a moment later (the console's worker cancels the stream there)
        await until(pilot, lambda: sockets_there(h2, probe.pid) == 0, 5, "the capture closed on h2")
        assert pane.stats is not None and pane.stats.received >= 4
        await pilot.press("space")  # capturing there again, when the console quits
        await until(pilot, lambda: pane.state_text == "capturing", 15, "the capture open again")
        assert sockets_there(h2, probe.pid) == 1
    assert settled(cluster_lab) == []  # no session, netcon or capture left on h2


def ping_from(host: LabHost, container: str, target: str) -> int:
    """Two echoes from ``container`` on ``host`` (busybox's ping); the ICMP id they carried (its pid there)."""
    import docker

    api = docker.APIClient(base_url=host.docker_host)
    run = api.exec_create(container, ["sh", "-c", f"echo $$; exec ping -c 2 -i 0.2 {target}"])
    out = api.exec_start(run["Id"]).decode()
    assert "0% packet loss" in out, out
    return int(out.split()[0])


def summaries(pane: CapturePane) -> list[str]:
    return [str(v) for v in pane.packets.get_column("summary")]


def matrix_grid(app: NetconApp) -> dict[tuple[str, str], str]:
    table = app.screen.query_one(DataTable)
    return {
        (str(row.value), str(col.value)): table.get_cell(row, col).plain for row in table.rows for col in table.columns
    }


def ttl_of(cell: str) -> int:
    """The TTL of a painted matrix cell (``0.142ms/62``)."""
    return int(cell.split("/")[1].split()[0])


async def test_m_on_a_remote_hosts_network_probes_it_on_every_host(cluster_lab):
    """On h2 (read over SSH) the Networks pane's m is offered; it probes bridge on h1 and h2, each pair from its
    source's host: cells across hosts answer with TTL 62, cells on one host with 64."""
    app = open_console(cluster_lab)
    async with app.run_test(size=(160, 40)) as pilot:
        await show_h2(pilot, app)
        await pilot.press("1")
        await until(pilot, lambda: "bridge" in column(app, "networks", "name"), 10, "h2's networks")
        table = app.pane("networks").table
        table.move_cursor(row=next(i for i in range(table.row_count) if table.get_row_at(i)[0] == "bridge"))
        await pilot.pause()
        assert "Matrix" in screen_text(app)  # in the footer: no longer hidden on a host read over SSH
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MatrixScreen) and app.screen.matrix, 30, "the matrix")
        cells = matrix_grid(app)
        assert {"h1/busybox", "h1/h1-probe", "h2/h2-probe"} <= {src for src, _ in cells}
        for (src, dst), text in cells.items():
            if src != dst:
                assert ttl_of(text) == (62 if src.split("/")[0] != dst.split("/")[0] else 64), (src, dst, text)
        await until(pilot, lambda: "ordered pairs reachable" in screen_text(app), 5, "the summary")
        assert "h2/h2-probe" in screen_text(app)


async def test_m_on_the_cluster_pane_probes_bridge_across_hosts(cluster_lab):
    app = open_console(cluster_lab)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("minus")
        await until(pilot, lambda: all(f.row.reachable for f in app.cluster.feeds.values()), 30, "both hosts read")
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MatrixScreen) and app.screen.matrix, 30, "the matrix")
        cells = matrix_grid(app)
        assert ("h1/h1-probe", "h2/h2-probe") in cells, (cells, screen_text(app))
        assert ttl_of(cells[("h1/h1-probe", "h2/h2-probe")]) == 62
        assert ttl_of(matrix_grid(app)[("h2/h2-probe", "h1/busybox")]) == 62
        assert ttl_of(matrix_grid(app)[("h1/h1-probe", "h1/busybox")]) == 64


async def test_the_ping_picker_lists_another_hosts_container_at_its_overlay_address(cluster_lab):
    """p on h1's container lists h2's containers too (labelled h2/NAME); picking one pings its overlay address
    from h1, across flannel (TTL 62)."""
    h2_probe = snapshot_of(cluster_lab.hosts[1]).container("h2-probe")
    assert h2_probe is not None and h2_probe.ipv4
    app = open_console(cluster_lab)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("minus")  # the Cluster pane connects every host
        await until(pilot, lambda: all(f.row.reachable for f in app.cluster.feeds.values()), 30, "both hosts read")
        await pilot.press("2")
        await until(pilot, lambda: "h1-probe" in column(app, "containers", "name"), 10, "h1's containers")
        table = app.pane("containers").table
        table.move_cursor(row=next(i for i in range(table.row_count) if table.get_row_at(i)[0] == "h1-probe"))
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, TargetPicker), 15, "the picker")
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        index = next(i for i, label in enumerate(labels) if label.startswith("h2/h2-probe"))
        assert h2_probe.ipv4[0] in labels[index] and "on host h2" in labels[index]
        options.focus()
        options.highlighted = index
        await pilot.press("enter")
        pane = app.pane("ping")
        await until(pilot, lambda: any(t.summary.received >= 2 for t in pane.tracked.values()), 15, "replies")
        probe = next(iter(pane.tracked.values()))
        assert (probe.source, probe.resolution.ip, probe.summary.ttl) == ("h1-probe", h2_probe.ipv4[0], 62)
        assert probe.summary.label == "h2/h2-probe" and "overlay address" in probe.note


async def test_changes_on_a_remote_host_are_made_there(cluster_lab, tmp_path, monkeypatch):
    """The Networks pane's create and remove forms on h2 go through h2's netcon (host.change over SSH)."""
    monkeypatch.setenv("NETCON_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    h2 = cluster_lab.hosts[1]
    name = f"cn{uuid.uuid4().hex[:6]}"
    app = open_console(cluster_lab)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await show_h2(pilot, app)
            await pilot.press("1")
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, CreateNetworkForm) and app.screen.facts, 15, "form")
            await pilot.press(*name, "enter")
            await until(pilot, lambda: not isinstance(app.screen, CreateNetworkForm), 15, "network created")
            made = await until(pilot, lambda: name in column(app, "networks", "name"), 10, "h2's event showed it")
            assert made >= 0 and name in {n.name for n in snapshot_of(h2).networks}  # on h2, not here
            table = app.pane("networks").table
            key = next(k.value for k in table.rows if name in str(table.get_row(k)[0]))
            table.move_cursor(row=table.get_row_index(key))
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, RemoveNetwork), 10, "the confirmation")
            await pilot.press("y")
            await until(pilot, lambda: name not in column(app, "networks", "name"), 15, "network removed")
        assert name not in {n.name for n in snapshot_of(h2).networks}
    finally:
        with contextlib.suppress(NetconError):
            remove_network(lab.host_context(h2), name, force=True)


async def test_lease_edits_on_a_remote_hosts_flannel_pane_change_the_shared_store_from_here(
    cluster_lab, tmp_path, monkeypatch
):
    """n (renew) on h2's own lease in h2's Flannel pane: the lease in etcd is renewed, by this console's netcon
    and audited in its log (the store is every host's; the edit does not travel to h2)."""
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("NETCON_AUDIT_LOG", str(log))
    h2 = cluster_lab.hosts[1]
    _entries, etcd = inventory.lab_entries(cluster_lab.prefix, over_ssh=False)

    def lease_of_h2():
        assert etcd.options is not None
        store = FlannelStore.open(etcd.options, etcd.prefix)
        try:
            return next(lease for lease in store.listing().leases if lease.attrs.public_ip == h2.address)
        finally:
            store.close()

    before = lease_of_h2()
    app = open_console(cluster_lab)
    async with app.run_test(size=(160, 40)) as pilot:
        await show_h2(pilot, app)
        await pilot.press("5")
        table = app.pane("flannel").table
        await until(pilot, lambda: before.subnet in table.shown, 15, "h2's lease listed")
        table.move_cursor(row=table.get_row_index(before.subnet))
        await pilot.press("n")
        await until(pilot, lambda: log.exists() and '"outcome":"ok"' in log.read_text(), 15, "the audit line")
    after = lease_of_h2()
    assert after.expires_at is not None and before.expires_at is not None and after.expires_at > before.expires_at
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["operation"], r["outcome"], r["arguments"]["subnet"]) for r in records if r["outcome"] == "ok"] == [
        ("flannel.lease.renew", "ok", before.subnet)
    ]


async def test_lost_host_shows_at_once_and_comes_back(cluster_lab):
    h1, h2 = cluster_lab.hosts
    app = open_console(cluster_lab)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("minus")
        await until(pilot, lambda: full_rows(app), 30, "every host's row filled")
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.host.name == "h2" and app.state.snapshot is not None, 15, "h2 shown")
        await pilot.press("minus")
        lab_ssh.stop_sshd(h2)
        try:
            lost_s = await until(pilot, lambda: not app.cluster.feeds["h2"].row.reachable, LOST_LIMIT_S, "h2 lost")
            await until(pilot, lambda: "NO for" in screen_text(app), 2, "h2's row says since when")
            await until(pilot, lambda: "h2 unreachable" in screen_text(app), 2, "the header says h2 is down")
            # h1 keeps updating meanwhile: a container started there shows in its row
            before = app.cluster.feeds["h1"].row.containers
            assert before is not None
            name = f"ck{uuid.uuid4().hex[:6]}"
            from netcon.core.container_ops import remove_container, run_container

            run_container(lab.host_context(h1), name, command=("sleep", "300"))
            try:
                await until(pilot, lambda: app.cluster.feeds["h1"].row.containers == before + 1, 10, "h1 updated")
            finally:
                remove_container(lab.host_context(h1), name, force=True)
        finally:
            lab_ssh.start_sshd(h2)
        await until(pilot, lambda: app.cluster.feeds["h2"].row.reachable, 20, "h2 back by itself")
        await until(pilot, lambda: "h2 unreachable" not in screen_text(app), 5, "the header cleared")
    assert lost_s < LOST_LIMIT_S


def test_quit_leaves_no_thread(cluster_lab, tmp_path):
    """The console as a user runs it, in a terminal, with both hosts followed: q quits as fast as with one host
    (tests/tui/test_quit.py's limit) and leaves no thread behind."""
    report = tmp_path / "quit.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env.update(TERM="xterm-256color", COLUMNS="160", LINES="50", NETCON_QUIT_REPORT=str(report))
    import pty

    controller, terminal = pty.openpty()
    args = console_args(cluster_lab)
    child = [*args[args.index("console") + 1 :], *args[: args.index("console")]]  # quit_child adds "console"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tui.quit_child", *child],
        cwd=ROOT,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    try:
        screen = read_until(controller, b"live", 30)
        assert b"live" in screen, f"the console did not come up:\n{screen[-2000:]!r}"
        os.write(controller, b"-")
        screen = read_until(controller, b"yes", 20)  # a host's row is in
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            drain(controller, 0.05)
        os.write(controller, b"q")
        started = time.monotonic()
        while proc.poll() is None:
            drain(controller, 0.01)
            assert time.monotonic() - started < 10, "q did not quit within 10 s"
        quit_s = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
    assert proc.returncode == 0
    # The Flannel pane's watch on the lab's etcd v2 API is a long poll (core/etcd/v2.py) that ends only when the
    # poll does, up to 25 s after quitting: so on every console on a v2 etcd, cluster or not (a known issue).
    foreign = (*FOREIGN_THREADS, "etcd-v2-watch")
    left = [n for n in json.loads(report.read_text())["alive"] if not any(f in n for f in foreign)]
    assert left == [], f"threads still alive after the console returned: {left}"
    assert quit_s < QUIT_LIMIT_S, f"q took {quit_s:.3f} s with two hosts followed"


def test_cluster_option_adds_the_leases_hosts_but_not_this_ones(cluster_lab, capsys):
    """``--cluster`` from h1: h2's lease is a host to reach over SSH, h1's own lease is h1 itself; an etcd that
    does not answer lists no lease host and says so, and the console still opens on this host."""
    h2 = cluster_lab.hosts[1]
    args = build_parser(["console"]).parse_args([*console_args(cluster_lab)[:-2], "--cluster"])
    ctx = HostContext(docker_host=args.docker_host, netns=args.netns)
    name, hosts, _etcd = cluster_hosts(args, ctx, etcd_settings(args, env={}))
    try:
        assert name == "local" and [(h.name, h.target) for h in hosts] == [(h2.address, f"ssh://{h2.address}")]
    finally:
        for host in hosts:
            host.close()
    down = build_parser(["console"]).parse_args(["console", "--cluster", "--etcd-endpoints", "http://127.0.0.1:9"])
    assert cluster_hosts(down, HostContext(), etcd_settings(down, env={}))[:2] == ("local", [])
    assert "flannel's leases not read" in capsys.readouterr().err
