"""Throughput mode: a burst of requests with a fixed number in flight (closed loop)."""

from __future__ import annotations

from pytest_llmserver.client import ModelClient
from pytest_llmserver.stress.engine import run_closed_loop
from pytest_llmserver.stress.modes.base import ModeOutput, TesterBase
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.timing import RunClock


async def run_throughput_test(
    tester: TesterBase, concurrency: int, total: int | None = None
) -> TestStats:
    """Burst: ``total`` requests, ``concurrency`` in flight at once (closed loop). With one
    argument, the seed's burst: ``concurrency`` requests all at once."""
    total = concurrency if total is None else total
    if concurrency < 1 or total < 1:
        raise ValueError(f"concurrency and total must be >= 1, got {concurrency} and {total}")

    async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> ModeOutput:
        send = tester.sender(client)
        await run_closed_loop(send, total=total, concurrency=concurrency, clock=clock, sink=sink)
        return ModeOutput()

    params = {"concurrency": concurrency, "total": total}
    return await tester.run_mode("throughput", params, body, pool=concurrency)
