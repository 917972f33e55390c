"""``--llm-repeat=5`` under pytest against the simulator's flaky-60 model: one test per task
(passing only when all five trials pass), pass@1 near 0.6 with an interval that holds it, a
flip rate and the flaky tasks in the report and ``results.json``."""

from __future__ import annotations

import json

import pytest

from pytest_llmserver.servers import FLAKY
from pytest_llmserver.servers.flaky import trial_passes
from pytest_llmserver.toolbench import builtin_tasks

SEED = 42  # --llm-sampling-seed's default


@pytest.mark.usefixtures("llm_pytester")
def test_repeat_five_on_the_flaky_model(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess(
        "--llm-server=sim",
        f"--llm-logs={pytester.path / 'logs'}",
        f"--llm-model={FLAKY}",
        "-m",
        "toolbench",
        "--llm-repeat=5",
        "--llm-concurrency=8",
        "--llm-sim-slowdown=0.05",
        "-p",
        "no:cacheprovider",
    )
    draws = {
        t.task_id: [trial_passes(0.6, SEED + i, t.task_id) for i in range(5)]
        for t in builtin_tasks()
    }
    solid = sum(all(d) for d in draws.values())
    result.assert_outcomes(passed=solid, failed=45 - solid)
    mixed = next(t for t, d in draws.items() if any(d) and not all(d))
    result.stdout.fnmatch_lines([f"*{mixed}: {sum(draws[mixed])}/5 trials passed; *"])

    latest = pytester.path / "logs" / "latest"
    bench = json.loads((latest / "results.json").read_text())["toolbench"][0]
    assert bench["repeat"] == 5
    overall = bench["summary"][-1]
    assert (overall["tier"], overall["tasks"], overall["trials"]) == ("all", 45, 225)
    assert overall["pass_at_1"] == pytest.approx(sum(map(sum, draws.values())) / 225)
    assert abs(overall["pass_at_1"] - 0.6) < 0.1
    assert overall["pass_at_1_low"] <= 0.6 <= overall["pass_at_1_high"]
    assert overall["flip_rate"] == pytest.approx(
        sum(any(d) and not all(d) for d in draws.values()) / 45
    )
    assert overall["flaky"] == sorted(t for t, d in draws.items() if any(d) and not all(d))
    assert set(overall["pass_hat"]) == {"1", "2", "3", "4", "5"}
    tasks = {t["task_id"]: t for t in bench["tasks"]}
    assert all(tasks[t]["trial_passed"] == d for t, d in draws.items())
    [*_, everything] = bench["partial_credit"]  # partial credit: the failed trials' share too
    assert everything["tasks"] == 45
    assert 0 < everything["partial"] < 1

    report = (latest / "toolbench.md").read_text()
    assert "## Variance over 5 trials per task" in report
    assert f"- `{mixed}` (" in report
