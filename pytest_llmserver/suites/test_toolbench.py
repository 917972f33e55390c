"""The 45 tool-bench tasks: one test per task (id = task id), markers ``toolbench`` + tier."""

from __future__ import annotations

import pytest

from pytest_llmserver.plugin import ToolbenchSession, task_param
from pytest_llmserver.toolbench import AgentTask, builtin_tasks


@pytest.mark.parametrize("llm_task", [task_param(task) for task in builtin_tasks()])
def test_toolbench(
    llm_task: AgentTask, llm_toolbench: ToolbenchSession, request: pytest.FixtureRequest
) -> None:
    llm_toolbench.check(llm_task, request.node)
