"""The 45 built-in tasks (YAML in the package) and their tier subsets, loaded on first use."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pytest_llmserver.toolbench.task import TIERS, AgentTask, load_task_files

TASKS_DIR = Path(__file__).with_name("tasks")
SUBSETS = {
    "QUICK_SUBSET": "quick",
    "HARD_SUBSET": "hard",
    "BRUTAL_SUBSET": "brutal",
    "REALISTIC_SUBSET": "realistic",
    "EXTREME_SUBSET": "extreme",
}
"""The seed's names of the tier subsets (frozen sets of task ids)."""


@cache
def builtin_tasks() -> tuple[AgentTask, ...]:
    """The 45 built-in tasks, ordered by tier then file order."""
    tasks = load_task_files(sorted(TASKS_DIR.glob("*.yaml")))
    return tuple(sorted(tasks, key=lambda t: TIERS.index(t.tier)))


def tier_ids(tier: str) -> frozenset[str]:
    """The ids of the built-in tasks of one tier."""
    return frozenset(t.task_id for t in builtin_tasks() if t.tier == tier)
