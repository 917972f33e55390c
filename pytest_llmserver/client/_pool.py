"""The connection pool of the client's own transport: O(1) per request, however large.

Idle connections wait in one last-in-first-out list per origin (the warmest is reused first);
a counter caps the connections open at once. A request that finds the cap reached waits in a
first-in-first-out queue of its origin and is handed a released connection (same origin) or
the slot of a closed one (any origin) directly, so nothing is scanned on any change. An idle
connection is reused only if ``Connection.usable`` (no EOF or stray bytes, not older than
``keepalive_expiry``); the rest are closed when met.
"""

from __future__ import annotations

import asyncio
import collections

import httpx

from pytest_llmserver.client._conn import Connection

Origin = tuple[str, str, int]
"""(scheme, host, port)."""


def _expire(waiter: asyncio.Future[Connection | None]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.PoolTimeout("timed out waiting for a free connection"))


class Pool:
    """At most ``max_connections`` connections, idle ones kept per origin."""

    def __init__(self, max_connections: int, keepalive_expiry: float | None) -> None:
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._idle: dict[Origin, list[Connection]] = {}
        self._idle_count = 0
        self._slots = 0  # connections open, being opened, or handed to a waiter
        self._waiters: dict[Origin, collections.deque[asyncio.Future[Connection | None]]] = {}
        self._waiting = 0
        self._live: set[Connection] = set()
        self.closed = False

    @property
    def open_connections(self) -> int:
        """Connections open or being opened."""
        return self._slots

    async def acquire(self, origin: Origin, timeout: float | None) -> Connection | None:
        """An idle connection to ``origin``, or ``None``: a slot to open a new one in.
        ``httpx.PoolTimeout`` after ``timeout`` seconds without either."""
        if self.closed:
            raise RuntimeError("the connection pool is closed")
        idle = self._idle.get(origin)
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                conn = idle.pop()
                self._idle_count -= 1
                if conn.usable(now, self.keepalive_expiry):
                    return conn
                self._drop(conn)
        if self._slots < self.max_connections:
            self._slots += 1
            return None
        if self._idle_count:  # close an idle connection to another origin, take its slot
            for others in self._idle.values():
                if others:
                    conn = others.pop()
                    self._idle_count -= 1
                    self._live.discard(conn)
                    conn.close()
                    return None
        return await self._wait(origin, timeout)

    async def _wait(self, origin: Origin, timeout: float | None) -> Connection | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Connection | None] = loop.create_future()
        queue = self._waiters.setdefault(origin, collections.deque())
        queue.append(waiter)
        self._waiting += 1
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()  # handed over as the caller gave up: pass it on
                if handed is None:
                    self._free_slot()
                else:
                    self.release(handed, True)
            elif waiter in queue:
                queue.remove(waiter)
                self._waiting -= 1
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _next_waiter(self, origin: Origin | None) -> asyncio.Future[Connection | None] | None:
        """The first live waiter for ``origin`` (``None``: for any origin), taken off its queue."""
        queues = [self._waiters.get(origin)] if origin is not None else self._waiters.values()
        for queue in queues:
            while queue:
                waiter = queue.popleft()
                self._waiting -= 1
                if not waiter.done():
                    return waiter
        return None

    def add(self, conn: Connection) -> None:
        """Count a connection opened in a slot from ``acquire``."""
        self._live.add(conn)

    def release(self, conn: Connection, reusable: bool) -> None:
        """A response is over: keep ``conn`` for the next request, or close it."""
        if not reusable or self.closed:
            self._drop(conn)
            return
        waiter = self._next_waiter(conn.origin) if self._waiting else None
        if waiter is not None:
            waiter.set_result(conn)
        elif self._waiting:  # others wait for a slot: this connection makes one
            self._drop(conn)
        else:
            self._idle.setdefault(conn.origin, []).append(conn)
            self._idle_count += 1

    def _drop(self, conn: Connection) -> None:
        conn.close()
        if conn in self._live:
            self._live.remove(conn)
            self._free_slot()

    def _free_slot(self) -> None:
        """A connection closed (or was never opened): its slot goes to a waiter, if any."""
        waiter = self._next_waiter(None) if self._waiting else None
        if waiter is not None:
            waiter.set_result(None)
        else:
            self._slots -= 1

    def forget_slot(self) -> None:
        """A connection could not be opened in a slot from ``acquire``."""
        self._free_slot()

    def close(self) -> None:
        """Close every connection; later requests fail."""
        self.closed = True
        for conn in list(self._live):
            conn.close()
        self._live.clear()
        self._idle.clear()
        self._idle_count = 0
