"""When the Cluster pane's feed reads a host: its doctor after a change, not on a quiet host's periodic events;
its row not again when the host only says its event sources connected. The host is this machine read in-process
(the real snapshot and doctor); its ``snapshot`` and ``doctor`` are wrapped to count the reads, the one thing no
real component reports."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from netcon.core.context import HostContext
from netcon.core.doctor.findings import Report
from netcon.core.hosts.local import LocalHost
from netcon.core.model import Snapshot
from netcon.tui import cluster_feed
from netcon.tui.cluster_feed import ClusterFeed, HostRowRead


class CountedHost(LocalHost):
    def __init__(self) -> None:
        super().__init__(HostContext(read_only=True))
        self.doctor_runs = 0
        self.snapshots = 0

    def snapshot(self) -> Snapshot:
        self.snapshots += 1
        return super().snapshot()

    def doctor(self) -> Report:
        self.doctor_runs += 1
        return super().doctor()


@contextlib.contextmanager
def followed(host: LocalHost) -> Iterator[tuple[ClusterFeed, list[HostRowRead]]]:
    """The feed of one host followed by its thread, and the rows it posts; the thread ends with the feed."""
    rows: list[HostRowRead] = []
    feed = ClusterFeed([host], None, lambda m: rows.append(m) if isinstance(m, HostRowRead) else None)
    follower = threading.Thread(target=feed.follow, args=("local", lambda: False))
    follower.start()
    try:
        yield feed, rows
    finally:
        if isinstance(host, SlowDoctor):
            host.go.set()
        feed.close()
        follower.join(10)
    assert not follower.is_alive()


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_doctor_runs_again_after_a_change_not_on_quiet_events(monkeypatch):
    monkeypatch.setattr(cluster_feed, "DOCTOR_PERIOD", 0.0)  # due at once after a change
    host = CountedHost()
    with followed(host) as (feed, rows):
        wait_for(lambda: host.doctor_runs == 1 and len(rows) >= 2)  # the quick row, then the doctor's
        for _ in range(3):  # a quiet event (a remote watcher's first word): the row is read again, not the doctor
            read = len(rows)
            feed.touch("local", frozenset({"watching"}))
            wait_for(lambda: len(rows) > read)  # noqa: B023 (read is used at once)
        assert host.doctor_runs == 1
        feed.touch("local", frozenset({"docker:network:create"}))
        wait_for(lambda: host.doctor_runs == 2)


def test_sources_connected_or_a_fallback_is_no_reason_to_read_the_row_again():
    """A watcher's "live" (its event sources connected, right after the "watching" that had the row read) reads
    nothing: at the console's start it made every host's snapshot be read twice. Nor does its 30 s fallback: the
    row is read every PERIOD (its round trip), and each read redrew the whole table."""
    host = CountedHost()
    with followed(host) as (feed, rows):
        wait_for(lambda: host.doctor_runs == 1 and len(rows) >= 2)
        read, snapshots = len(rows), host.snapshots
        feed.touch("local", frozenset({"live"}))
        feed.touch("local", frozenset({"periodic"}))  # the watcher's fallback: the row is read every PERIOD anyway
        time.sleep(1.0)  # a read takes a few ms here
        assert (len(rows), host.snapshots) == (read, snapshots)
        feed.touch("local", frozenset({"live", "docker:container:start"}))  # with a change it reads
        wait_for(lambda: host.snapshots == snapshots + 1 and len(rows) > read)


class SlowDoctor(CountedHost):
    """This machine with a doctor that waits to be let go: a slow doctor (a big host) is what no real host
    here produces on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()

    def doctor(self) -> Report:
        self.go.wait(30)
        return super().doctor()


def test_a_hosts_row_shows_before_its_doctor_has_run():
    """The row read without the doctor is the host's row at once (the pane draws ``feed.row``); it was posted
    but the pane kept drawing "reading…" until the doctor's count came."""
    host = SlowDoctor()
    with followed(host) as (feed, rows):
        wait_for(lambda: len(rows) == 1)
        shown = feed.feeds["local"].row
        assert shown.reachable and shown.error != "reading…" and shown.errors is None and host.doctor_runs == 0
        host.go.set()
        wait_for(lambda: feed.feeds["local"].row.errors is not None)
