"""The tool bench's token cap: turns cut at it are named in the task result and the report
says what every turn was sent with."""

from __future__ import annotations

from pytest_llmserver.toolbench import (
    STEP_MAX_TOKENS,
    AgentTask,
    TaskResult,
    ToolbenchRun,
    Trajectory,
    score_task,
)
from pytest_llmserver.toolbench.agent import StepRecord
from pytest_llmserver.toolbench.report import render_markdown, to_json


def step(index: int, finish_reason: str) -> StepRecord:
    return StepRecord(index, 1.0, 0.1, None, STEP_MAX_TOKENS, finish_reason, "x" * 40, "", 0)


TASK = AgentTask(task_id="T1", tier="quick", difficulty="Q", prompt="p", tools=())


def test_a_capped_turn_is_named_in_the_reason_and_the_outcome() -> None:
    trajectory = Trajectory("T1", "m", steps=[step(0, "length")], answered=True, final_answer="")
    score = score_task(TASK, trajectory)
    assert not score.passed
    assert score.capped_steps == 1
    assert score.reason == (
        "no tool was called (1 model turn(s) cut at the token cap: finish_reason=length)"
    )
    result = TaskResult(TASK, [(trajectory, score)])
    assert result.outcome()["capped_steps"] == 1


def test_uncapped_outcomes_keep_their_keys() -> None:
    trajectory = Trajectory("T1", "m", steps=[step(0, "stop")], answered=True, final_answer="")
    score = score_task(TASK, trajectory)
    assert (score.capped_steps, score.reason) == (0, "no tool was called")
    assert "capped_steps" not in TaskResult(TASK, [(trajectory, score)]).outcome()


def test_the_report_says_what_was_sent() -> None:
    sent = {"max_tokens": STEP_MAX_TOKENS, "temperature": 0.0, "seed": None}
    run = ToolbenchRun("m", "http://127.0.0.1:9", 1, 2, {}, 0.5, sent, ["concurrency 2 = x"])
    text = render_markdown(run)
    assert "Sent with every turn: max_tokens 512 · temperature 0 · seed none" in text
    assert "Note: concurrency 2 = x" in text
    assert to_json(run)["sent"] == sent
