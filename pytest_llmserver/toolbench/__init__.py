"""Agentic tool-calling benchmark: 45 tasks with their own tool catalogs, loop, scorer, report.

``TASKS`` and the tier subsets load the built-in YAML tasks on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.toolbench.agent import (
        ToolCallRecord,
        Trajectory,
        run_agent_loop,
    )
    from pytest_llmserver.toolbench.answer_checks import word_present
    from pytest_llmserver.toolbench.builtin import TASKS_DIR, builtin_tasks
    from pytest_llmserver.toolbench.normalise import extract_numbers, numeric_match
    from pytest_llmserver.toolbench.partial import partial_summary
    from pytest_llmserver.toolbench.report import write_report
    from pytest_llmserver.toolbench.runner import (
        STEP_MAX_TOKENS,
        TaskResult,
        TierSummary,
        ToolbenchRun,
        run_toolbench,
        tier_summary,
    )
    from pytest_llmserver.toolbench.scoring import (
        TaskScore,
        call_matches,
        score_task,
    )
    from pytest_llmserver.toolbench.task import (
        TIERS,
        AgentTask,
        RequiredCall,
        SolutionStep,
        TaskSchemaError,
        load_tasks,
    )
    from pytest_llmserver.toolbench.tools.calculator import safe_calc
    from pytest_llmserver.toolbench.tools.registry import TOOL_GROUPS

__all__ = [
    "BRUTAL_SUBSET",
    "EXTREME_SUBSET",
    "HARD_SUBSET",
    "QUICK_SUBSET",
    "REALISTIC_SUBSET",
    "STEP_MAX_TOKENS",
    "TASKS",
    "TASKS_DIR",
    "TIERS",
    "TOOL_GROUPS",
    "AgentTask",
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
    "load_tasks",
    "numeric_match",
    "partial_summary",
    "run_agent_loop",
    "run_toolbench",
    "safe_calc",
    "score_task",
    "tier_summary",
    "word_present",
    "write_report",
]

_face_getattr, __dir__ = lazy_face(
    __name__,
    {
        "agent": "ToolCallRecord Trajectory run_agent_loop",
        "builtin": "TASKS_DIR builtin_tasks",
        "report": "write_report",
        "runner": "STEP_MAX_TOKENS TaskResult TierSummary ToolbenchRun run_toolbench tier_summary",
        "answer_checks": "word_present",
        "normalise": "extract_numbers numeric_match",
        "partial": "partial_summary",
        "scoring": "TaskScore call_matches score_task",
        "task": "TIERS AgentTask RequiredCall SolutionStep TaskSchemaError load_tasks",
        "tools.calculator": "safe_calc",
        "tools.registry": "TOOL_GROUPS",
    },
)


def __getattr__(name: str) -> Any:
    if name == "TASKS" or name.endswith("_SUBSET"):
        from pytest_llmserver.toolbench.builtin import SUBSETS, builtin_tasks, tier_ids

        if name == "TASKS":
            return builtin_tasks()
        if name in SUBSETS:
            return tier_ids(SUBSETS[name])
    return _face_getattr(name)
