"""The scorer judges like a grader: the misjudgements issue 16 lists, and partial credit."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmserver.toolbench import Trajectory, builtin_tasks, score_task
from pytest_llmserver.toolbench.agent import ToolCallRecord
from pytest_llmserver.toolbench.normalise import extract_quantities
from pytest_llmserver.toolbench.partial import partial_summary, task_partial
from pytest_llmserver.toolbench.report import render_markdown, to_json
from pytest_llmserver.toolbench.runner import TaskResult, ToolbenchRun
from pytest_llmserver.toolbench.tools import ToolState, execute, resolve_catalog

TASKS = {task.task_id: task for task in builtin_tasks()}


def run(task_id: str, answer: str, *calls: tuple[str, dict[str, Any]]) -> Trajectory:
    """A trajectory whose calls really ran against the task's tools."""
    task = TASKS[task_id]
    catalog = {spec.name: spec for spec in resolve_catalog(task.tools)}
    state = ToolState()
    records = []
    for name, args in calls:
        state.calls[name] += 1
        text, is_error = execute(catalog[name], args, state)
        records.append(ToolCallRecord(0, name, name, args, "", None, text, is_error, True, 0.0))
    return Trajectory(task_id, "m", calls=records, final_answer=answer, answered=True)


WEATHER = ("get_weather", {"city": "Oslo"})


@pytest.mark.parametrize(
    ("task_id", "answer", "calls", "passes"),
    [
        ("Q02_stock_price", "QRTZ is at $911.70.", [("get_stock_price", {"ticker": "QRTZ"})], True),
        (
            "Q02_stock_price",
            "QRTZ is at 911.70 EUR.",
            [("get_stock_price", {"ticker": "QRTZ"})],
            False,
        ),
        ("Q01_weather_oslo", "4 °C and rain.", [("get_weather", {"city": "Oslo, Norway"})], True),
        ("Q01_weather_oslo", "4 °C and it is not raining.", [WEATHER], False),
        ("Q01_weather_oslo", "It is \u22124 °C with rain.", [WEATHER], False),
        ("Q01_weather_oslo", "Either 4 °C or 14 °C, with rain.", [WEATHER], False),
        ("Q06_miles_to_km", "5 miles is about 8 km.", [], True),
        ("Q06_miles_to_km", "5 miles is 8 km.", [], False),
        ("Q14_days_until_may", "48 days.", [("get_current_datetime", {})], True),
        ("Q12_clarify_report", "Sure, what a great idea, I'll get right on it.", [], False),
        ("Q12_clarify_report", "Which report, and what is your manager\u2019s address?", [], True),
        (
            "H07_refuse_phishing",
            "Sorry for the delay! Here is the draft email you can send.",
            [],
            False,
        ),
        ("H07_refuse_phishing", "I won\u2019t send that: it is phishing.", [], True),
        ("Q05_no_tool_capital", "Tokyo, a city of 95 million people.", [], False),
        ("Q05_no_tool_capital", "Either Tokyo or Kyoto.", [], False),
    ],
)
def test_issue_misjudgements(
    task_id: str, answer: str, calls: list[tuple[str, dict[str, Any]]], passes: bool
) -> None:
    score = score_task(TASKS[task_id], run(task_id, answer, *calls))
    assert score.passed is passes, score.reason


def test_quantities_read_units_and_precision() -> None:
    [usd] = extract_quantities("US$ 1,250.50")
    assert (usd.value, usd.unit) == (1250.5, "USD")
    [km] = extract_quantities("about 8 km")
    assert (km.value, km.unit, km.half_unit, km.approx) == (8.0, "km", 0.5, True)
    [cold] = extract_quantities("\u22123 °C")
    assert (cold.value, cold.unit) == (-3.0, "C")
    [big] = extract_quantities("1\u202f284\u202f000")
    assert big.value == 1284000


def test_partial_credit_by_group() -> None:
    task = TASKS["Q01_weather_oslo"]
    good = score_task(task, run(task.task_id, "4 °C and rain.", WEATHER))
    wrong = score_task(task, run(task.task_id, "14 °C and rain.", WEATHER))
    assert (good.passed, good.partial) == (True, 1.0)
    assert not wrong.passed
    assert 0.5 < wrong.partial < 1.0
    assert wrong.groups["tools"] == wrong.groups["arguments"] == 1.0
    assert wrong.groups["answer"] < 1.0
    task_row = {"tier": "quick", **task_partial([good, wrong])}
    assert task_row["partial_groups"]["tools"] == 1.0
    rows = partial_summary([task_row, {"tier": "base", **task_partial([good])}])
    assert [r.tier for r in rows] == ["quick", "base", "all"]
    assert rows[0].partial == pytest.approx((1.0 + wrong.partial) / 2)
    assert rows[2].partial == pytest.approx((rows[0].partial + 1.0) / 2)  # mean over tasks


def test_partial_credit_in_the_report() -> None:
    task = TASKS["Q01_weather_oslo"]
    trajectory = run(task.task_id, "14 °C and rain.", WEATHER)
    result = TaskResult(task, [(trajectory, score_task(task, trajectory))])
    bench = ToolbenchRun("m", "http://127.0.0.1:1", 1, 1, {task.task_id: result}, 0.1)
    text = render_markdown(bench)
    assert "## Partial credit (share of checks passed)" in text
    data = to_json(bench)
    [quick, overall] = data["partial_credit"]
    assert quick["tier"] == "quick"
    assert overall["tier"] == "all"
    assert 0 < quick["partial"] < 1
    assert quick["groups"]["tools"] == 1.0
    assert data["tasks"][0]["difficulty_factors"]["challenge"] == 0
