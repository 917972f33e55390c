"""Partial credit next to strict success: per tier and overall, the mean share of checks
passed, in all and by group (tool selection, arguments, answer, safety)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_llmserver.toolbench.scoring import GROUPS, TaskScore
from pytest_llmserver.toolbench.task import TIERS


@dataclass
class PartialRow:
    """Partial credit of one tier (or ``all``): mean over its tasks' trials."""

    tier: str
    tasks: int
    partial: float
    groups: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _row(tier: str, tasks: Sequence[Sequence[TaskScore]]) -> PartialRow:
    per_task = [_mean([s.partial for s in trials]) for trials in tasks]
    groups = {}
    for group in GROUPS:
        shares = [
            _mean([s.groups[group] for s in trials if group in s.groups])
            for trials in tasks
            if any(group in s.groups for s in trials)
        ]
        if shares:
            groups[group] = _mean(shares)
    return PartialRow(tier=tier, tasks=len(tasks), partial=_mean(per_task), groups=groups)


def partial_summary(scores: Iterable[tuple[str, Sequence[TaskScore]]]) -> list[PartialRow]:
    """One row per tier present (``TIERS`` order), then ``all``; ``scores`` holds each task's
    tier and its trials' scores (tasks without trials are left out)."""
    tasks = [(tier, list(trials)) for tier, trials in scores if trials]
    rows = [
        _row(tier, [trials for t, trials in tasks if t == tier])
        for tier in TIERS
        if any(t == tier for t, _ in tasks)
    ]
    return [*rows, _row("all", [trials for _, trials in tasks])] if tasks else []
