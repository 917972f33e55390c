"""Tool-bench mode: the agentic tool bench at a concurrency, so accuracy is measured under load.

Each model turn of each trial becomes a record as the trial ends (``task_id``, ``step``; no send
times, the bench times its own turns): a failed turn is a failed record with its error class,
a turn cancelled by an interrupt a ``cancelled`` one. A trial that failed before its first
turn gets one failed record.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pytest_llmserver.client import ChatMetrics, ModelClient
from pytest_llmserver.stress.modes.base import ModeOutput, TesterBase
from pytest_llmserver.stress.records import TestResult
from pytest_llmserver.stress.result import TestStats
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.timing import RunClock

if TYPE_CHECKING:
    from pytest_llmserver.toolbench import AgentTask, TaskScore, ToolbenchRun, Trajectory

ALL_TIERS = ("all", "full")
"""Names for every tier (``full`` is the seed's)."""


async def run_tool_bench_test(
    tester: TesterBase, tier: str = "quick", concurrency: int = 4
) -> TestStats:
    """The tool bench at ``concurrency``: pass rate next to per-turn latency. ``tier`` is one
    tier, or ``"all"`` (the seed's ``"full"``) for every tier."""
    from pytest_llmserver.toolbench import TIERS, builtin_tasks, run_toolbench

    tier = "all" if tier in ALL_TIERS else tier
    if tier != "all" and tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r} (all, full, {', '.join(TIERS)})")
    tasks = [t for t in builtin_tasks() if tier in ("all", t.tier)]

    async def body(client: ModelClient, clock: RunClock, sink: JsonlSink) -> ModeOutput:
        numbers = itertools.count()

        def on_trial(task: AgentTask, trajectory: Trajectory, score: TaskScore | None) -> None:
            for result in trajectory_records(trajectory):
                result.index = next(numbers)
                sink.started += 1  # keeps the in-flight count of progress lines at zero
                sink.write(result.to_record())

        run = await run_toolbench(client, tasks, concurrency=concurrency, on_trial=on_trial)
        rows = [
            {"tier": r.tier, "tasks": r.tasks, "pass_rate": r.pass_at_1} for r in run.summaries()
        ]
        figures = {
            "pass_rate": rows[-1]["pass_rate"] if rows else None,
            "tool_bench_wall_s": run.wall_s,
            **trial_figures(run),
        }
        return ModeOutput(tables={"tool_bench": rows}, figures=figures)

    params = {"tier": tier, "concurrency": concurrency, "tasks": len(tasks)}
    return await tester.run_mode("tool_bench", params, body, pool=concurrency)


def trajectory_records(trajectory: Trajectory) -> Iterator[TestResult]:
    """One record per model turn (failed turns failed), one failed record for a trial that
    failed before its first turn; indexes are set when written."""
    for step in trajectory.steps:
        metrics = ChatMetrics(
            ttft_s=step.ttft_s,
            ttf_tool_call_s=step.ttf_tool_call_s,
            e2e_s=step.latency_s,
            output_tokens=step.output_tokens,
            finish_reason=step.finish_reason,
            suspect=list(step.suspect),
        )
        yield _record(
            step.error_class is None,
            trajectory.task_id,
            step=step.index,
            metrics=metrics,
            error_class=step.error_class,
            error=step.error,
        )
    if trajectory.error and not trajectory.steps:
        yield _record(
            False, trajectory.task_id, error_class=trajectory.error_class, error=trajectory.error
        )


def _record(
    ok: bool,
    task_id: str,
    *,
    step: int | None = None,
    metrics: ChatMetrics | None = None,
    error_class: str | None = None,
    error: str | None = None,
) -> TestResult:
    """A tool-bench record; its index is set when written."""
    return TestResult(
        index=0,
        warmup=False,
        scheduled_s=None,
        sent_s=None,
        end_s=None,
        ok=ok,
        error_class=error_class,
        error=error,
        task_id=task_id,
        step=step,
        metrics=metrics or ChatMetrics(),
    )


def trial_figures(run: ToolbenchRun) -> dict[str, Any]:
    """Trials run and passed, mean model turns and tool calls per trial."""
    scores = [score for result in run.results.values() for _, score in result.trials]
    return {
        "tasks_total": len(scores),
        "tasks_passed": sum(score.passed for score in scores),
        "avg_agent_iterations": statistics.fmean(s.iterations for s in scores) if scores else 0.0,
        "avg_tool_calls_per_task": statistics.fmean(s.tool_calls for s in scores)
        if scores
        else 0.0,
    }
