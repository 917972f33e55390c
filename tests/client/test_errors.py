"""ModelClient failures (respx-mocked): every one a typed error; the one usage fallback."""

from __future__ import annotations

import json

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
from tests.client.mocked import BASE, OLLAMA_URL, OPENAI_URL, approx
from tests.clocked import FakeClock, clocked_response, delta, ndjson, sse

pytestmark = pytest.mark.asyncio


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
