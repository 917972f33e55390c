"""Capacity under SLO: the search on a model of a server, and against a queueing server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pytest_llmserver.sim import SimProcess
from pytest_llmserver.stress.capacity_search import (
    MIN_GOODPUT,
    Capacity,
    Probe,
    ProbeFn,
    no_load_line,
    search_capacity,
    verdict,
)
from pytest_llmserver.stress.modes.capacity import run_capacity_test
from pytest_llmserver.stress.modes.tester import StressTester
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.slo import SLOResult
from pytest_llmserver.stress.stops import Stop
from tests.stress.slot_server import SlotServer

SLOS = {"ttft_p95": 1.0, "e2e_p99": 8.0}


def threshold_probe(capacity: float, seen: list[float]) -> ProbeFn:
    async def probe(rate: float) -> Probe:
        seen.append(rate)
        ok = rate <= capacity
        return verdict(rate, [SLOResult("ttft_p95", 1.0, 0.5 if ok else 2.0, ok)], 100, 100)

    return probe


@pytest.mark.parametrize("capacity", [0.3, 3.2, 57.0])
def test_search_brackets_then_bisects_to_the_tolerance(capacity: float) -> None:
    seen: list[float] = []
    found = asyncio.run(search_capacity(threshold_probe(capacity, seen), 1.0, SLOS, max_probes=20))
    assert found.low_per_s <= capacity < (found.high_per_s or 0)
    assert (found.high_per_s or 0) - found.low_per_s <= 0.05 * (found.high_per_s or 0)
    assert found.rate_per_s == pytest.approx(capacity, rel=0.05)
    assert len(found.probes) == len(seen) <= 20
    line = found.line()
    assert line.startswith(f"sustains {found.rate_per_s:.3g} req/s (±")
    assert "ttft_p95 ≤ 1 s, e2e_p99 ≤ 8 s" in line
    assert "bisection bracket" in line


def test_search_stops_at_the_probe_budget_and_the_rate_cap() -> None:
    found = asyncio.run(search_capacity(threshold_probe(1e9, []), 1.0, SLOS, max_rate_per_s=64.0))
    assert found.high_per_s is None
    assert found.low_per_s == 64.0
    assert found.rate_per_s == 64.0
    assert found.plus_minus_per_s is None
    assert found.line().startswith("sustains at least 64 req/s")
    few = asyncio.run(search_capacity(threshold_probe(3.0, []), 1.0, SLOS, max_probes=3))
    assert len(few.probes) == 3
    with pytest.raises(ValueError, match="start rate"):
        asyncio.run(search_capacity(threshold_probe(1.0, []), 0.0, SLOS))


def test_verdict_names_the_first_failed_condition() -> None:
    passing = [SLOResult("ttft_p95", 1.0, 0.4, True)]
    assert verdict(2.0, passing, 100, 100).passed
    low = verdict(2.0, passing, 100, 98)
    assert not low.passed
    assert low.reason == f"goodput 98.0% of 100 requests < {MIN_GOODPUT:.0%}"
    missed = verdict(2.0, [SLOResult("ttft_p95", 1.0, 1.5, False)], 100, 100)
    assert missed.reason == "ttft_p95 1.5 s > 1 s"
    stop = Stop("over_saturation", 3.0, 40, "over-saturated: TTFT grows", {})
    assert verdict(2.0, passing, 100, 100, stop=stop).reason == "over-saturated: TTFT grows"
    assert verdict(2.0, passing, 0, 0).reason == "no request was due"
    assert missed.row()["ttft_p95"] == 1.5
    assert low.goodput == 0.98


def test_no_load_miss_is_one_line_not_a_search_failure() -> None:
    line = no_load_line([SLOResult("ttft_p95", 0.001, 0.015, False)])
    assert line is not None
    assert "\n" not in line
    assert line.startswith("SLO missed at no load (concurrency 1, one request at a time): ")
    assert "ttft_p95 0.015 s > 0.001 s" in line
    assert no_load_line([SLOResult("ttft_p95", 1.0, 0.015, True)]) is None
    capacity = Capacity(SLOS, 0.0, None, [], no_load=line)
    assert capacity.rate_per_s is None
    assert capacity.line() == line
    assert capacity.to_dict()["no_load"] == line


@pytest.mark.timing
def test_search_finds_the_simulators_capacity_within_ten_percent(tmp_path: Path) -> None:
    """Issue 15's acceptance: the simulator with 4 slots, each request holding one for
    10 ms + 4 tokens x 10 ms = 50 ms (``TimingModel.service_s``): 4 / 0.05 = 80 req/s."""
    slots, service_s = 4, 0.05
    sim = ("--slots=4", "--ttft-ms=10", "--token-ms=10", "--answer-tokens=4", "--models=slots")

    async def run(url: str) -> TestStats:
        tester = StressTester(
            {"url": url}, "slots", max_tokens=4, slos={"ttft_p95": 0.06}, out_dir=tmp_path
        )
        return await run_capacity_test(tester, 1.0, min_requests=20, rel_tol=0.06)

    with SimProcess(*sim) as url:  # its own interpreter: no GIL shared with the client
        stats = asyncio.run(run(url))
    capacity = stats.figures["capacity"]
    assert capacity["rate_per_s"] == pytest.approx(slots / service_s, rel=0.10)
    assert stats.figures["capacity_rps"] == capacity["rate_per_s"]
    assert stats.notes[0] == capacity["line"]
    assert stats.tables["capacity_probes"]
    probes = sorted(tmp_path.glob("stress-capacity.probes/*.jsonl"))
    assert probes[0].name == "01-no-load.jsonl"
    assert len(probes) == len(capacity["probes"]) + 1
    assert stats.summary.ok >= 20
    assert stats.slo_results
    assert all(r.passed for r in stats.slo_results)


def test_slo_missed_at_no_load_is_reported_as_such(tmp_path: Path) -> None:
    async def run() -> TestStats:
        async with SlotServer(2, 0.02, 2) as server:
            tester = StressTester(
                {"url": server.url},
                "slots",
                max_tokens=2,
                slos={"ttft_p95": 0.001},
                out_dir=tmp_path,
            )
            return await run_capacity_test(tester, 1.0, min_requests=5)

    stats = asyncio.run(run())
    capacity = stats.figures["capacity"]
    assert capacity["rate_per_s"] is None
    assert capacity["probes"] == []
    assert capacity["no_load"].startswith("SLO missed at no load")
    assert capacity["no_load"] in stats.notes


def test_capacity_needs_slos(tmp_path: Path) -> None:
    tester = StressTester({"url": "http://127.0.0.1:9"}, "m", out_dir=tmp_path)
    with pytest.raises(ValueError, match="needs SLOs: give --llm-slo"):
        asyncio.run(run_capacity_test(tester))
