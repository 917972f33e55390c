"""Sweep mode: the synchronous point (one request at a time), the saturated point (a closed
loop at high concurrency: the most the server delivers), then ``points`` open-loop rates evenly
from the first's rate to the second's, each long enough for its statistics. One table row per
point; the report draws them against load and as a Pareto front.

Each point's records go to ``<stem>.points/NN-<point>.jsonl``; the run's own records file gets
the synchronous point's (a stable reference for the baseline, whatever the load did).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_llmserver.client import ModelClient
from pytest_llmserver.stress.modes.base import ModeOutput, TesterBase
from pytest_llmserver.stress.modes.capacity import (
    PointLoad,
    Runs,
    closed_point,
    copy_records,
    open_point,
)
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.stops import stop_note
from pytest_llmserver.stress.summary import StressSummary, summarize_records
from pytest_llmserver.stress.timing import ArrivalProcess, RunClock

MIN_POINTS = 2
_PERCENTILES = {"ttft_s": ("p50", "p95", "p99"), "itl_s": ("p50", "p95"), "e2e_s": ("p50", "p95")}


def sweep_rates(low_per_s: float, high_per_s: float, points: int) -> list[float]:
    """``points`` rates evenly from ``low_per_s`` to ``high_per_s``, both included."""
    if points < MIN_POINTS:
        raise ValueError(
            f"a sweep needs at least {MIN_POINTS} points, got {points} (--llm-sweep-points)"
        )
    if not low_per_s > 0:
        raise ValueError(f"the sweep's lowest rate must be > 0 req/s, got {low_per_s}")
    high_per_s = max(high_per_s, low_per_s)
    step = (high_per_s - low_per_s) / (points - 1)
    return [low_per_s + k * step for k in range(points)]


def point_row(point: str, load: str, summary: StressSummary) -> dict[str, Any]:
    """One point's table row: throughput, latency percentiles (seconds) and the median
    per-user decode rate (``tokens_per_s_per_user``)."""
    rate = summary.throughput
    row: dict[str, Any] = {
        "point": point,
        "load": load,
        "requests": summary.ok + summary.failed,
        "errors": summary.failed,
        "requests_per_s": rate.requests_per_s,
        "output_tokens_per_s": rate.output_tokens_per_s,
    }
    for metric, stats in _PERCENTILES.items():
        values = summary.metrics.metric(metric)
        for stat in stats:
            key = f"{metric.removesuffix('_s')}_{stat}_s"
            row[key] = None if values is None else float(getattr(values, stat))
    decode = summary.metrics.metric("decode_tps")
    row["tokens_per_s_per_user"] = None if decode is None else decode.p50
    return row


def _span_s(rate: float, min_requests: int, min_s: float, max_s: float) -> float:
    return min(max(min_requests / rate, min_s), max_s)


async def run_sweep_test(
    tester: TesterBase,
    points: int = 4,
    *,
    min_requests: int = 20,
    saturation_concurrency: int = 32,
    min_point_s: float = 3.0,
    max_point_s: float = 60.0,
    ramp_s: float = 0.0,
    max_error_rate: float | None = None,
    arrival: ArrivalProcess = "constant",
    max_in_flight: int = 64,
) -> TestStats:
    """c=1 for ``min_requests`` requests, then a closed loop of ``saturation_concurrency``
    for ``max(min_requests, 4 * saturation_concurrency)`` requests, then ``points`` open-loop
    rates evenly between their request rates, each for ``min_requests / rate`` seconds
    bounded to ``[min_point_s, max_point_s]`` (after a ``ramp_s`` ramp), with the safety
    stops (a stopped point keeps what it measured and says so). Fewer than 2 points is an
    error (one line)."""
    sweep_rates(1.0, 1.0, points)  # the usage error before any request
    if min_requests < 1 or saturation_concurrency < 1:
        raise ValueError("min_requests and saturation_concurrency must be >= 1")
    load = PointLoad(ramp_s, max_error_rate, arrival, max_in_flight)
    suffix = f"-{tester.run_id}" if tester.run_id else ""
    directory = tester.out_dir / f"stress-sweep{suffix}.points"

    async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> ModeOutput:
        runs = Runs(tester, client, directory)
        sync = await closed_point(runs, "c1", 1, min_requests)
        c = saturation_concurrency
        saturated = await closed_point(runs, f"c{c}", c, max(min_requests, 4 * c))
        sync_summary, sat_summary = summarize_records(sync), summarize_records(saturated)
        rows = [point_row("synchronous", "closed loop, c=1", sync_summary)]
        notes: list[str] = []
        low = sync_summary.throughput.requests_per_s
        high = sat_summary.throughput.requests_per_s
        if not low or not high:
            notes.append("no rate to sweep: no request succeeded at c=1 or at saturation")
            copy_records(sync, sink)
            rows.append(point_row("saturated", f"closed loop, c={c}", sat_summary))
            return ModeOutput(tables={"sweep": rows}, notes=notes)
        for k, rate in enumerate(sweep_rates(low, high, points), start=1):
            span = _span_s(rate, min_requests, min_point_s, max_point_s)
            records, figures, monitor = await open_point(runs, f"r{k}", rate, span, load)
            row = point_row(f"rate {k}", f"open loop, {rate:.3g} req/s", summarize_records(records))
            row["target_rps"] = rate
            row["shed"] = int(figures.get("shed_behind") or 0) + int(figures.get("shed_full") or 0)
            row["stopped"] = None if monitor.stop is None else monitor.stop.kind
            if monitor.stop is not None:
                notes.append(f"rate {k} ({rate:.3g} req/s) {stop_note(monitor.stop)}")
            rows.append(row)
        rows.append(point_row("saturated", f"closed loop, c={c}", sat_summary))
        copy_records(sync, sink)
        return ModeOutput(tables={"sweep": rows}, figures=sweep_figures(rows), notes=notes)

    params = {
        "points": points,
        "min_requests": min_requests,
        "saturation_concurrency": saturation_concurrency,
        "min_point_s": min_point_s,
        "max_point_s": max_point_s,
        **load.params(),
    }
    pool = max(max_in_flight, saturation_concurrency)
    return await tester.run_mode("sweep", params, body, pool=pool)


def sweep_figures(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The peak output rate of the sweep and the synchronous point's per-user rate."""
    totals = [r["output_tokens_per_s"] for r in rows if r.get("output_tokens_per_s")]
    return {
        "max_output_tokens_per_s": max(totals) if totals else None,
        "sync_tokens_per_s_per_user": rows[0].get("tokens_per_s_per_user") if rows else None,
    }
