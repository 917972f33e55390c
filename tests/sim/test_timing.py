"""Timing exactness of the simulator: TTFT and token rate within a few ms, alone and under
concurrency, seen by httpx and by a minimal socket client."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
from typing import Any

import httpx
import pytest

from pytest_llmserver.sim import DefaultPolicy, SimConfig, SimServer, TimingModel
from tests.sim.helpers import chat_body, stream_lines


async def _timed_openai_stream(http: httpx.AsyncClient) -> tuple[float, float]:
    """(TTFT, decode tokens/s) of one streamed request as an httpx client sees it."""
    got = await stream_lines(http, "/v1/chat/completions", chat_body())
    token_times = got.times_s[1:-2]  # drop role chunk, finish chunk and [DONE]
    ttft = token_times[0] - got.sent_s
    rate = (len(token_times) - 1) / (token_times[-1] - token_times[0])
    return ttft, rate


async def _read_http_events(reader: asyncio.StreamReader) -> tuple[list[float], list[bytes]]:
    """Read one response; for a chunked body, each chunk with its arrival time."""
    await reader.readline()  # status line
    headers: dict[str, str] = {}
    for _ in range(100):
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _sep, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return [], [await reader.readexactly(int(headers["content-length"]))]
    times: list[float] = []
    chunks: list[bytes] = []
    for _ in range(10_000):
        size = int((await reader.readline()).strip(), 16)
        data = await reader.readexactly(size + 2)
        if size == 0:
            break
        times.append(time.perf_counter())
        chunks.append(data[:-2])
    return times, chunks


async def _raw_timed_stream(port: int, go: asyncio.Event) -> tuple[float, float, dict[str, Any]]:
    """(TTFT, decode tokens/s, server timings) measured with a minimal socket client.

    The connection is opened and warmed before ``go`` is set, so only the streamed request
    is timed; the client does little work per event, so its own delays stay small.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await _read_http_events(reader)
        await go.wait()
        body = json.dumps(chat_body()).encode()
        head = (
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        sent_s = time.perf_counter()
        times, chunks = await _read_http_events(reader)
    finally:
        writer.close()
    token_times = times[1:-2]
    rate = (len(token_times) - 1) / (token_times[-1] - token_times[0])
    final = json.loads(chunks[-2].removeprefix(b"data: "))
    return token_times[0] - sent_s, rate, final["timings"]


TIMED = SimConfig(
    timing=TimingModel(ttft_s=0.2, per_token_s=0.02), policy=DefaultPolicy(answer_tokens=26)
)


def _check_timing(ttfts: list[float], rates: list[float]) -> None:
    """Median within the exact-timing bounds (5 ms, 2 %); every sample within 20 ms and 5 %.

    The median carries the precision claim; the wider bound on each sample keeps one
    scheduler hiccup of a busy test machine from failing the run while still catching
    a stream that is really late.
    """
    assert statistics.median(ttfts) == pytest.approx(0.200, abs=0.005)
    assert statistics.median(rates) == pytest.approx(50.0, rel=0.02)
    assert all(t == pytest.approx(0.200, abs=0.020) for t in ttfts), ttfts
    assert all(r == pytest.approx(50.0, rel=0.05) for r in rates), rates


@pytest.mark.timing
@pytest.mark.asyncio
async def test_timing_exact_at_concurrency_1() -> None:
    async with SimServer(TIMED) as server, httpx.AsyncClient(base_url=server.url) as http:
        await http.get("/v1/models")  # open the connection first
        results = [await _timed_openai_stream(http) for _ in range(3)]
    _check_timing([ttft for ttft, _ in results], [rate for _, rate in results])


@pytest.mark.timing
@pytest.mark.asyncio
async def test_timing_exact_at_concurrency_32() -> None:
    go = asyncio.Event()
    async with SimServer(TIMED) as server:
        tasks = [asyncio.ensure_future(_raw_timed_stream(server.port, go)) for _ in range(32)]
        await asyncio.sleep(0.1)  # let every connection open and warm up
        go.set()
        results = await asyncio.gather(*tasks)
    _check_timing([ttft for ttft, _, _ in results], [rate for _, rate, _ in results])
    timings = [t for _, _, t in results]
    assert all(t["predicted_n"] == 26 for t in timings)
    prompt_ms = statistics.median(t["prompt_ms"] for t in timings)
    assert prompt_ms == pytest.approx(200.0, abs=5.0)
    predicted_ms = statistics.median(t["predicted_ms"] for t in timings)
    assert predicted_ms == pytest.approx(25 * 20.0, rel=0.02)


@pytest.mark.timing
@pytest.mark.asyncio
async def test_ttfb_precedes_ttft_and_jitter_moves_tokens() -> None:
    timing = TimingModel(ttft_s=0.05, per_token_s=0.004, jitter_s=0.002, seed=7)
    async with (
        SimServer(SimConfig(timing=timing)) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        got = await stream_lines(http, "/v1/chat/completions", chat_body())
    assert got.times_s[0] - got.sent_s < 0.02  # role chunk at once
    assert got.times_s[1] - got.sent_s >= 0.048
    gaps = [b - a for a, b in itertools.pairwise(got.times_s[1:-2])]
    assert min(gaps) < 0.0035 or max(gaps) > 0.0045  # jitter moved some deadlines


@pytest.mark.asyncio
async def test_sixty_four_concurrent_streams(sim: SimServer) -> None:
    limits = httpx.Limits(max_connections=80)
    async with httpx.AsyncClient(base_url=sim.url, limits=limits, timeout=10.0) as http:
        results = await asyncio.gather(
            *(stream_lines(http, "/api/chat", chat_body()) for _ in range(64))
        )
    for got in results:
        assert got.status == 200
        final = json.loads(got.lines[-1])
        assert final["done"] is True
        assert final["eval_count"] == 32
    assert sim.request_count == 64
