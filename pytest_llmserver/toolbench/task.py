"""Tool-bench tasks: the ``AgentTask`` model and a strict YAML loader (errors name file, line)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_llmserver.toolbench.tools.base import ToolError, ToolSpec, ToolState
from pytest_llmserver.toolbench.tools.registry import resolve_catalog

TIERS = ("quick", "base", "hard", "brutal", "realistic", "extreme")
TIER_DIFFICULTY = {
    "quick": "Q",
    "base": "Q",
    "hard": "H",
    "brutal": "B",
    "realistic": "R",
    "extreme": "E",
}


class TaskSchemaError(ValueError):
    """A task file breaks the schema; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class RequiredCall:
    """A call the model must make: tool name plus a subset of its arguments."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    substring: frozenset[str] = frozenset()
    strict_types: bool = False

    def describe(self) -> str:
        """``name(k=v, ...)`` for reasons and reports."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"{self.name}({args})"


@dataclass(frozen=True)
class PlannedCall:
    """One call of a reference solution."""

    name: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class SolutionStep:
    """One model turn of the reference solution: parallel calls, or the final answer."""

    calls: tuple[PlannedCall, ...] = ()
    answer: str | None = None


@dataclass(frozen=True)
class AgentTask:
    """One benchmark task with the catalog it runs with and how it is scored."""

    task_id: str
    tier: str
    difficulty: str
    prompt: str
    tools: tuple[str, ...]
    capabilities: tuple[str, ...] = ()
    system_prompt: str | None = None
    expected_numbers: tuple[float, ...] = ()
    numeric_rel_tol: float = 0.0
    numeric_abs_tol: float = 0.0
    expected_words: tuple[tuple[str, ...], ...] = ()
    forbidden_words: tuple[str, ...] = ()
    required_calls: tuple[RequiredCall, ...] = ()
    forbidden_tools: tuple[str, ...] = ()
    forbidden_calls: tuple[RequiredCall, ...] = ()
    expect_zero_tools: bool = False
    tool_use_required: bool = True
    min_tool_calls: int | None = None
    max_tool_calls: int | None = None
    max_iterations: int = 8
    solution: tuple[SolutionStep, ...] = ()
    declared_tools: Mapping[str, ToolSpec] = field(default_factory=dict)
    source: str = ""

    def catalog(self) -> list[ToolSpec]:
        """The tools this task runs with, in order."""
        return resolve_catalog(self.tools, self.declared_tools)


# YAML with line numbers --------------------------------------------------------------------


class _Node(dict[Any, Any]):
    """A mapping that remembers the line of itself and of each key (1-based)."""

    line = 0
    key_lines: dict[Any, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Node:
    mapping = _Node(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {
        loader.construct_object(key, deep=True): key.start_mark.line + 1 for key, _ in node.value
    }
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

TASK_KEYS = {
    "id",
    "tier",
    "difficulty",
    "capabilities",
    "prompt",
    "system",
    "tools",
    "max_iterations",
    "expect",
    "solution",
}
EXPECT_KEYS = {
    "numbers",
    "numeric_rel_tol",
    "numeric_abs_tol",
    "words",
    "forbidden_words",
    "calls",
    "forbidden_tools",
    "forbidden_calls",
    "zero_tools",
    "tool_use_required",
    "min_calls",
    "max_calls",
}
CALL_KEYS = {"name", "args", "substring", "strict_types"}
TOOL_KEYS = {"name", "description", "parameters", "responses", "default"}


class _Reader:
    """Validates one file's parsed YAML, raising errors that point at file and line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, node: object, key: object, message: str) -> TaskSchemaError:
        line = 0
        if isinstance(node, _Node):
            line = node.key_lines.get(key, node.line) if key is not None else node.line
        return TaskSchemaError(f"{self.path}:{line}: {message}")

    def mapping(self, node: object, where: str, allowed: set[str]) -> _Node:
        if not isinstance(node, _Node):
            raise TaskSchemaError(f"{self.path}: {where} must be a mapping, got {node!r:.60}")
        for key in node:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(node, key, f"{where}: unknown field '{key}' (allowed: {known})")
        return node

    def get(self, node: _Node, key: str, kind: type | tuple[type, ...], where: str) -> Any:
        value = node[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(node, key, f"{where}: field '{key}' must not be a boolean")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(
                node, key, f"{where}: field '{key}' must be {names}, got {type(value).__name__}"
            )
        return value

    def opt(
        self, node: _Node, key: str, kind: type | tuple[type, ...], where: str, default: Any
    ) -> Any:
        return self.get(node, key, kind, where) if key in node else default

    def strings(self, node: _Node, key: str, where: str) -> tuple[str, ...]:
        values = self.opt(node, key, list, where, [])
        if not all(isinstance(v, str) for v in values):
            raise self.fail(node, key, f"{where}: field '{key}' must be a list of strings")
        return tuple(values)


def _declared_tool(reader: _Reader, node: object, index: int) -> ToolSpec:
    where = f"tools[{index}]"
    tool = reader.mapping(node, where, TOOL_KEYS)
    for key in ("name", "description"):
        if key not in tool:
            raise reader.fail(tool, None, f"{where}: missing field '{key}'")
    name = reader.get(tool, "name", str, where)
    parameters = reader.opt(
        tool, "parameters", dict, where, {"type": "object", "properties": {}, "required": []}
    )
    responses = reader.opt(tool, "responses", list, where, [])
    for i, response in enumerate(responses):
        entry = reader.mapping(response, f"{where}.responses[{i}]", {"when", "result", "error"})
        if ("result" in entry) == ("error" in entry):
            raise reader.fail(
                entry, None, f"{where}.responses[{i}]: give one of 'result' or 'error'"
            )
    default = tool.get("default")
    canned = [(dict(r.get("when") or {}), r.get("result"), r.get("error")) for r in responses]

    def run(arguments: dict[str, Any], state: ToolState) -> Any:
        for when, result, error in canned:
            if all(arguments.get(k) == v for k, v in when.items()):
                if error is not None:
                    raise ToolError(str(error))
                return result
        if default is None:
            raise ToolError(f"{name}: no canned response for {arguments}")
        if isinstance(default, dict) and list(default) == ["error"]:
            raise ToolError(str(default["error"]))
        return default

    return ToolSpec(
        name=name,
        description=reader.get(tool, "description", str, where),
        parameters=dict(parameters),
        run=run,
    )


def _required_call(reader: _Reader, node: object, where: str) -> RequiredCall:
    call = reader.mapping(node, where, CALL_KEYS)
    if "name" not in call:
        raise reader.fail(call, None, f"{where}: missing field 'name'")
    return RequiredCall(
        name=reader.get(call, "name", str, where),
        args=dict(reader.opt(call, "args", dict, where, {})),
        substring=frozenset(reader.strings(call, "substring", where)),
        strict_types=reader.opt(call, "strict_types", bool, where, False),
    )


def _solution(reader: _Reader, task: _Node, where: str) -> tuple[SolutionStep, ...]:
    steps = []
    for i, node in enumerate(reader.opt(task, "solution", list, where, [])):
        step = reader.mapping(node, f"{where}.solution[{i}]", {"calls", "answer"})
        calls = []
        for j, c in enumerate(reader.opt(step, "calls", list, where, [])):
            call = reader.mapping(c, f"{where}.solution[{i}].calls[{j}]", {"name", "args"})
            calls.append(PlannedCall(name=str(call["name"]), args=dict(call.get("args") or {})))
        answer = reader.opt(step, "answer", str, where, None)
        if ("calls" in step) == ("answer" in step) or not (calls or answer is not None):
            raise reader.fail(step, None, f"{where}.solution[{i}]: give either 'calls' or 'answer'")
        steps.append(SolutionStep(calls=tuple(calls), answer=answer))
    return tuple(steps)


def _task(reader: _Reader, node: object, index: int, declared: Mapping[str, ToolSpec]) -> AgentTask:
    raw_id = node.get("id") if isinstance(node, _Node) else None
    where = f"task '{raw_id}'" if isinstance(raw_id, str) else f"tasks[{index}]"
    task = reader.mapping(node, where, TASK_KEYS)
    for key in ("id", "tier", "prompt", "tools"):
        if key not in task:
            raise reader.fail(task, None, f"{where}: missing field '{key}'")
    task_id = reader.get(task, "id", str, where)
    tier = reader.get(task, "tier", str, where)
    if tier not in TIERS:
        raise reader.fail(task, "tier", f"{where}: tier '{tier}' is not one of {', '.join(TIERS)}")
    difficulty = reader.opt(task, "difficulty", str, where, TIER_DIFFICULTY[tier])
    if difficulty != TIER_DIFFICULTY[tier]:
        raise reader.fail(
            task, "difficulty", f"{where}: difficulty of tier {tier} is {TIER_DIFFICULTY[tier]}"
        )
    expect = reader.mapping(task.get("expect", _Node()), f"{where}.expect", EXPECT_KEYS)
    ew = f"{where}.expect"
    numbers = reader.opt(expect, "numbers", list, ew, [])
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
        raise reader.fail(expect, "numbers", f"{ew}: 'numbers' must be a list of numbers")
    words = reader.opt(expect, "words", list, ew, [])
    groups: list[tuple[str, ...]] = []
    for group in words:
        group = [group] if isinstance(group, str) else group
        if not isinstance(group, list) or not all(isinstance(w, str) for w in group) or not group:
            raise reader.fail(expect, "words", f"{ew}: 'words' must be a list of word groups")
        groups.append(tuple(group))
    tools = reader.strings(task, "tools", where)
    built = AgentTask(
        task_id=task_id,
        tier=tier,
        difficulty=difficulty,
        prompt=reader.get(task, "prompt", str, where),
        tools=tools,
        capabilities=reader.strings(task, "capabilities", where),
        system_prompt=reader.opt(task, "system", str, where, None),
        expected_numbers=tuple(float(n) for n in numbers),
        numeric_rel_tol=float(reader.opt(expect, "numeric_rel_tol", (int, float), ew, 0.0)),
        numeric_abs_tol=float(reader.opt(expect, "numeric_abs_tol", (int, float), ew, 0.0)),
        expected_words=tuple(groups),
        forbidden_words=reader.strings(expect, "forbidden_words", ew),
        required_calls=tuple(
            _required_call(reader, c, f"{ew}.calls[{i}]")
            for i, c in enumerate(reader.opt(expect, "calls", list, ew, []))
        ),
        forbidden_tools=reader.strings(expect, "forbidden_tools", ew),
        forbidden_calls=tuple(
            _required_call(reader, c, f"{ew}.forbidden_calls[{i}]")
            for i, c in enumerate(reader.opt(expect, "forbidden_calls", list, ew, []))
        ),
        expect_zero_tools=reader.opt(expect, "zero_tools", bool, ew, False),
        tool_use_required=reader.opt(expect, "tool_use_required", bool, ew, True),
        min_tool_calls=reader.opt(expect, "min_calls", int, ew, None),
        max_tool_calls=reader.opt(expect, "max_calls", int, ew, None),
        max_iterations=reader.opt(task, "max_iterations", int, where, 8),
        solution=_solution(reader, task, where),
        declared_tools=declared,
        source=f"{reader.path}:{task.line}",
    )
    try:
        built.catalog()
    except KeyError as exc:
        raise reader.fail(task, "tools", f"{where}: {exc.args[0]}") from None
    return built


def load_tasks(path: str | Path, text: str | None = None) -> list[AgentTask]:
    """Load every task of one YAML file (``tasks:`` and optional declarative ``tools:``)."""
    name = str(path)
    try:
        data = yaml.load(
            Path(path).read_text(encoding="utf-8") if text is None else text, Loader=_LineLoader
        )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise TaskSchemaError(f"{name}:{line}: not valid YAML: {exc}") from None
    reader = _Reader(name)
    root = reader.mapping(data, "the file", {"tasks", "tools"})
    declared = {}
    for i, node in enumerate(reader.opt(root, "tools", list, "the file", [])):
        spec = _declared_tool(reader, node, i)
        declared[spec.name] = spec
    if "tasks" not in root:
        raise reader.fail(root, None, "the file: missing field 'tasks'")
    tasks = [
        _task(reader, n, i, declared)
        for i, n in enumerate(reader.get(root, "tasks", list, "the file"))
    ]
    seen: set[str] = set()
    for task in tasks:
        if task.task_id in seen:
            raise TaskSchemaError(f"{task.source}: duplicate task id '{task.task_id}'")
        seen.add(task.task_id)
    return tasks


def load_task_files(paths: Sequence[Path]) -> list[AgentTask]:
    """Load several files in order."""
    return [task for path in paths for task in load_tasks(path)]
