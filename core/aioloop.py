"""The one asyncio loop netcon's asyncio libraries run on (aetcd for etcd's v3 API, asyncssh for remote hosts),
in a thread of its own behind a synchronous face: each call is scheduled there and waited for, so the rest of
netcon (threads, CLI, console workers) never sees asyncio."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """The loop, started on first use; ``stop`` ends it (a later use starts a new one). Its state lives on this
    class itself (never on a subclass), so every user shares the one loop."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    @classmethod
    def loop(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if LoopThread._loop is None:
                LoopThread._loop = loop = asyncio.new_event_loop()
                LoopThread._thread = threading.Thread(target=loop.run_forever, name="netcon-asyncio", daemon=True)
                LoopThread._thread.start()
            return LoopThread._loop

    @classmethod
    def running(cls) -> bool:
        return LoopThread._loop is not None

    @classmethod
    def submit(cls, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, cls.loop())

    @classmethod
    def stop(cls, timeout: float) -> None:
        with cls._lock:
            loop, thread = LoopThread._loop, LoopThread._thread
            LoopThread._loop = LoopThread._thread = None
        if loop is None or thread is None:
            return
        # what is still pending (a closing channel) is cancelled; a loop too busy to say so is stopped anyway
        with contextlib.suppress(TimeoutError, concurrent.futures.CancelledError, RuntimeError):
            asyncio.run_coroutine_threadsafe(_cancel_pending(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()


async def _cancel_pending() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    # the loop's executor thread (asyncssh resolves names and reads keys there) ends with the loop, not later
    await asyncio.get_running_loop().shutdown_default_executor()


def stop_loop(timeout: float = 1.0) -> None:
    """End the shared loop thread: for a program that is done with etcd and remote hosts, e.g. the console on
    its way out, so no thread of netcon's outlives it."""
    LoopThread.stop(timeout)
