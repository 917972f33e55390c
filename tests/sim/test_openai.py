"""The OpenAI-compatible chat of the simulator: SSE shape, usage, inline reasoning, tool-call
deltas and the whole (non-streamed) reply."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from pytest_llmserver.sim import (
    ScriptedPolicy,
    SimConfig,
    SimReply,
    SimServer,
    SimToolCall,
    count_tokens,
)
from tests.sim.helpers import FAST, chat_body, sse_payloads, stream_lines


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


@pytest.mark.timing
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


@pytest.mark.timing
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
