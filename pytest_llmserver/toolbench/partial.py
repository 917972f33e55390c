"""Partial credit next to strict success: per tier and overall, the mean share of checks
passed, in all and by group (tool selection, arguments, answer, safety)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


def task_partial(trials: Sequence[TaskScore]) -> dict[str, Any]:
    """One task's ``partial`` and ``partial_groups``: means over its trials (each group over
    the trials that have checks in it)."""
    groups = {}
    for group in GROUPS:
        shares = [s.groups[group] for s in trials if group in s.groups]
        if shares:
            groups[group] = _mean(shares)
    return {"partial": _mean([s.partial for s in trials]), "partial_groups": groups}


def _row(tier: str, tasks: Sequence[Mapping[str, Any]]) -> PartialRow:
    groups = {}
    for group in GROUPS:
        shares = [t["partial_groups"][group] for t in tasks if group in t["partial_groups"]]
        if shares:
            groups[group] = _mean(shares)
    partial = _mean([t["partial"] for t in tasks])
    return PartialRow(tier=tier, tasks=len(tasks), partial=partial, groups=groups)


def partial_summary(outcomes: Iterable[Mapping[str, Any]]) -> list[PartialRow]:
    """One row per tier present (``TIERS`` order), then ``all``, from tasks' outcomes (their
    ``tier``, ``partial`` and ``partial_groups``; tasks without them are left out), so rows
    merged from several workers' tasks are the same as one run's."""
    tasks = [t for t in outcomes if "partial" in t]
    rows = [
        _row(tier, [t for t in tasks if t["tier"] == tier])
        for tier in TIERS
        if any(t["tier"] == tier for t in tasks)
    ]
    return [*rows, _row("all", tasks)] if tasks else []
