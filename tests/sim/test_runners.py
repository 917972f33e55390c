"""Header overrides, policies, stopping, the thread runner and the command line."""

from __future__ import annotations

import asyncio
import re
import sys
import time

import httpx
import pytest

from pytest_llmserver.sim import (
    FunctionPolicy,
    ScriptedPolicy,
    SimConfig,
    SimReply,
    SimRequest,
    SimServer,
    SimThread,
    SimToolCall,
    TimingModel,
)
from tests.sim.helpers import FAST, USER, chat_body, stream_lines


@pytest.mark.timing
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
