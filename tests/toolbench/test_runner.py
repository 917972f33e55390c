"""Run aggregation: per-task outcomes and the one tier summary (also over merged outcomes)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_llmserver.toolbench import (
    AgentTask,
    TaskResult,
    TaskScore,
    TierSummary,
    ToolbenchRun,
    Trajectory,
    tier_summary,
)
from pytest_llmserver.toolbench.runner import RepeatedTierSummary
from pytest_llmserver.toolbench.variance import bootstrap_mean_ci


def task(task_id: str, tier: str) -> AgentTask:
    return AgentTask(task_id=task_id, tier=tier, difficulty="Q", prompt="p", tools=())


def score(task_id: str, tier: str, passed: bool, reason: str = "") -> TaskScore:
    return TaskScore(
        task_id=task_id,
        tier=tier,
        passed=passed,
        reason=reason,
        completed=True,
        tool_use_ok=passed,
        no_forbidden=True,
        answer_ok=True,
        calls_ok=True,
        iterations=1,
        tool_calls=0,
        wall_s=0.0,
        partial=1.0 if passed else 0.5,
        groups={"tools": 1.0 if passed else 0.0, "answer": 1.0},
    )


def result(task_id: str, tier: str, *passes: bool) -> TaskResult:
    outcome = TaskResult(task(task_id, tier))
    for i, passed in enumerate(passes):
        reason = "" if passed else f"failed trial {i}"
        outcome.trials.append((Trajectory(task_id, "m"), score(task_id, tier, passed, reason)))
    return outcome


def make_run() -> ToolbenchRun:
    results = [
        result("Q1", "quick", True, True),
        result("Q2", "quick", True, False),
        result("H1", "hard", False, False),
        result("E1", "extreme"),
    ]
    return ToolbenchRun("m", "http://127.0.0.1:1", 2, 1, {r.task.task_id: r for r in results}, 0.0)


def test_outcomes() -> None:
    assert make_run().outcomes() == {
        "Q1": {
            "passed_all": True,
            "passes": 2,
            "trials": 2,
            "tier": "quick",
            "reason": "",
            "trial_passed": [True, True],
            "partial": 1.0,
            "partial_groups": {"tools": 1.0, "answer": 1.0},
        },
        "Q2": {
            "passed_all": False,
            "passes": 1,
            "trials": 2,
            "tier": "quick",
            "reason": "failed trial 1",
            "trial_passed": [True, False],
            "partial": 0.75,
            "partial_groups": {"tools": 0.5, "answer": 1.0},
        },
        "H1": {
            "passed_all": False,
            "passes": 0,
            "trials": 2,
            "tier": "hard",
            "reason": "failed trial 0",
            "trial_passed": [False, False],
            "partial": 0.5,
            "partial_groups": {"tools": 0.0, "answer": 1.0},
        },
        "E1": {"passed_all": False, "passes": 0, "trials": 0, "tier": "extreme", "reason": ""},
    }


def test_partial_credit_rows_are_means_over_tasks() -> None:
    rows = make_run().partial_summary()  # E1 ran no trial: left out
    assert [(r.tier, r.tasks, r.partial) for r in rows] == [
        ("quick", 2, 0.875),
        ("hard", 1, 0.5),
        ("all", 3, (1.0 + 0.75 + 0.5) / 3),
    ]
    assert rows[0].groups == {"tools": 0.75, "answer": 1.0}


def test_summaries_rows_in_tier_order_then_all() -> None:
    rows = make_run().summaries()
    assert [TierSummary(r.tier, r.tasks, r.pass_at_1, r.pass_all) for r in rows] == [
        TierSummary("quick", 2, 0.75, 0.5),
        TierSummary("hard", 1, 0.0, 0.0),
        TierSummary("extreme", 1, 0.0, 0.0),
        TierSummary("all", 4, 0.375, 0.25),
    ]
    # two trials per task: every row carries the variance figures
    low, high = bootstrap_mean_ci([1.0, 0.5])
    assert rows[0] == RepeatedTierSummary(
        "quick", 2, 0.75, 0.5, 4, low, high, {"1": 0.75, "2": 0.5}, 0.5, 0.5, ["Q2"]
    )
    assert rows[1] == RepeatedTierSummary(
        "hard", 1, 0.0, 0.0, 2, 0.0, 0.0, {"1": 0.0, "2": 0.0}, 0.0, 0.0, []
    )
    assert rows[2] == RepeatedTierSummary("extreme", 1, 0.0, 0.0, 0, 0.0, 0.0, {}, 0.0, 0.0, [])
    low, high = bootstrap_mean_ci([1.0, 0.5, 0.0, 0.0])
    assert isinstance(rows[3], RepeatedTierSummary)
    assert (rows[3].trials, rows[3].pass_at_1_low, rows[3].pass_at_1_high) == (6, low, high)
    assert (rows[3].pass_hat, rows[3].flip_rate, rows[3].flaky) == (
        {"1": 0.5, "2": 1 / 3},
        1 / 3,
        ["Q2"],
    )
    assert rows[0].to_dict() == {
        "tier": "quick",
        "tasks": 2,
        "pass_at_1": 0.75,
        "pass_all": 0.5,
        "trials": 4,
        "pass_at_1_low": rows[0].pass_at_1_low,
        "pass_at_1_high": 1.0,
        "pass_hat": {"1": 0.75, "2": 0.5},
        "flip_rate": 0.5,
        "pair_disagreement": 0.5,
        "flaky": ["Q2"],
    }


def test_one_trial_per_task_keeps_the_plain_rows() -> None:
    run = make_run()
    single = {k: replace(r, trials=r.trials[:1]) for k, r in run.results.items()}
    rows = replace(run, repeat=1, results=single).summaries()
    assert all(type(r) is TierSummary for r in rows)
    assert rows[-1].to_dict() == {"tier": "all", "tasks": 4, "pass_at_1": 0.5, "pass_all": 0.5}
    assert "trial_passed" not in single["Q2"].outcome()


def test_tier_summary_matches_the_run_and_works_on_merged_outcomes() -> None:
    run = make_run()
    named = [{"task_id": k, **v} for k, v in run.outcomes().items()]
    assert tier_summary(named) == run.summaries()
    # outcomes as they arrive from two xdist workers, merged into one list of mappings
    worker_a = [o for o in named if o["task_id"].startswith("Q")]
    worker_b = [o for o in named if not o["task_id"].startswith("Q")]
    merged = iter([*worker_a, *worker_b])
    assert tier_summary(merged) == run.summaries()


def test_tier_summary_edge_cases() -> None:
    assert tier_summary([]) == []
    rows = tier_summary([{"tier": "odd", "passes": 1, "trials": 1, "passed_all": True}])
    assert rows == [TierSummary("all", 1, 1.0, 1.0)]


def test_pass_at_1_of_a_result() -> None:
    assert result("Q2", "quick", True, False).pass_at_1 == pytest.approx(0.5)
    assert result("E1", "extreme").pass_at_1 == 0.0
    assert replace(result("Q1", "quick", True), trials=[]).passes == 0
