"""The terminal summary: scaled units, the stress table per model (tool-bench rows count
tasks), arena leaderboards, the cross-model table, and pytest-benchmark's tables off unless
asked for."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmserver.report import ArenaEntry, StressEntry, ToolbenchEntry
from pytest_llmserver.run.tables import (
    aligned,
    arena_lines,
    cross_model_lines,
    fmt_s,
    fmt_triple,
    stress_counts,
    stress_header,
    stress_row,
)


def _stress(model: str = "m", mode: str = "throughput", **figures: Any) -> StressEntry:
    metrics = {
        "ttft_s": {"p50": 0.0512, "p95": 1.5, "p99": 18.8979},
        "tpot_s": {"p50": 0.005, "p95": 0.006, "p99": 0.007},
        "e2e_s": {"p50": 0.2, "p95": 0.3, "p99": 0.4},
    }
    summary = {
        "ok": 16,
        "failed": 1,
        "metrics": metrics,
        "throughput": {"requests_per_s": 38.37, "output_tokens_per_s": 1227.4},
    }
    return StressEntry(mode, "c8-n16", model, {}, summary, 1.0, figures=figures)


def test_durations_are_scaled() -> None:
    assert fmt_s(18.8979) == "18.9 s"
    assert fmt_s(1.5) == "1.50 s"
    assert fmt_s(0.0512) == "51.2 ms"
    assert fmt_s(0.2) == "200 ms"
    assert fmt_s(0.000_42) == "420 µs"
    assert fmt_s(None) == "-"
    assert fmt_triple([0.005, 0.006, 0.007]) == "5.00/6.00/7.00 ms"
    assert fmt_triple([0.0512, 1.5, 18.8979]) == "51.2 ms/1.50 s/18.9 s"
    assert fmt_triple([None, None, None]) == "-/-/-"


def test_stress_row_has_the_headline_figures() -> None:
    entry = _stress()
    assert stress_header([entry]) == [
        "test",
        "ok",
        "failed",
        "",
        "req/s",
        "out tok/s",
        "TTFT p50/p95/p99",
        "TPOT p50/p95/p99",
        "E2E p50/p95/p99",
    ]
    assert stress_row(entry) == [
        "throughput c8-n16",
        "16",
        "1",
        "req",
        "38.37",
        "1,227",
        "51.2 ms/1.50 s/18.9 s",
        "5.00/6.00/7.00 ms",
        "200/300/400 ms",
    ]


def test_tool_bench_stress_row_counts_tasks() -> None:
    entry = _stress(mode="tool_bench", tasks_total=7, tasks_passed=1)
    assert stress_counts(entry) == (1, 6, "tasks")
    assert stress_row(entry)[:4] == ["tool_bench c8-n16", "1", "6", "tasks"]


def test_itl_is_named_when_tpot_was_not_measured() -> None:
    entry = _stress()
    del entry.summary["metrics"]["tpot_s"]
    entry.summary["metrics"]["itl_s"] = {"p50": 0.004, "p95": 0.005, "p99": 0.006}
    assert stress_header([entry])[7] == "ITL p50/p95/p99"
    assert stress_row(entry)[7] == "4.00/5.00/6.00 ms"
    assert stress_header([entry, _stress()])[7] == "TPOT|ITL p50/p95/p99"


def test_aligned_columns() -> None:
    assert aligned(["a", "bb"], [["xyz", "1"], ["q", "22"]]) == [
        "a    bb",
        "xyz   1",
        "q    22",
    ]


def test_arena_leaderboard_in_its_order() -> None:
    board = [
        {"contestant": "concise", "wins": 3, "losses": 1, "ties": 0, "unparseable": 0,
         "win_rate": 0.75, "mean_score": 7.25, "score_n": 4},
        {"contestant": "plain", "wins": 1, "losses": 3, "ties": 0, "unparseable": 1,
         "win_rate": 0.25, "mean_score": None, "score_n": 0},
    ]  # fmt: skip
    lines = arena_lines(ArenaEntry("prompts", "judge", ["concise", "plain"], board))
    assert lines[0].split() == ["#", "contestant", "win", "rate", "W/L/T", "mean", "score",
                                "unreadable"]  # fmt: skip
    assert lines[1].split() == ["1", "concise", "75%", "3/1/0", "7.2", "0"]
    assert lines[2].split() == ["2", "plain", "25%", "1/3/0", "-", "1"]


def test_cross_model_table_only_with_several_models() -> None:
    bench = ToolbenchEntry(
        "b", 1, 1, 1.0, [{"tier": "all", "tasks": 2, "pass_at_1": 0.5, "pass_all": 0.5}], []
    )
    assert cross_model_lines([_stress("a")], []) == []
    lines = cross_model_lines([_stress("a"), _stress("a", tasks_total=1)], [bench])
    assert lines[0].split()[:3] == ["model", "stress", "tests"]
    assert lines[1].split() == ["a", "2", "32", "2", "38.37", "1,227", "51.2", "ms", "300", "ms",
                                "-"]  # fmt: skip
    assert lines[2].split() == ["b", "0", "0", "0", "-", "-", "-", "-", "50.0%"]


# --- through pytest ----------------------------------------------------------------------------

BURST = ("--llm-server=sim", "-m", "throughput", "--llm-sweep=2,8", "--llm-total=8")


def test_summary_table_and_no_benchmark_tables(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest(*BURST, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*= stress: *",
            "test * ok * failed * req/s * out tok/s * TTFT p50/p95/p99 * TPOT p50/p95/p99 *"
            " E2E p50/p95/p99",
            "throughput c2-n8 * 8 * 0 * req * ms * ms * ms",
            "throughput c8-n8 * 8 * 0 * req * ms * ms * ms",
            "reports in logs/*: stress-throughput-c2-n8.md, stress-throughput-c8-n8.md",
        ]
    )
    assert "benchmark 'llm throughput'" not in result.stdout.str()
    asked = llm_pytester.runpytest(*BURST, "-p", "no:cacheprovider", "--benchmark-columns=min,max")
    asked.assert_outcomes(passed=2)
    asked.stdout.fnmatch_lines(["*benchmark 'llm throughput': 2 tests*"])


def test_tool_bench_and_arena_in_the_summary(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest(
        "--llm-server=sim",
        "--llm-model=oracle",
        "-m",
        "(toolbench and quick) or arena",
        "-k",
        "toolbench or prompt",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(
        [
            "*tool bench: oracle*",
            "quick        7 tasks  pass@1 100.0%  pass^1 100.0%  partial 100.0%",
            "7 of 7 tasks passed every trial; wall time *, concurrency *",
            "*arena: prompts (judge judge-fair)*",
            "#  contestant * win rate  W/L/T  mean score  unreadable",
            "1  *",
            "2  *",
            "3  *",
        ]
    )
