"""ModelClient over OpenAI SSE (respx-mocked): metrics from controlled chunk times."""

from __future__ import annotations

import json

import pytest
import respx

from pytest_llmserver.client import ModelClient
from tests.client.mocked import OPENAI_URL, approx
from tests.clocked import FakeClock, clocked_response, delta, sse

pytestmark = pytest.mark.asyncio


@respx.mock
async def test_openai_metrics_from_chunk_times(
    openai_client: ModelClient, clock: FakeClock
) -> None:
    usage = {
        "choices": [],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 3},
        },
        "timings": {
            "prompt_ms": 150.0,
            "predicted_ms": 80.0,
            "predicted_per_second": 50.0,
            "prompt_per_second": 73.3,
            "predicted_n": 5,
            "prompt_n": 8,
            "cache_n": 3,
        },
    }
    route = respx.post(OPENAI_URL).mock(
        return_value=clocked_response(
            clock,
            [
                (50, sse(delta(role="assistant", content=None))),
                (200, sse(delta(content="One"))),
                (220, sse(delta(content=" two"))),
                (240, sse(delta(content=" three"))),
                (260, sse(delta(content=" four"))),
                # The server counts the unstreamed end-of-sequence token; finish arrives after it.
                (280, sse(delta(finish="stop"))),
                (281, sse(usage) + sse(b"[DONE]")),
            ],
        )
    )
    pieces = [p async for p in openai_client.chat_stream("hi")]
    assert pieces == ["One", " two", " three", " four"]
    m = openai_client.last_metrics
    assert m is not None
    assert m.ttfb_s == approx(0.050)
    assert m.ttft == m.ttft_s == approx(0.200)
    assert m.ttfc_s == approx(0.200)
    assert m.e2e_s == approx(0.281)
    assert m.itl_s == [approx(0.020)] * 3
    assert (m.output_tokens, m.output_tokens_source) == (5, "usage")
    assert (m.prompt_tokens, m.prompt_tokens_source, m.cached_tokens) == (11, "usage", 3)
    assert m.decode_tps == pytest.approx(4 / 0.080)
    assert m.tpot_s == pytest.approx(0.020)
    assert m.server_decode_tps == 50.0
    assert m.server_prefill_tps == 73.3
    assert (m.prompt_eval_duration_ns, m.eval_duration_ns) == (150_000_000, 80_000_000)
    assert m.finish_reason == "stop"
    body = json.loads(route.calls.last.request.content)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hi"}]


@respx.mock
async def test_openai_reasoning_field_sets_ttft_and_ttfc_apart(
    openai_client: ModelClient, clock: FakeClock
) -> None:
    respx.post(OPENAI_URL).mock(
        return_value=clocked_response(
            clock,
            [
                (10, sse(delta(role="assistant"))),
                (100, sse(delta(reasoning_content="Let me"))),
                (120, sse(delta(reasoning=" think"))),
                (300, sse(delta(content="Yes"))),
                (320, sse(delta(content=".", finish="stop")) + sse(b"[DONE]")),
            ],
        )
    )
    assert await openai_client.chat("q") == "Yes."
    m = openai_client.last_metrics
    assert m is not None
    assert m.ttfb_s == approx(0.010)
    assert m.ttft_s == approx(0.100)
    assert m.ttfc_s == approx(0.300)
    assert (m.reasoning_tokens, m.reasoning_tokens_source) == (2, "estimate")
    assert (m.output_tokens, m.output_tokens_source) == (4, "estimate")
    assert openai_client.last_response is not None
    assert openai_client.last_response.reasoning == "Let me think"


@respx.mock
async def test_inline_think_tags_split_across_chunks(
    openai_client: ModelClient, clock: FakeClock
) -> None:
    pieces = ["<thi", "nk>plan", " it</th", "ink>\n\n", "The", " answer <b>", "</b>"]
    chunks = [(100 + 10 * i, sse(delta(content=p))) for i, p in enumerate(pieces)]
    chunks.append((200, sse(delta(finish="stop")) + sse(b"[DONE]")))
    respx.post(OPENAI_URL).mock(return_value=clocked_response(clock, chunks))
    streamed = [p async for p in openai_client.chat_stream("q")]
    response = openai_client.last_response
    assert response is not None
    assert response.reasoning == "plan it"
    assert "".join(streamed) == response.content == "\n\nThe answer <b></b>"
    m = response.metrics
    assert m.ttft_s == approx(0.100)
    # "ink>\n\n" (+130 ms) closes the block with white space only: "The" (+140 ms) is first.
    assert m.ttfc_s == approx(0.140)
    assert m.reasoning_tokens == 2  # "nk>plan" and " it</th"; "<thi" was still undecided


@respx.mock
async def test_sse_line_split_across_reads_is_stamped_when_complete(
    openai_client: ModelClient, clock: FakeClock
) -> None:
    event = sse(delta(content="Hello"))
    respx.post(OPENAI_URL).mock(
        return_value=clocked_response(
            clock,
            [(40, event[:9]), (70, event[9:]), (90, sse(delta(finish="stop")) + b"data: [DONE]")],
        )
    )
    assert await openai_client.chat("q") == "Hello"
    m = openai_client.last_metrics
    assert m is not None
    assert m.ttft_s == approx(0.070)


@respx.mock
async def test_streamed_tool_calls_assembled_by_index(
    openai_client: ModelClient, clock: FakeClock
) -> None:
    def call(index: int, **fn: str) -> bytes:
        head = {"index": index, "function": fn}
        if "name" in fn:
            head.update(id=f"call_{index}x", type="function")
        return sse(delta(tool_calls=[head]))

    chunks = [
        (5, sse(delta(role="assistant"))),
        (100, call(0, name="functions.calculator", arguments="")),
        (110, call(1, name="get_weather", arguments='{"ci')),
        (120, call(0, arguments='{"expression": ')),
        (130, call(1, arguments='ty": "Oslo"}')),
        (140, call(0, arguments='"2+2"}')),
        (150, call(2, name="broken", arguments='{"a": 1,,}')),
        (160, sse(delta(finish="tool_calls")) + sse(b"[DONE]")),
    ]
    respx.post(OPENAI_URL).mock(return_value=clocked_response(clock, chunks))
    tools = [{"type": "function", "function": {"name": "calculator", "parameters": {}}}]
    response = await openai_client.chat_with_tools([{"role": "user", "content": "x"}], tools)
    calls = response.tool_calls
    assert [c.name for c in calls] == ["functions.calculator", "get_weather", "broken"]
    assert calls[0].arguments == {"expression": "2+2"}
    assert calls[0].id == "call_0x"
    assert calls[1].arguments == {"city": "Oslo"}
    assert calls[2].arguments is None
    assert calls[2].malformed
    assert calls[2].arguments_error is not None
    assert "malformed JSON" in calls[2].arguments_error
    assert calls[2].arguments_raw == '{"a": 1,,}'
    assert response.finish_reason == "tool_calls"
    assert response.metrics.ttf_tool_call_s == approx(0.100)
    assert response.metrics.ttfc_s is None
    message = response.assistant_message()
    assert message["tool_calls"][1]["function"]["arguments"] == '{"city": "Oslo"}'
    result = openai_client.tool_result_message(calls[1], "12 C")
    assert result == {"role": "tool", "tool_call_id": "call_1x", "content": "12 C"}


@respx.mock
async def test_openai_non_streamed_with_tool_calls(
    openai_client: ModelClient, clock: FakeClock
) -> None:
    reply = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "need a tool",
                    "tool_calls": [
                        {
                            "id": "a",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"x": 1}'},
                        },
                        {
                            "id": "b",
                            "type": "function",
                            "function": {"name": "g", "arguments": {"y": "z"}},
                        },
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 9},
    }
    respx.post(OPENAI_URL).mock(
        return_value=clocked_response(
            clock, [(300, json.dumps(reply).encode())], "application/json"
        )
    )
    response = await openai_client.chat_with_tools(
        [{"role": "user", "content": "x"}], [{"type": "function"}], stream=False
    )
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("f", {"x": 1}),
        ("g", {"y": "z"}),
    ]
    assert response.reasoning == "need a tool"
    assert response.metrics.ttfb_s == approx(0.300)
    assert response.metrics.output_tokens == 9


@respx.mock
async def test_tool_calls_at_one_index_are_told_apart_by_id(
    openai_client: ModelClient, clock: FakeClock
) -> None:
    """A new id at an index that holds another id starts a new call (never one merged name
    such as ``calculatorget_weather``); an id repeated on every delta stays one call."""

    def call(**fields: object) -> bytes:
        return sse(delta(tool_calls=[{"index": 0, **fields}]))

    chunks = [
        (10, call(id="a", function={"name": "calculator", "arguments": '{"x": '})),
        (20, call(id="a", function={"arguments": "1}"})),
        (30, call(id="b", function={"name": "get_weather", "arguments": ""})),
        (40, call(function={"arguments": '{"city": "Oslo"}'})),
        (50, sse(delta(finish="tool_calls")) + sse(b"[DONE]")),
    ]
    respx.post(OPENAI_URL).mock(return_value=clocked_response(clock, chunks))
    response = await openai_client.chat_with_tools([{"role": "user", "content": "x"}], [{}])
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("a", "calculator", {"x": 1}),
        ("b", "get_weather", {"city": "Oslo"}),
    ]
    assert [c.index for c in response.tool_calls] == [0, 1]
