"""This tree against an earlier commit, side by side on one fleet: did a refactoring cost speed?

    python -m tests.perf.bench_against REV [--view snapshot|ports] [--containers N] [--rounds R]

REV is exported (``git archive``) to a scratch directory that is put first on the import path of one worker
process; a second worker imports this tree. Each keeps a warm collector (``SnapshotCollector`` or
``PortsCollector``) and takes one view when asked; the two are asked in alternation, so load from other
work on the machine hits both alike. Medians of wall time and of CPU time (the worker's process time: every
thread, user and system) per tree, and their ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from tests.perf.fleet import fleet

ROOT = Path(__file__).resolve().parents[2]
WORKER = """
import sys, time
from netcon.core.context import HostContext
if sys.argv[1] == "snapshot":
    from netcon.core.snapshot import SnapshotCollector as Collector
else:
    try:
        from netcon.core.ports.collector import PortsCollector as Collector
    except ModuleNotFoundError:  # a revision from before core.ports became a package
        from netcon.core.ports import PortsCollector as Collector
collect = Collector(HostContext()).collect
collect()
collect()
for _ in sys.stdin:
    wall, cpu = time.perf_counter(), time.process_time()
    collect()
    print((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, flush=True)
"""


def export(rev: str, scratch: Path) -> Path:
    """``rev`` as an importable ``netcon`` package (core, tui, cli) under ``scratch``; its path entry."""
    archive = scratch / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(scratch / "tree", filter="data")
    package = scratch / "path" / "netcon"
    package.mkdir(parents=True)
    (package / "__init__.py").touch()
    for part in ("core", "tui", "cli"):
        (package / part).symlink_to(scratch / "tree" / part)
    return scratch / "path"


def worker(view: str, path_entry: Path | None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if path_entry is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(path_entry), env.get("PYTHONPATH"))))
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, view],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),  # outside any tree, so the path entry alone decides which netcon loads
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rev", help="the commit to compare against, e.g. main or 402db4c")
    parser.add_argument("--view", choices=("snapshot", "ports"), default="snapshot")
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="netcon-against-") as scratch, fleet(args.containers):
        workers = {args.rev: worker(args.view, export(args.rev, Path(scratch))), "this tree": worker(args.view, None)}
        times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in workers}
        try:
            for i in range(args.rounds):
                for name in list(workers) if i % 2 == 0 else reversed(list(workers)):
                    proc = workers[name]
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                    wall, cpu = map(float, proc.stdout.readline().split())
                    times[name][0].append(wall)
                    times[name][1].append(cpu)
        finally:
            for proc in workers.values():
                if proc.stdin is not None:
                    proc.stdin.close()
                proc.wait(30)
    med = {name: (statistics.median(wall), statistics.median(cpu)) for name, (wall, cpu) in times.items()}
    (old_wall, old_cpu), (new_wall, new_cpu) = med[args.rev], med["this tree"]
    for name, (wall, cpu) in med.items():
        print(f"  {name:12s} wall {wall:7.1f} ms  cpu {cpu:7.1f} ms  (median of {args.rounds})")
    print(
        f"against {args.rev} view={args.view} N={args.containers} wall_ms={old_wall:.1f}->{new_wall:.1f} "
        f"cpu_ms={old_cpu:.1f}->{new_cpu:.1f} wall_ratio={new_wall / old_wall:.2f} cpu_ratio={new_cpu / old_cpu:.2f}"
    )


if __name__ == "__main__":
    main()
