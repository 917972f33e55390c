"""Test helpers: a fake nanosecond clock and response bodies that advance it chunk by chunk."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

T0_NS = 1_000_000_000_000
MS = 1_000_000


class FakeClock:
    """A clock the test moves; the client reads it through ``ModelClient(clock=...)``."""

    def __init__(self) -> None:
        self.now_ns = T0_NS

    def __call__(self) -> int:
        return self.now_ns

    def at_ms(self, ms: float) -> None:
        self.now_ns = T0_NS + int(ms * MS)


class ClockedStream(httpx.AsyncByteStream):
    """Yields each chunk after setting the fake clock to its arrival time (ms after T0)."""

    def __init__(self, clock: FakeClock, chunks: Sequence[tuple[float, bytes]]) -> None:
        self._clock = clock
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for at_ms, chunk in self._chunks:
            self._clock.at_ms(at_ms)
            yield chunk


def sse(obj: Any) -> bytes:
    """One server-sent event."""
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"


def delta(**fields: Any) -> dict[str, Any]:
    """An OpenAI chunk with one choice delta (``finish`` sets finish_reason)."""
    finish = fields.pop("finish", None)
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": fields, "finish_reason": finish}],
    }


def ndjson(obj: dict[str, Any]) -> bytes:
    """One NDJSON line."""
    return json.dumps(obj).encode() + b"\n"


def clocked_response(
    clock: FakeClock,
    chunks: Sequence[tuple[float, bytes]],
    content_type: str = "text/event-stream",
    status: int = 200,
) -> httpx.Response:
    """A response whose body arrives at the given times."""
    return httpx.Response(
        status, headers={"content-type": content_type}, stream=ClockedStream(clock, chunks)
    )
