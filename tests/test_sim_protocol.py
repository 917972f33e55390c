"""Protocol, timing and fault tests of the simulated server, driven by raw httpx."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio

from pytest_llmserver.sim import (
    DefaultPolicy,
    Fault,
    FunctionPolicy,
    ScriptedPolicy,
    SimConfig,
    SimReply,
    SimRequest,
    SimServer,
    SimThread,
    SimToolCall,
    TimingModel,
    count_tokens,
    split_tokens,
)
from pytest_llmserver.sim.generation import token_deadlines

FAST = TimingModel(ttft_s=0.02, per_token_s=0.002)
USER = [{"role": "user", "content": "hello there"}]  # 2 tokens + 4 per message = 6


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig(timing=FAST)) as server:
        yield server


@pytest_asyncio.fixture
async def client(sim: SimServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10.0) as http:
        yield http


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


# --- listings ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_openai_models_listing(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["sim-small", "sim-reasoner"]
    for entry in body["data"]:
        assert entry["object"] == "model"
        assert entry["owned_by"] == "pytest-llmserver-sim"
        assert isinstance(entry["created"], int)


@pytest.mark.asyncio
async def test_ollama_version_tags_and_show(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/version")).json() == {"version": "0.12.0-sim"}
    tags = (await client.get("/api/tags")).json()["models"]
    assert [t["name"] for t in tags] == ["sim-small", "sim-reasoner"]
    again = (await client.get("/api/tags")).json()["models"]
    for entry, repeat in zip(tags, again, strict=True):
        assert entry["model"] == entry["name"]
        assert re.fullmatch(r"[0-9a-f]{64}", entry["digest"])
        assert entry["digest"] == repeat["digest"]
        assert isinstance(entry["size"], int)
        assert entry["size"] > 0
        assert entry["details"]["format"] == "gguf"
        assert entry["details"]["quantization_level"] == "Q4_1"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", entry["modified_at"])
    assert tags[0]["digest"] != tags[1]["digest"]

    small = (await client.post("/api/show", json={"model": "sim-small"})).json()
    assert small["capabilities"] == ["completion", "tools"]
    assert {"modelfile", "parameters", "template", "details", "model_info"} <= small.keys()
    reasoner = (await client.post("/api/show", json={"model": "sim-reasoner"})).json()
    assert "thinking" in reasoner["capabilities"]
    missing = await client.post("/api/show", json={"model": "nope"})
    assert missing.status_code == 404
    assert missing.json() == {"error": "model 'nope' not found"}


@pytest.mark.asyncio
async def test_unknown_path_bad_json_and_unknown_model(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/v2/whatever")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/json"
    assert "error" in unknown.json()

    bad = await client.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    assert "not valid JSON" in bad.json()["error"]["message"]
    bad_ollama = await client.post("/api/chat", content=b"[1,")
    assert bad_ollama.status_code == 400
    assert isinstance(bad_ollama.json()["error"], str)

    missing = await client.post("/v1/chat/completions", json=chat_body("gpt-nothing"))
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "message": "The model 'gpt-nothing' does not exist",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    missing_ollama = await client.post("/api/chat", json=chat_body("gpt-nothing"))
    assert missing_ollama.status_code == 404
    assert missing_ollama.json() == {"error": "model 'gpt-nothing' not found"}


# --- OpenAI streaming -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_openai_stream_shape_without_usage(client: httpx.AsyncClient) -> None:
    got = await stream_lines(client, "/v1/chat/completions", chat_body())
    assert got.status == 200
    assert got.content_type.startswith("text/event-stream")
    payloads = sse_payloads(got)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    token_chunks = chunks[1:-1]
    assert len(token_chunks) == 32  # DefaultPolicy answer length
    for chunk in token_chunks:
        (choice,) = chunk["choices"]
        assert choice["finish_reason"] is None
        assert set(choice["delta"]) == {"content"}
        assert count_tokens(choice["delta"]["content"]) == 1
    final = chunks[-1]
    assert final["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert final["timings"]["predicted_n"] == 32
    assert final["timings"]["prompt_n"] == 6
    assert all("usage" not in c for c in chunks)


@pytest.mark.asyncio
async def test_openai_stream_usage_with_include_usage(client: httpx.AsyncClient) -> None:
    body = chat_body("sim-reasoner", stream_options={"include_usage": True})
    got = await stream_lines(client, "/v1/chat/completions", body)
    payloads = sse_payloads(got)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {
        "prompt_tokens": 6,
        "completion_tokens": 48,
        "total_tokens": 54,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 16},
    }
    timings = usage_chunk["timings"]
    assert timings["predicted_n"] == 48
    assert timings["cache_n"] == 0
    assert timings["prompt_ms"] == pytest.approx(20.0, abs=5.0)
    assert timings["predicted_ms"] == pytest.approx(47 * 2.0, abs=5.0)
    assert "timings" not in chunks[-2]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    deltas = [c["choices"][0]["delta"] for c in chunks[1:-2]]
    assert [set(d) for d in deltas] == [{"reasoning_content"}] * 16 + [{"content"}] * 32


@pytest.mark.asyncio
async def test_openai_inline_reasoning_splits_think_tags() -> None:
    config = SimConfig(timing=FAST, reasoning_style="inline")
    async with SimServer(config) as server, httpx.AsyncClient(base_url=server.url) as http:
        got = await stream_lines(http, "/v1/chat/completions", chat_body("sim-reasoner"))
        whole = await http.post(
            "/v1/chat/completions", json=chat_body("sim-reasoner", stream=False)
        )
    chunks = [json.loads(p) for p in sse_payloads(got)[:-1]]
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert pieces[:2] == ["<thi", "nk>"]
    assert pieces[18:20] == ["</th", "ink>"]
    text = "".join(p for p in pieces if p)
    assert re.fullmatch(r"<think>[^<]+</think>[^<]+", text)
    assert count_tokens(text.split("</think>")[1]) == 32
    message = whole.json()["choices"][0]["message"]
    assert message["content"] == text
    assert "reasoning_content" not in message


@pytest.mark.asyncio
async def test_tool_call_deltas_split_by_index() -> None:
    calls = (
        SimToolCall("get_weather", {"city": "Paris", "unit": "celsius"}),
        SimToolCall("get_time", {"zone": "Europe/Paris"}),
    )
    policy = ScriptedPolicy([SimReply(tool_calls=calls)])
    config = SimConfig(timing=FAST, policy=policy)
    async with SimServer(config) as server, httpx.AsyncClient(base_url=server.url) as http:
        body = chat_body(tools=[{"type": "function", "function": {"name": "get_weather"}}])
        got = await stream_lines(http, "/v1/chat/completions", body)
        whole = await http.post("/v1/chat/completions", json={**body, "stream": False})
    chunks = [json.loads(p) for p in sse_payloads(got)[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    names: dict[int, str] = {}
    ids: dict[int, str] = {}
    args: dict[int, list[str]] = {0: [], 1: []}
    for chunk in chunks[1:-1]:
        (entry,) = chunk["choices"][0]["delta"]["tool_calls"]  # one call piece per chunk
        index = entry["index"]
        if "id" in entry:
            assert entry["type"] == "function"
            assert entry["function"]["arguments"] == ""
            names[index] = entry["function"]["name"]
            ids[index] = entry["id"]
        else:
            assert set(entry) == {"index", "function"}
            args[index].append(entry["function"]["arguments"])
    assert names == {0: "get_weather", 1: "get_time"}
    assert ids[0] != ids[1]
    assert all(i.startswith("call_") for i in ids.values())
    assert all(len(pieces) >= 2 for pieces in args.values())
    assert json.loads("".join(args[0])) == {"city": "Paris", "unit": "celsius"}
    assert json.loads("".join(args[1])) == {"zone": "Europe/Paris"}

    choice = whole.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    sent = choice["message"]["tool_calls"]
    assert [c["function"]["name"] for c in sent] == ["get_weather", "get_time"]
    assert json.loads(sent[1]["function"]["arguments"]) == {"zone": "Europe/Paris"}


@pytest.mark.asyncio
async def test_openai_non_stream_timing_and_length(client: httpx.AsyncClient) -> None:
    headers = {"x-sim-ttft-ms": "60", "x-sim-token-ms": "10"}
    started = time.perf_counter()
    response = await client.post(
        "/v1/chat/completions", json=chat_body(stream=False, max_tokens=5), headers=headers
    )
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.060 + 4 * 0.010
    body = response.json()
    assert body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert count_tokens(choice["message"]["content"]) == 5
    assert body["usage"]["completion_tokens"] == 5
    assert body["timings"]["predicted_ms"] == pytest.approx(40.0, abs=4.0)
    assert body["timings"]["prompt_ms"] == pytest.approx(60.0, abs=4.0)


# --- timing -------------------------------------------------------------------------------------


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


@pytest.mark.asyncio
async def test_timing_exact_at_concurrency_1() -> None:
    async with SimServer(TIMED) as server, httpx.AsyncClient(base_url=server.url) as http:
        await http.get("/v1/models")  # open the connection first
        results = [await _timed_openai_stream(http) for _ in range(3)]
    _check_timing([ttft for ttft, _ in results], [rate for _, rate in results])


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


def test_jitter_deadlines_are_seeded_and_bounded() -> None:
    def deadlines(seed: int) -> list[float]:
        return token_deadlines(10.0, 50, 0.1, 0.01, 0.003, random.Random(seed))

    first = deadlines(1)
    assert first == deadlines(1)
    assert first != deadlines(2)
    for i, deadline in enumerate(first):
        assert abs(deadline - (10.0 + 0.1 + i * 0.01)) <= 0.003
    never_early = token_deadlines(5.0, 20, 0.0, 0.0, 1.0, random.Random(0))
    assert min(never_early) == 5.0  # jitter never moves a token before the request ended


def test_tokenizer_is_lossless() -> None:
    text = "  Hello,  world!\n\tnext line  "
    tokens = split_tokens(text)
    assert "".join(tokens) == text
    assert tokens == ["  Hello,", "  world!", "\n\tnext", " line  "]
    assert count_tokens("") == 0
    assert count_tokens("one two three") == 3


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


# --- Ollama ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_ollama_ndjson_shape_and_durations() -> None:
    timing = TimingModel(ttft_s=0.05, per_token_s=0.005)
    config = SimConfig(timing=timing, policy=DefaultPolicy(answer_tokens=20))
    async with SimServer(config) as server, httpx.AsyncClient(base_url=server.url) as http:
        body = {"model": "sim-small", "messages": USER}  # stream defaults to true
        got = await stream_lines(http, "/api/chat", body)
    assert got.status == 200
    assert got.content_type.startswith("application/x-ndjson")
    lines = [json.loads(line) for line in got.lines]
    assert len(lines) == 21
    for line in lines[:-1]:
        assert line["done"] is False
        assert line["model"] == "sim-small"
        assert line["message"]["role"] == "assistant"
        assert count_tokens(line["message"]["content"]) == 1
        assert "thinking" not in line["message"]
    final = lines[-1]
    assert final["message"] == {"role": "assistant", "content": ""}
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    assert final["prompt_eval_count"] == 6
    assert final["eval_count"] == 20
    assert final["eval_duration"] == pytest.approx(19 * 5_000_000, abs=3_000_000)
    assert final["prompt_eval_duration"] == pytest.approx(50_000_000, abs=3_000_000)
    parts = ("load_duration", "prompt_eval_duration", "eval_duration")
    assert final["total_duration"] >= sum(final[p] for p in parts)
    assert all(isinstance(final[k], int) for k in (*parts, "total_duration"))


@pytest.mark.asyncio
async def test_ollama_think_handling(client: httpx.AsyncClient) -> None:
    refused = await client.post("/api/chat", json=chat_body("sim-small", think=True))
    assert refused.status_code == 400
    assert refused.json() == {"error": '"sim-small" does not support thinking'}

    thinking = await stream_lines(client, "/api/chat", chat_body("sim-reasoner", think=True))
    messages = [json.loads(line)["message"] for line in thinking.lines[:-1]]
    assert [m["content"] for m in messages[:16]] == [""] * 16
    assert all(count_tokens(m["thinking"]) == 1 for m in messages[:16])
    assert all("thinking" not in m for m in messages[16:])
    assert len(messages) == 48

    quiet = await stream_lines(client, "/api/chat", chat_body("sim-reasoner", think=False))
    assert all("thinking" not in json.loads(line)["message"] for line in quiet.lines)
    assert json.loads(quiet.lines[-1])["eval_count"] == 32


@pytest.mark.asyncio
async def test_ollama_non_stream_and_num_predict(client: httpx.AsyncClient) -> None:
    body = chat_body("sim-reasoner", stream=False, options={"num_predict": 20})
    response = await client.post("/api/chat", json=body)
    assert response.headers["content-type"] == "application/json"
    reply = response.json()
    assert reply["done"] is True
    assert reply["done_reason"] == "length"
    assert reply["eval_count"] == 20
    assert count_tokens(reply["message"]["thinking"]) == 16
    assert count_tokens(reply["message"]["content"]) == 4


@pytest.mark.asyncio
async def test_ollama_tool_calls_arrive_whole() -> None:
    calls = (SimToolCall("add", {"a": 1, "b": 2}), SimToolCall("broken", '{"a": 1,'))
    config = SimConfig(timing=FAST, policy=ScriptedPolicy([SimReply(tool_calls=calls)]))
    async with SimServer(config) as server, httpx.AsyncClient(base_url=server.url) as http:
        got = await stream_lines(http, "/api/chat", chat_body())
    lines = [json.loads(line) for line in got.lines]
    assert len(lines) == 2
    assert lines[0]["message"]["tool_calls"] == [
        {"function": {"name": "add", "arguments": {"a": 1, "b": 2}}},
        {"function": {"name": "broken", "arguments": '{"a": 1,'}},
    ]
    assert lines[1]["done_reason"] == "stop"
    expected = 1 + len(split_tokens('{"a": 1, "b": 2}')) + 1 + len(split_tokens('{"a": 1,'))
    assert lines[1]["eval_count"] == expected


# --- faults -------------------------------------------------------------------------------------


def _fault(name: str, **more: str) -> dict[str, str]:
    return {"x-sim-fault": name, **more}


@pytest.mark.asyncio
async def test_fault_http_500(client: httpx.AsyncClient) -> None:
    openai = await client.post("/v1/chat/completions", json=chat_body(), headers=_fault("http_500"))
    assert openai.status_code == 500
    assert openai.json()["error"]["message"] == "simulated internal error"
    ollama = await client.post("/api/chat", json=chat_body(), headers=_fault("http_500"))
    assert ollama.status_code == 500
    assert ollama.json() == {"error": "simulated internal error"}


@pytest.mark.asyncio
async def test_fault_close_mid_stream(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    headers = _fault("close_mid_stream")

    async def read_all() -> None:
        async with client.stream(
            "POST", "/v1/chat/completions", json=chat_body(), headers=headers
        ) as response:
            async for line in response.aiter_lines():
                if line:
                    seen.append(line)

    with pytest.raises(httpx.RemoteProtocolError):
        await read_all()
    assert len(seen) == 1 + 3  # role chunk + fault_after_tokens tokens
    with pytest.raises(httpx.RemoteProtocolError):
        await stream_lines(client, "/api/chat", chat_body(), headers=headers)
    assert (await client.get("/v1/models")).status_code == 200  # server still serves


@pytest.mark.asyncio
async def test_fault_malformed_event(client: httpx.AsyncClient) -> None:
    got = await stream_lines(
        client, "/v1/chat/completions", chat_body(), headers=_fault("malformed_event")
    )
    payloads = sse_payloads(got)
    assert payloads[-1] == "[DONE]"
    broken = []
    for index, payload in enumerate(payloads[:-1]):
        try:
            json.loads(payload)
        except json.JSONDecodeError:
            broken.append(index)
    assert broken == [4]  # role chunk + 3 tokens, then the broken one
    assert len(payloads) == 1 + 32 + 1 + 1 + 1

    lines = (
        await stream_lines(client, "/api/chat", chat_body(), headers=_fault("malformed_event"))
    ).lines
    bad = [i for i, line in enumerate(lines) if not line.endswith("}")]
    assert bad == [3]
    assert json.loads(lines[-1])["done"] is True


@pytest.mark.asyncio
async def test_fault_stall(client: httpx.AsyncClient) -> None:
    headers = _fault("stall", **{"x-sim-stall-ms": "300"})
    got = await stream_lines(client, "/v1/chat/completions", chat_body(), headers=headers)
    gaps = [b - a for a, b in itertools.pairwise(got.times_s)]
    assert max(gaps) >= 0.300
    assert gaps.index(max(gaps)) == 3  # after the role chunk and 3 tokens
    assert sse_payloads(got)[-1] == "[DONE]"


@pytest.mark.asyncio
async def test_fault_no_usage(client: httpx.AsyncClient) -> None:
    body = chat_body(stream_options={"include_usage": True})
    got = await stream_lines(client, "/v1/chat/completions", body, headers=_fault("no_usage"))
    chunks = [json.loads(p) for p in sse_payloads(got)[:-1]]
    assert all("usage" not in c and "timings" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    ollama = await stream_lines(client, "/api/chat", chat_body(), headers=_fault("no_usage"))
    final = json.loads(ollama.lines[-1])
    assert final["done"] is True
    assert not {"eval_count", "prompt_eval_count", "eval_duration", "total_duration"} & set(final)


@pytest.mark.asyncio
async def test_fault_error_event(client: httpx.AsyncClient) -> None:
    got = await stream_lines(
        client, "/v1/chat/completions", chat_body(), headers=_fault("error_event")
    )
    payloads = sse_payloads(got)
    assert len(payloads) == 1 + 3 + 1
    assert json.loads(payloads[-1]) == {
        "error": {
            "message": "simulated server error",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    ollama = await stream_lines(client, "/api/chat", chat_body(), headers=_fault("error_event"))
    assert len(ollama.lines) == 4
    assert json.loads(ollama.lines[-1]) == {"error": "simulated server error"}


@pytest.mark.asyncio
async def test_fault_html_everywhere() -> None:
    config = SimConfig(timing=FAST, fault=Fault.HTML)
    async with SimServer(config) as server, httpx.AsyncClient(base_url=server.url) as http:
        for response in (
            await http.get("/v1/models"),
            await http.get("/api/tags"),
            await http.post("/v1/chat/completions", json=chat_body()),
            await http.get("/no/such/path"),
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/html")
            assert response.text.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.asyncio
async def test_fault_reject_stream_options(client: httpx.AsyncClient) -> None:
    headers = _fault("reject_stream_options")
    body = chat_body(stream_options={"include_usage": True})
    rejected = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert rejected.status_code == 400
    assert rejected.json()["error"]["message"] == (
        "Unrecognized request argument supplied: stream_options"
    )
    accepted = await stream_lines(client, "/v1/chat/completions", chat_body(), headers=headers)
    assert accepted.status == 200
    assert sse_payloads(accepted)[-1] == "[DONE]"


# --- overrides, policies, runners -----------------------------------------------------------


@pytest.mark.asyncio
async def test_header_overrides(client: httpx.AsyncClient) -> None:
    headers = {"x-sim-ttft-ms": "120", "x-sim-token-ms": "1", "x-sim-answer-tokens": "5"}
    got = await stream_lines(client, "/v1/chat/completions", chat_body(), headers=headers)
    assert len(got.lines) == 1 + 5 + 1 + 1
    assert got.times_s[1] - got.sent_s == pytest.approx(0.120, abs=0.01)

    for name, value in [
        ("x-sim-ttft-ms", "soon"),
        ("x-sim-token-ms", "-1"),
        ("x-sim-fault", "meteor"),
        ("x-sim-answer-tokens", "2.5"),
    ]:
        response = await client.post(
            "/v1/chat/completions", json=chat_body(), headers={name: value}
        )
        assert response.status_code == 400
        assert name in response.json()["error"]["message"]


@pytest.mark.asyncio
async def test_function_policy_sees_request() -> None:
    seen: list[SimRequest] = []

    def oracle(request: SimRequest) -> SimReply:
        seen.append(request)
        return SimReply(content="forty two")

    config = SimConfig(timing=FAST, policy=FunctionPolicy(oracle))
    async with SimServer(config) as server, httpx.AsyncClient(base_url=server.url) as http:
        body = chat_body(stream=False, max_completion_tokens=9, tools=[{"type": "function"}])
        reply = (await http.post("/v1/chat/completions", json=body)).json()
    assert reply["choices"][0]["message"]["content"] == "forty two"
    (request,) = seen
    assert request.api == "openai"
    assert request.model == "sim-small"
    assert request.max_tokens == 9
    assert request.think is None
    assert request.stream is False
    assert request.tools == [{"type": "function"}]
    assert request.messages == USER


@pytest.mark.asyncio
async def test_concurrent_requests_get_distinct_ids() -> None:
    reply = SimReply(tool_calls=(SimToolCall("f", {"x": 1}),))
    config = SimConfig(timing=FAST, policy=ScriptedPolicy([reply]))
    async with SimServer(config) as server, httpx.AsyncClient(base_url=server.url) as http:
        body = chat_body(stream=False)
        replies = await asyncio.gather(
            *(http.post("/v1/chat/completions", json=body) for _ in range(16))
        )
    bodies = [r.json() for r in replies]
    assert len({b["id"] for b in bodies}) == 16
    call_ids = {b["choices"][0]["message"]["tool_calls"][0]["id"] for b in bodies}
    assert len(call_ids) == 16


@pytest.mark.asyncio
async def test_stop_closes_open_streams() -> None:
    config = SimConfig(timing=TimingModel(ttft_s=0.01, per_token_s=0.05))
    server = SimServer(config)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            reading = asyncio.ensure_future(stream_lines(http, "/api/chat", chat_body()))
            await asyncio.sleep(0.1)
            started = time.perf_counter()
            await server.stop()
            assert time.perf_counter() - started < 1.0
            with pytest.raises(httpx.RemoteProtocolError):
                await asyncio.wait_for(reading, timeout=5.0)
    finally:
        await server.stop()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"{server.url}/v1/models")


def test_sim_thread_start_stop() -> None:
    runner = SimThread(SimConfig(timing=FAST))
    url = runner.start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        response = httpx.get(f"{url}/v1/models", timeout=5.0)
        assert response.status_code == 200
        assert runner.request_count == 1
    finally:
        runner.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v1/models", timeout=2.0)


@pytest.mark.asyncio
async def test_cli_serves_and_stops() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest_llmserver.sim",
        "--port",
        "0",
        "--ttft-ms",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=10.0)).decode()
        match = re.fullmatch(r"pytest-llmserver sim listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        async with httpx.AsyncClient(base_url=match.group(1)) as http:
            models = (await http.get("/v1/models")).json()
        assert [m["id"] for m in models["data"]] == ["sim-small", "sim-reasoner"]
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10.0) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.asyncio
async def test_cli_refuses_non_loopback_host() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest_llmserver.sim",
        "--host",
        "192.0.2.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), timeout=10.0)
    assert process.returncode == 2
    assert b"not a loopback address" in err
