"""The simulated server: accepts connections, reads requests and dispatches them to routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from types import TracebackType

from pytest_llmserver.sim.config import Fault, SimConfig
from pytest_llmserver.sim.errors import Api, ApiError, api_of
from pytest_llmserver.sim.exchange import Exchange
from pytest_llmserver.sim.http import (
    ConnectionReader,
    HttpProtocolError,
    HttpRequest,
    ResponseWriter,
    read_request,
    start_server,
)
from pytest_llmserver.sim.metrics import ServerMetrics
from pytest_llmserver.sim.overrides import parse_overrides
from pytest_llmserver.sim.routes import Routes

_log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 120.0
MAX_REQUESTS_PER_CONNECTION = 100_000
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head>"
    b"<body><h1>It works!</h1><p>This is not an LLM API.</p></body></html>\n"
)


async def _answer_error(response: ResponseWriter, error: ApiError, api: Api) -> None:
    """Send ``error``, or drop the connection when the reply has already begun."""
    if response.headers_sent:
        response.abort()
    else:
        await response.send_json(error.status, error.body(api))


class SimServer:
    """A simulated OpenAI-compatible and Ollama server on a loopback port."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config if config is not None else SimConfig()
        self._server: asyncio.Server | None = None
        self._port = self.config.port
        self._tasks: set[asyncio.Task[None]] = set()
        self._request_count = 0
        self._routes = Routes(self.config)

    @property
    def port(self) -> int:
        """The bound port (the configured one before :meth:`start`)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080``."""
        host = self._bind_host()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}"

    @property
    def metrics(self) -> ServerMetrics:
        """What the server did so far: counters per model and one record per request."""
        return self._routes.metrics

    @property
    def request_count(self) -> int:
        """Requests read so far (every request, errors included)."""
        return self._request_count

    def _bind_host(self) -> str:
        return "127.0.0.1" if self.config.host == "localhost" else self.config.host

    async def start(self) -> None:
        """Bind and start accepting connections; sets :attr:`port`."""
        if self._server is not None:
            raise RuntimeError("server already started")
        self._server = await start_server(
            self._serve_connection, host=self._bind_host(), port=self.config.port, backlog=512
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close the listener and every open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._server is None:  # accepted just before stop()
            writer.transport.abort()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self._serve_requests(reader, writer)
        except ConnectionError:
            pass  # the client went away; nothing left to answer
        except asyncio.CancelledError:
            # stop() cancels connection tasks. Nothing awaits this task, and Python 3.11's
            # start_server logs a cancelled handler task as an error, so end it quietly.
            writer.transport.abort()
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _serve_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            try:
                request = await read_request(reader, writer, IDLE_TIMEOUT_S)
            except HttpProtocolError as exc:
                error = ApiError(exc.status, str(exc))
                await ResponseWriter(writer, keep_alive=False).send_json(
                    exc.status, error.body("openai")
                )
                return
            if request is None:
                return
            self._request_count += 1
            sequence = self._request_count
            # Let the other connections whose requests arrived together take their t0 before
            # this one parses and answers, so a burst of requests does not delay later t0s.
            await asyncio.sleep(0)
            response = ResponseWriter(writer, request.keep_alive)
            gone = reader.peer_gone if isinstance(reader, ConnectionReader) else None
            await self._dispatch(request, response, sequence, gone)
            if response.aborted or not response.finished or not response.keep_alive:
                return

    async def _dispatch(
        self,
        request: HttpRequest,
        response: ResponseWriter,
        sequence: int,
        gone: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        api = api_of(request.path)
        try:
            overrides = parse_overrides(request.headers)
            fault = overrides.fault if overrides.fault is not None else self.config.fault
            if fault is Fault.HTML:
                await response.send(200, "text/html; charset=utf-8", HTML_PAGE)
                return
            handler = self._routes.handler(request.method, request.path)
            await handler(Exchange(request, response, overrides, fault, sequence, gone))
        except ApiError as exc:
            await _answer_error(response, exc, api)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug or a failing policy: report it, keep serving
            _log.exception("sim: request %s %s failed", request.method, request.path)
            error = ApiError(500, f"simulator failure: {exc!r}", "server_error")
            await _answer_error(response, error, api)
