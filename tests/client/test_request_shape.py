"""top_p, the extra body and extra headers in both protocols: where each field goes, which
side wins a merge, and that a secret header value stays out of error text."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
import respx

from pytest_llmserver.client import CLIENT_KEYS, LLMHTTPStatusError, ModelClient, merge_extra
from tests.client.mocked import BASE, OLLAMA_URL, OPENAI_URL, ndjson_ok, sse_ok
from tests.clocked import FakeClock, delta, ndjson, sse

pytestmark = pytest.mark.asyncio


async def _sent(clock: FakeClock, kind: str, **kwargs: Any) -> httpx.Request:
    url, ok = (OPENAI_URL, sse_ok) if kind == "openai" else (OLLAMA_URL, ndjson_ok)
    with respx.mock:
        route = respx.post(url).mock(return_value=ok(clock))
        async with ModelClient({"url": BASE, "type": kind}, "m", clock=clock, **kwargs) as client:
            assert await client.chat("q") == "ok"
        request: httpx.Request = route.calls.last.request
    return request


def _body(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


async def test_openai_sends_top_p_at_the_top(clock: FakeClock) -> None:
    body = _body(await _sent(clock, "openai", top_p=0.9, temperature=0.5))
    assert (body["top_p"], body["temperature"]) == (0.9, 0.5)


async def test_ollama_sends_top_p_in_options(clock: FakeClock) -> None:
    body = _body(await _sent(clock, "ollama", top_p=0.9, seed=1))
    assert body["options"] == {"seed": 1, "top_p": 0.9}
    assert "top_p" not in body


async def test_no_top_p_unless_asked(clock: FakeClock) -> None:
    assert "top_p" not in json.dumps(_body(await _sent(clock, "ollama", seed=1)))


async def test_openai_extra_body_adds_and_replaces_fields(clock: FakeClock) -> None:
    extra = {"ignore_eos": True, "temperature": 0.7, "chat_template_kwargs": {"x": 1}}
    request = await _sent(clock, "openai", temperature=0.0, max_tokens=9, extra_body=extra)
    body = _body(request)
    assert (body["ignore_eos"], body["temperature"], body["max_tokens"]) == (True, 0.7, 9)
    assert body["stream_options"] == {"include_usage": True}
    assert body["chat_template_kwargs"] == {"x": 1}


async def test_ollama_extra_options_merge_into_options(clock: FakeClock) -> None:
    extra = {"options": {"num_ctx": 4096, "seed": 5}, "keep_alive": "1m"}
    body = _body(await _sent(clock, "ollama", seed=1, max_tokens=3, extra_body=extra))
    assert body["options"] == {"num_predict": 3, "seed": 5, "num_ctx": 4096}
    assert body["keep_alive"] == "1m"


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_the_client_keeps_model_messages_and_stream(clock: FakeClock, kind: str) -> None:
    extra = {"model": "other", "messages": [], "stream": False, "top_k": 3}
    body = _body(await _sent(clock, kind, extra_body=extra))
    assert body["model"] == "m"
    assert body["messages"] == [{"role": "user", "content": "q"}]
    assert body["stream"] is True
    assert body["top_k"] == 3
    assert {"model", "messages", "stream"} == CLIENT_KEYS


async def test_merge_extra_leaves_the_extra_body_untouched() -> None:
    extra: dict[str, Any] = {"options": {"seed": 5}, "stop": ["x"]}
    body = merge_extra({"model": "m", "stream": True}, extra)
    body["options"].pop("seed")
    assert extra == {"options": {"seed": 5}, "stop": ["x"]}
    assert merge_extra({"a": 1}, None) == {"a": 1}


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_headers_go_out_on_every_request(clock: FakeClock, kind: str) -> None:
    request = await _sent(clock, kind, headers={"X-Bench": "shape", "X-Api-Key": "hk-1"})
    assert request.headers["x-bench"] == "shape"
    assert request.headers["x-api-key"] == "hk-1"


@respx.mock
async def test_a_secret_header_value_is_redacted_from_errors(clock: FakeClock) -> None:
    secret = "hk-secret-0123456789"
    echo = httpx.Response(400, json={"error": {"message": f"bad key {secret}"}})
    respx.post(OPENAI_URL).mock(return_value=echo)
    async with ModelClient(
        {"url": BASE, "type": "openai"}, "m", headers={"X-Api-Key": secret}, clock=clock
    ) as client:
        with pytest.raises(LLMHTTPStatusError) as caught:
            await client.chat("q")
    assert secret not in str(caught.value)
    assert secret not in caught.value.server_message


@respx.mock
async def test_a_seed_in_the_extra_body_is_not_retried_forever(clock: FakeClock) -> None:
    refused = httpx.Response(400, json={"error": {"message": "unknown field: seed"}})
    route = respx.post(OPENAI_URL).mock(return_value=refused)
    async with ModelClient(
        {"url": BASE, "type": "openai"}, "m", seed=3, extra_body={"seed": 4}, clock=clock
    ) as client:
        with pytest.raises(LLMHTTPStatusError):
            await client.chat("q")
    assert route.call_count == 2  # once with the seed, once without the client's own


async def _recorded(kind: str, **kwargs: Any) -> tuple[bytes, dict[str, Any]]:
    """One chat over the client's own wire to a loopback server: the request head as sent
    and the body."""
    seen: list[bytes] = []
    if kind == "openai":
        reply, ctype = sse(delta(content="ok", finish="stop")) + sse(b"[DONE]"), "text/event-stream"
    else:
        reply = ndjson({"message": {"role": "assistant", "content": "ok"}, "done": True})
        ctype = "application/x-ndjson"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        seen.extend([head, await reader.readexactly(length)])
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(reply)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + reply
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with ModelClient(
            {"url": f"http://127.0.0.1:{port}", "type": kind}, "m", **kwargs
        ) as client:
            assert await client.chat("q") == "ok"
    finally:
        server.close()
        await server.wait_closed()
    return seen[0], json.loads(seen[1])


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_the_wire_carries_headers_top_p_and_the_extra_body(kind: str) -> None:
    head, body = await _recorded(
        kind,
        top_p=0.5,
        extra_body={"options": {"num_ctx": 64}, "stream": False},
        headers={"X-Bench": "shape"},
    )
    assert b"\r\nX-Bench: shape\r\n" in head
    sampling = body if kind == "openai" else body["options"]
    assert sampling["top_p"] == 0.5
    assert body["options"]["num_ctx"] == 64
    assert body["stream"] is True
