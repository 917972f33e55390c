"""Every fault the simulator can put on a request, on both APIs."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest

from pytest_llmserver.sim import Fault, SimConfig, SimServer
from tests.sim.helpers import FAST, chat_body, sse_payloads, stream_lines


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
