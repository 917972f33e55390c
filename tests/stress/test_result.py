"""``TestStats``: the seed's fields against values worked out by hand from a small records file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.stress import TestStats, summarize_file
from tests.stress.records_helpers import fail, rec

# Written in an order that is neither send order nor index order, as requests finish.
RECORDS = [
    rec(index=-1, warmup=True, sent_s=-0.5, end_s=-0.1, e2e_s=0.4, ttft_s=9.0, output_tokens=9),
    rec(index=3, sent_s=2.0, end_s=3.0, e2e_s=1.0, ttft_s=0.2, decode_tps=30.0, output_tokens=20),
    rec(index=0, sent_s=0.0, end_s=1.0, e2e_s=1.0, ttft_s=0.1, decode_tps=10.0, output_tokens=10),
    fail("timeout", index=2, error="no data for 5 s", sent_s=1.0, end_s=3.0, ttft_s=0.05),
    rec(index=4, sent_s=3.0, end_s=4.0, e2e_s=1.0, ttft_s=0.4, decode_tps=40.0, output_tokens=40),
    rec(index=1, sent_s=0.5, end_s=2.5, e2e_s=2.0, ttft_s=0.3, decode_tps=20.0, output_tokens=30),
    fail("connect", index=5, error="refused", sent_s=3.5, end_s=3.6),
]


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def make_stats(path: Path, mode: str = "throughput", **fields: Any) -> TestStats:
    return TestStats(
        mode=mode,
        params={},
        server={"url": "http://127.0.0.1:9"},
        model="m",
        summary=summarize_file(path),
        records_path=path,
        wall_s=5.0,
        **fields,
    )


@pytest.fixture
def stats(tmp_path: Path) -> TestStats:
    return make_stats(write(tmp_path / "r.jsonl", RECORDS), notes=["a note"])


def test_counts_and_errors(stats: TestStats) -> None:
    assert (stats.total, stats.completed, stats.success, stats.failed) == (6, 6, 4, 2)
    assert stats.errors == ["request 2: timeout: no data for 5 s", "request 5: connect: refused"]
    assert stats.notes == ["a note"]


def test_means_and_throughput(stats: TestStats) -> None:
    assert stats.avg_response_time == pytest.approx(1.25)  # (1 + 1 + 1 + 2) / 4
    assert stats.avg_tps == pytest.approx(21.25)  # (20/1 + 10/1 + 40/1 + 30/2) / 4
    assert stats.avg_decode_tps == pytest.approx(25.0)
    assert stats.avg_ttft == pytest.approx(0.25)
    assert stats.wall_clock_time == pytest.approx(4.0)  # first send 0.0, last end 4.0
    assert stats.total_output_tokens == 100
    assert stats.total_throughput_tps == pytest.approx(25.0)


def test_percentiles_spread_and_extremes(stats: TestStats) -> None:
    # e2e sorted 1, 1, 1, 2: linear interpolation at rank 0.95 * 3 = 2.85 and 0.99 * 3 = 2.97.
    assert stats.p50_response_time == pytest.approx(1.0)
    assert stats.p95_response_time == pytest.approx(1.85)
    assert stats.p99_response_time == pytest.approx(1.97)
    assert stats.p50_ttft == pytest.approx(0.25)
    assert stats.p95_ttft == pytest.approx(0.385)
    assert stats.p50_decode_tps == pytest.approx(25.0)
    assert stats.stddev_response_time == pytest.approx(math.sqrt(0.75 / 3))
    assert stats.stddev_ttft == pytest.approx(math.sqrt(0.05 / 3))
    assert stats.stddev_decode_tps == pytest.approx(math.sqrt(500 / 3))
    assert (stats.min_decode_tps, stats.max_decode_tps) == (10.0, 40.0)
    assert (stats.min_ttft, stats.max_ttft) == (0.1, 0.4)


def test_peak_concurrency_and_halves(stats: TestStats) -> None:
    # In flight at 2.0 s: index 1 (0.5-2.5), 2 (1.0-3.0), 3 (2.0-3.0); index 0 ended at 1.0
    # just as 2 started, so they never overlap.
    assert stats.max_concurrent == 3
    # Send order 0, 1, 3, 4: ttft 0.1, 0.3 | 0.2, 0.4 and decode 10, 20 | 30, 40.
    assert stats.first_half_ttft == pytest.approx(0.2)
    assert stats.second_half_ttft == pytest.approx(0.3)
    assert stats.first_half_decode_tps == pytest.approx(15.0)
    assert stats.second_half_decode_tps == pytest.approx(35.0)


def test_tool_bench_fields_are_zero_in_other_modes(stats: TestStats) -> None:
    assert (stats.tasks_passed, stats.tasks_total, stats.pass_rate) == (0, 0, 0.0)
    assert (stats.avg_agent_iterations, stats.avg_tool_calls_per_task) == (0.0, 0.0)


def test_tool_bench_fields(tmp_path: Path) -> None:
    figures = {
        "tasks_total": 4,
        "tasks_passed": 3,
        "avg_agent_iterations": 2.5,
        "avg_tool_calls_per_task": 1.75,
    }
    bench = make_stats(write(tmp_path / "b.jsonl", []), "tool_bench", figures=figures)
    assert (bench.tasks_passed, bench.tasks_total, bench.pass_rate) == (3, 4, 0.75)
    assert (bench.avg_agent_iterations, bench.avg_tool_calls_per_task) == (2.5, 1.75)


def test_no_data_gives_zeros(tmp_path: Path) -> None:
    records = [fail("timeout", index=0, sent_s=0.0, end_s=1.0), *RECORDS[1:3]]  # 2 ok only
    few = make_stats(write(tmp_path / "few.jsonl", records))
    assert few.summary.metrics.e2e_s is not None
    assert few.stddev_response_time == 0.0  # two equal values
    assert few.first_half_ttft == few.second_half_ttft == 0.0  # fewer than 4 ok requests
    empty = make_stats(write(tmp_path / "empty.jsonl", [RECORDS[3]]))
    seed_fields = (
        "avg_response_time",
        "avg_tps",
        "avg_decode_tps",
        "avg_ttft",
        "total_throughput_tps",
        "p50_response_time",
        "p95_response_time",
        "p99_response_time",
        "p50_ttft",
        "p95_ttft",
        "p50_decode_tps",
        "stddev_ttft",
        "stddev_decode_tps",
        "min_decode_tps",
        "max_decode_tps",
        "min_ttft",
        "max_ttft",
        "first_half_decode_tps",
        "second_half_decode_tps",
    )
    assert {name: getattr(empty, name) for name in seed_fields} == dict.fromkeys(seed_fields, 0.0)
    assert f"{empty.avg_ttft:.2f}" == "0.00"
    assert (empty.success, empty.failed, empty.max_concurrent) == (0, 1, 1)
    assert empty.summary.metrics.ttft_s is None  # our exact summary keeps None


def test_records_are_read_once_lazily(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", RECORDS)
    stats = make_stats(path)
    path.unlink()  # nothing read yet: the summary was made above
    with pytest.raises(FileNotFoundError):
        _ = stats.errors
    write(path, RECORDS)
    assert len(stats.errors) == 2
    path.unlink()
    assert stats.max_concurrent == 3  # cached from the one read
    assert stats.avg_tps == pytest.approx(21.25)
    assert stats.to_dict()["notes"] == []
