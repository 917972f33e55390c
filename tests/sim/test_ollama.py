"""The Ollama native chat of the simulator: NDJSON shape, durations in ns, think, num_predict
and tool calls that arrive whole."""

from __future__ import annotations

import json

import httpx
import pytest

from pytest_llmserver.sim import (
    DefaultPolicy,
    ScriptedPolicy,
    SimConfig,
    SimReply,
    SimServer,
    SimToolCall,
    TimingModel,
    count_tokens,
    split_tokens,
)
from tests.sim.helpers import FAST, USER, chat_body, stream_lines


@pytest.mark.timing
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
