"""Running a simulated server on its own event loop in a daemon thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

from pytest_llmserver.sim.config import SimConfig
from pytest_llmserver.sim.metrics import ServerMetrics
from pytest_llmserver.sim.server import SimServer

THREAD_TIMEOUT_S = 10.0


class SimThread:
    """Runs a :class:`SimServer` on its own event loop in a daemon thread."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config if config is not None else SimConfig()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._server: SimServer | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return self._running().url

    @property
    def port(self) -> int:
        """The bound port of the running server."""
        return self._running().port

    @property
    def metrics(self) -> ServerMetrics:
        """The running server's counters and per-request records (read them, do not change)."""
        return self._running().metrics

    @property
    def request_count(self) -> int:
        """Requests the server has read so far."""
        return self._server.request_count if self._server is not None else 0

    def _running(self) -> SimServer:
        if self._server is None:
            raise RuntimeError("SimThread is not started")
        return self._server

    def start(self) -> str:
        """Start the thread and return the URL once the server listens."""
        if self._thread is not None:
            raise RuntimeError("SimThread already started")
        self._ready = threading.Event()
        self._error = None
        self._server = None
        self._thread = threading.Thread(target=self._run, name="pytest-llmserver-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(THREAD_TIMEOUT_S):
            raise RuntimeError(f"simulated server did not start within {THREAD_TIMEOUT_S:g} s")
        if self._error is not None:
            raise RuntimeError(f"simulated server failed to start: {self._error}") from self._error
        return self.url

    def stop(self) -> None:
        """Stop the server and join the thread."""
        thread = self._thread
        if thread is None:
            return
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(THREAD_TIMEOUT_S)
        if thread.is_alive():
            raise RuntimeError(f"simulated server did not stop within {THREAD_TIMEOUT_S:g} s")
        self._thread = None

    def __enter__(self) -> SimThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # reported to start(); the thread just ends
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        server = SimServer(self.config)
        await server.start()
        try:
            self._stop_event = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._server = server
            self._ready.set()
            await self._stop_event.wait()
        finally:
            await server.stop()
