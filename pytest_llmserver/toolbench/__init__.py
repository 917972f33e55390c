"""Agentic tool-calling benchmark: 45 tasks with their own tool catalogs, loop, scorer, report.

``TASKS`` and the tier subsets load the built-in YAML tasks on first use.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pytest_llmserver.toolbench.agent import (
    Diagnostics,
    ToolCallRecord,
    Trajectory,
    resolve_tool_name,
    run_agent_loop,
)
from pytest_llmserver.toolbench.report import write_report
from pytest_llmserver.toolbench.runner import (
    TaskResult,
    TierSummary,
    ToolbenchRun,
    run_toolbench,
    tier_summary,
)
from pytest_llmserver.toolbench.scoring import (
    TaskScore,
    call_matches,
    extract_numbers,
    numeric_match,
    score_task,
    word_present,
)
from pytest_llmserver.toolbench.task import (
    TIERS,
    AgentTask,
    RequiredCall,
    SolutionStep,
    TaskSchemaError,
    load_task_files,
    load_tasks,
)
from pytest_llmserver.toolbench.tools.calculator import safe_calc
from pytest_llmserver.toolbench.tools.registry import TOOL_GROUPS

TASKS_DIR = Path(__file__).with_name("tasks")
_SUBSETS = {
    "QUICK_SUBSET": "quick",
    "HARD_SUBSET": "hard",
    "BRUTAL_SUBSET": "brutal",
    "REALISTIC_SUBSET": "realistic",
    "EXTREME_SUBSET": "extreme",
}


@cache
def builtin_tasks() -> tuple[AgentTask, ...]:
    """The 45 built-in tasks, ordered by tier then file order."""
    tasks = load_task_files(sorted(TASKS_DIR.glob("*.yaml")))
    return tuple(sorted(tasks, key=lambda t: TIERS.index(t.tier)))


def __getattr__(name: str) -> Any:
    if name == "TASKS":
        return builtin_tasks()
    if name in _SUBSETS:
        return frozenset(t.task_id for t in builtin_tasks() if t.tier == _SUBSETS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BRUTAL_SUBSET",
    "EXTREME_SUBSET",
    "HARD_SUBSET",
    "QUICK_SUBSET",
    "REALISTIC_SUBSET",
    "TASKS",
    "TASKS_DIR",
    "TIERS",
    "TOOL_GROUPS",
    "AgentTask",
    "Diagnostics",
    "RequiredCall",
    "SolutionStep",
    "TaskResult",
    "TaskSchemaError",
    "TaskScore",
    "TierSummary",
    "ToolCallRecord",
    "ToolbenchRun",
    "Trajectory",
    "builtin_tasks",
    "call_matches",
    "extract_numbers",
    "load_task_files",
    "load_tasks",
    "numeric_match",
    "resolve_tool_name",
    "run_agent_loop",
    "run_toolbench",
    "safe_calc",
    "score_task",
    "tier_summary",
    "word_present",
    "write_report",
]
