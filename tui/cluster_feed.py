"""The console's hosts: the ones the inventory named (or just this one), each watched and read by a thread of its
own, so a host that does not answer delays no other.

Each host's worker reads its row (``core.hosts.cluster.row``) when the host says it changed (its ``watch``
events, ``LOST``/``BACK`` included; not its watcher's fallback or its sources connecting, ``UNREAD``) and every
``PERIOD`` seconds (lease TTL, round trip), and posts it as a ``HostRowRead``: the row first, then (when due, and
for the first time once every host has its row) with the doctor's count. The doctor reads everything on its
host, so it runs again only after that host changed (at most every ``DOCTOR_PERIOD`` seconds) or when its count
is ``DOCTOR_MAX_AGE`` old: an idle console costs the hosts next to nothing. The change events go to the app as
``HostChanged`` (with the host's name), so the pane of the current host refreshes too.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from textual.message import Message

from netcon.core.errors import NetconError
from netcon.core.flannel.lease import Lease
from netcon.core.hosts.base import EtcdAccess, Host, Reasons, Subscription
from netcon.core.hosts.cluster import HostRow, read_leases, row, with_doctor
from netcon.tui.messages import HostChanged

PERIOD = 60.0  # seconds between two reads of a quiet host's row (its round trip; the TTL is shown by the minute)
DOCTOR_PERIOD = 30.0  # the doctor on a host that changed at most this often (it reads everything)
DOCTOR_MAX_AGE = 300.0  # and on a quiet host this often
# reasons that say nothing changed: a watcher's periodic fallback, its first word, its sources connected
QUIET = frozenset({"periodic", "watching", "live"})
# reasons that do not even call for reading the row again: the host's event sources connected (its first
# "watching" already had the row read; a row shows nothing of the sources), its watcher's 30 s fallback (the
# row is read every PERIOD anyway: each read redrew the whole table for a new round trip)
UNREAD = frozenset({"live", "periodic"})
FIRST_DOCTOR_WAIT = 5.0  # seconds a host's first doctor waits for the other hosts' first rows at most
LEASES_MAX_AGE = 5.0  # the flannel leases read once for every host's row within this many seconds


class HostRowRead(Message):
    """A host's row was read (``row.reachable`` False: it could not be, ``row.error`` says why)."""

    def __init__(self, row: HostRow) -> None:
        super().__init__()
        self.row = row


def nothing_to_read(reasons: Reasons) -> bool:
    """A change event that does not call for reading the host's row again."""
    return bool(reasons) and reasons <= UNREAD


def is_remote(host: Host) -> bool:
    """Read over SSH (the panes that need this machine's kernel cannot show it)."""
    return str(host.target).startswith("ssh://")


class Leases:
    """The flannel leases every row is matched against, read at most every ``LEASES_MAX_AGE`` seconds."""

    def __init__(self, etcd: EtcdAccess | None) -> None:
        self.etcd = etcd
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._leases: tuple[Lease, ...] = ()

    def get(self) -> tuple[Lease, ...]:
        """The leases, read again by the first worker that finds them old; the others meanwhile take the last
        ones rather than wait on etcd (a slow etcd delays one row, not every row)."""
        if self.etcd is None or self.etcd.options is None:
            return ()
        if time.monotonic() - self._read_at > LEASES_MAX_AGE and self._lock.acquire(blocking=not self._read_at):
            try:
                if time.monotonic() - self._read_at > LEASES_MAX_AGE:
                    self._leases = self._read()
                    self._read_at = time.monotonic()
            finally:
                self._lock.release()
        return self._leases

    def _read(self) -> tuple[Lease, ...]:
        assert self.etcd is not None
        try:
            return read_leases(self.etcd)
        except NetconError:
            return ()  # no lease to match: the rows show no subnet, the Flannel pane says why


def round_trip(host: Host) -> float | None:
    """The time one empty request to a remote host takes; None for a host read in-process."""
    measure = getattr(host, "round_trip_ms", None)
    if measure is None:
        return None
    try:
        return float(measure())
    except NetconError:
        return None


class HostFeed:
    """One host's watch and row worker state: ``dirty`` wakes the worker, ``row`` is the last one read."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.dirty = threading.Event()
        self.row: HostRow = HostRow(host.name, host.target, False, error="reading…", address=_address(host))
        self.doctor_at = 0.0
        self.changed = True  # since the doctor last ran here
        self.subscription: Subscription | None = None
        self.started = False


def _address(host: Host) -> str | None:
    address = getattr(host, "address", None)
    return str(address) if address else None


class ClusterFeed:
    """Every host of the console: their rows and their change events, posted to ``post``."""

    def __init__(self, hosts: Sequence[Host], etcd: EtcdAccess | None, post: Callable[[Message], Any]) -> None:
        self.feeds = {host.name: HostFeed(host) for host in hosts}
        self.leases = Leases(etcd)
        self.post = post
        self.stopping = threading.Event()
        self.first_rows = threading.Event()  # every host's row was read once (each host's first doctor waits)
        self._read: set[str] = set()
        self._lock = threading.Lock()
        # the followers' own threads, one per host: they never end while the console runs, so in the loop's
        # shared executor (Textual's thread workers, min(32, CPUs + 4) threads) hosts past its size went unread
        self.threads = ThreadPoolExecutor(max_workers=max(1, len(self.feeds)), thread_name_prefix="netcon-host")

    @property
    def names(self) -> list[str]:
        return list(self.feeds)

    def host(self, name: str) -> Host:
        return self.feeds[name].host

    def watch(self, name: str) -> None:
        """Follow the host's change events (once per host)."""
        feed = self.feeds[name]
        if feed.subscription is not None or self.stopping.is_set():
            return

        def changed(reasons: Reasons) -> None:
            feed.changed = feed.changed or bool(reasons - QUIET)
            if not nothing_to_read(reasons):
                feed.dirty.set()
            if not self.stopping.is_set():
                self.post(HostChanged(reasons, name))

        feed.subscription = feed.host.watch(changed)

    def start(self, name: str, cancelled: Callable[[], bool]) -> Future[None]:
        """``follow`` the host in a thread of its own."""
        return self.threads.submit(self.follow, name, cancelled)

    def follow(self, name: str, cancelled: Callable[[], bool]) -> None:
        """A host's worker: read its row now (a remote host: once its connection says how it is) and whenever
        it changed, until the console stops."""
        feed = self.feeds[name]
        if is_remote(feed.host) and feed.subscription is not None:
            feed.dirty.wait(PERIOD)  # its first event ("watching", or LOST) comes as soon as it is known
        while not self.stopping.is_set() and not cancelled():
            feed.dirty.clear()
            new = self.read(feed, cancelled)
            if self.stopping.is_set() or cancelled():
                return
            feed.row = new
            self.post(HostRowRead(new))
            self._first_row(name)
            feed.dirty.wait(PERIOD)

    def _first_row(self, name: str) -> None:
        with self._lock:
            self._read.add(name)
            if len(self._read) == len(self.feeds):
                self.first_rows.set()

    def read(self, feed: HostFeed, cancelled: Callable[[], bool]) -> HostRow:
        """The row without the doctor first (posted at once), then, when it is due, with the doctor's count;
        between two runs the last count stands."""
        quick = row(feed.host, self.leases.get(), doctor=False, rtt=round_trip)
        age = time.monotonic() - feed.doctor_at
        due = (feed.changed and age >= DOCTOR_PERIOD) or age >= DOCTOR_MAX_AGE or not feed.row.reachable
        if not quick.reachable or not due:
            if quick.reachable:
                return dataclasses.replace(quick, errors=feed.row.errors, warnings=feed.row.warnings)
            return quick
        # shown now (the pane draws every host's last row), with the last count until the doctor gives its own
        feed.row = dataclasses.replace(quick, errors=feed.row.errors, warnings=feed.row.warnings)
        self.post(HostRowRead(quick))
        if not feed.doctor_at:  # the first: once every host's table row is in, so it does not hold those up
            self.first_rows.wait(FIRST_DOCTOR_WAIT)
        if self.stopping.is_set() or cancelled():
            return quick
        feed.doctor_at, feed.changed = time.monotonic(), False
        return with_doctor(feed.host, quick)

    def touch(self, name: str | None = None, reasons: Reasons | None = None) -> None:
        """Read one host's row again now (every host's: ``name`` None); its doctor too when it is due, unless
        ``reasons`` (a change event's) say nothing changed; not at all when they say only that its sources are
        connected."""
        if reasons is not None and nothing_to_read(reasons):
            return
        for key, feed in self.feeds.items():
            if name is None or key == name:
                feed.changed = feed.changed or reasons is None or bool(reasons - QUIET)
                feed.dirty.set()

    def close(self) -> None:
        """Stop every watch and worker, and close the hosts (their connections, readers, probes)."""
        self.stopping.set()
        self.first_rows.set()  # a first doctor waiting for the other rows goes now
        for feed in self.feeds.values():
            feed.dirty.set()
            feed.host.close()  # ends its watch too (a local host's watchers, a remote host's connection)
        self.threads.shutdown(wait=True)  # the followers end at once: stopping is set, their hosts closed
