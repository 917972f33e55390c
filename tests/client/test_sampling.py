"""Temperature and sampling seed in both protocols; a server that refuses the seed."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from pytest_llmserver.client import LLMHTTPStatusError, ModelClient
from tests.client.mocked import BASE, OLLAMA_URL, OPENAI_URL, ndjson_ok, sse_ok
from tests.clocked import FakeClock

pytestmark = pytest.mark.asyncio


@respx.mock
async def test_openai_sends_temperature_and_seed(clock: FakeClock) -> None:
    route = respx.post(OPENAI_URL).mock(return_value=sse_ok(clock))
    async with ModelClient(
        {"url": BASE, "type": "openai"}, "m", temperature=0.0, seed=42, clock=clock
    ) as client:
        assert await client.chat("q") == "ok"
    body = json.loads(route.calls.last.request.content)
    assert (body["temperature"], body["seed"]) == (0.0, 42)


@respx.mock
async def test_ollama_sends_them_as_options(clock: FakeClock) -> None:
    route = respx.post(OLLAMA_URL).mock(return_value=ndjson_ok(clock))
    async with ModelClient(
        {"url": BASE, "type": "ollama"}, "m", temperature=0.0, seed=7, max_tokens=5, clock=clock
    ) as client:
        assert await client.chat("q") == "ok"
    body = json.loads(route.calls.last.request.content)
    assert body["options"] == {"num_predict": 5, "temperature": 0.0, "seed": 7}
    assert "seed" not in body


@respx.mock
async def test_nothing_sent_when_not_set(openai_client: ModelClient, clock: FakeClock) -> None:
    route = respx.post(OPENAI_URL).mock(return_value=sse_ok(clock))
    await openai_client.chat("q")
    body = json.loads(route.calls.last.request.content)
    assert "seed" not in body
    assert "temperature" not in body


@pytest.mark.parametrize(
    ("kind", "url", "ok"), [("openai", OPENAI_URL, sse_ok), ("ollama", OLLAMA_URL, ndjson_ok)]
)
@respx.mock
async def test_a_refused_seed_is_dropped_once(
    clock: FakeClock, kind: str, url: str, ok: object
) -> None:
    refused = httpx.Response(400, json={"error": {"message": "unknown field: seed"}})
    route = respx.post(url).mock(side_effect=[refused, ok(clock), ok(clock)])  # type: ignore[operator]
    async with ModelClient(
        {"url": BASE, "type": kind}, "m", temperature=0.0, seed=3, clock=clock
    ) as client:
        assert await client.chat("q") == "ok"
        assert (client.seed, client.seed_refused) == (None, True)
        await client.chat("again")
    assert route.call_count == 3
    first, second, third = (json.loads(call.request.content) for call in route.calls)
    assert "seed" in json.dumps(first)
    assert "seed" not in json.dumps(second)
    assert "seed" not in json.dumps(third)
    assert "temperature" in json.dumps(second)


@respx.mock
async def test_a_400_naming_no_seed_is_not_retried(clock: FakeClock) -> None:
    route = respx.post(OPENAI_URL).mock(
        return_value=httpx.Response(400, json={"error": {"message": "bad temperature"}})
    )
    async with ModelClient(
        {"url": BASE, "type": "openai"}, "m", temperature=9.0, seed=3, clock=clock
    ) as client:
        with pytest.raises(LLMHTTPStatusError, match="bad temperature"):
            await client.chat("q")
        assert (client.seed, client.seed_refused) == (3, False)
    assert route.call_count == 1
