"""A reading that repeats on its own schedule, in its own named thread, off the scrape's path: the snapshot,
the counters, flannel, the doctor, each matrix. A scrape only reads what the last run left (``Health`` and
whatever the reading stores), so a slow Docker or etcd never makes a scrape slow."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from netcon.core.errors import NetconError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    """How the last run of one reading went (exported as ``netcon_exporter_collector_*``)."""

    name: str
    runs: int = 0
    errors: int = 0
    ok: bool = False
    error: str = ""  # the last failure's sentence (logged, not a label: it is unbounded)
    last_success: float | None = None  # wall clock
    duration_s: float = 0.0


class Loop:
    """Calls ``run()`` now and then every ``interval`` seconds until ``stop`` is set. ``run`` raising
    ``NetconError`` (or any bug) counts as an error of this reading and the loop goes on."""

    def __init__(self, name: str, interval: float, run: Callable[[], None], stop: threading.Event) -> None:
        self.name = name
        self.interval = interval
        self._run = run
        self._stop = stop
        self._lock = threading.Lock()
        self._health = Health(name)
        self._thread = threading.Thread(target=self._loop, name=f"exporter {name}", daemon=True)

    @property
    def health(self) -> Health:
        with self._lock:
            return self._health

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.run_once()
            next_at += self.interval
            now = time.monotonic()
            if next_at < now:  # a run longer than the interval: start the next one now, do not catch up
                next_at = now
            if self._stop.wait(next_at - now):
                return

    def run_once(self) -> None:
        started = time.perf_counter()
        error = ""
        try:
            self._run()
        except NetconError as failure:
            error = str(failure)
        except Exception as bug:  # a bug in one reading must not end the others (or the exporter)
            log.exception("exporter reading %s failed", self.name)
            error = f"internal error ({type(bug).__name__}: {bug})"
        with self._lock:
            h = self._health
            if error and error != h.error:  # logged when it starts or changes, not once per interval
                log.warning("%s: %s", self.name, error)
            elif not error and h.error:
                log.warning("%s: read again", self.name)
            self._health = Health(
                self.name,
                h.runs + 1,
                h.errors + (1 if error else 0),
                not error,
                error,
                h.last_success if error else time.time(),
                time.perf_counter() - started,
            )
