"""HTTP/1.1 by hand on asyncio streams: read a request, write any response, lawful or not.

Nothing here is shared with ``pytest_llmserver.sim``: the hostile server must not inherit the
simulator's assumptions.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

MAX_REQUEST_BYTES = 8 * 1024 * 1024


@dataclass
class Request:
    """One request as read off the socket."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    raw_head: bytes = b""

    @property
    def wants_stream(self) -> bool:
        """Whether the body asks for a streamed reply (both protocols default to yes)."""
        return not (isinstance(self.json, dict) and self.json.get("stream") is False)


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on the connection, or ``None`` at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if length > MAX_REQUEST_BYTES:
        raise ValueError(f"request body of {length} bytes")
    body = await reader.readexactly(length) if length else b""
    parsed: Any = None
    if body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    return Request(method, path, headers, body, parsed, head)


@dataclass
class Head:
    """A status line and headers, written as given (no header is added behind your back)."""

    status: int = 200
    reason: str = "OK"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def encode(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {self.reason}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 500: "Error"}


def head(status: int, content_type: str, **extra: str) -> Head:
    """A head with ``Content-Type`` and any extra headers (``content_length=`` ...)."""
    headers = [("Content-Type", content_type)]
    headers += [(name.replace("_", "-").title(), value) for name, value in extra.items()]
    return Head(status, REASONS.get(status, "Status"), headers)


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


LAST_CHUNK = b"0\r\n\r\n"


async def send_whole(
    writer: asyncio.StreamWriter, status: int, body: bytes, content_type: str = "application/json"
) -> None:
    """A complete response with ``Content-Length`` (the connection stays usable)."""
    writer.write(head(status, content_type, content_length=str(len(body))).encode() + body)
    await writer.drain()


async def send_json(writer: asyncio.StreamWriter, status: int, value: Any) -> None:
    """A JSON response."""
    await send_whole(writer, status, json.dumps(value).encode())
