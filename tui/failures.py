"""No worker failure vanishes. A worker's ``StateChanged`` goes only to the node that started it (it does not
bubble), so every node that starts workers mixes in ``ReportsFailures``: an unexpected exception in any of
them becomes a notification with its message and the log file holding its traceback (``core.logfile``), and
the node gets ``worker_failed`` to put itself back in a usable state (a form becomes editable again).

Expected problems (``NetconError``) are handled inside the workers and shown where they belong; what reaches
here is a bug, so the user learns about it instead of watching a form say "Working…" for good.
"""

from __future__ import annotations

from textual.worker import Worker, WorkerState

from netcon.core.errors import NetconError
from netcon.core.logfile import log_failure


def failure_text(what: str, error: BaseException) -> str:
    """The notification: what failed, the error, and where its traceback is (or why it is nowhere)."""
    try:
        where = f"traceback in {log_failure(what, error)}"
    except NetconError as problem:
        where = str(problem)
    return f"{what[:1].upper()}{what[1:]} failed: {error!r}. {where}"


class ReportsFailures:
    """Mixin for apps, screens and widgets that start workers."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state != WorkerState.ERROR or worker.error is None:
            return
        self.app.notify(failure_text(worker.name, worker.error), severity="error", timeout=20)  # type: ignore[attr-defined]
        self.worker_failed(worker)

    def worker_failed(self, worker: Worker) -> None:
        """``worker`` raised unexpectedly (already reported): leave nothing stuck."""
