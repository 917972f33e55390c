"""Safety stops: the trend test, the ramp, the error-rate and over-saturation stops."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.client import ChatMetrics, ChatResponse
from pytest_llmserver.sim import SimProcess
from pytest_llmserver.stress.engine import run_open_loop
from pytest_llmserver.stress.modes.tester import StressTester
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.stops import (
    StopMonitor,
    StopRules,
    ramp_offsets_s,
    stop_note,
    trend,
)
from pytest_llmserver.stress.timing import RunClock


def queue_records(
    rate_per_s: float,
    slots: int,
    service_s: float,
    count: int,
    *,
    jitter_s: float = 0.0,
    seed: int = 1,
) -> list[dict[str, Any]]:
    """Records of a D/D/N queue (constant arrivals, ``slots`` servers of ``service_s``), by
    completion; TTFT is the wait plus a quarter of the service, jittered."""
    rng = random.Random(seed)
    free = [0.0] * slots
    records = []
    for i in range(count):
        due = i / rate_per_s
        k = min(range(slots), key=free.__getitem__)
        start = max(due, free[k])
        service = service_s + rng.uniform(0, jitter_s)
        free[k] = start + service
        ttft = start - due + service / 4 + rng.uniform(0, jitter_s)
        records.append(
            {
                "warmup": False,
                "ok": True,
                "scheduled_s": due,
                "sent_s": due,
                "end_s": start + service,
                "ttft_s": ttft,
            }
        )
    return sorted(records, key=lambda r: r["end_s"])


def first_stop(records: list[dict[str, Any]], rules: StopRules) -> int | None:
    monitor = StopMonitor(rules)
    for n, record in enumerate(records, start=1):
        if monitor.add(record) is not None:
            return n
    return None


def test_trend_sees_an_increase_and_not_a_constant() -> None:
    xs = [float(i) for i in range(30)]
    rising = trend(xs, [0.1 + 0.01 * x for x in xs])
    assert rising.p_value < 1e-6
    assert rising.slope == pytest.approx(0.01)
    flat = trend(xs, [0.2] * 30)
    assert flat.s == 0
    assert flat.p_value == pytest.approx(0.5)
    assert flat.slope == 0.0
    falling = trend(xs, [1.0 - 0.01 * x for x in xs])
    assert falling.p_value > 0.99
    with pytest.raises(ValueError, match="differ in length"):
        trend([1.0], [])


def test_trend_of_noise_is_not_significant() -> None:
    rng = random.Random(7)
    p_values = [
        trend(list(range(40)), [rng.random() for _ in range(40)]).p_value for _ in range(200)
    ]
    assert sum(p < 0.01 for p in p_values) <= 6  # about 1% of them, by construction


def test_ramp_keeps_the_count_and_grows_the_rate_linearly() -> None:
    steady = [i / 10 for i in range(100)]  # 10 per second
    ramped = list(ramp_offsets_s(steady, 4.0))
    assert ramped == sorted(ramped)
    assert len(ramped) == 100
    assert sum(t < 4.0 for t in ramped) == 20  # 10/s * 4 s / 2: half the steady count
    assert sum(t < 2.0 for t in ramped) == 5  # a quarter of that in the first half
    assert ramped[50] == pytest.approx(5.0 + 2.0)  # after the ramp: shifted by half of it
    assert list(ramp_offsets_s(steady, 0.0)) == steady
    with pytest.raises(ValueError, match="ramp"):
        list(ramp_offsets_s(steady, -1.0))


def test_error_rate_stop_fires_past_the_fraction_and_says_why() -> None:
    rules = StopRules(max_error_rate=0.2, error_window=10, saturation=False)
    monitor = StopMonitor(rules)
    records = [{"ok": i % 4 != 0, "end_s": i * 0.1} for i in range(30)]  # 25-30% errors
    stops = [monitor.add(r) for r in records]
    stop = monitor.stop
    assert stop is not None
    assert stop.kind == "error_rate"
    assert monitor()
    assert stops.index(stop) == 9  # as soon as the window is full
    assert "error rate 30% over the last 10 requests > --llm-max-error-rate 0.2" in stop.reason
    assert stop_note(stop).startswith("stopped early at 0.9 s after 10 requests: error rate")
    quiet = StopMonitor(StopRules(max_error_rate=0.5, error_window=10, saturation=False))
    assert all(quiet.add(r) is None for r in records)


def test_warmup_records_are_not_counted() -> None:
    monitor = StopMonitor(StopRules(max_error_rate=0.0, error_window=2))
    assert monitor.add({"ok": False, "warmup": True}) is None
    assert monitor.seen == 0


@pytest.mark.parametrize("jitter_s", [0.0, 0.01])
def test_saturation_stop_fires_at_twice_capacity_within_its_window(jitter_s: float) -> None:
    rules = StopRules()
    capacity = 4 / 0.05  # 80 req/s
    records = queue_records(2 * capacity, 4, 0.05, 400, jitter_s=jitter_s)
    fired = first_stop(records, rules)
    assert fired is not None
    assert fired <= rules.window + rules.step
    monitor = StopMonitor(rules)
    for record in records[:fired]:
        monitor.add(record)
    assert monitor.stop is not None
    assert monitor.stop.kind == "over_saturation"
    assert monitor.stop.figures["ttft_p_value"] < 0.01
    assert "Mann-Kendall" in monitor.stop.reason
    assert "Mann-Kendall" in rules.describe()


@pytest.mark.parametrize("seed", range(5))
def test_saturation_stop_does_not_fire_at_half_capacity(seed: int) -> None:
    records = queue_records(40.0, 4, 0.05, 2000, jitter_s=0.01, seed=seed)
    assert first_stop(records, StopRules()) is None


def test_rules_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="max error rate"):
        StopRules(max_error_rate=-0.5)
    with pytest.raises(ValueError, match="window"):
        StopRules(window=3)


def test_open_loop_stops_when_the_monitor_fires(tmp_path: Any) -> None:
    async def send(index: int) -> ChatResponse:
        raise RuntimeError("refused")

    monitor = StopMonitor(StopRules(max_error_rate=0.1, error_window=5, saturation=False))

    async def run() -> Any:
        def on_record(record: dict[str, Any], in_flight: int) -> None:
            monitor.add(record)

        with JsonlSink(tmp_path / "r.jsonl", on_record) as sink:
            return await run_open_loop(
                send,
                (i / 200 for i in range(10_000)),
                clock=RunClock(),
                sink=sink,
                duration_s=30.0,
                stop=monitor,
            )

    sched = asyncio.run(run())
    assert sched.stopped
    assert monitor.stop is not None
    assert sched.scheduled < 50  # stopped within a few requests, not after 30 s


def test_open_loop_marks_ramp_records_as_warmup(tmp_path: Any) -> None:
    async def send(index: int) -> ChatResponse:
        return ChatResponse("x", "", [], "stop", ChatMetrics(ttft_s=0.001), "openai")

    records: list[dict[str, Any]] = []

    async def run() -> None:
        with JsonlSink(tmp_path / "r.jsonl", lambda r, _: records.append(r)) as sink:
            offsets = ramp_offsets_s((i / 100 for i in range(1000)), 0.2)
            await run_open_loop(
                send, offsets, clock=RunClock(), sink=sink, duration_s=0.4, ramp_s=0.2
            )

    asyncio.run(run())
    assert all(r["ok"] for r in records)
    ramp = [r for r in records if r["warmup"]]
    assert ramp
    assert all(r["scheduled_s"] < 0.2 for r in ramp)
    assert all(r["scheduled_s"] >= 0.2 for r in records if not r["warmup"])


@pytest.mark.timing
def test_sustained_run_stops_at_twice_capacity_and_not_at_half(tmp_path: Path) -> None:
    """The simulator with 4 slots of 50 ms each (80 req/s), asked for 160 and for 40 req/s."""
    slots, service_s = 4, 0.05
    sim = ("--slots=4", "--ttft-ms=10", "--token-ms=10", "--answer-tokens=4", "--models=slots")

    async def run(rate_per_s: float, seconds: float, run_id: str) -> TestStats:
        tester = StressTester({"url": url}, "slots", max_tokens=4, out_dir=tmp_path, run_id=run_id)
        return await tester.run_sustained_load_test(rate_per_s * 60, seconds, ramp_s=0.5)

    with SimProcess(*sim) as url:
        over = asyncio.run(run(2 * slots / service_s, 3.0, "over"))
        under = asyncio.run(run(0.5 * slots / service_s, 2.0, "under"))
    stop = over.figures["stop"]
    assert stop["kind"] == "over_saturation"
    assert stop["figures"]["ttft_p_value"] < 0.01
    assert stop["figures"]["wait_p_value"] < 0.01
    stopped = [note for note in over.notes if note.startswith("stopped early at ")]
    assert len(stopped) == 1
    assert "Mann-Kendall" in stopped[0]
    assert over.notes.index(stopped[0]) == (1 if over.bottleneck else 0)  # after the bottleneck
    assert over.summary.ok + over.summary.failed < 2 * 80 * 3  # it did not run to the end
    assert "stop" not in under.figures
    assert under.params["ramp_s"] == 0.5
    assert under.summary.warmup > 1  # the ramp's requests (and the warm-up one)
    assert under.figures["delivered_rps"] == pytest.approx(40.0, rel=0.1)
