"""The YAML task schema: the example suite loads; every schema error names file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmserver.toolbench import TaskSchemaError, load_tasks
from pytest_llmserver.toolbench.tools import ToolState, execute

EXAMPLE = Path(__file__).parents[2] / "example_suites" / "orders.llm.yaml"

GOOD_TASK = """\
tasks:
  - id: X1
    tier: quick
    prompt: hi
    tools: []
    expect:
      zero_tools: true
      tool_use_required: false
    solution:
      - answer: hello
"""


def test_example_suite_loads_with_its_declarative_tool() -> None:
    first, second = load_tasks(EXAMPLE)
    assert (first.task_id, first.tier, first.difficulty) == ("U01_order_shipped", "base", "Q")
    assert second.difficulty == "H"
    assert first.required_calls[0].strict_types
    assert second.expected_numbers == (1043.0, 4.0)
    (tool,) = first.catalog()
    state = ToolState()
    assert execute(tool, {"order_id": 1042}, state)[1] is False
    result, is_error = execute(tool, {"order_id": 9}, state)
    assert is_error
    assert "no order with that id" in result
    assert first.source.endswith("orders.llm.yaml:19")


def test_good_minimal_task() -> None:
    (task,) = load_tasks("mem.llm.yaml", GOOD_TASK)
    assert task.expect_zero_tools
    assert task.solution[0].answer == "hello"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD_TASK.replace("    prompt: hi\n", "    prompt: hi\n    colour: red\n"),
            "f.llm.yaml:5: task 'X1': unknown field 'colour' (allowed: ",
        ),
        (
            GOOD_TASK.replace("      zero_tools: true\n", "      zero_tool: true\n"),
            "f.llm.yaml:7: task 'X1'.expect: unknown field 'zero_tool'",
        ),
        (GOOD_TASK.replace("tier: quick", "tier: easy"), "f.llm.yaml:3: task 'X1': tier 'easy'"),
        (
            GOOD_TASK.replace("tools: []", "tools: [no_such_tool]"),
            "f.llm.yaml:5: task 'X1': unknown tool 'no_such_tool'",
        ),
        (
            GOOD_TASK.replace("    prompt: hi\n", ""),
            "f.llm.yaml:2: task 'X1': missing field 'prompt'",
        ),
        (
            GOOD_TASK.replace("max_iterations", "x").replace(
                "    tools: []\n", "    tools: []\n    max_iterations: many\n"
            ),
            "f.llm.yaml:6: task 'X1': field 'max_iterations' must be int, got str",
        ),
        ("tasks: [\n", "f.llm.yaml:2: not valid YAML"),
        (
            GOOD_TASK + GOOD_TASK.replace("tasks:\n", ""),
            "f.llm.yaml:11: duplicate task id 'X1'",
        ),
        (
            GOOD_TASK.replace("      - answer: hello", "      - answer: hello\n        calls: []"),
            "task 'X1'.solution[0]: give either 'calls' or 'answer'",
        ),
    ],
)
def test_schema_errors_name_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(TaskSchemaError) as info:
        load_tasks("f.llm.yaml", text)
    assert message in str(info.value)
