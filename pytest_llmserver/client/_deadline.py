"""One total time limit per request, kept by a single event-loop timer.

The timer is armed once when the request starts. When it runs out while the request waits on
the network (connecting, sending, waiting for headers, reading a body or the stream), it
cancels the request's task, and the request turns that cancellation into an
``LLMTimeoutError``. A streamed reply is an async generator whose consumer runs between
pieces: the timer never cancels the consumer's own work, and the time the consumer keeps a
piece is not counted (the end moves by it). Any other cancellation passes through untouched.
The task is the one that started the request: a stream must be read from one task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

_NS = 1e-9


class Deadline:
    """The end of one request's time budget; ``stage`` names what it is waiting for."""

    __slots__ = (
        "_clock",
        "_handle",
        "_loop",
        "_task",
        "disarmed",
        "end_ns",
        "fired",
        "stage",
        "total_s",
        "waiting",
    )

    def __init__(self, total_s: float, clock: Callable[[], int]) -> None:
        self.total_s = total_s
        self._clock = clock
        self.end_ns = clock() + int(total_s * 1e9)
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self.waiting = True
        self.fired = False
        self.disarmed = False
        self.stage = "the connection"
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(total_s, self._fire)

    def _fire(self) -> None:
        self._handle = None
        left_ns = self.end_ns - self._clock()
        if left_ns > 0:  # the end moved (consumer time), or the loop clock ran early
            self.rearm()
        elif not self.waiting:  # the consumer holds a piece: ``rearm`` once it hands back
            self.disarmed = True
        elif self._task is not None and not self.fired:
            self.fired = True
            self._task.cancel()

    def rearm(self) -> None:
        """Set the timer for the end as it stands now."""
        self.disarmed = False
        left_s = max(0.0, (self.end_ns - self._clock()) * _NS)
        self._handle = self._loop.call_later(left_s, self._fire)

    def resume(self, since_ns: int) -> int:
        """The consumer handed back control (it had it since ``since_ns``): that time is not
        counted. Returns the time now."""
        now = self._clock()
        self.end_ns += now - since_ns
        self.waiting = True
        if self.disarmed:
            self.rearm()
        return now

    def expired(self, now_ns: int) -> bool:
        """Whether ``now_ns`` is past the end."""
        return now_ns > self.end_ns

    def absorb(self) -> bool:
        """Whether the ``CancelledError`` being handled is this deadline's own; if so it is
        withdrawn (``Task.uncancel`` on Python 3.11+) and the caller raises a timeout."""
        if not self.fired or self._task is None:
            return False
        uncancel = getattr(self._task, "uncancel", None)
        if uncancel is None:  # Python 3.10
            return True
        return int(uncancel()) == 0  # anyone else's pending cancellation wins

    def close(self) -> None:
        """Disarm the timer (the request is over)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
