"""ModelClient over Ollama NDJSON (respx-mocked): metrics, thinking, tool calls."""

from __future__ import annotations

import json

import pytest
import respx

from pytest_llmserver.client import ModelClient
from tests.client.mocked import OLLAMA_URL, approx
from tests.clocked import FakeClock, clocked_response, ndjson

pytestmark = pytest.mark.asyncio


@respx.mock
async def test_ollama_metrics_thinking_and_server_counts(
    ollama_client: ModelClient, clock: FakeClock
) -> None:
    def line(**message: object) -> bytes:
        return ndjson({"model": "m", "message": {"role": "assistant", **message}, "done": False})

    final = {
        "model": "m",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 12,
        "prompt_eval_duration": 60_000_000,
        "eval_count": 4,
        "eval_duration": 80_000_000,
        "load_duration": 2_500_000_000,
    }
    route = respx.post(OLLAMA_URL).mock(
        return_value=clocked_response(
            clock,
            [
                (150, line(content="", thinking="Hmm")),
                (170, line(content="", thinking=".")),
                (190, line(content="Paris")),
                (210, line(content=".")),
                (211, ndjson(final)),
            ],
            "application/x-ndjson",
        )
    )
    answer = await ollama_client.chat("capital?", enable_thinking=True, max_tokens=64)
    assert answer == "Paris."
    m = ollama_client.last_metrics
    assert m is not None
    assert m.ttfb_s == m.ttft_s == approx(0.150)
    assert m.ttfc_s == approx(0.190)
    assert (m.output_tokens, m.output_tokens_source) == (4, "server")
    assert (m.prompt_tokens, m.prompt_tokens_source) == (12, "server")
    assert m.server_decode_tps == pytest.approx(4 / 0.080)
    assert m.server_prefill_tps == pytest.approx(12 / 0.060)
    assert m.load_duration_ns == 2_500_000_000  # a cold load, for the server-metrics report
    assert m.decode_tps == pytest.approx(3 / 0.061)
    assert m.reasoning_tokens == 2
    assert ollama_client.last_response is not None
    assert ollama_client.last_response.reasoning == "Hmm."
    body = json.loads(route.calls.last.request.content)
    assert body["think"] is True
    assert body["options"] == {"num_predict": 64}
    assert body["stream"] is True


@respx.mock
async def test_ollama_tool_calls_with_object_arguments(
    ollama_client: ModelClient, clock: FakeClock
) -> None:
    calls = [
        {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
        {"function": {"name": "bad", "arguments": "{not json"}},
    ]
    final = {
        "model": "m",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "eval_count": 20,
        "eval_duration": 1_000_000,
    }
    respx.post(OLLAMA_URL).mock(
        return_value=clocked_response(
            clock,
            [
                (
                    80,
                    ndjson(
                        {
                            "message": {"role": "assistant", "content": "", "tool_calls": calls},
                            "done": False,
                        }
                    ),
                ),
                (90, ndjson(final)),
            ],
            "application/x-ndjson",
        )
    )
    response = await ollama_client.chat_with_tools([{"role": "user", "content": "x"}], [{}])
    assert response.tool_calls[0].arguments == {"city": "Rome"}
    assert response.tool_calls[1].malformed
    assert response.metrics.ttf_tool_call_s == approx(0.080)
    assert response.assistant_message()["tool_calls"][0] == {
        "function": {"name": "get_weather", "arguments": {"city": "Rome"}}
    }
    assert ollama_client.tool_result_message(response.tool_calls[0], "sunny") == {
        "role": "tool",
        "content": "sunny",
        "tool_name": "get_weather",
    }


@respx.mock
async def test_ollama_non_streamed(ollama_client: ModelClient, clock: FakeClock) -> None:
    reply = {
        "model": "m",
        "message": {"role": "assistant", "content": "Hi"},
        "done": True,
        "done_reason": "length",
        "eval_count": 1,
        "eval_duration": 5,
    }
    respx.post(OLLAMA_URL).mock(
        return_value=clocked_response(clock, [(40, json.dumps(reply).encode())], "application/json")
    )
    response = await ollama_client.complete([{"role": "user", "content": "x"}], stream=False)
    assert (response.content, response.finish_reason) == ("Hi", "length")
