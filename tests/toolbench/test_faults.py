"""The agent loop and the bench under faults: any exception of a model turn ends that trajectory
with its error class and every step so far (the failed turn's partial figures too); a tool's own
failure stays a tool error; no task stops the others; an interrupted bench keeps what finished."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver._util import Redactor
from pytest_llmserver.client import CANCELLED, INTERNAL, LLMHTTPStatusError, ModelClient
from pytest_llmserver.toolbench import (
    AgentTask,
    TaskResult,
    TaskScore,
    Trajectory,
    builtin_tasks,
    run_agent_loop,
    run_toolbench,
    write_report,
)
from pytest_llmserver.toolbench.tools import ToolSpec
from tests.stress.fakes import FAULTS, FaultyClient, error_class_of


def task(tools: tuple[str, ...] = ("calculator",), **kw: Any) -> AgentTask:
    return AgentTask(task_id="T1", tier="quick", difficulty="Q", prompt="2+2?", tools=tools, **kw)


def fake(client: FaultyClient) -> ModelClient:
    return client  # type: ignore[return-value]


@pytest.mark.parametrize("make", FAULTS)
async def test_a_failing_turn_ends_the_trajectory_and_keeps_every_step(make: Any) -> None:
    client = FaultyClient(every=0, at={1: make})  # turn 0 calls a tool, turn 1 fails
    trajectory = await run_agent_loop(fake(client), task())
    expected = error_class_of(make())
    assert trajectory.error_class == expected
    assert [s.error_class for s in trajectory.steps] == [None, expected]
    assert trajectory.steps[1].error == trajectory.error
    assert len(trajectory.calls) == 1  # the tool call of turn 0 is kept
    assert not trajectory.answered
    if expected == INTERNAL:
        assert re.match(r"^[A-Za-z]+Error: \S", trajectory.error or "")
    if expected == "timeout":  # the failed turn's partial figures
        assert (trajectory.steps[1].ttft_s, trajectory.steps[1].output_tokens) == (0.5, 3)


async def test_a_reply_the_loop_cannot_read_is_an_internal_failure() -> None:
    client = FaultyClient(every=0, bad_replies=(1,))  # the answer's content is not text
    trajectory = await run_agent_loop(fake(client), task())
    assert trajectory.error_class == INTERNAL
    assert (trajectory.error or "").startswith("TypeError: expected string")
    assert [s.error_class for s in trajectory.steps] == [None, INTERNAL]
    assert trajectory.steps[1].latency_s == client.delay_s  # the turn's own figures kept
    assert trajectory.wall_s > 0


async def test_a_tool_that_raises_stays_a_tool_error() -> None:
    def explode(args: dict[str, Any], state: object) -> object:
        raise RuntimeError("tool bug")

    boom = ToolSpec("boom", "explodes", {"type": "object", "properties": {}}, explode)
    client = FaultyClient(every=0)
    trajectory = await run_agent_loop(
        fake(client), task(tools=("boom",), declared_tools={"boom": boom})
    )
    assert trajectory.error is None
    assert trajectory.answered
    assert trajectory.calls[0].is_error
    assert "tool boom failed: RuntimeError: tool bug" in trajectory.calls[0].result


async def test_a_task_that_fails_before_its_first_turn() -> None:
    client = FaultyClient(every=0)
    trajectory = await run_agent_loop(fake(client), task(tools=("no_such_tool",)))
    assert client.calls == 0
    assert trajectory.steps == []
    assert trajectory.error_class == INTERNAL
    assert (trajectory.error or "").startswith("KeyError: \"unknown tool 'no_such_tool'")


async def test_a_cancelled_loop_keeps_its_steps_in_the_given_trajectory() -> None:
    client = FaultyClient(every=0, delay_s=0.2)
    trajectory = Trajectory("T1", "fake")
    running = asyncio.ensure_future(run_agent_loop(fake(client), task(), trajectory=trajectory))
    await asyncio.sleep(0.3)  # turn 0 is done, turn 1 is in flight
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert [s.error_class for s in trajectory.steps] == [None, CANCELLED]
    assert trajectory.error_class == CANCELLED
    assert len(trajectory.calls) == 1


async def test_no_task_stops_the_bench() -> None:
    tasks = builtin_tasks()
    client = FaultyClient(every=3)
    run = await run_toolbench(fake(client), tasks, concurrency=4)
    assert list(run.results) == [t.task_id for t in tasks]
    assert all(len(result.trials) == 1 for result in run.results.values())
    failed = [t for r in run.results.values() for t, _ in r.trials if t.error]
    assert len(failed) == sum(client.raised.values())  # one failed trajectory per fault
    assert {t.error_class for t in failed} == {INTERNAL, "protocol", "timeout"}
    reasons = [r.reason for r in run.results.values() if r.trials[0][0].error]
    assert all(re.match(r"^(internal|protocol|timeout) error: ", reason) for reason in reasons)


async def test_an_interrupted_bench_keeps_the_trials_that_finished() -> None:
    tasks = builtin_tasks()[:12]
    client = FaultyClient(every=0, delay_s=0.02)
    finished: dict[str, TaskResult] = {}
    ended: list[tuple[str, TaskScore | None, Trajectory]] = []
    three_done = asyncio.Event()

    def on_trial(task: AgentTask, trajectory: Trajectory, score: TaskScore | None) -> None:
        ended.append((task.task_id, score, trajectory))
        if len(finished) >= 3:
            three_done.set()

    running = asyncio.ensure_future(
        run_toolbench(fake(client), tasks, concurrency=2, into=finished, on_trial=on_trial)
    )
    await three_done.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    scored = [task_id for task_id, score, _ in ended if score is not None]
    cancelled = [trajectory for _, score, trajectory in ended if score is None]
    assert sorted(finished) == sorted(scored)
    assert 3 <= len(finished) < len(tasks)
    assert all(len(result.trials) == 1 for result in finished.values())
    assert len(cancelled) == len(tasks) - len(finished)  # every other trial was told too
    in_flight = [t for t in cancelled if t.steps]
    assert in_flight  # two trials were mid-turn
    assert all(t.steps[-1].error_class == CANCELLED for t in in_flight)
    turns = sum(len(t.steps) for _, _, t in ended)
    assert turns == client.calls  # every model turn sent is in a trajectory


async def test_the_report_is_redacted(tmp_path: Path) -> None:
    key = "KEY-5e1d-never-written"
    echo = LLMHTTPStatusError(401, f"invalid api key {key}", url="http://u:PW-1@127.0.0.1:9")
    client = FaultyClient(every=0, at={0: lambda: echo})
    run = await run_toolbench(fake(client), [task()])
    assert key in (run.results["T1"].trials[0][0].error or "")
    redactor = Redactor(secrets=[key], urls=["http://u:PW-1@127.0.0.1:9"])
    paths = write_report(run, tmp_path, [f"extra {key}"], redactor=redactor)
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert "[redacted]" in text
        assert key not in text
        assert "PW-1" not in text
