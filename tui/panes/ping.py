"""Pane 6: live probes from the app's one ``PingEngine``: source, target, resolved address and how it was
resolved, TTL, loss, last/avg RTT, and the highlighted probe's RTTs as a sparkline.

Probes are asked for elsewhere (``p`` on a container, see ``tui.ping_screens``), by a ``ProbeRequested``
message the app turns into ``start_probe``; they belong to the app, not to this widget, so they keep running
while other panes are shown. The engine calls
back on its own thread; the callback only posts a message with the probe's summary, and rows are updated by
key from those messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Input, Sparkline, Static
from textual.worker import get_current_worker

from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.hosts.base import Host
from netcon.core.hosts.probes import ProbeRequest
from netcon.core.ping.cluster_matrix import SEPARATOR
from netcon.core.ping.engine import PingEngine
from netcon.core.ping.probe import Event, ProbeFinished, ProbeSpec, ProbeSummary
from netcon.core.ping.resolve import NameNotResolved, Resolution, resolve
from netcon.core.ping.sources import Source, find_source
from netcon.tui.actions import Action, bindings
from netcon.tui.cluster_ping import overlay_note
from netcon.tui.panes.base import Column, TablePane
from netcon.tui.panes.trace import TRACE, trace_from
from netcon.tui.widgets import cursor_key

EMPTY = "No probes. Press p on a container in the Containers pane (2) to ping from it."


@dataclass(frozen=True)
class Tracked:
    """One probe the console started: where from, how its target resolved, and its latest summary."""

    source: str  # the source as the user named it (container name)
    resolution: Resolution
    summary: ProbeSummary
    note: str = ""  # for an address picked from the list: what its container's name resolves to from the source

    @property
    def via(self) -> str:
        return "listed address" if self.note else via_text(self.resolution)


class ProbeStarted(Message):
    def __init__(self, tracked: Tracked) -> None:
        super().__init__()
        self.tracked = tracked


class ProbeUpdated(Message):
    def __init__(self, summary: ProbeSummary) -> None:
        super().__init__()
        self.summary = summary


class ProbeFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def state_of(s: ProbeSummary) -> str:
    return "running" if s.running else "stopped"


def via_text(r: Resolution) -> str:
    return "literal IP" if r.via == "literal" else f"via {r.via}"


def loss_text(s: ProbeSummary) -> Text:
    text = f"{s.loss_pct:.0f}%" if s.transmitted else "-"
    style = "" if not s.transmitted or s.loss_pct == 0 else "bold red" if s.loss_pct == 100 else "yellow"
    return Text(text, style=style)


def spark_data(s: ProbeSummary, width: int) -> list[float]:
    """The newest ``width`` echoes; a lost one is drawn as a full-height bar (the worst RTT in view)."""
    recent = s.recent_rtts_ms[-width:] if width > 0 else ()
    worst = max((r for r in recent if r is not None), default=1.0)
    return [worst if r is None else r for r in recent]


class PingPane(TablePane):
    title = "Ping"
    DEFAULT_CSS = """
    PingPane > .caption { height: 1; padding: 0 1; color: $text-muted; }
    PingPane > .strip { display: block; }
    PingPane > Sparkline { height: 2; margin: 0 1; }
    PingPane > Sparkline > .sparkline--min-color { color: $success; }
    PingPane > Sparkline > .sparkline--max-color { color: $error; }
    """
    ACTIONS = (
        Action("stop_probe", "s", "Stop", "stop the highlighted probe (on a stopped one: remove it from the list)"),
        TRACE,
    )
    BINDINGS = bindings(ACTIONS)
    COLUMNS = (
        Column("source", "SOURCE"),
        Column("target", "TARGET"),
        Column("ip", "IP"),
        Column("via", "RESOLVED", narrow=False),
        Column("ttl", "TTL"),
        Column("loss", "LOSS"),
        Column("last", "LAST ms"),
        Column("avg", "AVG ms"),
        Column("sent", "RECV/SENT", narrow=False),
        Column("state", "STATE", narrow=False),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tracked: dict[str, Tracked] = {}  # by probe id (as a row key)

    def compose(self) -> ComposeResult:
        yield Static(classes="caption")
        yield from super().compose()
        yield Sparkline([], summary_function=max)

    def on_mount(self) -> None:
        super().on_mount()
        self._paint()

    # what the table shows
    def rows(self, state: Any) -> list[tuple[str, dict[str, Any]]]:
        return [
            (
                key,
                {
                    "source": t.source,
                    "target": t.summary.label,
                    "ip": t.resolution.ip,
                    "via": t.via,
                    "ttl": str(t.summary.ttl or "-"),
                    "loss": loss_text(t.summary),
                    "last": ms(t.summary.last_rtt_ms),
                    "avg": ms(t.summary.rtt_avg_ms),
                    "sent": f"{t.summary.received}/{t.summary.transmitted}",
                    "state": state_of(t.summary),
                },
            )
            for key, t in self.tracked.items()
        ]

    def details(self, key: str) -> str:
        t = self.tracked.get(key)
        if t is None:
            return EMPTY
        s = t.summary
        head = f"{t.source} → {t.summary.label}: {t.resolution.ip} {t.via}  {state_of(s)} {s.elapsed_s:.0f}s"
        stats = (
            f"{s.transmitted} sent, {s.received} received"
            f"{f', {s.errors} errors' if s.errors else ''}, {s.loss_pct:.0f}% loss"
        )
        if s.received:
            stats += (
                f", rtt min/avg/max/mdev {ms(s.rtt_min_ms)}/{ms(s.rtt_avg_ms)}/{ms(s.rtt_max_ms)}/"
                f"{ms(s.rtt_mdev_ms)} ms, ttl {s.ttl}"
            )
        return f"{head}\n{stats}" + (f"\nnote: {t.note}" if t.note else "")

    def show(self, state: Any) -> None:
        super().show(state)
        self._paint()

    def _paint(self) -> None:
        """Rows, caption, strip and sparkline from ``tracked``; cells are updated by key, never cleared."""
        self.full = dict(self.rows(None))
        self._fit(self.size.width)
        self._sync()
        engine: PingEngine = self.app.ping
        running = sum(t.summary.running for t in self.tracked.values())
        self.query_one(".caption", Static).update(
            f"{running} probe{'s' if running != 1 else ''} running · caps: {engine.max_probes} probes, "
            f"{engine.max_pps:g} echoes/s"
        )

    def _update_strip(self) -> None:
        key = cursor_key(self.table)
        self.query_one(".strip", Static).update(self.details(key) if key else EMPTY)
        spark = self.query_one(Sparkline)
        t = self.tracked.get(key) if key else None
        data = spark_data(t.summary, max(self.size.width - 2, 1)) if t else []
        spark.display = bool(data)
        spark.styles.width = max(len(data), 1)
        spark.data = data

    def track(self, tracked: Tracked) -> None:
        """Add a probe to the list (also how fixture probes are shown in the render-only snapshot tests)."""
        key = str(tracked.summary.probe)
        known = self.tracked.get(key)
        if known is not None and _newer(known.summary, tracked.summary):
            tracked = Tracked(tracked.source, tracked.resolution, known.summary, tracked.note)
        self.tracked[key] = tracked
        self._paint()
        self.refresh_bindings()

    # starting and stopping
    def start_probe(self, source: str, target: str, name: str = "") -> None:
        """Resolve ``target`` the way ``source`` would, then start an endless probe at 1 echo per second.
        ``name``: ``target`` is the listed address of the container ``name``; the probe is labelled with the
        name, and what the name resolves to from the source is kept as a note (it may not resolve at all)."""
        self.notify(f"Resolving {target} from {source}…" if not name else f"Pinging {name} at {target}…", timeout=3)
        if self.app.in_process():
            self._start(self.app.ctx, self.app.ping, source, target, name)
        else:
            self._start_there(self.app.host, source, target, name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ping-start", name="starting the probe there")
    def _start_there(self, host: Host, source_name: str, target: str, name: str) -> None:
        """A host read over SSH: its netcon resolves the target and sends the echoes from the source there."""
        worker = get_current_worker()
        try:
            request = ProbeRequest(source_name, target, label=name or target)
            started = host.start_probe(request, lambda summary: self.post_message(ProbeUpdated(summary)))
        except NetconError as error:
            self.post_message(ProbeFailed(str(error)))
            return
        if not worker.is_cancelled:
            self.post_message(ProbeStarted(Tracked(source_name, started.resolution, started.summary, "")))

    @work(thread=True, exclusive=True, exit_on_error=False, group="ping-start", name="starting the probe")
    def _start(self, ctx: HostContext, engine: PingEngine, source_name: str, target: str, name: str) -> None:
        worker = get_current_worker()
        try:
            source = find_source(ctx, source_name)
            resolution = resolve(source, target)
            note = overlay_note(name) if SEPARATOR in name else name_note(source, name, resolution.ip) if name else ""
            if worker.is_cancelled:
                return
            probe = engine.start(
                ProbeSpec(source, resolution.ip, label=name or target),
                on_event=lambda event: self._on_event(engine, event),
            )
            summary = engine.summary(probe)
        except NetconError as error:
            self.post_message(ProbeFailed(str(error)))
            return
        self.post_message(ProbeStarted(Tracked(source_name, resolution, summary, note)))

    def _on_event(self, engine: PingEngine, event: Event) -> None:
        """On the engine thread: hand the probe's new summary to the UI thread."""
        summary = event.summary if isinstance(event, ProbeFinished) else engine.summary(event.probe)
        self.post_message(ProbeUpdated(summary))

    def on_probe_started(self, message: ProbeStarted) -> None:
        self.track(message.tracked)

    def on_probe_updated(self, message: ProbeUpdated) -> None:
        key = str(message.summary.probe)
        known = self.tracked.get(key)
        if known is None or _newer(known.summary, message.summary):
            return  # a reply that beat ProbeStarted here is folded in by track(); stale summaries are dropped
        self.tracked[key] = Tracked(known.source, known.resolution, message.summary, known.note)
        self._paint()

    def on_probe_failed(self, message: ProbeFailed) -> None:
        self.notify(message.error, severity="error", timeout=8)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "details":
            return False  # the strip below the table already holds everything about the highlighted probe
        if action in ("stop_probe", "trace") and (isinstance(self.screen.focused, Input) or not self.table.row_count):
            return False
        return super().check_action(action, parameters)

    def action_trace(self) -> None:
        key = cursor_key(self.table)
        t = self.tracked.get(key) if key else None
        if t is not None:
            trace_from(self, t.source, t.resolution.ip)

    def action_stop_probe(self) -> None:
        key = cursor_key(self.table)
        t = self.tracked.get(key) if key else None
        if t is None:
            return
        if t.summary.running:
            self._stop(self.app.ping.stop if self.app.in_process() else self.app.host.stop_probe, t.summary.probe)
        else:
            del self.tracked[key]
            self._paint()
            self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ping-stop", name="stopping the probe")
    def _stop(self, stop: Callable[[int], ProbeSummary], probe: int) -> None:
        try:
            self.post_message(ProbeUpdated(stop(probe)))
        except NetconError as error:
            self.post_message(ProbeFailed(str(error)))


def name_note(source: Source, name: str, address: str) -> str:
    """What ``name`` resolves to from ``source``, for a probe sent to ``address`` (its listed address)."""
    try:
        found = resolve(source, name)
    except NameNotResolved as error:
        return f"{error} The listed address {address} is pinged instead."
    same = "the address pinged" if found.ip == address else f"not the address pinged ({address})"
    return f"{name} resolves from {source.label} to {found.ip} {via_text(found)}: {same}."


def _newer(a: ProbeSummary, b: ProbeSummary) -> bool:
    """True when ``a`` is later news than ``b`` about the same probe (a finished summary is final)."""
    if a.running != b.running:
        return not a.running
    return (a.transmitted, a.received + a.errors) > (b.transmitted, b.received + b.errors)


PANE = PingPane
