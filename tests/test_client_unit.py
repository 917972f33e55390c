"""ModelClient against respx-mocked servers: metrics from controlled chunk times, both APIs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from pytest_llmserver.client import (
    LLMConnectError,
    LLMContextOverflowError,
    LLMHTTPStatusError,
    LLMProtocolError,
    LLMServerEventError,
    LLMStreamClosedError,
    LLMTimeoutError,
    ModelClient,
    Timeouts,
)
from tests.clocked import FakeClock, clocked_response, delta, ndjson, sse

BASE = "http://127.0.0.1:9"
OPENAI_URL = BASE + "/v1/chat/completions"
OLLAMA_URL = BASE + "/api/chat"

pytestmark = pytest.mark.asyncio


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def openai_client(clock: FakeClock) -> AsyncIterator[ModelClient]:
    async with ModelClient({"url": BASE, "type": "openai"}, "m", clock=clock) as client:
        yield client


@pytest.fixture
async def ollama_client(clock: FakeClock) -> AsyncIterator[ModelClient]:
    async with ModelClient({"url": BASE, "type": "ollama"}, "m", clock=clock) as client:
        yield client


def approx(value: float) -> object:
    return pytest.approx(value, abs=1e-9)


# OpenAI SSE --------------------------------------------------------------------------------


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


# Ollama NDJSON -----------------------------------------------------------------------------


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


# Errors ------------------------------------------------------------------------------------


@respx.mock
async def test_http_status_error_carries_server_message(openai_client: ModelClient) -> None:
    respx.post(OPENAI_URL).mock(
        return_value=httpx.Response(
            404, json={"error": {"message": "The model 'nope' does not exist", "code": "x"}}
        )
    )
    with pytest.raises(LLMHTTPStatusError) as info:
        await openai_client.chat("q")
    assert info.value.status_code == 404
    assert str(info.value) == f"HTTP 404 from {OPENAI_URL}: The model 'nope' does not exist"
    assert info.value.metrics is not None
    assert info.value.metrics.http_status == 404


@respx.mock
async def test_ollama_plain_error_body_and_context_overflow(ollama_client: ModelClient) -> None:
    respx.post(OLLAMA_URL).mock(
        return_value=httpx.Response(400, json={"error": "input exceeds the context length"})
    )
    with pytest.raises(LLMContextOverflowError, match="exceeds the context length"):
        await ollama_client.chat("q")


@respx.mock
async def test_html_reply_is_a_protocol_error(openai_client: ModelClient) -> None:
    respx.post(OPENAI_URL).mock(
        return_value=httpx.Response(200, html="<html><body>Router login</body></html>")
    )
    with pytest.raises(LLMProtocolError, match="HTML page"):
        await openai_client.chat("q")


@respx.mock
async def test_malformed_event_is_a_protocol_error(
    openai_client: ModelClient, clock: FakeClock
) -> None:
    respx.post(OPENAI_URL).mock(
        return_value=clocked_response(
            clock, [(10, sse(delta(content="a"))), (20, b'data: {"choices": [\n\n')]
        )
    )
    with pytest.raises(LLMProtocolError, match="malformed event") as info:
        await openai_client.chat("q")
    assert info.value.metrics is not None
    assert info.value.metrics.ttft_s == approx(0.010)


@respx.mock
async def test_error_event_inside_stream(ollama_client: ModelClient, clock: FakeClock) -> None:
    respx.post(OLLAMA_URL).mock(
        return_value=clocked_response(
            clock,
            [
                (10, ndjson({"message": {"content": "x"}, "done": False})),
                (20, ndjson({"error": "out of memory"})),
            ],
            "application/x-ndjson",
        )
    )
    with pytest.raises(LLMServerEventError, match="out of memory"):
        await ollama_client.chat("q")


@respx.mock
async def test_openai_error_event_inside_stream(
    openai_client: ModelClient, clock: FakeClock
) -> None:
    respx.post(OPENAI_URL).mock(
        return_value=clocked_response(
            clock, [(10, sse({"error": {"message": "slot unavailable", "type": "server_error"}}))]
        )
    )
    with pytest.raises(LLMServerEventError, match="slot unavailable"):
        await openai_client.chat("q")


@respx.mock
async def test_stream_without_end_marker_is_an_error(
    ollama_client: ModelClient, clock: FakeClock
) -> None:
    respx.post(OLLAMA_URL).mock(
        return_value=clocked_response(
            clock,
            [(10, ndjson({"message": {"content": "x"}, "done": False}))],
            "application/x-ndjson",
        )
    )
    with pytest.raises(LLMStreamClosedError, match="ended before its end marker"):
        await ollama_client.chat("q")


@respx.mock
async def test_connect_and_timeout_errors(openai_client: ModelClient) -> None:
    route = respx.post(OPENAI_URL)
    route.side_effect = httpx.ConnectError("[Errno 111] Connection refused")
    with pytest.raises(LLMConnectError, match=r"cannot connect to .*Connection refused"):
        await openai_client.chat("q")
    route.side_effect = httpx.ReadTimeout("timed out")
    with pytest.raises(LLMTimeoutError, match="read inactivity") as info:
        await openai_client.chat("q")
    assert info.value.phase == "read"


@respx.mock
async def test_total_deadline(clock: FakeClock) -> None:
    respx.post(OPENAI_URL).mock(
        return_value=clocked_response(
            clock, [(10, sse(delta(content="a"))), (2500, sse(delta(content="b")))]
        )
    )
    async with ModelClient(
        {"url": BASE}, "m", clock=clock, timeouts=Timeouts.from_total(2.0)
    ) as client:
        with pytest.raises(LLMTimeoutError, match="did not finish within 2 s") as info:
            await client.chat("q")
    assert info.value.phase == "total"


@respx.mock
async def test_stream_options_refused_falls_back_once(
    openai_client: ModelClient, clock: FakeClock
) -> None:
    refused = httpx.Response(
        400, json={"error": {"message": "Unrecognized request argument supplied: stream_options"}}
    )
    ok = clocked_response(clock, [(30, sse(delta(content="ok", finish="stop")) + sse(b"[DONE]"))])
    route = respx.post(OPENAI_URL).mock(side_effect=[refused, ok])
    assert await openai_client.chat("q") == "ok"
    assert route.call_count == 2
    assert "stream_options" in json.loads(route.calls[0].request.content)
    assert "stream_options" not in json.loads(route.calls[1].request.content)
    m = openai_client.last_metrics
    assert m is not None
    assert m.usage_fallback
    assert m.output_tokens_source == "estimate"
    assert not openai_client.include_usage


@respx.mock
async def test_other_400_is_not_retried(openai_client: ModelClient) -> None:
    route = respx.post(OPENAI_URL).mock(
        return_value=httpx.Response(400, json={"error": {"message": "bad temperature"}})
    )
    with pytest.raises(LLMHTTPStatusError, match="bad temperature"):
        await openai_client.chat("q")
    assert route.call_count == 1


# Send stamp through httpx's trace extension ------------------------------------------------


class TracingTransport(httpx.AsyncBaseTransport):
    """Plays httpcore's trace events at set times, then answers (or drops) the request."""

    def __init__(self, clock: FakeClock, script: list[tuple[list[tuple[float, str]], object]]):
        self.clock = clock
        self.script = script
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        events, outcome = self.script[self.calls]
        self.calls += 1
        trace = request.extensions["trace"]
        for at_ms, name in events:
            self.clock.at_ms(at_ms)
            await trace(name, {})
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, httpx.Response)
        return outcome


CONNECT: list[tuple[float, str]] = [
    (10, "connection.connect_tcp.started"),
    (11, "connection.connect_tcp.complete"),
    (12, "http11.send_request_headers.started"),
    (15, "http11.send_request_body.complete"),
]
REUSED: list[tuple[float, str]] = [
    (2, "http11.send_request_headers.started"),
    (3, "http11.send_request_body.complete"),
]


def _answer(clock: FakeClock) -> httpx.Response:
    return clocked_response(clock, [(215, sse(delta(content="x", finish="stop")) + sse(b"[DONE]"))])


async def test_client_setup_and_connect_are_not_in_ttft(clock: FakeClock) -> None:
    transport = TracingTransport(clock, [(CONNECT, _answer(clock))])
    async with ModelClient({"url": BASE}, "m", clock=clock, transport=transport) as client:
        await client.chat("q")
    m = client.last_metrics
    assert m is not None
    assert m.send_traced
    assert m.pool_wait_s == approx(0.010)
    assert m.connect_s == approx(0.001)
    assert m.ttft_s == approx(0.200)


async def test_stale_keepalive_connection_is_retried_once_and_recorded(clock: FakeClock) -> None:
    dropped = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    transport = TracingTransport(clock, [(REUSED, dropped), (CONNECT, _answer(clock))])
    async with ModelClient({"url": BASE}, "m", clock=clock, transport=transport) as client:
        assert await client.chat("q") == "x"
    m = client.last_metrics
    assert m is not None
    assert transport.calls == 2
    assert m.stale_connection_retry
    assert m.ttft_s == approx(0.200)


async def test_drop_on_a_fresh_connection_is_not_retried(clock: FakeClock) -> None:
    dropped = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    transport = TracingTransport(clock, [(CONNECT, dropped), (CONNECT, _answer(clock))])
    async with ModelClient({"url": BASE}, "m", clock=clock, transport=transport) as client:
        with pytest.raises(LLMStreamClosedError, match="broke mid-response"):
            await client.chat("q")
    assert transport.calls == 1


async def test_pool_is_sized_to_concurrency() -> None:
    async with ModelClient({"url": BASE}, "m", concurrency=64) as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections == 64
        assert pool._max_keepalive_connections == 64
