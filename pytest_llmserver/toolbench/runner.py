"""Run many tasks, K trials each, N at once; aggregate pass@1 and pass^k by tier."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pytest_llmserver.client import ModelClient
from pytest_llmserver.toolbench.agent import Diagnostics, Trajectory, run_agent_loop
from pytest_llmserver.toolbench.scoring import TaskScore, score_task
from pytest_llmserver.toolbench.task import TIERS, AgentTask


@dataclass
class TaskResult:
    """Every trial of one task."""

    task: AgentTask
    trials: list[tuple[Trajectory, TaskScore]] = field(default_factory=list)

    @property
    def pass_at_1(self) -> float:
        """Share of trials that passed (the pass@1 estimate)."""
        return sum(s.passed for _, s in self.trials) / len(self.trials) if self.trials else 0.0

    @property
    def passed_all(self) -> bool:
        """True when every trial passed (counts toward pass^k)."""
        return bool(self.trials) and all(s.passed for _, s in self.trials)

    @property
    def reason(self) -> str:
        """The reason of the first failed trial, else empty."""
        return next((s.reason for _, s in self.trials if not s.passed), "")


@dataclass
class TierSummary:
    """Pass rates of one tier (or of all tasks)."""

    tier: str
    tasks: int
    pass_at_1: float
    pass_all: float


@dataclass
class ToolbenchRun:
    """One run of the tool bench against one model."""

    model: str
    server_url: str
    repeat: int
    concurrency: int
    results: dict[str, TaskResult]
    wall_s: float

    def summaries(self) -> list[TierSummary]:
        """One row per tier present, then ``all``."""
        rows = []
        groups = [
            (tier, [r for r in self.results.values() if r.task.tier == tier]) for tier in TIERS
        ]
        groups.append(("all", list(self.results.values())))
        for tier, results in groups:
            if results:
                rows.append(
                    TierSummary(
                        tier=tier,
                        tasks=len(results),
                        pass_at_1=sum(r.pass_at_1 for r in results) / len(results),
                        pass_all=sum(r.passed_all for r in results) / len(results),
                    )
                )
        return rows

    def diagnostics(self) -> Diagnostics:
        """Model diagnostics summed over every trial."""
        total = Diagnostics()
        for result in self.results.values():
            for trajectory, _ in result.trials:
                total.add(trajectory.diagnostics)
        return total


async def run_toolbench(
    client: ModelClient,
    tasks: Sequence[AgentTask],
    *,
    repeat: int = 1,
    concurrency: int = 1,
    max_tokens: int | None = None,
    on_done: Callable[[AgentTask, TaskScore], None] | None = None,
) -> ToolbenchRun:
    """Run ``repeat`` trials of every task, at most ``concurrency`` at a time."""
    results = {task.task_id: TaskResult(task) for task in tasks}
    gate = asyncio.Semaphore(max(1, concurrency))

    async def trial(task: AgentTask) -> None:
        async with gate:
            trajectory = await run_agent_loop(client, task, max_tokens=max_tokens)
        score = score_task(task, trajectory)
        results[task.task_id].trials.append((trajectory, score))
        if on_done is not None:
            on_done(task, score)

    started_ns = time.perf_counter_ns()
    await asyncio.gather(*(trial(task) for task in tasks for _ in range(max(1, repeat))))
    return ToolbenchRun(
        model=client.model,
        server_url=client.server.url,
        repeat=repeat,
        concurrency=concurrency,
        results=results,
        wall_s=(time.perf_counter_ns() - started_ns) * 1e-9,
    )
