"""asyncssh against paramiko over the lab's real sshds, for the choice core/hosts/ssh.py made: the time and CPU
of connect + exec + first line, one host at a time and N hosts at once, and the cost of keeping N connections
open and idle (with the keepalives netcon keeps, ``ssh.KEEPALIVE_S``).

    .venv/bin/pip install paramiko   # only for this measurement: netcon does not depend on it
    python -m tests.perf.bench_ssh_libs [--lab PREFIX] [--hosts 8] [--rounds 10] [--idle 30] [--command 'echo ready']

Both log in exactly as netcon does: the lab's ssh config, its key, its known_hosts with unknown keys refused
(asyncssh through netcon's own ``core.hosts.ssh.connect``; paramiko with ``RejectPolicy`` and the config's
values looked up with ``paramiko.SSHConfig``, since paramiko does not apply a config itself). asyncssh runs
every connection on one asyncio thread; paramiko, being blocking, needs a thread per host (plus the transport
thread each connection starts). Without ``--lab`` a throwaway lab with sshd is built and removed.
Last line: ``ssh_libs hosts=<n> asyncssh_one_ms=<x> paramiko_one_ms=<x> asyncssh_all_s=<x> paramiko_all_s=<x>
asyncssh_cpu_ms_per_host=<x> paramiko_cpu_ms_per_host=<x> asyncssh_idle_cpu_pct=<x> paramiko_idle_cpu_pct=<x>``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import paramiko
import psutil

from netcon.core.hosts import ssh
from netcon.core.hosts.target import parse_target
from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab import state as lab_state
from tests.perf.sshlab import throwaway_lab

KEEPALIVE_S = ssh.KEEPALIVE_S


def cpu() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


# -- asyncssh, as netcon uses it ----------------------------------------------------------------------------


async def asyncssh_one(state: lab_state.LabState, host: lab_state.LabHost, command: str) -> Any:
    conn = await ssh.connect(parse_target(lab_ssh.target(host)), ssh.SshSettings(lab_ssh.config_path(state)))
    proc = await conn.create_process(command, encoding=None)
    line = await proc.stdout.readline()
    assert line.strip(), f"no first line from {host.name}"
    return conn


async def asyncssh_all(state: lab_state.LabState, command: str, keep: float) -> tuple[float, float, float]:
    """(wall s to every first line, CPU s of that, idle CPU % over ``keep`` s with every connection open)."""
    c0, t0 = cpu(), time.perf_counter()
    conns = await asyncio.gather(*(asyncssh_one(state, h, command) for h in state.hosts))
    wall, spent = time.perf_counter() - t0, cpu() - c0
    c1 = cpu()
    await asyncio.sleep(keep)
    idle = (cpu() - c1) / keep * 100
    print(f"asyncssh: {threading.active_count()} threads with {len(conns)} connections open", flush=True)
    for conn in conns:
        conn.close()
    await asyncio.gather(*(c.wait_closed() for c in conns))
    return wall, spent, idle


# -- paramiko, given the same config by hand ----------------------------------------------------------------


def paramiko_one(state: lab_state.LabState, host: lab_state.LabHost, command: str) -> paramiko.SSHClient:
    config = paramiko.SSHConfig.from_path(lab_ssh.config_path(state)).lookup(host.netns)
    client = paramiko.SSHClient()
    for path in config.get("userknownhostsfile", "").split():
        client.load_host_keys(path)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        config["hostname"],
        port=int(config.get("port", 22)),
        username=config.get("user"),
        key_filename=config.get("identityfile"),
        look_for_keys=False,
        allow_agent=False,
        timeout=ssh.CONNECT_TIMEOUT,
    )
    transport = client.get_transport()
    assert transport is not None
    transport.set_keepalive(int(KEEPALIVE_S))
    _stdin, stdout, _stderr = client.exec_command(command)
    assert stdout.readline().strip(), f"no first line from {host.name}"
    return client


def paramiko_all(state: lab_state.LabState, command: str, keep: float) -> tuple[float, float, float]:
    c0, t0 = cpu(), time.perf_counter()
    with ThreadPoolExecutor(len(state.hosts)) as pool:
        clients = list(pool.map(lambda h: paramiko_one(state, h, command), state.hosts))
    wall, spent = time.perf_counter() - t0, cpu() - c0
    c1 = cpu()
    time.sleep(keep)
    idle = (cpu() - c1) / keep * 100
    print(f"paramiko: {threading.active_count()} threads with {len(clients)} connections open", flush=True)
    for client in clients:
        client.close()
    return wall, spent, idle


def one_at_a_time(connect: Callable[[], Any], close: Callable[[Any], None], rounds: int) -> tuple[float, float]:
    """(median ms of connect + exec + first line to one host, median CPU ms of it)."""
    walls, cpus = [], []
    for _ in range(rounds):
        c0, t0 = cpu(), time.perf_counter()
        handle = connect()
        walls.append((time.perf_counter() - t0) * 1000)
        cpus.append((cpu() - c0) * 1000)
        close(handle)
    return statistics.median(walls), statistics.median(cpus)


def run(state: lab_state.LabState, args: argparse.Namespace) -> None:
    loop = asyncio.new_event_loop()
    host = state.hosts[0]

    def a_close(conn: Any) -> None:
        conn.close()
        loop.run_until_complete(conn.wait_closed())

    a_one = one_at_a_time(
        lambda: loop.run_until_complete(asyncssh_one(state, host, args.command)), a_close, args.rounds
    )
    p_one = one_at_a_time(lambda: paramiko_one(state, host, args.command), lambda c: c.close(), args.rounds)
    for name, (wall, spent) in (("asyncssh", a_one), ("paramiko", p_one)):
        print(f"{name} one host: {wall:.0f} ms to the first line, {spent:.0f} ms CPU (median of {args.rounds})")
    a_all = loop.run_until_complete(asyncssh_all(state, args.command, args.idle))
    p_all = paramiko_all(state, args.command, args.idle)
    n = len(state.hosts)
    for name, (wall, spent, idle) in (("asyncssh", a_all), ("paramiko", p_all)):
        print(
            f"{name} {n} hosts at once: {wall:.2f} s to every first line, {spent * 1000 / n:.0f} ms CPU per host; "
            f"idle {args.idle:g} s with {n} open: {idle:.2f}% of a core",
            flush=True,
        )
    loop.close()
    print(
        f"ssh_libs hosts={n} asyncssh_one_ms={a_one[0]:.0f} paramiko_one_ms={p_one[0]:.0f} "
        f"asyncssh_all_s={a_all[0]:.2f} paramiko_all_s={p_all[0]:.2f} "
        f"asyncssh_cpu_ms_per_host={a_all[1] * 1000 / n:.0f} paramiko_cpu_ms_per_host={p_all[1] * 1000 / n:.0f} "
        f"asyncssh_idle_cpu_pct={a_all[2]:.2f} paramiko_idle_cpu_pct={p_all[2]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", metavar="PREFIX", help="a lab you already have (lab up --ssh), left as it is")
    parser.add_argument("--hosts", type=int, default=8, help="hosts of the throwaway lab")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds the connections are held open idle")
    parser.add_argument("--command", default="echo ready", help="what runs there (its first line is awaited)")
    args = parser.parse_args()
    with throwaway_lab(args.hosts, args.lab) as state:
        run(state, args)


if __name__ == "__main__":
    main()
