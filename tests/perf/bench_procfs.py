"""netcon's hand-written /proc reads vs psutil, side by side in one run: why psutil is not a runtime dependency.

    python -m tests.perf.bench_procfs --containers N

Per process, over every process of the machine: what the ports view reads (``procfs.process_info``: name,
parent, effective uid, command line) and what the snapshot's inspect cache checks (the start time), each
against the psutil call that gives the same; the lab's scan for its daemons (``processes_mentioning``)
against ``psutil.process_iter``. Then the whole warm ports view on a fleet of N containers, with its process
reads done by netcon and by psutil in alternation (median of 15 each).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import statistics
import time
from collections.abc import Callable, Iterator

import psutil

from netcon.core import procfs
from netcon.core.context import HostContext
from netcon.core.lab import procs
from netcon.core.ports import collector
from netcon.core.ports.collector import PortsCollector
from netcon.core.procfs import ProcessInfo
from tests.perf.fleet import fleet


def psutil_process_info(pid: int) -> ProcessInfo:
    """``procfs.process_info`` through psutil, raising the same errors."""
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            uid = proc.uids().effective
            return ProcessInfo(pid, proc.ppid(), proc.name(), " ".join(proc.cmdline()), procfs._user(uid), uid)
    except psutil.NoSuchProcess as error:
        raise ProcessLookupError(errno.ESRCH, str(error)) from error
    except psutil.AccessDenied as error:
        raise PermissionError(errno.EACCES, str(error)) from error


def proc_starttime(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().decode(errors="replace").rsplit(")", 1)[-1].split()[19]


def psutil_mentioning(marker: str) -> list[int]:
    me = os.getpid()
    return [
        p.pid for p in psutil.process_iter(["cmdline"]) if p.pid != me and any(marker in a for a in p.cmdline() or ())
    ]


def per_process_us(fn: Callable[[int], object], pids: list[int]) -> float:
    """CPU microseconds per process (processes that vanish or refuse are not counted)."""
    done, started = 0, time.process_time()
    for pid in pids:
        with contextlib.suppress(OSError, psutil.Error):
            fn(pid)
            done += 1
    return (time.process_time() - started) / max(done, 1) * 1e6


def alternate(pairs: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median of each measurement, taken in alternation so that load from other work hits both alike."""
    got: dict[str, list[float]] = {name: [] for name in pairs}
    for i in range(rounds):
        for name in list(pairs) if i % 2 == 0 else reversed(list(pairs)):
            got[name].append(pairs[name]())
    return {name: statistics.median(values) for name, values in got.items()}


@contextlib.contextmanager
def process_reads(fn: Callable[[int], ProcessInfo]) -> Iterator[None]:
    """The ports view with its process reads done by ``fn`` (ports and procfs.ancestry both call it)."""
    saved = procfs.process_info
    collector.process_info = procfs.process_info = fn
    try:
        yield
    finally:
        collector.process_info = procfs.process_info = saved


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=50)
    args = parser.parse_args()
    with fleet(args.containers):
        pids = procfs.pids()

        def timed(fn: Callable[[], object]) -> float:
            started = time.process_time()
            fn()
            return (time.process_time() - started) * 1000

        reads = alternate(
            {
                "proc_info": lambda: per_process_us(procfs.process_info, pids),
                "psutil_info": lambda: per_process_us(psutil_process_info, pids),
                "proc_start": lambda: per_process_us(proc_starttime, pids),
                "psutil_start": lambda: per_process_us(lambda p: psutil.Process(p).create_time(), pids),
                "proc_scan": lambda: timed(lambda: procs.processes_mentioning("/nonexistent/lab")),
                "psutil_scan": lambda: timed(lambda: psutil_mentioning("/nonexistent/lab")),
            },
            rounds=7,
        )
        renamed = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                if procfs.process_info(pid).name != psutil_process_info(pid).name:
                    renamed += 1
        collector = PortsCollector(HostContext())
        collector.collect()

        def view(fn: Callable[[int], ProcessInfo]) -> float:
            with process_reads(fn):
                started = time.perf_counter()
                collector.collect()
                return (time.perf_counter() - started) * 1000

        view_ms = alternate(
            {"proc": lambda: view(procfs.process_info), "psutil": lambda: view(psutil_process_info)}, 15
        )
    print(f"processes={len(pids)}; psutil names differing from the kernel's comm (as ss and ps show it): {renamed}")
    for what, ours, theirs, unit in (
        ("process info", reads["proc_info"], reads["psutil_info"], "us/process"),
        ("start time", reads["proc_start"], reads["psutil_start"], "us/process"),
        ("lab daemon scan", reads["proc_scan"], reads["psutil_scan"], "ms"),
        ("ports view", view_ms["proc"], view_ms["psutil"], "ms"),
    ):
        print(f"  {what:16s} /proc {ours:7.1f} {unit}  psutil {theirs:7.1f} {unit}  psutil/proc {theirs / ours:.2f}")
    print(
        f"procfs containers={args.containers} info_ratio={reads['psutil_info'] / reads['proc_info']:.2f} "
        f"start_ratio={reads['psutil_start'] / reads['proc_start']:.2f} "
        f"scan_ratio={reads['psutil_scan'] / reads['proc_scan']:.2f} "
        f"view_proc_ms={view_ms['proc']:.1f} view_psutil_ms={view_ms['psutil']:.1f}"
    )


if __name__ == "__main__":
    main()
