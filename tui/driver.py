"""The terminal driver: Textual's Linux driver, except that its input thread stops as soon as it is told to.

Textual's input thread waits for keys in ``select`` with a 0.1 s timeout and notices the exit only when that
wait ends, then waits once more with nothing to read: 0.1 to 0.2 s of every quit, two thirds of its budget
(0.3 s). This driver gives the thread a wake-up pipe that ``disable_input`` writes to first, so the thread
ends at once. The loop is Textual 8.2's ``run_input_thread`` otherwise unchanged (Textual is pinned to 8.2).
"""

from __future__ import annotations

import contextlib
import os
import selectors
from codecs import getincrementaldecoder
from typing import Any

from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver


class ConsoleDriver(LinuxDriver):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def disable_input(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")  # the thread wakes now, not at the end of its select
        super().disable_input()

    def close(self) -> None:
        super().close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def run_input_thread(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._wake_r, 64):  # a wake-up left from an earlier stop (suspend and resume)
                pass
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        try:
            while not self.exit_event.is_set():
                for key, mask in selector.select(0.1):
                    if key.fd != self.fileno or not mask & selectors.EVENT_READ:
                        continue
                    data = decode(os.read(self.fileno, 1024 * 4))
                    if not data:  # stdin is a pipe that was closed
                        break
                    for event in parser.feed(data):
                        self.process_message(event)
                for event in parser.tick():
                    self.process_message(event)
        finally:
            selector.close()
            with contextlib.suppress(EOFError, ParseError):
                for _event in parser.feed(""):
                    pass
