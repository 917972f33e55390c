"""Run many tasks, K trials each, N at once; aggregate pass@1 and pass^k by tier."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from pytest_llmserver.client import ModelClient
from pytest_llmserver.toolbench.agent import Diagnostics, Trajectory, run_agent_loop
from pytest_llmserver.toolbench.partial import PartialRow, partial_summary, task_partial
from pytest_llmserver.toolbench.scoring import TaskScore, score_task
from pytest_llmserver.toolbench.task import TIERS, AgentTask
from pytest_llmserver.toolbench.variance import trial_seed, variance_summary

_T = TypeVar("_T")

STEP_MAX_TOKENS = 512
"""The tool bench's default cap on generated tokens per model turn (``--llm-max-tokens``
replaces it)."""


@dataclass
class TaskResult:
    """Every trial of one task."""

    task: AgentTask
    trials: list[tuple[Trajectory, TaskScore]] = field(default_factory=list)
    trial_numbers: list[int] = field(default_factory=list)
    """The 0-based trial number of each entry of ``trials`` (they finish in any order)."""
    trial_seeds: list[int | None] = field(default_factory=list)
    """The sampling seed each trial was sent with (None: none), in ``trial_numbers`` order."""

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
        """``{passed_all, passes, trials, tier, reason, partial, partial_groups}``: what
        summaries and baselines need (and ``capped_steps`` when a turn ended at the token
        cap)."""
        out: dict[str, Any] = {
            "passed_all": self.passed_all,
            "passes": self.passes,
            "trials": len(self.trials),
            "tier": self.task.tier,
            "reason": self.reason,
        }
        if self.capped_steps:
            out["capped_steps"] = self.capped_steps
        if len(self.trials) > 1:
            out["trial_passed"] = self.trial_passed()
        if self.trials:  # partial credit: share of checks passed, mean over the trials
            out.update(task_partial([score for _, score in self.trials]))
        return out

    def trial_passed(self) -> list[bool]:
        """Each trial's outcome in trial-number order (finish order for trials not numbered)."""
        return self._in_order([s.passed for _, s in self.trials])

    def ordered_seeds(self) -> list[int | None]:
        """Each trial's sampling seed in trial-number order (as ``trial_passed``)."""
        return self._in_order(self.trial_seeds)

    def _in_order(self, values: list[_T]) -> list[_T]:
        if len(self.trial_numbers) != len(values):
            return list(values)
        pairs = sorted(zip(self.trial_numbers, values, strict=True), key=lambda pair: pair[0])
        return [value for _, value in pairs]


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


@dataclass
class RepeatedTierSummary(TierSummary):
    """A tier's pass rates when tasks ran more than one trial: ``pass_at_1`` with its interval
    (``toolbench.variance.CI_METHOD``), pass^k for every k, the flip rate and the flaky tasks."""

    trials: int = 0
    pass_at_1_low: float = 0.0
    pass_at_1_high: float = 0.0
    pass_hat: dict[str, float] = field(default_factory=dict)
    """``{"k": pass^k}``, the unbiased estimate (mean over tasks of C(c,k)/C(n,k))."""
    flip_rate: float = 0.0
    """Share of tasks whose trials did not all agree."""
    pair_disagreement: float = 0.0
    """Mean over tasks of the share of trial pairs that disagree."""
    flaky: list[str] = field(default_factory=list)


def tier_summary(outcomes: Iterable[Mapping[str, Any]]) -> list[TierSummary]:
    """One row per tier present (in ``TIERS`` order), then ``all``.

    ``outcomes`` holds one mapping per task with ``tier``, ``passes``, ``trials`` and
    ``passed_all`` (``TaskResult.outcome()``, or outcomes merged from several workers).
    With ``task_id`` and more than one trial per task, see ``with_variance``.
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
    return with_variance(rows, tasks)


def with_variance(rows: list[TierSummary], tasks: list[Mapping[str, Any]]) -> list[TierSummary]:
    """``rows`` as they are when no task had more than one trial; else each row as a
    ``RepeatedTierSummary`` with the variance figures of its tier's tasks (named by their
    ``task_id``)."""
    if not any(int(t.get("trials") or 0) > 1 for t in tasks):
        return rows
    out: list[TierSummary] = []
    for row in rows:
        members = [t for t in tasks if row.tier in ("all", t.get("tier"))]
        named = {str(t.get("task_id", f"#{i}")): t for i, t in enumerate(members)}
        variance = variance_summary(named)
        if variance is None:
            out.append(row)
            continue
        out.append(
            RepeatedTierSummary(
                **asdict(row),
                trials=variance.trials,
                pass_at_1_low=variance.pass_at_1_low,
                pass_at_1_high=variance.pass_at_1_high,
                pass_hat=variance.pass_hat,
                flip_rate=variance.mixed_share,
                pair_disagreement=variance.pair_disagreement,
                flaky=list(variance.flaky),
            )
        )
    return out


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
        return tier_summary({"task_id": k, **v} for k, v in self.outcomes().items())

    def partial_summary(self) -> list[PartialRow]:
        """Partial credit per tier present, then ``all`` (see ``toolbench.partial``)."""
        return partial_summary(self.outcomes().values())

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
    Trial ``i`` (0-based) of a task is sent with the sampling seed ``client.seed + i``
    (``variance.trial_seed``), so trials differ on a sampling server and a rerun repeats them.
    """
    finished: dict[str, TaskResult] = {} if into is None else into
    gate = asyncio.Semaphore(max(1, concurrency))
    views: list[ModelClient] = []

    async def trial(task: AgentTask, number: int) -> None:
        trajectory = Trajectory(task_id=task.task_id, model=client.model)
        sender = client
        try:
            async with gate:
                sender = _trial_client(client, number, views)
                await run_agent_loop(sender, task, max_tokens=max_tokens, trajectory=trajectory)
        except (asyncio.CancelledError, KeyboardInterrupt):
            if on_trial is not None:
                on_trial(task, trajectory, None)
            raise
        score = _score(task, trajectory)
        result = finished.setdefault(task.task_id, TaskResult(task))
        result.trials.append((trajectory, score))
        result.trial_numbers.append(number)
        result.trial_seeds.append(sender.seed)
        if on_trial is not None:
            on_trial(task, trajectory, score)
        if on_done is not None:
            on_done(task, score)

    started_ns = time.perf_counter_ns()
    jobs = [
        asyncio.ensure_future(trial(task, number))
        for task in tasks
        for number in range(max(1, repeat))
    ]
    try:
        await asyncio.gather(*jobs)
    finally:  # one trial cancelled or failing ends the run: the others end (and report) first
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
    notes = []
    if client.seed_refused or any(view.seed_refused for view in views):
        notes.append("the server refused the sampling seed: sent without it")
    elif repeat > 1 and client.seed is not None:
        notes.append(
            f"trial i (0..{repeat - 1}) of each task was sent sampling seed {client.seed}+i"
        )
    return ToolbenchRun(
        model=client.model,
        server_url=client.server.url,
        repeat=repeat,
        concurrency=concurrency,
        results={task.task_id: finished[task.task_id] for task in tasks},
        wall_s=(time.perf_counter_ns() - started_ns) * 1e-9,
        sent=sent_settings(client, max_tokens),
        notes=notes,
    )


def _trial_client(client: ModelClient, number: int, views: list[ModelClient]) -> ModelClient:
    """``client`` for trial 0; for a later trial a shallow copy (same connection pool) that
    sends that trial's seed, kept in ``views`` (seedless once the server refused a seed)."""
    if number == 0 or client.seed is None:
        return client
    view = copy.copy(client)
    refused = client.seed_refused or any(v.seed_refused for v in views)
    view.seed, view.seed_refused = None if refused else trial_seed(client.seed, number), refused
    views.append(view)
    return view


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
