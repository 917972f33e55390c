"""One total deadline per request (``Timeouts.total_s``), against the hostile server: it names
what it waited for, keeps what arrived, never cancels the consumer's own work, does not count
the consumer's time, and leaves every other cancellation alone."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from pytest_llmserver.client import LLMTimeoutError, ModelClient, Timeouts
from tests.hostile.replies import ANSWER, MODELS, Api
from tests.hostile.server import HostileServer

APIS: tuple[Api, ...] = ("openai", "ollama")
TOTAL_S = 0.3
SLACK_S = 0.25
LIMITS = Timeouts(connect_s=1.0, read_s=30.0, total_s=TOTAL_S)
MESSAGES = [{"role": "user", "content": "hi"}]


def client(url: str, api: Api) -> ModelClient:
    return ModelClient({"url": url, "type": api}, MODELS[0], timeouts=LIMITS)


WAITED_FOR = {
    "slowloris_headers": "waiting for the response headers",
    "stall_before_headers": "waiting for the response headers",
    "slow_error_body": "waiting for the body of its HTTP 500 reply",
    "stall_mid_stream": "waiting for the stream",
    "drip_then_stall": "waiting for the stream",
    "slow_whole_reply": "waiting for the reply",
}


@pytest.mark.timing
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("fault", sorted(WAITED_FOR))
async def test_each_wait_ends_at_the_deadline_and_says_what_it_waited_for(
    api: Api, fault: str
) -> None:
    async with HostileServer() as server, client(server.url_for(fault), api) as c:
        started = time.perf_counter()
        with pytest.raises(LLMTimeoutError) as info:
            await c.complete(MESSAGES, stream=fault != "slow_whole_reply")
        elapsed = time.perf_counter() - started
    assert TOTAL_S <= elapsed <= TOTAL_S + SLACK_S
    assert info.value.phase == "total"
    assert f"did not finish within {TOTAL_S:g} s (total deadline; {WAITED_FOR[fault]})" in str(
        info.value
    )


@pytest.mark.parametrize("api", APIS)
async def test_what_arrived_before_the_deadline_is_kept(api: Api) -> None:
    async with HostileServer() as server, client(server.url_for("drip_then_stall"), api) as c:
        with pytest.raises(LLMTimeoutError) as info:
            await c.complete(MESSAGES)
    metrics, partial = info.value.metrics, info.value.partial
    assert metrics is not None
    assert partial is not None
    assert metrics.ttft_s is not None
    assert metrics.token_events == 4
    assert partial.content == "Hello" * 4


@pytest.mark.parametrize("api", APIS)
async def test_the_consumer_keeps_its_own_time_and_is_never_cancelled(api: Api) -> None:
    """Three pieces, each held by the consumer longer than the whole deadline: the request
    only waited on the network for milliseconds, so it succeeds, and the consumer's sleeps
    all run to their end."""
    slept = []
    async with HostileServer() as server, client(server.url, api) as c:
        pieces = []
        async for piece in c.chat_stream("hi"):
            pieces.append(piece)
            started = time.perf_counter()
            await asyncio.sleep(TOTAL_S * 1.2)
            slept.append(time.perf_counter() - started)
    assert "".join(pieces) == ANSWER
    assert len(slept) == 2
    assert all(s >= TOTAL_S * 1.2 for s in slept)


@pytest.mark.parametrize("api", APIS)
async def test_a_cancellation_from_outside_is_not_a_timeout(api: Api) -> None:
    async with HostileServer() as server, client(server.url_for("stall_mid_stream"), api) as c:
        task = asyncio.create_task(c.complete(MESSAGES))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_timeout_leaves_no_cancellation_behind() -> None:
    if sys.version_info < (3, 11):  # a version check mypy (python_version 3.10) understands
        pytest.skip("asyncio.timeout and Task.cancelling are Python 3.11+")
    async with HostileServer() as server, client(server.url_for("stall_mid_stream"), "openai") as c:
        async with asyncio.timeout(30):  # an enclosing scope must not be fooled
            with pytest.raises(LLMTimeoutError):
                await c.complete(MESSAGES)
            task = asyncio.current_task()
            assert task is not None
            assert task.cancelling() == 0
            await asyncio.sleep(0.01)  # no cancellation is pending
