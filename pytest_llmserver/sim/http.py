"""A minimal HTTP/1.1 layer on asyncio streams: request parsing and response writing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

MAX_HEADER_COUNT = 100
MAX_BODY_BYTES = 16 * 1024 * 1024
SERVER_NAME = "pytest-llmserver-sim"


class ConnectionReader(asyncio.StreamReader):
    """A stream reader that also tells when the peer closed its side (or the connection
    broke), without reading: :meth:`peer_gone` waits for it."""

    def __init__(self, limit: int = 2**16) -> None:
        super().__init__(limit=limit)
        self._gone = asyncio.Event()

    def feed_eof(self) -> None:
        """The peer closed its side."""
        super().feed_eof()
        self._gone.set()

    def set_exception(self, exc: Exception) -> None:
        """The connection broke."""
        super().set_exception(exc)
        self._gone.set()

    async def peer_gone(self) -> None:
        """Return once the peer has closed its side or the connection broke."""
        await self._gone.wait()


async def start_server(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    host: str,
    port: int,
    backlog: int,
) -> asyncio.Server:
    """``asyncio.start_server`` with a :class:`ConnectionReader` per connection."""
    loop = asyncio.get_running_loop()

    def protocol() -> asyncio.StreamReaderProtocol:
        return asyncio.StreamReaderProtocol(ConnectionReader(), serve)

    return await loop.create_server(protocol, host=host, port=port, backlog=backlog)


class HttpProtocolError(Exception):
    """The client sent something that is not a request this server can read."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class HttpRequest:
    """One request read off a connection."""

    method: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes
    started_ns: int
    read_ns: int
    read_loop_s: float

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request after this one."""
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle_timeout_s: float
) -> HttpRequest | None:
    """Read one request; ``None`` when the peer closed (or idled out) between requests."""
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=idle_timeout_s)
    except asyncio.TimeoutError:
        return None
    except (ValueError, asyncio.LimitOverrunError) as exc:
        raise HttpProtocolError(431, "request line too long") from exc
    if not line:
        return None
    started_ns = time.perf_counter_ns()
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpProtocolError(400, "malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_COUNT + 1):
        try:
            raw = await reader.readline()
        except (ValueError, asyncio.LimitOverrunError) as exc:
            raise HttpProtocolError(431, "header line too long") from exc
        if not raw:
            raise HttpProtocolError(400, "connection closed inside the headers")
        text = raw.decode("latin-1").rstrip("\r\n")
        if not text:
            break
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            raise HttpProtocolError(400, "malformed header line")
        headers[name.strip().lower()] = value.strip()
    else:
        raise HttpProtocolError(431, "too many header lines")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise HttpProtocolError(
            411, "chunked request bodies are not supported; send Content-Length"
        )
    length_text = headers.get("content-length", "0") or "0"
    if not length_text.isdigit():
        raise HttpProtocolError(400, "invalid Content-Length")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise HttpProtocolError(413, "request body too large")
    if length and headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    try:
        body = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError as exc:
        raise HttpProtocolError(400, "connection closed inside the body") from exc
    read_loop_s = asyncio.get_running_loop().time()
    read_ns = time.perf_counter_ns()
    path = target.split("?", 1)[0]
    return HttpRequest(method, path, version, headers, body, started_ns, read_ns, read_loop_s)


class ResponseWriter:
    """Writes one response (plain or chunked) on a connection's stream writer."""

    def __init__(self, writer: asyncio.StreamWriter, keep_alive: bool) -> None:
        self._writer = writer
        self.keep_alive = keep_alive
        self.headers_sent = False
        self.finished = False
        self.aborted = False
        self._chunked_status = 200
        self._chunked_type = ""

    def _head(self, status: int, content_type: str, extra: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        lines.append(f"Server: {SERVER_NAME}")
        lines.append(f"Content-Type: {content_type}")
        lines.extend(f"{name}: {value}" for name, value in extra)
        lines.append(f"Connection: {'keep-alive' if self.keep_alive else 'close'}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send(self, status: int, content_type: str, body: bytes) -> None:
        """Send a whole response with a Content-Length."""
        head = self._head(status, content_type, [("Content-Length", str(len(body)))])
        self._writer.write(head + body)
        self.headers_sent = True
        self.finished = True
        await self._writer.drain()

    async def send_json(self, status: int, payload: Any) -> None:
        """Send ``payload`` as a JSON response."""
        await self.send(status, "application/json", json.dumps(payload).encode())

    def prepare_chunked(self, status: int, content_type: str) -> None:
        """Choose status and type of a chunked response; the head goes out with the first chunk."""
        self._chunked_status = status
        self._chunked_type = content_type

    def _chunked_head(self) -> bytes:
        extra = [("Transfer-Encoding", "chunked"), ("Cache-Control", "no-cache")]
        return self._head(self._chunked_status, self._chunked_type, extra)

    async def write_chunk(self, data: bytes) -> None:
        """Write ``data`` as one HTTP chunk and wait until it is handed to the socket."""
        frame = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        if not self.headers_sent:
            frame = self._chunked_head() + frame
            self.headers_sent = True
        self._writer.write(frame)
        await self._writer.drain()

    async def end_chunked(self) -> None:
        """Write the terminating zero-length chunk."""
        data = b"0\r\n\r\n"
        if not self.headers_sent:
            data = self._chunked_head() + data
            self.headers_sent = True
        self._writer.write(data)
        self.finished = True
        await self._writer.drain()

    def abort(self) -> None:
        """Drop the connection at once, without finishing the response."""
        self.aborted = True
        self.keep_alive = False
        self._writer.transport.abort()
