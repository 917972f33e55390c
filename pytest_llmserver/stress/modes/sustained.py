"""Sustained mode: an open-loop rate on absolute deadlines for a duration."""

from __future__ import annotations

import numpy as np

from pytest_llmserver.client import ModelClient
from pytest_llmserver.stress.engine import (
    ArrivalProcess,
    RunClock,
    arrival_offsets_s,
    run_open_loop,
)
from pytest_llmserver.stress.modes.base import ModeOutput, TesterBase
from pytest_llmserver.stress.records import JsonlSink
from pytest_llmserver.stress.result import TestStats


async def run_sustained_load_test(
    tester: TesterBase,
    rpm: float,
    duration: float,
    *,
    arrival: ArrivalProcess = "constant",
    burstiness: float = 1.0,
    max_in_flight: int = 64,
) -> TestStats:
    """Open loop at ``rpm`` requests per minute for ``duration`` seconds; at most
    ``max_in_flight`` at once (a late start shows up as queue time)."""
    if not rpm > 0:
        raise ValueError(f"rate must be > 0 requests per minute, got {rpm}")
    if not duration > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration}")
    offsets = arrival_offsets_s(rpm / 60.0, arrival, seed=tester.seed, burstiness=burstiness)

    async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> ModeOutput:
        sched = await run_open_loop(
            tester.sender(client),
            offsets,
            clock=clock,
            sink=sink,
            duration_s=duration,
            max_in_flight=max_in_flight,
        )
        lag = np.array(sched.schedule_lag_s or [0.0])
        figures = {
            "target_rps": rpm / 60.0,
            "scheduled": sched.scheduled,
            "blocked_by_max_in_flight": sched.blocked,
            "cancelled_at_end": sched.cancelled,
            "schedule_lag_p99_s": float(np.percentile(lag, 99)),
        }
        return ModeOutput(figures=figures)

    params = {
        "rpm": rpm,
        "duration_s": duration,
        "arrival": arrival,
        "burstiness": burstiness,
        "max_in_flight": max_in_flight,
    }
    return await tester.run_mode("sustained", params, body, pool=max_in_flight)
