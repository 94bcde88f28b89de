"""``netcon --host ssh://... ping --from SRC TARGET``: the probe runs on that host (``Host.start_probe``: its
netcon resolves SRC and TARGET there and sends the echoes from there); the lines are a local ping's."""

from __future__ import annotations

import threading

from netcon.cli.hosts import open_host
from netcon.cli.ping import finish, header, reply_line
from netcon.core.errors import UsageError
from netcon.core.hosts.base import HostUnreachable
from netcon.core.hosts.probes import ProbeRequest
from netcon.core.ping.probe import ProbeSummary, Reply

POLL_S = 0.5  # how often a wait for the last summary checks that the connection is still up


class _Lines:
    """Replies as they arrive, printed after the header (an echo may be answered before the start is)."""

    def __init__(self, show: bool, timeout: float) -> None:
        self.show, self.timeout = show, timeout
        self.replies: list[Reply] = []
        self.final: ProbeSummary | None = None
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._started = False

    def reply(self, reply: Reply) -> None:
        with self._lock:
            self.replies.append(reply)
            if self.show and self._started:
                print(reply_line(reply, self.timeout), flush=True)

    def summary(self, summary: ProbeSummary) -> None:
        if not summary.running:
            self.final = summary
            self.done.set()

    def start(self, first: str) -> None:
        with self._lock:
            if self.show:
                print(first, flush=True)
                for reply in self.replies:
                    print(reply_line(reply, self.timeout), flush=True)
            self._started = True


def run_remote_ping(args, ctx) -> int:
    if args.flood_ok:
        raise UsageError("--flood-ok is not sent to another host: run netcon ping there for intervals under 0.2 s.")
    timeout = 2.0 if args.timeout is None else args.timeout
    request = ProbeRequest(
        args.source, args.target, args.target, args.count, args.interval, timeout, args.size, args.ttl
    )
    lines = _Lines(not args.json, timeout)
    with open_host(args, ctx) as host:
        started = host.start_probe(request, lines.summary, lines.reply)
        lines.start(header(args.target, started.resolution, started.summary.source, args.size))
        try:
            while not lines.done.wait(POLL_S):
                if not getattr(host, "connected", True):
                    raise HostUnreachable(f"{host.target}: the connection ended before the probe did.")
        except KeyboardInterrupt:
            lines.final = host.stop_probe(started.probe)
        summary = lines.final
        assert summary is not None
    return finish(args, summary.source, started.resolution, lines.replies, summary)
