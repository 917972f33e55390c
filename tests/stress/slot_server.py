"""A queueing chat server on 127.0.0.1 for capacity tests: ``slots`` requests are served at
once, the rest wait in arrival order; each takes ``service_s`` from getting a slot to its last
token, its ``tokens`` tokens evenly spaced (the first after ``service_s / tokens``).

So with constant arrivals its capacity is ``slots / service_s`` requests per second: below
it TTFT stays at ``service_s / tokens``; above it the queue, and TTFT, grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from pytest_llmserver.stress.capacity import NullServer

_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)")
_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
)


def _chunk(payload: dict[str, Any] | None) -> bytes:
    data = b"data: [DONE]\n\n" if payload is None else b"data: " + json.dumps(payload).encode()
    if payload is not None:
        data += b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


def _event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {
        "id": "slot-1",
        "object": "chat.completion.chunk",
        "model": "slots",
        "choices": [choice],
    }


class SlotServer(NullServer):
    """The server (an async context manager, started and stopped as ``NullServer``); ``url``
    once entered, ``served`` counts replies, ``max_waiting`` the longest queue seen."""

    def __init__(self, slots: int = 4, service_s: float = 0.05, tokens: int = 4) -> None:
        if slots < 1 or tokens < 1 or not service_s > 0:
            raise ValueError("slots and tokens must be >= 1 and service_s > 0")
        super().__init__(tokens)
        self.slots, self.service_s = slots, service_s
        self.waiting = 0
        self.max_waiting = 0
        self._free: asyncio.Semaphore | None = None

    async def __aenter__(self) -> SlotServer:
        self._free = asyncio.Semaphore(self.slots)
        await super().__aenter__()
        return self

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        assert self._free is not None
        loop = asyncio.get_running_loop()
        self.waiting += 1
        self.max_waiting = max(self.max_waiting, self.waiting)
        async with self._free:
            self.waiting -= 1
            start = loop.time()
            writer.write(_HEAD + _chunk(_event({"role": "assistant", "content": ""})))
            step = self.service_s / self.tokens
            for i in range(1, self.tokens + 1):
                await asyncio.sleep(max(0.0, start + i * step - loop.time()))
                writer.write(_chunk(_event({"content": " tok"})))
                await writer.drain()
        usage = {"prompt_tokens": 4, "completion_tokens": self.tokens}
        usage["total_tokens"] = self.tokens + 4
        tail = {**_event({}, "stop"), "choices": [], "usage": usage}
        writer.write(_chunk(_event({}, "stop")) + _chunk(tail) + _chunk(None) + b"0\r\n\r\n")
        self.served += 1
        await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self._handlers.update(t for t in [asyncio.current_task()] if t is not None)
        ended = (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError)
        with contextlib.suppress(*ended):
            while head := await reader.readuntil(b"\r\n\r\n"):
                match = _LENGTH.search(head)
                await reader.readexactly(int(match.group(1)) if match else 0)
                await self._answer(writer)
        self._writers.discard(writer)
        writer.close()
