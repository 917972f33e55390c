"""The simulator's capacity model: ``slots`` requests generate at once, later ones wait in a
FIFO queue. A slot passes straight from the request that frees it to the oldest waiter,
with the loop time its holder's service ended, so service times chain exactly."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any


class Capacity:
    """``limit`` slots (``None``: unlimited) and the FIFO queue in front of them."""

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"slots must be >= 1, got {limit}")
        self.limit = limit
        self._busy = 0
        self._waiters: deque[asyncio.Future[float]] = deque()

    @property
    def running(self) -> int:
        """Requests holding a slot."""
        return self._busy

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return len(self._waiters)

    async def acquire(
        self, arrival_s: float, gone: Callable[[], Awaitable[object]] | None = None
    ) -> float:
        """Take a slot; returns the loop time service starts (``arrival_s`` when one was free,
        else the end of the service that freed it). Raises ``ConnectionError`` when ``gone()``
        completes first (the client left); a cancelled or departed waiter leaves the queue."""
        if self.limit is None or (self._busy < self.limit and not self._waiters):
            self._busy += 1
            return arrival_s
        grant: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append(grant)
        watch = asyncio.ensure_future(gone()) if gone is not None else None
        try:
            if watch is None:
                freed_s = await asyncio.shield(grant)
            else:
                either: set[asyncio.Future[Any]] = {grant, watch}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                if not grant.done():
                    raise ConnectionError("the client left while its request was queued")
                freed_s = grant.result()
        except BaseException:
            self._withdraw(grant)
            raise
        finally:
            if watch is not None:
                watch.cancel()
        return max(arrival_s, freed_s)

    def _withdraw(self, grant: asyncio.Future[float]) -> None:
        """Take a waiter out of the queue; a slot it was already handed goes on."""
        if grant.done() and not grant.cancelled():
            self.release(grant.result())
            return
        grant.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(grant)

    def release(self, end_s: float) -> None:
        """Free a slot whose service ended at loop time ``end_s``: the oldest waiter gets it."""
        while self._waiters:
            grant = self._waiters.popleft()
            if not grant.done():
                grant.set_result(end_s)
                return
        self._busy -= 1
