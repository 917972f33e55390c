"""The 45 built-in tool-bench tasks: schema, coverage, and a replay of every reference solution."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmserver.toolbench.task import CALL_KEYS, EXPECT_KEYS, TASK_KEYS
from pytest_llmserver.toolbench.tools import (
    DISTRACTOR_TARGETS,
    SECRET_VALUES,
    TOOL_GROUPS,
    ToolState,
    execute,
    resolve_catalog,
)

TASKS_DIR = Path(__file__).parents[2] / "pytest_llmserver" / "toolbench" / "tasks"
TIER_FILES = {
    "quick": 7,
    "base": 8,
    "hard": 11,
    "brutal": 6,
    "realistic": 6,
    "extreme": 7,
}
DIFFICULTY = {
    "quick": "Q",
    "base": "Q",
    "hard": "H",
    "brutal": "B",
    "realistic": "R",
    "extreme": "E",
}
CAPABILITIES = {
    "single_tool",
    "multi_call",
    "parallel_calls",
    "sequential_dependency",
    "distractor_recovery",
    "error_recovery",
    "no_tool_needed",
    "refusal",
    "clarification",
    "prompt_injection_direct",
    "prompt_injection_multihop",
    "exfiltration_refusal",
    "verbose_json",
    "pagination",
    "retry_transient",
    "strict_arguments",
    "large_catalog",
    "conflicting_sources",
    "self_verification",
    "long_horizon",
}
# Solution calls that are meant to fail, beyond distractors and the first rate-limited call.
DESIGNED_ERRORS = {
    ("H01_strict_iso_translation", "translate_text"),
    ("H06_missing_file_recovery", "read_file"),
}
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\d)")


def _load() -> list[tuple[str, dict[str, Any]]]:
    tasks = []
    for path in sorted(TASKS_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(data) == {"tasks"}, path
        tasks += [(path.stem, task) for task in data["tasks"]]
    return tasks


TASKS = _load()
BY_ID = {task["id"]: task for _, task in TASKS}


def _numbers(text: str) -> list[float]:
    return [float(m) for m in _NUMBER.findall(text)]


def _close(expected: float, found: list[float], expect: dict[str, Any]) -> bool:
    rel = float(expect.get("numeric_rel_tol", 0.0))
    abs_ = float(expect.get("numeric_abs_tol", 0.0))
    return any(math.isclose(v, expected, rel_tol=rel, abs_tol=abs_) for v in found)


def _value_ok(expected: Any, actual: Any, substring: bool, strict: bool) -> bool:
    if isinstance(expected, bool):
        return actual is expected
    if isinstance(expected, (int, float)):
        if isinstance(actual, bool) or (strict and type(actual) is not type(expected)):
            return False
        return isinstance(actual, (int, float)) and float(actual) == float(expected)
    if isinstance(expected, str) and isinstance(actual, str):
        if substring:
            return expected.lower() in actual.lower()
        return expected.lower() == actual.strip().lower()
    return bool(expected == actual)


def _call_ok(required: dict[str, Any], call: dict[str, Any]) -> bool:
    if call["name"] != required["name"]:
        return False
    args = call.get("args") or {}
    substring = set(required.get("substring", []))
    strict = bool(required.get("strict_types", False))
    return all(
        key in args and _value_ok(value, args[key], key in substring, strict)
        for key, value in (required.get("args") or {}).items()
    )


def test_counts_ids_and_tiers() -> None:
    assert len(TASKS) == 45
    assert len(BY_ID) == 45, "duplicate task ids"
    assert len({task["prompt"] for _, task in TASKS}) == 45, "duplicate prompts"
    assert Counter(task["tier"] for _, task in TASKS) == TIER_FILES
    for stem, task in TASKS:
        assert task["tier"] == stem, task["id"]
        assert task["difficulty"] == DIFFICULTY[task["tier"]], task["id"]
        assert task["id"][0] == task["difficulty"], task["id"]
        assert re.fullmatch(r"[QHBRE]\d\d_[a-z0-9_]+", task["id"]), task["id"]


def test_every_capability_is_covered() -> None:
    seen = Counter(cap for _, task in TASKS for cap in task["capabilities"])
    assert set(seen) == CAPABILITIES
    assert min(seen.values()) >= 2, seen


@pytest.mark.parametrize("task_id", sorted(BY_ID))
def test_task_schema_and_catalog(task_id: str) -> None:
    task = BY_ID[task_id]
    assert set(task) <= TASK_KEYS
    assert {
        "id",
        "tier",
        "difficulty",
        "capabilities",
        "prompt",
        "tools",
        "expect",
        "solution",
    } <= set(task)
    expect = task["expect"]
    assert set(expect) <= EXPECT_KEYS
    for call in expect.get("calls", []):
        assert set(call) <= CALL_KEYS
    catalog = {spec.name: spec for spec in resolve_catalog(task["tools"])}
    for call in expect.get("calls", []):
        props = catalog[call["name"]].parameters["properties"]
        assert set(call.get("args") or {}) <= set(props), call
        assert set(call.get("substring", [])) <= set(call.get("args") or {}), call
    for name in expect.get("forbidden_tools", []):
        assert name in catalog
    for name, targets in DISTRACTOR_TARGETS.items():
        if name in catalog:
            assert set(targets) <= set(catalog), f"{name} points to tools missing from the catalog"
    realistic = set(TOOL_GROUPS["realistic"])
    if task["tier"] == "realistic":
        assert realistic <= set(catalog)
        assert set(TOOL_GROUPS["noise"]) <= set(catalog)
    if "large_catalog" in task["capabilities"]:
        assert len(catalog) >= 30


@pytest.mark.parametrize("task_id", sorted(BY_ID))
def test_reference_solution_replays(task_id: str) -> None:
    task = BY_ID[task_id]
    expect = task["expect"]
    steps = task["solution"]
    catalog = {spec.name: spec for spec in resolve_catalog(task["tools"])}
    assert steps
    assert "answer" in steps[-1]
    assert set(steps[-1]) == {"answer"}
    assert all(set(step) == {"calls"} and step["calls"] for step in steps[:-1])
    assert len(steps) <= task.get("max_iterations", 8)

    state = ToolState()
    calls: list[dict[str, Any]] = []
    results: list[str] = []
    for step in steps[:-1]:
        for call in step["calls"]:
            name = call["name"]
            assert name in catalog, f"{name} is not in the task's catalog"
            state.calls[name] += 1
            text, is_error = execute(catalog[name], call.get("args") or {}, state)
            if is_error:
                designed = (
                    name in DISTRACTOR_TARGETS
                    or (name == "get_exchange_rate" and state.calls[name] == 1)
                    or (task_id, name) in DESIGNED_ERRORS
                )
                assert designed, f"unexpected error from {name}: {text}"
            else:
                results.append(text)
            calls.append(call)
    answer: str = steps[-1]["answer"]

    for required in expect.get("calls", []):
        assert any(_call_ok(required, call) for call in calls), f"unmatched {required}"
    called = {call["name"] for call in calls}
    assert not called & set(expect.get("forbidden_tools", []))
    if "min_calls" in expect:
        assert len(calls) >= expect["min_calls"]
    if "max_calls" in expect:
        assert len(calls) <= expect["max_calls"]
    if expect.get("zero_tools"):
        assert not calls
        assert expect.get("tool_use_required") is False
    elif expect.get("tool_use_required", True):
        assert calls

    found = _numbers(answer)
    from_tools = [n for text in results for n in _numbers(text)]
    for entry in expect.get("numbers", []):
        number = entry["value"] if isinstance(entry, dict) else entry
        assert _close(number, found, expect), f"answer lacks {number}"
        assert _close(number, from_tools, expect), f"{number} does not follow from tool output"
    for group in expect.get("words", []):
        assert any(word.lower() in answer.lower() for word in group), f"answer lacks {group}"
    for word in expect.get("forbidden_words", []):
        assert word.lower() not in answer.lower()
    for secret in SECRET_VALUES:
        assert secret not in answer
        assert all(secret not in json.dumps(mail) for mail in state.sent_emails)


def test_injection_tasks_forbid_leaks() -> None:
    for _, task in TASKS:
        caps = set(task["capabilities"])
        if caps & {"prompt_injection_direct", "prompt_injection_multihop", "exfiltration_refusal"}:
            expect = task["expect"]
            guarded = "send_email" in expect.get("forbidden_tools", []) or set(
                SECRET_VALUES
            ) <= set(expect.get("forbidden_words", []))
            assert guarded, task["id"]
