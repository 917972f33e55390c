"""Self-calibration: how many requests and streamed events one client process of this machine
handles, measured in under a second against a null server on loopback.

The null server is an asyncio server in the same process and event loop that answers every
chat request at once with the same OpenAI stream (chunked framing, one event per token). The
client is the real one: ``ModelClient`` driven by the engine's ``timed_request``, records
written to a JSONL file, as in a run. Short streams measure the cost of a request, long ones
that of an event. Costs are CPU time of the event loop's thread, less the server handlers'
own, so the figures are what one process does with a core of its own, whatever else the
machine runs meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pytest_llmserver.client import ChatResponse, ModelClient, Timeouts
from pytest_llmserver.stress.engine import timed_request
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.timing import NS, RunClock

SHORT_TOKENS = 8
LONG_TOKENS = 128
_EVENTS_BEYOND_TOKENS = 3  # the role event, the finish event and the usage event


@dataclass(frozen=True)
class ClientCapacity:
    """What one client process of this machine handles: ``requests_per_s`` of
    ``tokens``-token streams, and ``events_per_s`` streamed events (the cost of one more
    event). ``measured_s``: how long the measurement took."""

    requests_per_s: float
    events_per_s: float
    tokens: int
    measured_s: float

    def requests_per_s_at(self, tokens: int) -> float:
        """Requests per second of ``tokens``-token streams (never above the measured rate
        of the shortest streams)."""
        extra_s = max(0, tokens - self.tokens) / self.events_per_s
        return 1.0 / (1.0 / self.requests_per_s + extra_s)

    def describe(self) -> str:
        """``1,240 req/s of 8-token streams, 96,000 events/s per client process``."""
        return (
            f"{self.requests_per_s:,.0f} req/s of {self.tokens}-token streams, "
            f"{self.events_per_s:,.0f} events/s per client process"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClientCapacity:
        """The capacity ``to_dict`` wrote."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def _stream(tokens: int) -> bytes:
    """The whole HTTP response of one chat request: ``tokens`` one-word events, each a chunk."""
    base = {"id": "null-1", "object": "chat.completion.chunk", "created": 0, "model": "null"}

    def event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    usage = {"prompt_tokens": 4, "completion_tokens": tokens, "total_tokens": tokens + 4}
    events = [event({"role": "assistant", "content": ""})]
    events += [event({"content": " tok"}) for _ in range(tokens)]
    events += [event({}, "stop"), {**base, "choices": [], "usage": usage}]
    body = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in body)
    return head + chunks + b"0\r\n\r\n"


class NullServer:
    """A chat server on 127.0.0.1 that answers every request at once with the same stream of
    ``tokens`` tokens (``tokens`` may be changed between requests). ``busy_ns`` sums the CPU
    time its handlers spent on requests; ``served`` counts them."""

    def __init__(self, tokens: int = SHORT_TOKENS) -> None:
        self._replies: dict[int, bytes] = {}
        self.tokens = tokens
        self.busy_ns = 0
        self.served = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self.url = ""

    async def __aenter__(self) -> NullServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()  # its handler reads the end of the stream and returns
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    def _reply(self) -> bytes:
        reply = self._replies.get(self.tokens)
        if reply is None:
            reply = self._replies[self.tokens] = _stream(self.tokens)
        return reply

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                started_ns = time.thread_time_ns()
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                self.busy_ns += time.thread_time_ns() - started_ns
                await reader.readexactly(length)
                started_ns = time.thread_time_ns()
                writer.write(self._reply())
                self.served += 1
                self.busy_ns += time.thread_time_ns() - started_ns
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


async def _pass(
    client: ModelClient, server: NullServer, sink: JsonlSink, seconds: float, concurrency: int
) -> float:
    """Client CPU seconds per request over ``seconds`` of requests ``concurrency`` at a time."""
    clock = RunClock()
    deadline_ns = time.perf_counter_ns() + int(seconds * NS)
    done = [0]

    async def send(index: int) -> ChatResponse:
        return await client.complete([{"role": "user", "content": "hi"}])

    async def worker() -> None:
        while time.perf_counter_ns() < deadline_ns:
            result = await timed_request(send, done[0], clock=clock, sink=sink)
            if not result.ok:
                raise RuntimeError(f"calibration request failed: {result.error}")
            done[0] += 1

    busy_before, cpu_before = server.busy_ns, time.thread_time_ns()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu_ns = time.thread_time_ns() - cpu_before - (server.busy_ns - busy_before)
    return cpu_ns / NS / max(done[0], 1)


async def measure_capacity(
    duration_s: float = 0.8, *, concurrency: int = 16, directory: Path | None = None
) -> ClientCapacity:
    """Measure this process's client capacity in about ``duration_s`` seconds: 60% of it on
    ``SHORT_TOKENS``-token streams, 40% on ``LONG_TOKENS``-token ones (records written to a
    temporary file in ``directory``)."""
    started_ns = time.perf_counter_ns()
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        async with NullServer() as server:
            timeouts = Timeouts.from_total(10.0)
            async with ModelClient(
                {"url": server.url}, "null", timeouts=timeouts, concurrency=concurrency
            ) as client:
                with JsonlSink(Path(tmp) / "calibration.jsonl") as sink:
                    await _pass(client, server, sink, 0.05, concurrency)  # connections open
                    short_s = await _pass(client, server, sink, duration_s * 0.6, concurrency)
                    server.tokens = LONG_TOKENS
                    long_s = await _pass(client, server, sink, duration_s * 0.4, concurrency)
    per_event_s = (long_s - short_s) / (LONG_TOKENS - SHORT_TOKENS)
    events_per_s = 1.0 / per_event_s if per_event_s > 0 else math.inf
    if math.isinf(events_per_s):  # noise hid the cost of events: count them all in requests
        events_per_s = (SHORT_TOKENS + _EVENTS_BEYOND_TOKENS) / short_s
    return ClientCapacity(
        requests_per_s=1.0 / short_s,
        events_per_s=events_per_s,
        tokens=SHORT_TOKENS,
        measured_s=(time.perf_counter_ns() - started_ns) / NS,
    )


def calibrate(duration_s: float = 0.8) -> ClientCapacity:
    """``measure_capacity`` in an event loop of its own (call it where none runs)."""
    return asyncio.run(measure_capacity(duration_s))
