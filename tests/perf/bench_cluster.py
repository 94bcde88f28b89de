"""The cluster over real SSH: 8 lab hosts, each with its own sshd, dockerd and a few containers, read through
the core the way a console reads them, against ``ssh hN netcon show veths --json`` run one after the other.

    python -m tests.perf.bench_cluster [--hosts 8] [--containers 3] [--seconds 60] [--changes 8] [--lab PREFIX]

Builds a throwaway lab (``lab up --hosts N --ssh``, a unique prefix) and removes it at the end, also on failure
or Ctrl-C; ``--lab PREFIX`` uses a lab you already have (``lab up --ssh``) and leaves it (only the containers
this run added are removed). In one run:

1. first_full_s: from start to every host's row filled (reachable, Docker, containers, lease, VTEP MAC, the
   doctor's count): the lab's hosts from ``inventory.lab_entries(P, over_ssh=True)``, opened read-only, each
   ``watch``ed (one SSH connection and one remote ``netcon serve --stdio`` per host), the leases read once,
   and each host's row read by ``cluster.row`` as soon as its watch says it is connected — what a console
   does.
2. idle_cpu_pct: the CPU of this process over ``--seconds`` with every host watched and nothing changing;
   beside it, the 8 remote ``netcon serve --stdio`` processes and the 8 sshd sessions (found under each lab
   sshd's pid).
3. event_ms: from the start of a change on h5 (alternately ``docker network create|rm`` through its dockerd's
   socket and a veth pair added to or removed from its netns) to the change event reaching this process, p50
   over ``--changes`` changes (the remote watcher folds a burst for 0.25 s first).
4. sequential_ssh_s: the same hosts' snapshots read by the real ``ssh -F <lab ssh config> root@P-hN netcon
   show veths --json``, one after the other (what a script without netcon's cluster does).

5. console_*: with the core's hosts closed, the same through the console: headless (Textual's Pilot, 160x50)
   on the hosts ``netcon console --lab P`` opens (``cli.console_hosts.cluster_hosts``), the Cluster pane shown;
   console_first_full_s from opening the hosts to every lab host's row on screen reachable with its Docker
   version, subnet and VTEP MAC (polled every 20 ms); console_idle_cpu_pct over ``--seconds`` as in 2;
   console_event_ms, p50 over ``--changes`` busybox containers run on and removed from h5 through its dockerd's
   socket, from the call's start to h5's CONTAINERS cell showing the new count.

Last line: ``cluster hosts=<n> first_full_s=<x> idle_cpu_pct=<x> event_ms=<x> sequential_ssh_s=<x>
console_first_full_s=<x> console_idle_cpu_pct=<x> console_event_ms=<x>``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import docker
import psutil

from netcon.core.aioloop import stop_loop
from netcon.core.flannel.registry import FlannelStore
from netcon.core.hosts import cluster, inventory
from netcon.core.hosts.base import BACK, LOST, Host
from netcon.core.image import BUSYBOX_IMAGE
from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab import state as lab_state
from tests.perf.sshlab import LABEL, add_containers, remove_containers, throwaway_lab

EVENT_HOST = 4  # the index of the host changed for event_ms: h5, or the last host of a smaller lab


@dataclass
class Watched:
    """The cluster as a console holds it: hosts watched, rows read as they connect, events timed."""

    hosts: list[Host]
    leases: Future[tuple] | None = None
    rows: dict[str, cluster.HostRow] = field(default_factory=dict)
    connected_s: dict[str, float] = field(default_factory=dict)
    events: dict[str, list[tuple[float, frozenset[str]]]] = field(default_factory=dict)
    all_filled: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0

    def on_change(self, host: Host, reasons: frozenset[str], pool: ThreadPoolExecutor) -> None:
        now = time.perf_counter()
        self.events.setdefault(host.name, []).append((now, reasons))
        if host.name not in self.connected_s and ("watching" in reasons or BACK in reasons):
            self.connected_s[host.name] = now - self.started
            pool.submit(self.read_row, host)
        elif LOST in reasons:
            print(f"  {host.name} lost: {getattr(host, 'error', None)}", flush=True)

    def read_row(self, host: Host) -> None:
        assert self.leases is not None
        try:
            leases = self.leases.result()
        except Exception as error:  # said here: a pool's worker would keep it to itself
            print(f"  flannel's leases not read: {error}", flush=True)
            raise
        self.rows[host.name] = cluster.row(host, leases, doctor=True, rtt=cluster.icmp_rtt())
        if len(self.rows) == len(self.hosts) and all(filled(r) for r in self.rows.values()):
            self.all_filled.set()


def filled(row: cluster.HostRow) -> bool:
    return row.reachable and None not in (row.containers, row.subnet, row.vtep_mac, row.errors, row.rtt_ms)


def read_leases(etcd) -> tuple:
    store = FlannelStore.open(etcd.options, etcd.prefix)
    try:
        return tuple(store.listing().leases)
    finally:
        store.close()


def watch_cluster(
    prefix: str, pool: ThreadPoolExecutor, only: int | None = None, timeout: float = 60.0
) -> tuple[Watched, float]:
    """Open and watch the lab's hosts (the first ``only`` of them) over SSH; (the watched cluster, seconds until
    every row was filled)."""
    started = time.perf_counter()
    entries, etcd = inventory.lab_entries(prefix, over_ssh=True)
    entries = entries[:only]
    hosts = [inventory.open_host(e, read_only=True) for e in entries]
    watched = Watched(hosts, pool.submit(read_leases, etcd), started=started)  # read while the hosts connect
    for host in hosts:
        host.watch(lambda reasons, h=host: watched.on_change(h, reasons, pool))
    if not watched.all_filled.wait(timeout):
        missing = {h.name: watched.rows.get(h.name) for h in hosts if not filled(watched.rows.get(h.name) or _none)}
        raise SystemExit(f"bench_cluster: rows not filled within {timeout:g} s: {missing}")
    return watched, time.perf_counter() - started


_none = cluster.HostRow("", "", False)


CONSOLE_SIZE = (160, 50)


def measure_console(state: lab_state.LabState, args: argparse.Namespace, tag: str) -> dict[str, float]:
    """The same lab through the console, headless (Textual's Pilot, 160x50), on the hosts ``netcon console --lab
    P`` opens (``cli.console_hosts.cluster_hosts``: this machine in-process, the lab's hosts over SSH): seconds
    from opening its hosts to the Cluster pane showing every lab host's row filled, its idle CPU, and ms from a
    container run or removed on h5 to h5's CONTAINERS cell changing. Textual is imported first (timed apart)."""
    import asyncio

    t0 = time.perf_counter()
    from netcon.cli.console import capture_settings, etcd_settings
    from netcon.cli.console_hosts import cluster_hosts
    from netcon.cli.hosts import check_host_options
    from netcon.cli.main import build_parser
    from netcon.core.context import HostContext
    from netcon.tui.app import NetconApp

    print(f"console: netcon.tui imported in {time.perf_counter() - t0:.2f} s", flush=True)

    async def console() -> dict[str, float]:
        started = time.perf_counter()
        args_ = build_parser(["console"]).parse_args(["console", "--lab", state.prefix])
        ctx = HostContext.from_options(docker_host=None, netns=None, read_only=False)  # as main() makes it
        check_host_options(args_, ctx, "console")
        settings = etcd_settings(args_)
        name, hosts, leases_etcd = cluster_hosts(args_, ctx, settings)  # what run_console does
        app = NetconApp(ctx, etcd=settings, name=name, hosts=hosts, cluster_etcd=leases_etcd)
        app.capture_settings = capture_settings(args_)
        async with app.run_test(size=CONSOLE_SIZE) as pilot:
            await pilot.press("minus")
            pane = app.pane("cluster")
            lab_hosts = [h.name for h in state.hosts]
            try:
                await until(lambda: all(shown_filled(pane, n) for n in lab_hosts), started + 60, "rows filled")
            except SystemExit:
                for n, feed in app.cluster.feeds.items():
                    print(
                        f"  {n}: shown {[shown(pane, n, k) for k in ('reachable', 'docker', 'subnet', 'vtep')]}; "
                        f"row {feed.row}",
                        flush=True,
                    )
                raise
            out = {"first_full_s": time.perf_counter() - started}
            print(f"console first full: {out['first_full_s']:.2f} s ({len(app.cluster.names)} rows)", flush=True)
            await until(lambda: all(f.row.errors is not None for f in app.cluster.feeds.values()), started + 60, "")
            await asyncio.sleep(3)  # the doctor's runs and the remote watchers settle, as for the core
            threads, changes = thread_cpu(), count_changes(app.cluster)
            mine, served, sshd, n_serve, n_sshd = await asyncio.to_thread(idle_cpu, state, args.seconds)
            split = thread_cpu()
            split = {k: (v - threads.get(k, 0.0)) / args.seconds * 100 for k, v in split.items()}
            out["idle_cpu_pct"] = mine
            print(
                f"console idle {args.seconds:g} s (load {os.getloadavg()[0]:.2f}): the console {mine:.2f}% of a core; "
                f"{n_serve} remote serve --stdio {served:.2f}% together; {n_sshd} sshd sessions {sshd:.2f}%",
                flush=True,
            )
            print("  by thread: " + ", ".join(f"{k} {v:.2f}%" for k, v in sorted(split.items())), flush=True)
            here = changes.pop(app.start_host.name, 0)
            print(
                f"  change events meanwhile: this machine {here} (its Docker is shared: other people's containers), "
                f"the lab hosts {sum(changes.values())} (their watchers' 30 s fallbacks)",
                flush=True,
            )
            times = await console_events(state, pane, args.changes, tag)
            out["event_ms"] = statistics.median(times)
            listed = " ".join(f"{v:.0f}" for v in times)
            print(f"console events ms (a container run or removed, to its row on screen): {listed}", flush=True)
        return out

    try:
        return asyncio.run(console())
    finally:
        stop_loop()


def count_changes(feed) -> dict[str, int]:
    """Counts the change events the console's hosts report from now on, by host (filled as they come)."""
    from netcon.tui.messages import HostChanged

    counts: dict[str, int] = {}
    post = feed.post

    def counted(message):
        if isinstance(message, HostChanged):
            counts[message.host] = counts.get(message.host, 0) + 1
        return post(message)

    feed.post = counted
    return counts


def thread_cpu() -> dict[str, float]:
    """This process's CPU seconds by kind of thread: the hosts' followers (row reads), Textual's loop (the main
    thread), the SSH connections' loop, the rest."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for thread in psutil.Process().threads():
        name = names.get(thread.id, "")
        kind = {"MainThread": "Textual", "netcon-asyncio": "asyncssh"}.get(name, "other")
        kind = "followers" if name.startswith("netcon-host") else kind
        out[kind] = out.get(kind, 0.0) + thread.user_time + thread.system_time
    return out


async def until(check, deadline: float, what: str) -> float:
    """When ``check()`` became true, polled every 20 ms (SystemExit past ``deadline``)."""
    import asyncio

    while not check():
        if time.perf_counter() > deadline:
            raise SystemExit(f"bench_cluster: the console: {what or 'not done'} by the deadline")
        await asyncio.sleep(0.02)
    return time.perf_counter()


def shown(pane, name: str, key: str) -> str | None:
    """The Cluster pane's cell for a host, from its table (a column the narrow layout moved to the strip below
    it: the cells the pane put there)."""
    from textual.widgets.data_table import CellDoesNotExist, ColumnDoesNotExist, RowDoesNotExist

    try:
        return str(pane.table.get_cell(name, key))
    except (CellDoesNotExist, ColumnDoesNotExist, RowDoesNotExist):
        cells = pane.full.get(name)
        return None if cells is None or name not in {k.value for k in pane.table.rows} else str(cells[key])


def shown_filled(pane, name: str) -> bool:
    """The host's row on screen says reachable, with its Docker version, subnet and VTEP MAC."""
    values = [shown(pane, name, key) for key in ("reachable", "docker", "subnet", "vtep")]
    return values[0] == "yes" and all(v not in (None, "-") for v in values[1:])


async def console_events(state: lab_state.LabState, pane, changes: int, tag: str) -> list[float]:
    """ms from the start of each change on h5 (a busybox container run, then removed, through its dockerd's
    socket) to h5's CONTAINERS cell showing the new count."""
    import asyncio

    host = state.hosts[min(EVENT_HOST, len(state.hosts) - 1)]
    client = docker.DockerClient(base_url=host.docker_host, timeout=60)
    out = []
    for i in range(changes):
        await asyncio.sleep(1.5)  # past the remote watcher's debounce, as for the core's events
        before = int(shown(pane, host.name, "containers") or 0)
        name, t0 = f"{tag}-ev{i // 2}", time.perf_counter()
        if i % 2 == 0:
            run = partial(client.containers.run, BUSYBOX_IMAGE, ["sleep", "600"], name=name, detach=True)
            done = asyncio.create_task(asyncio.to_thread(run, labels={LABEL: tag}))
        else:
            done = asyncio.create_task(asyncio.to_thread(lambda n=name: client.containers.get(n).remove(force=True)))
        want = str(before + (1 if i % 2 == 0 else -1))
        at = await until(
            lambda w=want: shown(pane, host.name, "containers") == w, t0 + 10, f"{host.name} showing {want}"
        )
        await done
        out.append((at - t0) * 1000)
    return out


def serving_processes(state: lab_state.LabState) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """(remote ``netcon serve --stdio`` processes, sshd session processes): the descendants of the lab sshds."""
    serve, sessions = [], []
    for host in state.hosts:
        with contextlib.suppress(psutil.Error):
            for proc in psutil.Process(host.sshd_pid).children(recursive=True):
                cmdline = proc.cmdline()
                if "serve" in cmdline and "--stdio" in cmdline:
                    serve.append(proc)
                elif proc.name() == "sshd":
                    sessions.append(proc)
    return serve, sessions


def cpu_s(procs: list[psutil.Process]) -> dict[int, float]:
    """CPU seconds of each process still there, by pid."""
    out = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            out[proc.pid] = times.user + times.system
    return out


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings by the processes present in both."""
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


def idle_cpu(state: lab_state.LabState, seconds: float) -> tuple[float, float, float, int, int]:
    """(% of a core of this process, of the remote servers together, of the sshd sessions together, and how
    many of each) over ``seconds`` of nothing changing."""
    me = psutil.Process()
    serve, sessions = serving_processes(state)
    before = (cpu_s([me]), cpu_s(serve), cpu_s(sessions))
    t0 = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - t0
    after = (cpu_s([me]), cpu_s(serve), cpu_s(sessions))
    mine, served, sshd = (spent(b, a) / wall * 100 for a, b in zip(after, before))
    return mine, served, sshd, len(serve), len(sessions)


def event_latencies(state: lab_state.LabState, watched: Watched, changes: int, tag: str) -> dict[str, list[float]]:
    """ms from the start of each change on one host (``EVENT_HOST``) to its event here, by kind (docker,
    netlink): the first event after the change whose reasons name that kind (the 30 s fallback's ``periodic``
    does not)."""
    host = state.hosts[min(EVENT_HOST, len(state.hosts) - 1)]
    client = docker.DockerClient(base_url=host.docker_host, timeout=60)
    veth = f"{tag[:6]}ev"
    seen = watched.events.setdefault(host.name, [])
    out: dict[str, list[float]] = {"docker": [], "netlink": []}
    try:
        for i in range(changes):
            time.sleep(1.5)  # past the remote watcher's debounce, so each change is one event
            count, t0 = len(seen), time.perf_counter()
            kind = change(client, host, i, tag, veth)
            arrived = first_event(seen, count, t0 + 5, "docker:network" if kind == "docker" else "netlink")
            if arrived is None:
                raise SystemExit(f"bench_cluster: no {kind} event from {host.name} within 5 s of change {i + 1}.")
            out[kind].append((arrived - t0) * 1000)
    finally:
        subprocess.run(["ip", "-n", host.netns, "link", "del", veth], check=False, capture_output=True)
    return out


def change(client: docker.DockerClient, host: lab_state.LabHost, i: int, tag: str, veth: str) -> str:
    """Change ``i`` on the host, in turn: a network created, a veth pair added, the network removed, the pair
    removed; its kind."""
    if i % 2 == 0:
        if i % 4 == 0:
            client.networks.create(f"{tag}-ev", labels={LABEL: tag})
        else:
            client.networks.get(f"{tag}-ev").remove()
        return "docker"
    words = ["add", veth, "type", "veth"] if i % 4 == 1 else ["del", veth]
    subprocess.run(["ip", "-n", host.netns, "link", *words], check=True)
    return "netlink"


def first_event(seen: list[tuple[float, frozenset[str]]], after: int, deadline: float, kind: str) -> float | None:
    """When the first event past index ``after`` with a reason starting with ``kind`` arrived (None: none by
    ``deadline``)."""
    while time.perf_counter() < deadline:
        for at, reasons in seen[after:]:
            if any(r.startswith(kind) for r in reasons):
                return at
        time.sleep(0.002)
    return None


def sequential_ssh(state: lab_state.LabState) -> float:
    """Seconds to read every host's veths with the real ssh, one host after the other."""
    config = lab_ssh.config_path(state)
    t0 = time.perf_counter()
    for host in state.hosts:
        argv = ["ssh", "-F", config, f"{lab_ssh.USER}@{host.netns}", "netcon", "show", "veths", "--json"]
        done = subprocess.run(argv, capture_output=True, check=True)
        json.loads(done.stdout)["veths"]
    return time.perf_counter() - t0


def snapshots_through_core(watched: Watched) -> float:
    """Seconds to take the same hosts' snapshots again over the open connections, in parallel."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(watched.hosts)) as pool:
        list(pool.map(lambda h: h.snapshot(), watched.hosts))
    return time.perf_counter() - t0


def run(state: lab_state.LabState, args: argparse.Namespace) -> None:
    tag = f"ncb{uuid.uuid4().hex[:6]}"
    try:
        add_containers(state, args.containers, tag)
        time.sleep(2)
        with ThreadPoolExecutor(len(state.hosts), thread_name_prefix="bench-rows") as pool:
            alone = one_host_alone(state.prefix, pool)
            time.sleep(2)
            load, cpu = os.getloadavg()[0], sum(cpu_s([psutil.Process()]).values())
            watched, first_full = watch_cluster(state.prefix, pool)
            print(start_cost(state, cpu, alone), flush=True)
            try:
                line = measure(state, args, tag, watched, first_full, load)
            finally:
                for host in watched.hosts:
                    host.close()
                stop_loop()
        time.sleep(2)
        console = measure_console(state, args, tag)
        print(
            f"{line} console_first_full_s={console['first_full_s']:.2f} "
            f"console_idle_cpu_pct={console['idle_cpu_pct']:.2f} console_event_ms={console['event_ms']:.0f}"
        )
    finally:
        remove_containers(state, tag)


def one_host_alone(prefix: str, pool: ThreadPoolExecutor) -> float:
    """Seconds to one host's filled row when it is the only one: what each host of a real cluster costs, where
    every remote netcon starts on a CPU of its own (the lab's 8 share this machine's)."""
    watched, seconds = watch_cluster(prefix, pool, only=1)
    for host in watched.hosts:
        host.close()
    return seconds


def start_cost(state: lab_state.LabState, before: float, alone: float) -> str:
    """What filling the table cost: CPU here (``before``: this process's CPU seconds at the start), and in the
    remote netcons and sshd sessions since they started."""
    here = sum(cpu_s([psutil.Process()]).values()) - before
    serve, sessions = serving_processes(state)
    return (
        f"start cost: this process {here:.2f} s CPU, {len(serve)} remote serve --stdio "
        f"{sum(cpu_s(serve).values()):.2f} s CPU, {len(sessions)} sshd sessions {sum(cpu_s(sessions).values()):.2f} s "
        f"CPU; one host alone: {alone:.2f} s to its full row"
    )


def measure(
    state: lab_state.LabState, args: argparse.Namespace, tag: str, watched: Watched, first_full: float, load: float
) -> str:
    """Everything through the core (the console's figures come after, with the core's hosts closed); the last
    line's keys."""
    connected = sorted(watched.connected_s.values())
    rows = watched.rows.values()
    print(
        f"first full: {first_full:.2f} s (load {load:.2f}); hosts connected after {connected[0]:.2f}-"
        f"{connected[-1]:.2f} s; containers per host {sorted(r.containers or 0 for r in rows)}",
        flush=True,
    )
    time.sleep(3)  # the rows' doctor runs and the remote watchers settle
    mine, served, sshd, n_serve, n_sshd = idle_cpu(state, args.seconds)
    print(
        f"idle {args.seconds:g} s (load {os.getloadavg()[0]:.2f}): this process {mine:.2f}% of a core; "
        f"{n_serve} remote serve --stdio {served:.2f}% together; {n_sshd} sshd sessions {sshd:.2f}% together",
        flush=True,
    )
    events = event_latencies(state, watched, args.changes, tag)
    every = events["docker"] + events["netlink"]
    p50 = statistics.median(every)
    print(
        "events ms: docker " + " ".join(f"{v:.0f}" for v in events["docker"]) + "; netlink "
        f"{' '.join(f'{v:.0f}' for v in events['netlink'])}; p50 {p50:.0f}, max {max(every):.0f}",
        flush=True,
    )
    again = snapshots_through_core(watched)
    sequential = sequential_ssh(state)
    print(
        f"{len(state.hosts)} snapshots: core over the open connections {again:.2f} s; sequential ssh "
        f"{sequential:.2f} s ({sequential / first_full:.1f}x the core's first full table, "
        f"{sequential / again:.0f}x its snapshots)",
        flush=True,
    )
    return (
        f"cluster hosts={len(state.hosts)} first_full_s={first_full:.2f} idle_cpu_pct={mine:.2f} "
        f"event_ms={p50:.0f} sequential_ssh_s={sequential:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--containers", type=int, default=3, help="busybox containers added on each host")
    parser.add_argument("--seconds", type=float, default=60.0, help="idle measurement")
    parser.add_argument(
        "--changes", type=int, default=8, help="changes timed (on h5, or the last host of a smaller lab)"
    )
    parser.add_argument("--lab", metavar="PREFIX", help="a lab you already have (lab up --ssh), left as it is")
    args = parser.parse_args()
    with throwaway_lab(args.hosts, args.lab) as state:
        run(state, args)


if __name__ == "__main__":
    main()
