"""Where netcon keeps its own state files, and the log that holds the full traceback of anything that failed
unexpectedly (a bug, not a refusal): the console's notification names the file, the file has the rest."""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

from netcon.core.errors import NetconError

LOG_NAME = "netcon.log"


def state_dir() -> Path:
    """``$XDG_STATE_HOME/netcon``, ``~/.local/state/netcon`` by default (where the audit log lives too)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "netcon"


def log_path() -> Path:
    """``$NETCON_LOG``, else ``netcon.log`` in ``state_dir()``."""
    explicit = os.environ.get("NETCON_LOG")
    return Path(explicit) if explicit else state_dir() / LOG_NAME


def log_failure(what: str, error: BaseException) -> Path:
    """Append ``what`` failed, with ``error``'s traceback, to the log; where it went. Raises ``NetconError``
    when the log cannot be written."""
    path = log_path()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    text = f"{stamp} pid {os.getpid()}: {what} failed\n{''.join(traceback.format_exception(error))}\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as log:
            log.write(text)
    except OSError as failure:
        raise NetconError(f"The traceback could not be written to {path}: {failure.strerror}.") from failure
    return path
