"""A hostile HTTP server of our own, on raw asyncio streams (no code shared with the simulator).

It speaks enough of both chat protocols (``POST /v1/chat/completions`` as SSE or JSON,
``POST /api/chat`` as NDJSON or JSON) and of discovery's routes (``/v1/models``; as persona
``ollama`` also ``/api/version``, ``/api/tags``, ``/api/show``) for the client and discovery,
and misbehaves on demand with the named faults of ``CATALOG`` (``tests.hostile.catalog``).

API::

    async with HostileServer() as server:            # 127.0.0.1, a free port, this loop
        server.url                                    # healthy base URL
        server.url_for("nan_timings")                 # base URL whose every request gets it
        ModelClient(server.url_for("stall_mid_stream"), "hostile-small")
        server.log                                    # one Served per request read (route,
                                                      # protocol, fault, auth, connection)
        server.connections                            # connections accepted

    with HostileThread(HostileServer(schedule=Schedule.every(3, "error_event"))) as server:
        ...                                           # the same, in a thread of its own

The fault of one request, first match wins:

1. the path prefix ``/fault/<name>`` (what ``url_for(name)`` gives: base URLs keep it);
2. the request header ``x-hostile-fault: <name>``;
3. the server's ``schedule`` (chat requests only, unless ``all_routes=True``):
   ``Schedule.every(k, name)`` (requests k, 2k, ...), ``Schedule.chance(p, name, seed=0)``
   (seeded), ``Schedule.sequence([name or None, ...])``, ``Schedule.always(name)``, and
   ``Schedule.mix(a, b, ...)`` (the first that picks a fault);
4. the server's ``fault`` (every route), else a healthy answer.

An unknown fault name is answered with HTTP 400 naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from tests.hostile.catalog import CATALOG
from tests.hostile.context import Context, Fault
from tests.hostile.wire import read_request, send_json

PREFIX = "/fault/"


class Schedule:
    """Which chat request gets which fault: ``pick(n)`` for the n-th request (0-based)."""

    def __init__(self, pick: Callable[[int], str | None]) -> None:
        self.pick = pick

    @classmethod
    def every(cls, k: int, fault: str) -> Schedule:
        """Requests k, 2k, 3k, ... (1-based) get ``fault``."""
        return cls(lambda n: fault if (n + 1) % k == 0 else None)

    @classmethod
    def chance(cls, p: float, fault: str, seed: int = 0) -> Schedule:
        """Each request gets ``fault`` with probability ``p`` (a seeded generator)."""
        rng = random.Random(seed)
        return cls(lambda n: fault if rng.random() < p else None)

    @classmethod
    def sequence(cls, faults: Sequence[str | None]) -> Schedule:
        """Request n gets ``faults[n]``; later requests are healthy."""
        return cls(lambda n: faults[n] if n < len(faults) else None)

    @classmethod
    def always(cls, fault: str) -> Schedule:
        return cls(lambda n: fault)

    @classmethod
    def mix(cls, *schedules: Schedule) -> Schedule:
        """The first schedule that picks a fault (every one sees every request)."""

        def pick(n: int) -> str | None:
            picks = [s.pick(n) for s in schedules]
            return next((p for p in picks if p), None)

        return cls(pick)


@dataclass(frozen=True)
class Served:
    """One request the server read: its route, protocol and fault (``None``: healthy)."""

    path: str
    route: str
    api: str | None
    fault: str | None
    authorization: str = ""
    connection: str = ""


@dataclass
class HostileServer:
    """See the module text. ``persona``: ``openai`` (no Ollama routes) or ``ollama``."""

    host: str = "127.0.0.1"
    port: int = 0
    persona: str = "openai"
    fault: str | None = None
    schedule: Schedule | None = None
    all_routes: bool = False
    log: list[Served] = field(default_factory=list)
    connections: int = 0
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _chats: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url_for(self, fault: str) -> str:
        """A base URL whose every request gets ``fault``."""
        return f"{self.url}{PREFIX}{fault}"

    async def start(self) -> HostileServer:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def __aenter__(self) -> HostileServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _choose(self, path: str, headers: dict[str, str], chat: bool) -> tuple[str | None, str]:
        if path.startswith(PREFIX):
            name, _, rest = path[len(PREFIX) :].partition("/")
            return name, "/" + rest
        if "x-hostile-fault" in headers:
            return headers["x-hostile-fault"], path
        if self.schedule is not None and (chat or self.all_routes):
            n = self._chats
            self._chats += 1
            picked = self.schedule.pick(n)
            if picked:
                return picked, path
        return self.fault, path

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                chat = request.method == "POST" and request.path.endswith(
                    ("/chat/completions", "/api/chat")
                )
                name, route = self._choose(request.path.split("?")[0], request.headers, chat)
                ctx = Context(request, route, reader, writer, self.persona)
                auth = request.headers.get("authorization", "")
                connection = request.headers.get("connection", "")
                self.log.append(Served(request.path, route, ctx.api, name, auth, connection))
                fault: Fault | None = CATALOG.get(name) if name else None
                if name and fault is None:
                    await send_json(writer, 400, {"error": f"unknown hostile fault {name!r}"})
                    continue
                keep = await (fault.play(ctx) if fault is not None else ctx.healthy())
                if not keep:
                    break
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()


class HostileThread:
    """A ``HostileServer`` running in a thread with its own event loop (for code that
    blocks, or runs its own loop: pytest subprocesses, ``asyncio.run`` engines)."""

    def __init__(self, server: HostileServer | None = None) -> None:
        self.server = server or HostileServer()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        return self.server

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
