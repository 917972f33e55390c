"""What a fault gets to answer one request (``Context``), and what a fault is (``Fault``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.hostile.replies import Api, Event, content_type, frame, healthy, listing, whole
from tests.hostile.wire import LAST_CHUNK, Head, Request, chunk, send_json

if TYPE_CHECKING:
    from pytest_llmserver.client import ChatResponse


class Context:
    """One request on its connection: the route, the chat protocol it speaks (``api``; None
    for discovery's routes) and helpers that write answers."""

    def __init__(
        self,
        request: Request,
        route: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        persona: str,
    ) -> None:
        self.request = request
        self.route = route
        self.reader = reader
        self.writer = writer
        self.persona = persona
        self.api: Api | None = None
        if request.method == "POST" and route == "/v1/chat/completions":
            self.api = "openai"
        elif request.method == "POST" and route == "/api/chat":
            self.api = "ollama"

    @property
    def tools(self) -> bool:
        """Whether the request offered tools."""
        return isinstance(self.request.json, dict) and bool(self.request.json.get("tools"))

    async def healthy(self) -> bool:
        """The answer a well-behaved server gives; returns whether to keep the connection."""
        if self.api is not None:
            if self.request.wants_stream:
                return await self.stream(healthy(self.api, self.tools))
            await send_json(self.writer, 200, whole(self.api, self.tools))
            return True
        value = listing(self.route, self.persona)
        if value is None:
            await send_json(self.writer, 404, {"error": f"no route {self.route}"})
        else:
            await send_json(self.writer, 200, value)
        return True

    async def stream(
        self,
        events: Iterable[Event],
        *,
        end: bytes = b"\n",
        kind: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        pause_s: float = 0.0,
    ) -> bool:
        """A chunked streamed reply of ``events`` framed for this protocol."""
        api: Api = self.api or "openai"
        all_headers = [
            ("Content-Type", kind or content_type(api)),
            ("Transfer-Encoding", "chunked"),
            *headers,
        ]
        await self.send(Head(200, "OK", all_headers).encode())
        for event in events:
            await self.send(chunk(frame(api, event, end)))
            if pause_s:
                await asyncio.sleep(pause_s)
        await self.send(LAST_CHUNK)
        return True

    async def send(self, data: bytes) -> None:
        """Write ``data`` now."""
        self.writer.write(data)
        await self.writer.drain()

    async def hang(self) -> bool:
        """Keep the connection open, silent, until the client gives up."""
        await self.reader.read()  # returns when the client closes
        return False


Play = Callable[[Context], Awaitable[bool]]
Check = Callable[["ChatResponse"], Any]

OUTCOMES = (
    "ok",
    "protocol",
    "closed",
    "timeout",
    "http_status",
    "context_overflow",
    "server_error_event",
)
"""What a request may end in: a response, or the error of that name (``closed`` is the
protocol class's ``LLMStreamClosedError``)."""


@dataclass(frozen=True)
class Fault:
    """A named misbehaviour, and the outcome the client documents for it on each protocol.

    ``check`` asserts what a response must hold, ``check_error`` what an error must;
    ``stream`` is how the matrix asks (streamed or whole); ``slow`` faults end by the total
    deadline.
    """

    name: str
    doc: str
    play: Play
    openai: str
    ollama: str
    check: Check | None = None
    check_error: Callable[[Exception], Any] | None = None
    stream: bool = True
    slow: bool = False

    def outcome(self, api: Api) -> str:
        """The documented outcome on ``api``."""
        return self.openai if api == "openai" else self.ollama
