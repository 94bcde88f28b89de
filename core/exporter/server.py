"""``netcon exporter``'s engine: the readings on their loops, the probes, and the HTTP endpoint that serves the
last values with Prometheus' own client. Read-only by construction: it refuses a context that may change
anything, and it calls nothing that changes the host."""

from __future__ import annotations

import bisect
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, ProcessCollector
from prometheus_client.metrics_core import Metric

from netcon.core.context import HostContext
from netcon.core.errors import UsageError
from netcon.core.etcd import EtcdOptions
from netcon.core.exporter.config import ExporterConfig
from netcon.core.exporter.doctor_reader import DoctorReader
from netcon.core.exporter.flannel_reader import FlannelReader
from netcon.core.exporter.inventory import InventoryReader
from netcon.core.exporter.loop import Loop
from netcon.core.exporter.metrics import (
    doctor_metrics,
    flannel_metrics,
    health_metrics,
    inventory_metrics,
    probe_metrics,
)
from netcon.core.exporter.probes import MatrixSet, ProbeSet, ProbeView
from netcon.core.exporter.render import Exposition, Group, Renderer, always
from netcon.core.listen import listen_failure
from netcon.core.snapshot import SnapshotCollector

log = logging.getLogger(__name__)
PROBES_RENDER_S = 1.0  # the probes' families are rendered at most this often (every probe changes each second)
SCRAPE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
STOP_GRACE_S = 5.0  # a reading still in Docker or etcd when the exporter stops is not waited for longer

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class EtcdSource:
    """Where flannel's data is, when the exporter should read it."""

    options: EtcdOptions
    prefix: str | None


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """One line per scrape would flood a journal; the exporter's own metrics count scrapes."""


class ScrapeStats:
    """Durations and failures of scrapes, exported by the next scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = [0] * (len(SCRAPE_BUCKETS) + 1)
        self.total = 0.0
        self.errors = 0

    def add(self, seconds: float, failed: bool) -> None:
        with self._lock:
            self.counts[bisect.bisect_left(SCRAPE_BUCKETS, seconds)] += 1
            self.total += seconds
            self.errors += 1 if failed else 0

    def snapshot(self) -> tuple[list[tuple[str, int]], float, int]:
        with self._lock:
            cumulative, running = [], 0
            for bound, count in zip([*(f"{b:g}" for b in SCRAPE_BUCKETS), "+Inf"], self.counts):
                running += count
                cumulative.append((bound, running))
            return cumulative, self.total, self.errors


class Exporter:
    """Build, ``start`` (binds the port first: a port in use fails before anything runs), ``wait``, ``close``."""

    def __init__(
        self,
        ctx: HostContext,
        config: ExporterConfig,
        listen: tuple[str, int],
        etcd: EtcdSource | None = None,
    ) -> None:
        if not ctx.read_only:
            raise UsageError("The exporter runs only in read-only mode: give it a read-only HostContext.")
        self.ctx = ctx
        self.config = config
        self.listen = listen
        self.stopping = threading.Event()
        collector = SnapshotCollector(ctx)
        self.inventory = InventoryReader(ctx, collector)
        self.probes = ProbeSet(ctx, config.probes, self.stopping)
        self.matrices = [MatrixSet(ctx, m, collector, self.stopping) for m in config.matrices]
        self.flannel = FlannelReader(ctx, etcd.options, etcd.prefix, collector) if etcd else None
        self.doctor = DoctorReader(ctx, etcd.options if etcd else None, etcd.prefix if etcd else None, collector)
        self.loops = [
            Loop("snapshot", config.snapshot_interval, self.inventory.read_snapshot, self.stopping),
            Loop("counters", config.counters_interval, self.inventory.read_counters, self.stopping),
            Loop("doctor", config.doctor_interval, self.doctor.run, self.stopping),
            *(Loop(f"matrix {m.config.network}", m.config.interval, m.run, self.stopping) for m in self.matrices),
        ]
        if self.flannel is not None:
            self.loops.append(Loop("flannel", config.flannel_interval, self.flannel.run, self.stopping))
        self.scrapes = ScrapeStats()
        groups = self._groups()
        self.exposition = Exposition(groups[:-2], groups[-2:])
        self.renderer = Renderer(self.exposition, self.stopping)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _groups(self) -> list[Group]:
        """The exposition's groups, each with what tells that its readings changed; the last two are rendered in
        the scrape itself."""

        def probe_views() -> list[ProbeView]:
            return self.probes.views() + [v for m in self.matrices for v in m.views()]

        def flannel() -> Iterator[Metric]:
            reading = self.flannel.reading if self.flannel else None
            return flannel_metrics(reading, time.time()) if reading is not None else iter(())

        return [
            Group(
                "probes",
                lambda: probe_metrics(probe_views()),
                lambda: (self.probes.version, *(m.version for m in self.matrices)),
                min_age=PROBES_RENDER_S,
            ),
            Group("inventory", lambda: inventory_metrics(self.inventory.inventory), lambda: self.inventory.version),
            Group(  # the TTLs count down: rendered again each second while scraped
                "flannel", flannel, lambda: (self.flannel.version, int(time.monotonic())) if self.flannel else 0
            ),
            Group("doctor", lambda: doctor_metrics(self.doctor.reading), lambda: self.doctor.version),
            Group(
                "health",
                lambda: health_metrics([loop.health for loop in self.loops], self.scrapes.snapshot()),
                always,
            ),
            Group("process", None, always, collector=ProcessCollector(registry=None)),
        ]

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the port the kernel chose when 0 was asked for)."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._server = bind(self.listen, self.app)
        self._thread = threading.Thread(target=self._server.serve_forever, name="exporter http", daemon=True)
        self._thread.start()
        for loop in self.loops:
            loop.start()
        self.probes.start()
        self.renderer.start()

    def wait(self) -> None:
        """Until ``stop`` (a signal handler calls it)."""
        self.stopping.wait()

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self.stopping.set()
        self.exposition.scraped.set()  # wakes the renderer
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        deadline = time.monotonic() + STOP_GRACE_S
        for loop in self.loops:
            loop.join(max(0.0, deadline - time.monotonic()))
        self.renderer.join(max(0.0, deadline - time.monotonic()))
        self.probes.close()
        self.inventory.close()
        if self.flannel is not None:
            self.flannel.close()

    # -- HTTP ---------------------------------------------------------------------------------------------

    def app(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """``/metrics`` through prometheus-client (timed and counted), a pointer to it at ``/``, else 404."""
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b"Only GET.\n"]
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"netcon exporter: the metrics are at /metrics\n"]
        if path != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Not found: the metrics are at /metrics\n"]
        started = time.perf_counter()
        try:
            body = self.exposition.scrape()
        except Exception:
            log.exception("a scrape failed")
            self.scrapes.add(time.perf_counter() - started, True)
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"The metrics could not be collected; see the exporter's log.\n"]
        self.scrapes.add(time.perf_counter() - started, False)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]


def bind(listen: tuple[str, int], app: Callable[[Environ, StartResponse], Iterable[bytes]]) -> _Server:
    """The HTTP server on ``listen``, bound now; an address in use or not on this host is one sentence."""
    host, port = listen
    server_class = type("Server", (_Server,), {"address_family": socket.AF_INET6 if ":" in host else socket.AF_INET})
    try:
        server: _Server = make_server(host, port, app, server_class, handler_class=_Quiet)
    except OSError as error:
        raise listen_failure(host, port, error) from None
    return server
