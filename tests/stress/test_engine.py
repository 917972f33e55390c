"""The load engine: arrival processes, closed and open loop, queue time, records, loop lag."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_llmserver.client import ChatMetrics, ChatResponse, LLMTimeoutError, ModelClient
from pytest_llmserver.sim import SimConfig, SimThread, TimingModel
from pytest_llmserver.stress import summarize_file
from pytest_llmserver.stress.engine import run_closed_loop, run_open_loop, run_warmup
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.timing import LoopLagMonitor, RunClock, arrival_offsets_s


def gaps(offsets: list[float]) -> np.ndarray:
    return np.diff(np.array([0.0, *offsets]))


def take(n: int, it: object) -> list[float]:
    return list(itertools.islice(it, n))  # type: ignore[call-overload]


def test_constant_arrivals_are_exact() -> None:
    assert take(4, arrival_offsets_s(50)) == [0.0, 0.02, 0.04, 0.06]


@pytest.mark.parametrize(
    ("process", "burstiness", "cv"),
    [("poisson", 1.0, 1.0), ("gamma", 2.0, 2.0), ("gamma", 0.5, 0.5)],
)
def test_random_arrivals_have_the_asked_mean_and_cv(
    process: str, burstiness: float, cv: float
) -> None:
    g = gaps(take(20_000, arrival_offsets_s(10.0, process, seed=7, burstiness=burstiness)))  # type: ignore[arg-type]
    assert g.mean() == pytest.approx(0.1, rel=0.03)
    assert g.std() / g.mean() == pytest.approx(cv, rel=0.05)
    again = take(5, arrival_offsets_s(10.0, process, seed=7, burstiness=burstiness))  # type: ignore[arg-type]
    assert again == take(5, arrival_offsets_s(10.0, process, seed=7, burstiness=burstiness))  # type: ignore[arg-type]


@pytest.mark.parametrize(("rate", "process"), [(0, "constant"), (-1, "poisson"), (1, "weibull")])
def test_bad_arrival_parameters(rate: float, process: str) -> None:
    with pytest.raises(ValueError, match=r"rate must be a positive|unknown arrival process"):
        next(arrival_offsets_s(rate, process))  # type: ignore[arg-type]


class FakeServer:
    """A send function that takes ``service_s`` and tracks how many requests overlap."""

    def __init__(self, service_s: float, fail_every: int = 0) -> None:
        self.service_s = service_s
        self.fail_every = fail_every
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, index: int) -> ChatResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.service_s)
        finally:
            self.in_flight -= 1
        if self.fail_every and index % self.fail_every == self.fail_every - 1:
            error = LLMTimeoutError("no data for 1 s", phase="read")
            error.metrics = ChatMetrics(ttft_s=0.01)
            raise error
        metrics = ChatMetrics(ttft_s=0.01, e2e_s=self.service_s, output_tokens=5)
        return ChatResponse("x", "", [], "stop", metrics, "openai")


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_closed_loop_keeps_concurrency_and_writes_every_record(tmp_path: Path) -> None:
    server = FakeServer(0.01, fail_every=5)
    clock = RunClock()
    with JsonlSink(tmp_path / "r.jsonl") as sink:
        await run_warmup(server, 2, clock=clock, sink=sink)
        clock.reset()
        await run_closed_loop(server, total=20, concurrency=4, clock=clock, sink=sink)
    rows = records(tmp_path / "r.jsonl")
    assert server.max_in_flight == 4
    assert len(rows) == 22
    assert sum(bool(r["warmup"]) for r in rows) == 2
    failed = [r for r in rows if not r["ok"] and not r["warmup"]]
    assert [r["index"] for r in failed] == [4, 9, 14, 19]
    assert {r["error_class"] for r in failed} == {"timeout"}
    assert all(r["ttft_s"] == 0.01 for r in failed)  # partial metrics kept
    assert all(r["queue_s"] is None for r in rows)
    summary = summarize_file(tmp_path / "r.jsonl")
    assert (summary.ok, summary.failed, summary.warmup) == (16, 4, 2)
    assert summary.errors["timeout"] == 4


@pytest.mark.timing
async def test_open_loop_delivers_the_rate_on_absolute_deadlines(tmp_path: Path) -> None:
    """Lateness is compared with the event loop's own (a busy machine delays every timer):
    the scheduler may add at most its limit on top."""
    server = FakeServer(0.005)
    clock = RunClock()
    async with LoopLagMonitor() as loop:
        with JsonlSink(tmp_path / "r.jsonl") as sink:
            stats = await run_open_loop(
                server, arrival_offsets_s(100.0), clock=clock, sink=sink, duration_s=2.0
            )
    rows = records(tmp_path / "r.jsonl")
    assert stats.scheduled == len(rows) == 200
    sent = sorted(float(r["sent_s"]) for r in rows)
    assert (len(sent) - 1) / (sent[-1] - sent[0]) == pytest.approx(100.0, rel=0.01)
    assert max(float(r["queue_s"]) for r in rows) < 0.02 + loop.max_s
    assert np.percentile(stats.schedule_lag_s, 99) < 0.01 + (loop.percentile_s(99) or 0.0)


@pytest.mark.timing
async def test_back_pressure_shows_up_as_queue_time(tmp_path: Path) -> None:
    """Without a lag bound nothing is shed: every request waits for the one slot."""
    server = FakeServer(0.1)  # 10 req/s of capacity with one slot, asked for 50 req/s
    clock = RunClock()
    with JsonlSink(tmp_path / "r.jsonl") as sink:
        stats = await run_open_loop(
            server,
            arrival_offsets_s(50.0),
            clock=clock,
            sink=sink,
            max_requests=20,
            max_in_flight=1,
            max_lag_s=None,
        )
    rows = sorted(records(tmp_path / "r.jsonl"), key=lambda r: int(r["index"]))
    assert stats.blocked >= 15
    queue = [float(r["queue_s"]) for r in rows]
    # Request i is due at i * 20 ms but can only start at i * 100 ms: it waits about i * 80 ms.
    assert queue[-1] == pytest.approx(19 * 0.08, abs=0.05)
    assert queue == sorted(queue)


async def test_requests_still_running_at_the_end_are_recorded(tmp_path: Path) -> None:
    server = FakeServer(5.0)
    clock = RunClock()
    with JsonlSink(tmp_path / "r.jsonl") as sink:
        stats = await run_open_loop(
            server,
            arrival_offsets_s(20.0),
            clock=clock,
            sink=sink,
            max_requests=3,
            drain_timeout_s=0.2,
        )
    rows = records(tmp_path / "r.jsonl")
    assert stats.cancelled == 3
    assert [r["error_class"] for r in rows] == ["cancelled"] * 3
    assert all("cancelled" in str(r["error"]) for r in rows)


async def test_open_loop_needs_a_bound() -> None:
    with pytest.raises(ValueError, match="needs a duration or a request limit"):
        await run_open_loop(FakeServer(0), arrival_offsets_s(1.0), clock=RunClock(), sink=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duration must be > 0"):
        await run_open_loop(
            FakeServer(0),
            arrival_offsets_s(1.0),
            clock=RunClock(),
            sink=None,  # type: ignore[arg-type]
            duration_s=0,
        )


@pytest.mark.timing
async def test_loop_lag_monitor_sees_a_blocked_loop() -> None:
    async with LoopLagMonitor() as monitor:
        await asyncio.sleep(0.1)
        time.sleep(0.06)  # noqa: ASYNC251 - blocks the event loop on purpose
        await asyncio.sleep(0.05)
    assert monitor.samples >= 5
    assert monitor.max_s >= 0.04
    p50 = monitor.percentile_s(50)
    assert p50 is not None
    assert p50 < 0.01


@pytest.mark.timing
async def test_open_loop_against_the_sim(tmp_path: Path) -> None:
    timing = TimingModel(ttft_s=0.02, per_token_s=0.002)
    with SimThread(SimConfig(timing=timing)) as sim:
        async with ModelClient({"url": sim.url}, "sim-small", concurrency=32) as client:

            async def send(index: int) -> ChatResponse:
                return await client.complete(
                    [{"role": "user", "content": f"q{index}"}], max_tokens=16
                )

            clock = RunClock()
            with JsonlSink(tmp_path / "r.jsonl") as sink:
                await run_open_loop(
                    send,
                    arrival_offsets_s(50.0, "poisson", seed=3),
                    clock=clock,
                    sink=sink,
                    duration_s=2.0,
                )
    summary = summarize_file(tmp_path / "r.jsonl")
    assert summary.failed == 0
    assert summary.ok > 60
    ttft = summary.metrics.ttft_s
    assert ttft is not None
    # The simulator stamps its own prefill (request read -> first token): the client's TTFT
    # is that plus the way over loopback, whatever the machine's load does to both.
    prefill_s = [int(r["prompt_eval_duration_ns"]) / 1e9 for r in records(tmp_path / "r.jsonl")]
    assert float(np.median(prefill_s)) >= 0.02
    assert ttft.p50 == pytest.approx(float(np.median(prefill_s)), abs=0.01)


async def test_any_exception_of_a_request_is_its_record_and_a_cancel_ends_the_run(
    tmp_path: Path,
) -> None:
    """The engine's contract in every loop: ``LLMError`` keeps its class, anything else is
    ``internal`` with its type and message, a ``CancelledError`` is recorded, then ends the run
    with every request in flight recorded as cancelled."""
    faults: list[BaseException] = [ValueError("v"), KeyError("k"), RecursionError("r")]
    calls: list[int] = []

    async def send(index: int) -> ChatResponse:
        calls.append(index)
        number = len(calls)
        await asyncio.sleep(0.01)
        if number == 12:
            raise asyncio.CancelledError
        if number % 3 == 0:
            raise faults[number // 3 % 3]
        return ChatResponse("x", "", [], "stop", ChatMetrics(ttft_s=0.001), "openai")

    clock = RunClock()
    with JsonlSink(tmp_path / "r.jsonl") as sink, pytest.raises(asyncio.CancelledError):
        await run_open_loop(send, arrival_offsets_s(400.0), clock=clock, sink=sink, duration_s=1)
    rows = records(tmp_path / "r.jsonl")
    assert len(rows) == len(calls) > 12  # the ones in flight when request 12 was cancelled too
    errors = [r["error"] for r in rows if r["error_class"] == "internal"]
    assert sorted(errors) == ["KeyError: 'k'", "RecursionError: r", "ValueError: v"]
    assert sum(r["error_class"] == "cancelled" for r in rows) == len(calls) - 11
    assert sum(bool(r["ok"]) for r in rows) == 8
