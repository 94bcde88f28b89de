"""The console as a user runs it (``netcon console ...`` through the CLI's ``main``, in a real terminal), for
tests/tui/test_quit.py: once ``main`` returns it writes, to the file named by ``$NETCON_QUIT_REPORT``, when it
returned (``time.monotonic()``, system-wide on Linux) and the threads still alive then.

    python -m tests.tui.quit_child [netcon console options...]
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from netcon.cli.main import main

if __name__ == "__main__":
    status = main(["console", *sys.argv[1:]])
    returned = time.monotonic()
    alive = [t.name for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]
    with open(os.environ["NETCON_QUIT_REPORT"], "w") as report:
        json.dump({"status": status, "returned": returned, "alive": alive}, report)
    sys.exit(status)
