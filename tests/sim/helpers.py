"""Helpers shared by the simulator tests: a fast timing model, a request body, and a reader of
streamed lines with their arrival times."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from pytest_llmserver.sim import TimingModel

FAST = TimingModel(ttft_s=0.02, per_token_s=0.002)
USER = [{"role": "user", "content": "hello there"}]  # 2 tokens + 4 per message = 6


@dataclass
class Received:
    """Lines of one streamed response with their arrival times (perf_counter seconds)."""

    status: int
    content_type: str
    sent_s: float
    lines: list[str] = field(default_factory=list)
    times_s: list[float] = field(default_factory=list)


async def stream_lines(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Received:
    """POST and collect the non-empty lines of the streamed answer."""
    sent_s = time.perf_counter()
    async with http.stream("POST", path, json=body, headers=headers) as response:
        got = Received(response.status_code, response.headers.get("content-type", ""), sent_s)
        async for line in response.aiter_lines():
            if line:
                got.lines.append(line)
                got.times_s.append(time.perf_counter())
    return got


def sse_payloads(got: Received) -> list[str]:
    """The ``data:`` payloads of an SSE stream, in order."""
    assert all(line.startswith("data: ") for line in got.lines), got.lines
    return [line[len("data: ") :] for line in got.lines]


def chat_body(model: str = "sim-small", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": USER, "stream": True, **extra}
