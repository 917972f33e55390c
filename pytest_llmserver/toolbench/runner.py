"""Run many tasks, K trials each, N at once; aggregate pass@1 and pass^k by tier."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_llmserver.client import ModelClient
from pytest_llmserver.toolbench.agent import Diagnostics, Trajectory, run_agent_loop
from pytest_llmserver.toolbench.partial import PartialRow, partial_summary
from pytest_llmserver.toolbench.scoring import TaskScore, score_task
from pytest_llmserver.toolbench.task import TIERS, AgentTask

STEP_MAX_TOKENS = 512
"""The tool bench's default cap on generated tokens per model turn (``--llm-max-tokens``
replaces it)."""


@dataclass
class TaskResult:
    """Every trial of one task."""

    task: AgentTask
    trials: list[tuple[Trajectory, TaskScore]] = field(default_factory=list)

    @property
    def passes(self) -> int:
        """Trials that passed."""
        return sum(s.passed for _, s in self.trials)

    @property
    def pass_at_1(self) -> float:
        """Share of trials that passed (the pass@1 estimate)."""
        return self.passes / len(self.trials) if self.trials else 0.0

    @property
    def passed_all(self) -> bool:
        """True when every trial passed (counts toward pass^k)."""
        return bool(self.trials) and all(s.passed for _, s in self.trials)

    @property
    def reason(self) -> str:
        """The reason of the first failed trial, else empty."""
        return next((s.reason for _, s in self.trials if not s.passed), "")

    @property
    def capped_steps(self) -> int:
        """Model turns, over all trials, cut at the token cap (``finish_reason=length``)."""
        return sum(s.capped_steps for _, s in self.trials)

    def outcome(self) -> dict[str, Any]:
        """``{passed_all, passes, trials, tier, reason}``: what summaries and baselines need
        (and ``capped_steps`` when a turn ended at the token cap)."""
        out: dict[str, Any] = {
            "passed_all": self.passed_all,
            "passes": self.passes,
            "trials": len(self.trials),
            "tier": self.task.tier,
            "reason": self.reason,
        }
        if self.capped_steps:
            out["capped_steps"] = self.capped_steps
        return out


@dataclass
class TierSummary:
    """Pass rates of one tier (or of all tasks)."""

    tier: str
    tasks: int
    pass_at_1: float
    pass_all: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def tier_summary(outcomes: Iterable[Mapping[str, Any]]) -> list[TierSummary]:
    """One row per tier present (in ``TIERS`` order), then ``all``.

    ``outcomes`` holds one mapping per task with ``tier``, ``passes``, ``trials`` and
    ``passed_all`` (``TaskResult.outcome()``, or outcomes merged from several workers).
    """
    tasks = list(outcomes)
    groups = [(tier, [t for t in tasks if t.get("tier") == tier]) for tier in TIERS]
    rows = []
    for tier, members in [*groups, ("all", tasks)]:
        if members:
            rows.append(
                TierSummary(
                    tier=tier,
                    tasks=len(members),
                    pass_at_1=sum(t["passes"] / max(t["trials"], 1) for t in members)
                    / len(members),
                    pass_all=sum(bool(t["passed_all"]) for t in members) / len(members),
                )
            )
    return rows


@dataclass
class ToolbenchRun:
    """One run of the tool bench against one model."""

    model: str
    server_url: str
    repeat: int
    concurrency: int
    results: dict[str, TaskResult]
    wall_s: float
    sent: dict[str, Any] = field(default_factory=dict)
    """The sampling settings every request carried: ``max_tokens``, ``temperature``, ``seed``
    (None: not sent)."""
    notes: list[str] = field(default_factory=list)
    """What the reader should know about how the run was made (a refused seed, say)."""

    def outcomes(self) -> dict[str, dict[str, Any]]:
        """``{task_id: {passed_all, passes, trials, tier, reason}}`` of every task."""
        return {task_id: result.outcome() for task_id, result in self.results.items()}

    def summaries(self) -> list[TierSummary]:
        """One row per tier present, then ``all``."""
        return tier_summary(self.outcomes().values())

    def partial_summary(self) -> list[PartialRow]:
        """Partial credit per tier present, then ``all`` (see ``toolbench.partial``)."""
        return partial_summary(
            (r.task.tier, [score for _, score in r.trials]) for r in self.results.values()
        )

    def diagnostics(self) -> Diagnostics:
        """Model diagnostics summed over every trial."""
        total = Diagnostics()
        for result in self.results.values():
            for trajectory, _ in result.trials:
                total.add(trajectory.diagnostics)
        return total


TrialHook = Callable[[AgentTask, Trajectory, "TaskScore | None"], None]
"""``on_trial(task, trajectory, score)``: a trial ended; ``score`` is None when it was cancelled
(its trajectory then holds what it did, the cancelled turn last)."""


async def run_toolbench(
    client: ModelClient,
    tasks: Sequence[AgentTask],
    *,
    repeat: int = 1,
    concurrency: int = 1,
    max_tokens: int | None = None,
    on_done: Callable[[AgentTask, TaskScore], None] | None = None,
    into: dict[str, TaskResult] | None = None,
    on_trial: TrialHook | None = None,
) -> ToolbenchRun:
    """Run ``repeat`` trials of every task, at most ``concurrency`` at a time.

    One task's failure never stops the others: whatever a trial raises makes it a failed trial.
    ``into`` gains each task's ``TaskResult`` when its first trial finishes (in the order they
    finish) and every later trial, so a caller whose run is interrupted keeps what finished.
    ``on_done(task, score)`` and ``on_trial`` (see ``TrialHook``) are told of each trial.
    """
    finished: dict[str, TaskResult] = {} if into is None else into
    gate = asyncio.Semaphore(max(1, concurrency))

    async def trial(task: AgentTask) -> None:
        trajectory = Trajectory(task_id=task.task_id, model=client.model)
        try:
            async with gate:
                await run_agent_loop(client, task, max_tokens=max_tokens, trajectory=trajectory)
        except (asyncio.CancelledError, KeyboardInterrupt):
            if on_trial is not None:
                on_trial(task, trajectory, None)
            raise
        score = _score(task, trajectory)
        finished.setdefault(task.task_id, TaskResult(task)).trials.append((trajectory, score))
        if on_trial is not None:
            on_trial(task, trajectory, score)
        if on_done is not None:
            on_done(task, score)

    started_ns = time.perf_counter_ns()
    jobs = [asyncio.ensure_future(trial(task)) for task in tasks for _ in range(max(1, repeat))]
    try:
        await asyncio.gather(*jobs)
    finally:  # one trial cancelled or failing ends the run: the others end (and report) first
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
    seed_note = "the server refused the sampling seed: sent without it"
    return ToolbenchRun(
        model=client.model,
        server_url=client.server.url,
        repeat=repeat,
        concurrency=concurrency,
        results={task.task_id: finished[task.task_id] for task in tasks},
        wall_s=(time.perf_counter_ns() - started_ns) * 1e-9,
        sent=sent_settings(client, max_tokens),
        notes=[seed_note] if client.seed_refused else [],
    )


def sent_settings(client: ModelClient, max_tokens: int | None) -> dict[str, Any]:
    """The sampling settings ``client`` sends (with ``max_tokens`` for each turn)."""
    return {"max_tokens": max_tokens, "temperature": client.temperature, "seed": client.seed}


def _score(task: AgentTask, trajectory: Trajectory) -> TaskScore:
    """``score_task``, or a failed score naming the exception when scoring itself fails."""
    try:
        return score_task(task, trajectory)
    except Exception as exc:  # a task the scorer cannot read fails alone
        return TaskScore(
            task_id=task.task_id,
            tier=task.tier,
            passed=False,
            reason=f"scoring failed: {type(exc).__name__}: {exc}",
            completed=False,
            tool_use_ok=False,
            no_forbidden=False,
            answer_ok=False,
            calls_ok=False,
            iterations=trajectory.iterations,
            tool_calls=len(trajectory.calls),
            wall_s=trajectory.wall_s,
        )
