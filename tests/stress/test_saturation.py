"""Graceful saturation of the open loop: the shedding rule, its counts, the end of the run on
time, the figures and the line naming the bottleneck. Each schedule leaves >= 100 ms between
a request's lateness and the bound that decides it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.client import ChatMetrics, ChatResponse
from pytest_llmserver.stress.engine import OpenLoopStats, run_open_loop, run_sessions
from pytest_llmserver.stress.saturation import bottleneck_line, merge_figures, schedule_figures
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.timing import RunClock, arrival_offsets_s

REPLY = ChatResponse("x", "", [], "stop", ChatMetrics(ttft_s=0.001), "openai")


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def open_loop(
    tmp_path: Path, send: Any, offsets: Iterable[float], **kwargs: Any
) -> tuple[OpenLoopStats, list[dict[str, Any]]]:
    clock = RunClock()
    with JsonlSink(tmp_path / "r.jsonl") as sink:
        stats = await run_open_loop(send, offsets, clock=clock, sink=sink, **kwargs)
    return stats, sorted(rows(tmp_path / "r.jsonl"), key=lambda r: int(r["index"]))


@pytest.mark.timing
async def test_requests_the_scheduler_reaches_too_late_are_shed_behind(tmp_path: Path) -> None:
    """Request 0 blocks the event loop for 0.5 s: 1-3 are reached 0.35-0.45 s late (bound
    0.2 s) and shed; 4 is reached 0.05 s late and sent with that queue time; 5 is on time."""

    async def send(index: int) -> ChatResponse:
        if index == 0:
            time.sleep(0.5)  # noqa: ASYNC251 - the client's loop is stuck on purpose
        return REPLY

    offsets = [0.0, 0.05, 0.1, 0.15, 0.45, 0.6]
    stats, records = await open_loop(tmp_path, send, offsets, max_requests=6, max_lag_s=0.2)
    assert (stats.due, stats.scheduled, stats.shed_behind, stats.shed_full) == (6, 3, 3, 0)
    assert [r["index"] for r in records] == [0, 4, 5]
    assert 0.0 < records[1]["queue_s"] < 0.2
    assert len(stats.schedule_lag_s) == 3


@pytest.mark.timing
async def test_requests_that_find_every_slot_busy_past_the_bound_are_shed_full(
    tmp_path: Path,
) -> None:
    """One slot held 0.3 s by request 0: 1 and 2 wait 0.1 s for it and are shed; 3 finds
    it free."""

    async def send(index: int) -> ChatResponse:
        await asyncio.sleep(0.3 if index == 0 else 0.01)
        return REPLY

    offsets = [0.0, 0.05, 0.1, 0.5]
    stats, records = await open_loop(
        tmp_path, send, offsets, max_requests=4, max_in_flight=1, max_lag_s=0.1
    )
    assert (stats.scheduled, stats.shed_full, stats.shed_behind, stats.blocked) == (2, 2, 0, 2)
    assert [r["index"] for r in records] == [0, 3]


@pytest.mark.timing
async def test_a_server_that_holds_every_slot_is_not_blamed_on_the_client(
    tmp_path: Path,
) -> None:
    """Two slots, each request held 0.1 s, 100 requests due at 200/s for 0.5 s: the slots
    carry 20/s, so most requests fall due while the loop waits for a slot; they are shed as
    ``full``, none as ``behind``, and the lag kept is the scheduler's own (well under 0.1 s)."""

    async def send(index: int) -> ChatResponse:
        await asyncio.sleep(0.1)
        return REPLY

    stats, records = await open_loop(
        tmp_path,
        send,
        arrival_offsets_s(200.0),
        duration_s=0.5,
        max_in_flight=2,
        max_lag_s=0.2,
    )
    assert stats.due == 100
    assert stats.shed_behind == 0
    assert stats.shed_full == 100 - len(records) >= 80
    assert max(stats.schedule_lag_s) < 0.1
    figures = schedule_figures(stats, 200.0, 0.5, "rps")
    line = bottleneck_line(figures, {"max_lag_s": 0.2, "max_in_flight": 2})
    assert line is not None
    assert line.startswith("in-flight cap reached: ")


@pytest.mark.timing
async def test_nothing_is_sent_after_the_duration(tmp_path: Path) -> None:
    """No lag bound: request 1 waits 0.15 s for the slot and is sent; 2 would get it only
    after the end (0.3 s) and is shed, and 3 is reached after the end while waiting for it."""

    async def send(index: int) -> ChatResponse:
        await asyncio.sleep(0.25)
        return REPLY

    offsets = [0.0, 0.1, 0.2, 0.29]
    started = time.monotonic()
    stats, records = await open_loop(
        tmp_path, send, offsets, duration_s=0.3, max_in_flight=1, max_lag_s=None
    )
    assert time.monotonic() - started < 0.3 + 0.25 + 0.2  # the end plus one request's drain
    assert (stats.scheduled, stats.shed_full, stats.shed_behind) == (2, 2, 0)
    assert [r["index"] for r in records] == [0, 1]
    assert all(r["sent_s"] < 0.3 for r in records)
    assert records[1]["queue_s"] == pytest.approx(0.15, abs=0.05)


@pytest.mark.timing
async def test_a_client_past_its_limit_keeps_delivering_and_ends_on_time(
    tmp_path: Path,
) -> None:
    """Each request costs 4 ms of the loop (at most 250/s) and 2000/s are asked for 1 s:
    the run sheds the rest instead of falling ever further behind, and ends on time."""

    async def send(index: int) -> ChatResponse:
        time.sleep(0.004)  # noqa: ASYNC251 - client work that holds the loop
        return REPLY

    started = time.monotonic()
    stats, records = await open_loop(
        tmp_path, send, arrival_offsets_s(2000.0), duration_s=1.0, max_lag_s=0.05
    )
    assert time.monotonic() - started < 1.5
    assert len(records) == stats.scheduled
    assert stats.scheduled + stats.shed == stats.due == 2000
    assert stats.shed_behind > 1000
    assert max(r["sent_s"] for r in records) < 1.0
    assert max(stats.schedule_lag_s) <= 0.05 + 0.01  # the bound plus one request's hold


async def test_parts_split_one_schedule(tmp_path: Path) -> None:
    """Process k of n sends the requests i % n == k under their whole-schedule index."""
    sent: list[int] = []

    async def send(index: int) -> ChatResponse:
        sent.append(index)
        return REPLY

    stats, records = await open_loop(
        tmp_path, send, arrival_offsets_s(1000.0), max_requests=10, part=(1, 3)
    )
    assert sorted(sent) == [r["index"] for r in records] == [1, 4, 7]
    assert stats.due == stats.scheduled == 3
    with pytest.raises(ValueError, match=r"part must be \(k, n\)"):
        await open_loop(tmp_path, send, [0.0], max_requests=1, part=(3, 3))


@pytest.mark.timing
async def test_sessions_reached_too_late_are_shed() -> None:
    """Session 0 blocks the loop for 0.4 s: session 1 (due at 0.05 s) is shed."""
    started: list[int] = []

    async def session(session_id: int, due_ns: int) -> None:
        started.append(session_id)
        if session_id == 0:
            time.sleep(0.4)  # noqa: ASYNC251 - the loop is stuck on purpose

    stats = await run_sessions(
        session, [0.0, 0.05, 0.5], clock=RunClock(), duration_s=1.0, max_lag_s=0.2
    )
    assert started == [0, 2]
    assert (stats.scheduled, stats.shed_behind) == (2, 1)


def saturated(behind: int = 0, full: int = 0, lag: list[float] | None = None) -> OpenLoopStats:
    sent = 100 - behind - full
    return OpenLoopStats(
        scheduled=sent,
        schedule_lag_s=lag or [0.001] * sent,
        due=100,
        shed_behind=behind,
        shed_full=full,
    )


def test_the_bottleneck_line_names_the_client_its_rate_and_its_lag() -> None:
    figures = schedule_figures(saturated(behind=60, lag=[0.5] * 40), 1000.0, 0.1, "rps")
    assert figures["delivered_rps"] == pytest.approx(400.0)
    params = {"max_lag_s": 1.0, "max_in_flight": 64}
    assert bottleneck_line(figures, params) == (
        "client-bound: the client could not keep the schedule of 1000.0 req/s: it sent "
        "400.0 req/s, fell behind by 500.0 ms (schedule-lag p99) and shed 60 of 100 "
        "requests it reached more than 1 s late"
    )
    full = schedule_figures(saturated(full=30), 100.0, 1.0, "rps")
    assert bottleneck_line(full, params) == (
        "in-flight cap reached: 30 of 100 requests were shed because all 64 slots stayed "
        "busy more than 1 s late; it sent 70.0 of 100.0 req/s (requests did not finish fast "
        "enough)"
    )
    kept = schedule_figures(saturated(), 100.0, 1.0, "rps")
    assert bottleneck_line(kept, params) is None
    assert bottleneck_line({"ok": 1}, params) is None  # not an open-loop run


def test_figures_of_parts_merge_exactly() -> None:
    a = schedule_figures(saturated(behind=10, lag=[0.001] * 90), 50.0, 1.0, "rps")
    b = schedule_figures(saturated(full=20, lag=[0.002] * 79 + [0.9]), 50.0, 1.0, "rps")
    merged = merge_figures([a, b], [0.001] * 90 + [0.002] * 79 + [0.9])
    assert merged["target_rps"] == 100.0
    assert merged["delivered_rps"] == pytest.approx(170.0)
    assert (merged["due"], merged["shed_behind"], merged["shed_full"]) == (200, 10, 20)
    assert merged["schedule_lag_p99_s"] == pytest.approx(0.002)  # not the mean of the p99s
    assert merge_figures([a, b])["schedule_lag_p99_s"] == b["schedule_lag_p99_s"]
