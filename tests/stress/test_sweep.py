"""Sweep mode: the rates between the synchronous and saturated points, the table rows, the
charts, and the sweep and capacity tests under pytest."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.gate import CapacityComparison, compare_capacity
from pytest_llmserver.report.charts.base import charts_available
from pytest_llmserver.report.charts.sweep import sweep_mode_charts
from pytest_llmserver.stress.modes.sweep import point_row, sweep_rates
from pytest_llmserver.stress.modes.tester import StressTester
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.summary import summarize_records
from tests.stress.slot_server import SlotServer


def test_rates_run_evenly_from_the_synchronous_to_the_saturated_rate() -> None:
    assert sweep_rates(2.0, 8.0, 4) == pytest.approx([2.0, 4.0, 6.0, 8.0])
    assert sweep_rates(2.0, 1.0, 2) == [2.0, 2.0]  # saturation below c=1: one rate
    with pytest.raises(ValueError, match=r"^a sweep needs at least 2 points, got 1 "):
        sweep_rates(1.0, 2.0, 1)
    with pytest.raises(ValueError, match="lowest rate must be > 0"):
        sweep_rates(0.0, 2.0, 3)


def test_point_row_has_the_percentiles_and_the_per_user_rate() -> None:
    records = [
        {
            "ok": True,
            "warmup": False,
            "sent_s": i * 0.1,
            "end_s": i * 0.1 + 0.5,
            "ttft_s": 0.1,
            "e2e_s": 0.5,
            "itl_s": [0.1] * 4,
            "output_tokens": 5,
            "decode_tps": 10.0,
        }
        for i in range(10)
    ]
    row = point_row("rate 1", "open loop, 2 req/s", summarize_records(records))
    assert row["requests"] == 10
    assert row["errors"] == 0
    assert row["ttft_p95_s"] == pytest.approx(0.1)
    assert row["e2e_p50_s"] == pytest.approx(0.5)
    assert row["itl_p95_s"] == pytest.approx(0.1)
    assert row["tokens_per_s_per_user"] == pytest.approx(10.0)
    assert row["output_tokens_per_s"] == pytest.approx(50 / 1.4)


def test_sweep_against_a_queueing_server(tmp_path: Path) -> None:
    async def run() -> TestStats:
        async with SlotServer(4, 0.05, 4) as server:
            tester = StressTester({"url": server.url}, "slots", max_tokens=4, out_dir=tmp_path)
            return await tester.run_sweep_test(
                3, min_requests=10, saturation_concurrency=8, min_point_s=0.3, max_point_s=1.0
            )

    stats = asyncio.run(run())
    rows = stats.tables["sweep"]
    assert [r["point"] for r in rows] == ["synchronous", "rate 1", "rate 2", "rate 3", "saturated"]
    assert rows[1]["target_rps"] == pytest.approx(rows[0]["requests_per_s"])
    assert rows[3]["target_rps"] == pytest.approx(rows[4]["requests_per_s"])
    assert rows[4]["requests_per_s"] > 2 * rows[0]["requests_per_s"]  # 4 slots
    assert all(r["errors"] == 0 for r in rows)
    assert stats.figures["max_output_tokens_per_s"] == max(r["output_tokens_per_s"] for r in rows)
    assert stats.summary.ok == 10  # the run's own records: the synchronous point's
    assert len(list(tmp_path.glob("stress-sweep.points/*.jsonl"))) == 5
    if charts_available():
        charts = sweep_mode_charts(rows, tmp_path, "sweep")
        assert [c.path.name for c in charts] == ["sweep-load.png", "sweep-pareto.png"]
        assert all(c.path.stat().st_size > 0 for c in charts)
    assert sweep_mode_charts(rows[:1], tmp_path, "one") == []


def test_capacity_comparison_needs_brackets_apart_and_the_threshold() -> None:
    base = {"rate_per_s": 40.0, "low_per_s": 39.0, "high_per_s": 41.0}
    worse = compare_capacity(base, {"rate_per_s": 30.0, "low_per_s": 29.5, "high_per_s": 30.5}, 0.2)
    assert isinstance(worse, CapacityComparison)
    assert worse.status == "regression"
    assert worse.change_low_per_s == pytest.approx(29.5 - 41.0)
    assert worse.line().startswith("capacity: 40 -> 30 req/s (-25.0%, change within ")
    near = compare_capacity(base, {"rate_per_s": 36.0, "low_per_s": 35.0, "high_per_s": 37.0}, 0.2)
    assert near is not None
    assert near.status == "unchanged"  # beyond the brackets but within the threshold
    wide = compare_capacity(base, {"rate_per_s": 30.0, "low_per_s": 20.0, "high_per_s": 40.0}, 0.2)
    assert wide is not None
    assert wide.status == "unchanged"  # the brackets overlap
    better = compare_capacity(
        base, {"rate_per_s": 60.0, "low_per_s": 59.0, "high_per_s": None}, 0.2
    )
    assert better is not None
    assert better.status == "improvement"
    assert compare_capacity(base, {"rate_per_s": None, "low_per_s": 0.0}, 0.2) is None


SIM = ["--llm-server=sim", "-p", "no:cacheprovider"]


def _report(pytester: pytest.Pytester, mode: str) -> dict[str, Any]:
    (path,) = (pytester.path / "logs" / "latest").glob(f"stress-{mode}-*.json")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def test_one_point_sweep_fails_in_one_line_and_capacity_skips_without_slos(
    llm_pytester: pytest.Pytester,
) -> None:
    result = llm_pytester.runpytest_inprocess(
        *SIM, "-m", "sweep or capacity", "--llm-sweep-points=1", "-rs"
    )
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*--llm-sweep-points=1: a sweep needs at least 2 points*"])
    result.stdout.fnmatch_lines(["*the capacity search needs --llm-slo*"])
    assert "Traceback" not in result.stdout.str()


def test_capacity_slo_missed_at_no_load_under_pytest(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest_inprocess(
        *SIM,
        "-m",
        "capacity",
        "--llm-slo=ttft_p95:0.0001",
        "--llm-sweep-min-requests=3",
        f"--llm-logs={llm_pytester.path / 'logs'}",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SLO missed*ttft_p95*"])
    report = _report(llm_pytester, "capacity")
    assert report["figures"]["capacity"]["no_load"].startswith("SLO missed at no load")
    assert report["figures"]["capacity_rps"] is None
