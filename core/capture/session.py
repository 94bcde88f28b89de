"""A capture on several interfaces at once, each possibly in another network namespace.

The sockets are opened inside their namespaces by one short-lived helper thread (``core.netns``) and read
from whichever thread drives the capture (the CLI's main thread, a console worker): the core starts no
thread that outlives ``open``. ``stop`` may be called from any thread and wakes a waiting reader at once.
Every packet keeps the interface and namespace it was seen on; a batch is in time order across interfaces.
A cap on packets per second keeps a busy link from flooding the caller: packets over it are counted, not
shown, like the kernel's drops.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netcon.core.capture.bpf import Program
from netcon.core.capture.decode import decode
from netcon.core.capture.layers import Layer
from netcon.core.capture.ring import DEFAULT_RING_MB, RETIRE_MS, Endpoint, PacketSocket, RawPacket
from netcon.core.capture.summary import summary
from netcon.core.errors import NetconError, UsageError
from netcon.core.netns import OWN_NETNS, THREAD_NETNS, netns_inode, run_in_each_netns

MAX_INTERFACES = 64

# (index of the endpoint, seconds, nanoseconds, length on the wire, bytes captured, sent by the interface)
RawRecord = tuple[int, int, int, int, bytes, bool]


@dataclass(frozen=True)
class Limits:
    """``max_pps``: packets per second handed to the caller (None: all); ``ring_mb``: the kernel ring of
    each interface, which absorbs bursts while the reader is busy."""

    max_pps: int | None = None
    ring_mb: int = DEFAULT_RING_MB


@dataclass(frozen=True, slots=True)
class Packet:
    """One captured frame and where it was seen."""

    ts_ns: int  # kernel receive time, nanoseconds since the epoch
    endpoint: Endpoint
    length: int  # bytes on the wire (``data`` may be shorter)
    data: bytes
    outgoing: bool  # sent by the interface, not received

    @property
    def ts(self) -> float:
        return self.ts_ns / 1e9

    @property
    def ifname(self) -> str:
        return self.endpoint.ifname

    @property
    def netns(self) -> str:
        return self.endpoint.netns_label

    def layers(self) -> tuple[Layer, ...]:
        return decode(self.data)

    def summary(self) -> str:
        return summary(self.layers())


@dataclass(frozen=True)
class InterfaceStats:
    endpoint: Endpoint
    received: int  # packets the filter accepted (the kernel's count)
    dropped: int  # of those, lost because the ring was full


@dataclass(frozen=True)
class CaptureStats:
    interfaces: tuple[InterfaceStats, ...]
    delivered: int  # packets handed to the caller
    capped: int  # packets read but not handed over because of ``max_pps``

    @property
    def received(self) -> int:
        return sum(i.received for i in self.interfaces)

    @property
    def dropped(self) -> int:
        return sum(i.dropped for i in self.interfaces)


def check_endpoints(endpoints: Sequence[Endpoint]) -> tuple[Endpoint, ...]:
    """At least one, at most ``MAX_INTERFACES``, none twice (one interface named by two targets counts once)."""
    unique = tuple(dict.fromkeys(endpoints))
    if not unique:
        raise UsageError("Nothing to capture on: give at least one target.", target="targets")
    if len(unique) > MAX_INTERFACES:
        raise UsageError(f"{len(unique)} interfaces named; a capture takes at most {MAX_INTERFACES}.", target="targets")
    return unique


class Capture:
    """``with Capture(endpoints, program) as cap: cap.next(0.2)...``: the sockets are open inside the block
    and all closed when it ends, whatever happened."""

    def __init__(self, endpoints: Sequence[Endpoint], program: Program | None, limits: Limits = Limits()) -> None:
        self.endpoints = check_endpoints(endpoints)
        self.program = program
        self.limits = limits
        self.sockets: list[PacketSocket] = []
        self._wake_r, self._wake_w = -1, -1
        self._stopped = threading.Event()
        self._poll: select.poll | None = None
        self._index: dict[int, int] = {}
        self._second = 0
        self._in_second = 0
        self.delivered = 0
        self.capped = 0

    # -- life cycle -----------------------------------------------------------------------------------------

    def open(self) -> Capture:
        """Open one socket per endpoint inside its namespace; the first failure closes the others and is
        raised naming its interface."""
        opened: list[PacketSocket] = []
        errors: list[BaseException] = []
        here, elsewhere = self._by_namespace()
        for endpoint in here:  # netcon's own namespace: no setns, so no CAP_SYS_ADMIN needed
            self._open_one(endpoint, opened, errors)

        def open_there() -> tuple[list[PacketSocket], list[BaseException]]:
            there: tuple[list[PacketSocket], list[BaseException]] = ([], [])
            for endpoint in elsewhere.get(netns_inode(THREAD_NETNS), []):
                self._open_one(endpoint, *there)
            return there

        if elsewhere and not errors:
            paths = {e.netns for group in elsewhere.values() for e in group[:1] if e.netns}
            for result in run_in_each_netns(sorted(paths), open_there).values():
                if isinstance(result, BaseException):
                    errors.append(result)
                else:
                    opened += result[0]
                    errors += result[1]
        if not errors and len(opened) < len(self.endpoints):  # a namespace was replaced while we entered it
            missing = next(e for e in self.endpoints if e not in {s.endpoint for s in opened})
            errors.append(NetconError(f"The network namespace of {missing.label} changed while opening it."))
        if errors:
            for sock in opened:
                sock.close()
            raise errors[0]
        order = {e: i for i, e in enumerate(self.endpoints)}
        self.sockets = sorted(opened, key=lambda s: order[s.endpoint])
        self._index = {s.fileno(): i for i, s in enumerate(self.sockets)}
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._poll = select.poll()
        for sock in self.sockets:
            self._poll.register(sock.fileno(), select.POLLIN)
        self._poll.register(self._wake_r, select.POLLIN)
        return self

    def _by_namespace(self) -> tuple[list[Endpoint], dict[int, list[Endpoint]]]:
        """(endpoints in netcon's own namespace, the others by namespace inode)."""
        own = netns_inode(OWN_NETNS)
        here: list[Endpoint] = []
        elsewhere: dict[int, list[Endpoint]] = {}
        for e in self.endpoints:
            try:
                inode = own if e.netns is None else netns_inode(e.netns)
            except OSError as error:
                raise NetconError(
                    f"The network namespace of {e.label} is gone ({error.strerror}).", target=e.ifname
                ) from None
            if inode == own:
                here.append(e)
            else:
                elsewhere.setdefault(inode, []).append(e)
        return here, elsewhere

    def _open_one(self, endpoint: Endpoint, opened: list[PacketSocket], errors: list[BaseException]) -> None:
        try:
            opened.append(PacketSocket.open(endpoint, self.program, self.limits.ring_mb))
        except BaseException as error:  # handed to the caller, who closes what was opened
            errors.append(error)

    def stop(self) -> None:
        """Make the reader's next (or current) wait return at once; safe from any thread."""
        self._stopped.set()
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def close(self) -> None:
        self._stopped.set()
        for sock in self.sockets:
            sock.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        self._poll = None

    def __enter__(self) -> Capture:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------------------------

    def next_raw(self, timeout: float, keep: bool = True) -> list[RawRecord]:
        """Wait up to ``timeout`` seconds for packets; every packet the kernel has handed over since, in time
        order, as raw records (``keep`` False: counted and dropped, for a reader that wants only counts).
        Empty on timeout or after ``stop``."""
        if self._poll is None or self._stopped.is_set():
            return []
        ready = self._poll.poll(max(0, int(timeout * 1000)))
        if self._stopped.is_set():
            return []
        return self._read([self._index[fd] for fd, _event in ready if fd != self._wake_r], keep)

    def drain(self) -> list[RawRecord]:
        """After the reading stopped: the packets the kernel had already taken into a block it had not handed
        over yet (it does after ``RETIRE_MS``), so a capture ended by Ctrl-C loses none it saw."""
        if self._poll is None:
            return []
        time.sleep(RETIRE_MS * 1.5 / 1000)
        return self._read(range(len(self.sockets)), True)

    def _read(self, indexes: Iterable[int], keep: bool) -> list[RawRecord]:
        records: list[RawRecord] = []
        batch: list[RawPacket] = []
        sources = 0
        for index in indexes:
            batch.clear()
            self.sockets[index].read(batch, keep)
            records.extend((index, *packet) for packet in batch)
            sources += bool(batch)
        if sources > 1:
            records.sort(key=lambda r: (r[1], r[2]))
        return self._cap(records)

    def _cap(self, records: list[RawRecord]) -> list[RawRecord]:
        limit = self.limits.max_pps
        if limit is not None and records:
            second = int(time.monotonic())
            if second != self._second:
                self._second, self._in_second = second, 0
            room = max(0, limit - self._in_second)
            if len(records) > room:
                self.capped += len(records) - room
                records = records[:room]
            self._in_second += len(records)
        self.delivered += len(records)
        return records

    def next(self, timeout: float) -> list[Packet]:
        """Like ``next_raw``, as ``Packet``s."""
        endpoints = [s.endpoint for s in self.sockets]
        return [
            Packet(sec * 1_000_000_000 + nsec, endpoints[i], wire, data, out)
            for i, sec, nsec, wire, data, out in self.next_raw(timeout)
        ]

    def statistics(self) -> CaptureStats:
        interfaces = []
        for sock in self.sockets:
            received, dropped = sock.statistics()
            interfaces.append(InterfaceStats(sock.endpoint, received, dropped))
        return CaptureStats(tuple(interfaces), self.delivered, self.capped)
