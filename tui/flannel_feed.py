"""Where the Flannel pane's data comes from, and the worker loop that brings it: the etcd settings the console
was started with, the flannel store in etcd, this host's side (the kernel's flannel device and entries,
``subnet.env``), and the messages the loop posts.

The loop lists every key once (one request, TTLs left for later), then follows etcd's watch, reads the TTLs the
pane asks for (the rows on screen: v3 pays one request per lease, so 10,000 are never read at once), and on any
etcd error says so and tries again. Every wait in it ends
at once when its stop event is set (the pane sets it when it unmounts), so quitting never waits on it.

Only the pane's worker threads call a feed. Tests of the console hand the app another object with the same
methods (fixture data) where the real etcd or kernel cannot produce a fixed scene.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.message import Message

from netcon.core.context import HostContext
from netcon.core.errors import EtcdUnavailable, NetconError, NotFound
from netcon.core.etcd import EtcdOptions, Watch, WatchReset
from netcon.core.flannel.config import FlannelConfig, parse_config
from netcon.core.flannel.lease import Lease
from netcon.core.flannel.operations import EtcdGiven
from netcon.core.flannel.registry import DEFAULT_PREFIX, BrokenLease, FlannelStore, LeaseEvent, normalize_prefix
from netcon.core.flannel.subnet_file import SubnetEnv, host_subnet_env
from netcon.core.flannel.vxlan import VxlanState, read_state

RETRY = 3.0  # seconds between attempts to reach etcd
UNCONFIGURED_RETRY = 30.0  # and to reach the default endpoint when none was given ("not configured")
WATCH_POLL = 0.25  # seconds a watch read blocks at most (a stop also wakes it)


@dataclass(frozen=True)
class EtcdSettings:
    """How the console reaches etcd. ``given`` is False when neither a flag nor an etcdctl variable named an
    etcd: the default endpoint is then only tried, and its silence means "no etcd configured"."""

    options: EtcdOptions
    prefix: str = DEFAULT_PREFIX
    given: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", normalize_prefix(self.prefix))

    @property
    def endpoint(self) -> str:
        return ",".join(self.options.endpoints)

    @property
    def request(self) -> EtcdGiven:
        """What the pane's changes pass to the core's operations (and their audit lines)."""
        return EtcdGiven.of_options(self.options, self.prefix)


class FlannelFeed:
    """The real sources: etcd through ``FlannelStore``, the kernel through ``core.flannel.vxlan``."""

    def __init__(self, ctx: HostContext, settings: EtcdSettings) -> None:
        self.ctx = ctx
        self.settings = settings

    def open(self) -> FlannelStore:
        return FlannelStore.open(self.settings.options, self.settings.prefix)

    def kernel(self, ifname: str) -> VxlanState:
        return read_state(self.ctx, ifname)

    def subnet_env(self) -> SubnetEnv | None:
        return host_subnet_env(self.ctx)


# messages from the workers ------------------------------------------------------------------------------


class EtcdState(Message):
    """``where``: the endpoint (and API) for the header; ``detail``: the error, or the store's description."""

    def __init__(self, up: bool, where: str, detail: str) -> None:
        super().__init__()
        self.up, self.where, self.detail = up, where, detail


class FlannelListed(Message):
    def __init__(
        self,
        config: FlannelConfig | None,
        config_error: str | None,
        leases: tuple[Lease, ...],
        broken: tuple[BrokenLease, ...] = (),
    ) -> None:
        super().__init__()
        self.config, self.config_error, self.leases, self.broken = config, config_error, leases, broken


class LeasesChanged(Message):
    def __init__(self, events: list[LeaseEvent]) -> None:
        super().__init__()
        self.events = events


class TtlsRead(Message):
    """Leases whose TTL was read after the listing, as the pane asked (v3 reads them one request each)."""

    def __init__(self, leases: tuple[Lease, ...]) -> None:
        super().__init__()
        self.leases = leases


class KernelRead(Message):
    def __init__(self, state: VxlanState, subnet_env: SubnetEnv | None) -> None:
        super().__init__()
        self.state, self.subnet_env = state, subnet_env


# the worker loop ----------------------------------------------------------------------------------------


class FeedLoop:
    """The body of the pane's etcd worker; ``post`` hands a message to the pane (thread-safe)."""

    def __init__(self, feed: FlannelFeed, post: Callable[[Message], object], stop: threading.Event) -> None:
        self.feed, self.post, self.stop = feed, post, stop
        self._watch: Watch | None = None
        self._wanted: queue.SimpleQueue[Lease] = queue.SimpleQueue()

    def want_ttls(self, leases: Iterable[Lease]) -> None:
        """Ask for these leases' TTLs (from the UI thread); the loop reads them before its next watch read."""
        for lease in leases:
            self._wanted.put(lease)
        if self._watch is not None:
            self._watch.push([])  # wake the watch read

    def halt(self) -> None:
        """Set the stop event and wake a watch read blocked on its queue."""
        self.stop.set()
        if self._watch is not None:
            self._watch.push([])

    def run(self) -> None:
        endpoint = self.feed.settings.endpoint
        # an etcd the user named is tried every RETRY s; the default one, only looked for, less often (each try
        # opens a v3 channel and a v2 request: 0.15 % of a core at 3 s, in a console that has no etcd)
        retry = RETRY if self.feed.settings.given else UNCONFIGURED_RETRY
        while not self.stop.is_set():
            try:
                store = self.feed.open()
            except NetconError as error:
                self.post(EtcdState(False, endpoint, str(error)))
                self.stop.wait(retry)
                continue
            try:
                self._follow(store)
            except NetconError as error:
                if not self.stop.is_set():
                    self.post(EtcdState(False, endpoint, str(error)))
                    self.stop.wait(retry)
            finally:
                store.close()

    def _config(self, store: FlannelStore) -> tuple[FlannelConfig | None, str | None]:
        try:
            return parse_config(store.config_text()), None
        except NotFound as error:
            return None, str(error)
        except EtcdUnavailable:
            raise
        except NetconError as error:
            return None, f"The stored config is invalid: {error}"

    def _follow(self, store: FlannelStore) -> None:
        while not self.stop.is_set():
            config, problem = self._config(store)
            listing = store.listing(ttls=False)
            self.post(EtcdState(True, f"{store.client.endpoint} (v{store.client.api})", store.where()))
            self.post(FlannelListed(config, problem, listing.leases, listing.broken))
            self._watch = store.watch(listing.revision)
            try:
                while not self.stop.is_set():
                    wanted = self._take_wanted()
                    if wanted:
                        self.post(TtlsRead(store.with_ttls(wanted)))
                    events = [store.event(raw) for raw in self._watch.next(WATCH_POLL)]
                    if events:
                        self.post(LeasesChanged(events))
            except WatchReset:
                continue  # fell behind etcd's history: list again
            finally:
                self._watch.close()
                self._watch = None

    def _take_wanted(self) -> tuple[Lease, ...]:
        wanted: dict[str, Lease] = {}
        while True:
            try:
                lease = self._wanted.get_nowait()
            except queue.Empty:
                return tuple(wanted.values())
            wanted[lease.subnet] = lease
