"""The tasks of one run, so that none outlives it: every one still running when the run ends
(for any reason) is cancelled and awaited before the records file closes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any


class InFlight:
    """The tasks a run started. However the run ends (done, drained, failed, cancelled), the
    ones still running are cancelled and awaited, so each writes its record before the records
    file closes.

    ``error`` keeps the first task's unexpected end: an exception, or a ``CancelledError`` that
    did not come from this run (a request cancelled from inside ends the run like an interrupt).
    """

    def __init__(self, on_done: Callable[[], None] | None = None) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.error: BaseException | None = None
        self._on_done = on_done
        self._changed = asyncio.Event()
        self._stopping = False

    def start(self, job: Coroutine[Any, Any, Any]) -> None:
        """Run ``job`` as a task."""
        task = asyncio.ensure_future(job)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        self._changed.set()
        if self._on_done is not None:
            self._on_done()
        if task.cancelled():
            if not self._stopping and self.error is None:
                self.error = asyncio.CancelledError("a request was cancelled, not by its run")
        elif task.exception() is not None and self.error is None:
            self.error = task.exception()

    async def room(self, limit: int, deadline_ns: int | None) -> bool:
        """Wait until fewer than ``limit`` tasks run: True; False when ``deadline_ns``
        (``time.perf_counter_ns``; None: no deadline) passes first or a task failed."""
        while len(self.tasks) >= limit:
            if self.error is not None:
                return False
            self._changed.clear()
            if deadline_ns is None:
                await self._changed.wait()
                continue
            left_s = (deadline_ns - time.perf_counter_ns()) / 1e9
            if left_s <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), left_s)
            except asyncio.TimeoutError:
                return False
        return self.error is None

    async def drain(self, timeout_s: float | None) -> int:
        """Wait until every task ended, one failed, or ``timeout_s`` passed; cancel the rest
        and return how many that was."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while self.tasks and self.error is None:
            self._changed.clear()
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                break
        cancelled = len(self.tasks)
        await self.cancel()
        return cancelled

    async def cancel(self) -> None:
        """Cancel every running task and wait until each has ended (and written its record)."""
        self._stopping = True
        running = list(self.tasks)
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    def raise_error(self) -> None:
        """Raise the first unexpected end of a task, if any."""
        if self.error is not None:
            raise self.error
