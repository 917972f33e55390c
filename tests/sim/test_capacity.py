"""The simulator's capacity model: N slots, a FIFO queue, service times chained exactly, and
queued requests that leave the queue when cancelled or when their client goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from pytest_llmserver.sim import DefaultPolicy, SimConfig, SimServer, TimingModel
from pytest_llmserver.sim.capacity import Capacity
from pytest_llmserver.sim.metrics import RequestRecord
from tests.sim.helpers import USER, stream_lines

TTFT_S = 0.05
TOKEN_S = 0.01
TOKENS = 30  # 0.35 s of service: room for the later requests to queue behind it
SERVICE_S = TimingModel(ttft_s=TTFT_S, per_token_s=TOKEN_S).service_s(TOKENS)


def _config(slots: int | None) -> SimConfig:
    timing = TimingModel(ttft_s=TTFT_S, per_token_s=TOKEN_S)
    return SimConfig(timing=timing, slots=slots, policy=DefaultPolicy(TOKENS, 0))


async def settle(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Yield to the loop until ``condition()`` holds (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def test_free_slots_start_at_arrival_and_the_queue_is_fifo() -> None:
    capacity = Capacity(2)
    assert await capacity.acquire(1.0) == 1.0
    assert await capacity.acquire(1.5) == 1.5
    third = asyncio.ensure_future(capacity.acquire(2.0))
    fourth = asyncio.ensure_future(capacity.acquire(2.1))
    await asyncio.sleep(0)
    assert (capacity.running, capacity.waiting) == (2, 2)
    capacity.release(3.25)  # the oldest waiter starts exactly when that service ended
    assert await third == 3.25
    assert not fourth.done()
    capacity.release(1.9)  # a slot freed before the waiter arrived: service starts at arrival
    assert await fourth == 2.1
    assert (capacity.running, capacity.waiting) == (2, 0)
    capacity.release(4.0)
    capacity.release(4.0)
    assert (capacity.running, capacity.waiting) == (0, 0)


async def test_unlimited_never_queues() -> None:
    capacity = Capacity(None)
    starts = [await capacity.acquire(float(i)) for i in range(50)]
    assert starts == [float(i) for i in range(50)]
    assert (capacity.running, capacity.waiting) == (50, 0)


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    capacity = Capacity(1)
    await capacity.acquire(0.0)
    leaving = asyncio.ensure_future(capacity.acquire(0.1))
    staying = asyncio.ensure_future(capacity.acquire(0.2))
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert capacity.waiting == 1
    capacity.release(1.0)
    assert await staying == 1.0
    assert (capacity.running, capacity.waiting) == (1, 0)


async def test_a_slot_handed_to_a_cancelled_waiter_goes_on() -> None:
    capacity = Capacity(1)
    await capacity.acquire(0.0)
    first = asyncio.ensure_future(capacity.acquire(0.1))
    second = asyncio.ensure_future(capacity.acquire(0.2))
    await asyncio.sleep(0)
    capacity.release(1.0)  # hands the slot to ``first``...
    first.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == 1.0
    assert (capacity.running, capacity.waiting) == (1, 0)


async def test_a_waiter_whose_client_left_raises_and_leaves() -> None:
    capacity = Capacity(1)
    await capacity.acquire(0.0)
    gone = asyncio.Event()
    leaving = asyncio.ensure_future(capacity.acquire(0.1, gone.wait))
    await asyncio.sleep(0)
    assert capacity.waiting == 1
    gone.set()
    with pytest.raises(ConnectionError, match="left while its request was queued"):
        await leaving
    assert (capacity.running, capacity.waiting) == (1, 0)


def test_slots_must_be_positive() -> None:
    with pytest.raises(ValueError, match="slots must be >= 1, got 0"):
        Capacity(0)


def test_service_time_formula() -> None:
    timing = TimingModel(ttft_s=0.05, per_token_s=0.01, prefill_s_per_token=0.001)
    assert timing.service_s(10) == pytest.approx(0.15)
    assert timing.service_s(10, computed_prompt_tokens=20) == pytest.approx(0.17)


def test_default_is_unlimited() -> None:
    assert SimConfig().slots is None
    assert SimConfig().reported_slots == 4


async def test_unlimited_server_queues_nobody() -> None:
    async with SimServer(_config(None)) as sim, httpx.AsyncClient(timeout=10.0) as http:
        body = {"model": "sim-small", "messages": USER, "stream": True}
        await asyncio.gather(
            *(stream_lines(http, sim.url + "/v1/chat/completions", body) for _ in range(8))
        )
        await settle(lambda: sim.metrics.running == 0)
    assert [r.queued_s for r in sim.metrics.records] == [0.0] * 8


CHATS = [
    ("/v1/chat/completions", True),
    ("/v1/chat/completions", False),
    ("/api/chat", True),
    ("/api/chat", False),
]


async def _four_on_two_slots(path: str, stream: bool) -> list[RequestRecord]:
    """Two requests, then two more while both slots are busy; the records by start time."""
    async with SimServer(_config(2)) as sim, httpx.AsyncClient(timeout=10.0) as http:
        body = {"model": "sim-small", "messages": USER, "stream": stream}
        first_two = [asyncio.ensure_future(http.post(sim.url + path, json=body)) for _ in "ab"]
        await settle(lambda: sim.metrics.running == 2)
        last_two = [asyncio.ensure_future(http.post(sim.url + path, json=body)) for _ in "cd"]
        await settle(lambda: sim.metrics.of("sim-small").waiting == 2)
        for reply in await asyncio.gather(*first_two, *last_two):
            assert reply.status_code == 200
        await settle(lambda: sim.metrics.running == 0)
    return sorted(sim.metrics.records, key=lambda r: r.start_s)


@pytest.mark.parametrize(("path", "stream"), CHATS)
async def test_two_slots_chain_service_times_exactly(path: str, stream: bool) -> None:
    """With 2 slots, requests 3 and 4 start exactly one service time after 1 and 2 (the
    server's own clock; the simulator's lag does not enter)."""
    records = await _four_on_two_slots(path, stream)
    assert [r.completion_tokens for r in records] == [TOKENS] * 4
    assert [r.queued_s for r in records[:2]] == [0.0, 0.0]
    assert [r.start_s for r in records[:2]] == [r.arrival_s for r in records[:2]]
    for earlier, later in zip(records[:2], records[2:], strict=True):
        assert later.start_s == pytest.approx(earlier.start_s + SERVICE_S, abs=1e-9)
        assert later.queued_s == pytest.approx(later.start_s - later.arrival_s, abs=1e-9)
        assert later.queued_s > 0.0


@pytest.mark.timing
async def test_queued_requests_ttft_includes_the_wait() -> None:
    """Server stamps: each TTFT is its wait plus the model's first-token time."""
    records = await _four_on_two_slots("/v1/chat/completions", True)
    for record in records:
        assert record.ttft_s == pytest.approx(record.queued_s + TTFT_S, abs=0.02)


@pytest.mark.timing
async def test_client_sees_the_queue_in_its_ttft() -> None:
    async with SimServer(_config(1)) as sim, httpx.AsyncClient(timeout=10.0) as http:
        body = {"model": "sim-small", "messages": USER, "stream": True}
        url = sim.url + "/v1/chat/completions"
        first = asyncio.ensure_future(stream_lines(http, url, body))
        await settle(lambda: sim.metrics.running == 1)
        second = await stream_lines(http, url, body)
        await first
    ttft_s = second.times_s[1] - second.sent_s  # the role chunk is sent at the first token
    queued_s = max(r.queued_s for r in sim.metrics.records)
    assert queued_s > 0.0
    assert ttft_s == pytest.approx(queued_s + TTFT_S, abs=0.03)


async def test_a_client_leaving_the_queue_frees_its_place() -> None:
    """A queued request whose client disconnects leaves the queue and never runs; the next
    request starts as soon as the running one's service ends."""
    async with SimServer(_config(1)) as sim, httpx.AsyncClient(timeout=10.0) as http:
        long_body = {"model": "sim-small", "messages": USER, "stream": False}
        running = asyncio.ensure_future(
            http.post(
                sim.url + "/v1/chat/completions",
                json=long_body,
                headers={"x-sim-ttft-ms": "400"},
            )
        )
        await settle(lambda: sim.metrics.running == 1)
        async with httpx.AsyncClient(timeout=10.0) as leaver:
            leaving = asyncio.ensure_future(
                leaver.post(sim.url + "/v1/chat/completions", json=long_body)
            )
            await settle(lambda: sim.metrics.of("sim-small").waiting == 1)
            leaving.cancel()
            with pytest.raises(asyncio.CancelledError):
                await leaving
        await settle(lambda: sim.metrics.of("sim-small").waiting == 0)
        assert sim.metrics.running == 1
        assert (await running).status_code == 200
        await settle(lambda: sim.metrics.running == 0)
    assert len(sim.metrics.records) == 1  # the one that left never got a slot
