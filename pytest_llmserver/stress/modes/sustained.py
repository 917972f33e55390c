"""Sustained mode: an open-loop rate on absolute deadlines for a duration."""

from __future__ import annotations

from pytest_llmserver.client import ModelClient
from pytest_llmserver.stress.engine import DEFAULT_MAX_LAG_S, run_open_loop
from pytest_llmserver.stress.modes.base import ModeOutput, TesterBase
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.saturation import schedule_figures
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.stops import ramp_offsets_s
from pytest_llmserver.stress.timing import ArrivalProcess, RunClock, arrival_offsets_s


async def run_sustained_load_test(
    tester: TesterBase,
    rpm: float,
    duration: float,
    *,
    arrival: ArrivalProcess = "constant",
    burstiness: float = 1.0,
    max_in_flight: int = 64,
    max_lag_s: float | None = DEFAULT_MAX_LAG_S,
    ramp_s: float = 0.0,
    max_error_rate: float | None = None,
    saturation_stop: bool = True,
) -> TestStats:
    """Open loop at ``rpm`` requests per minute for ``duration`` seconds; at most
    ``max_in_flight`` at once. A request that cannot be sent within ``max_lag_s`` of its
    due time (or before the end) is shed and counted (``run_open_loop`` has the rule); a late
    start within that bound shows up as queue time. With ``tester.part = (k, n)`` this
    process sends every n-th request of the one schedule.

    ``ramp_s``: the rate first grows linearly from 0 over that time (its requests recorded as
    warm-up, out of the statistics), then ``duration`` follows. The safety stops
    (``stress/stops.py``): above ``max_error_rate`` errors, or over-saturated
    (``saturation_stop``), no further request is sent and the report says why."""
    if not rpm > 0:
        raise ValueError(f"rate must be > 0 requests per minute, got {rpm}")
    if not duration > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration}")
    offsets = arrival_offsets_s(rpm / 60.0, arrival, seed=tester.seed, burstiness=burstiness)
    part = tester.part
    monitor = tester.stops(max_error_rate=max_error_rate, saturation=saturation_stop)

    async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> ModeOutput:
        sched = await run_open_loop(
            tester.sender(client),
            ramp_offsets_s(offsets, ramp_s),
            clock=clock,
            sink=sink,
            duration_s=ramp_s + duration,
            max_in_flight=max_in_flight,
            max_lag_s=max_lag_s,
            part=part,
            stop=monitor,
            ramp_s=ramp_s,
        )
        tester.schedule = sched
        span_s = duration + ramp_s / 2  # the ramp holds half its length's worth of requests
        figures = schedule_figures(sched, rpm / 60.0 / part[1], span_s, "rps")
        if ramp_s:
            figures["ramp_s"] = ramp_s
        return ModeOutput(figures=figures)

    params = {
        "rpm": rpm,
        "duration_s": duration,
        "arrival": arrival,
        "burstiness": burstiness,
        "max_in_flight": max_in_flight,
        "max_lag_s": max_lag_s,
    }
    if ramp_s or max_error_rate is not None:
        params.update(ramp_s=ramp_s, max_error_rate=max_error_rate)
    return await tester.run_mode("sustained", params, body, pool=max_in_flight)
