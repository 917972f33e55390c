"""Tool-bench tasks: the ``AgentTask`` model and a strict YAML loader (errors name file, line;
the YAML itself is read within bounds by ``yamldoc``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmserver.toolbench.task_expect import (
    ClosedSet,
    closed_set,
    excludes,
    labels,
    mentions,
    numbers,
    patterns,
    word_groups,
)
from pytest_llmserver.toolbench.tools.base import ToolError, ToolSpec, ToolState
from pytest_llmserver.toolbench.tools.registry import resolve_catalog
from pytest_llmserver.toolbench.yamldoc import DocumentError, Node, Reader, load

TIERS = ("quick", "base", "hard", "brutal", "extreme", "realistic")
"""Every tier: the difficulty order (``tiers.DIFFICULTY_ORDER``), then ``realistic``, an axis of
its own."""
TIER_DIFFICULTY = {
    "quick": "Q",
    "base": "Q",
    "hard": "H",
    "brutal": "B",
    "realistic": "R",
    "extreme": "E",
}


MAX_ITERATIONS = 100
MAX_CALLS = 1000
MAX_PARAMETERS_BYTES = 64 << 10
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class TaskSchemaError(ValueError):
    """A task file breaks the schema or a bound; the message is one line starting with
    ``file:line:``."""


@dataclass(frozen=True)
class RequiredCall:
    """A call the model must make: tool name plus a subset of its arguments."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    substring: frozenset[str] = frozenset()
    strict_types: bool = False
    mentions: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    """``(argument, items)``: numbers and word groups the argument's text must state."""
    excludes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """``(argument, items)``: wrong items the argument's text must not name."""

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
    number_units: tuple[str | None, ...] = ()
    """The unit or currency of each expected number (None: any), by position."""
    allowed_numbers: tuple[float, ...] = ()
    """True figures an answer may add beyond the prompt and the tool results."""
    numeric_rel_tol: float = 0.0
    numeric_abs_tol: float = 0.0
    expected_words: tuple[tuple[str, ...], ...] = ()
    forbidden_words: tuple[str, ...] = ()
    closed_set: ClosedSet | None = None
    wrong_claims: tuple[str, ...] = ()
    labels: tuple[tuple[str, tuple[float, ...]], ...] = ()
    """``(label, right figures)``: the first figure after a label must be one of them."""
    refusal: bool = False
    """The answer must decline (by what it says and does, not by one keyword)."""
    clarify: tuple[tuple[str, ...], ...] = ()
    """A clarification task: the answer must ask a question about one of these word groups."""
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


# Reading the parsed YAML -------------------------------------------------------------------

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
    "closed_set",
    "wrong_claims",
    "refusal",
    "clarify",
    "allowed_numbers",
    "labels",
}
CALL_KEYS = {"name", "args", "substring", "strict_types", "mentions", "excludes"}
TOOL_KEYS = {"name", "description", "parameters", "responses", "default"}


def _parameters(reader: Reader, tool: Node, where: str) -> dict[str, Any]:
    """The tool's JSON schema, in the shape argument checking reads, within the size cap."""
    if "parameters" not in tool:
        return {"type": "object", "properties": {}, "required": []}
    node = reader.get(tool, "parameters", dict, where)
    pw = f"{where}.parameters"
    if node.get("type", "object") != "object":
        raise reader.fail(node, "type", f"{pw}: field 'type' must be 'object'")
    properties = reader.opt(node, "properties", dict, pw, {})
    for name, prop in properties.items():
        if not isinstance(prop, Node):
            raise reader.fail(properties, name, f"{pw}.properties: '{name}' must be a mapping")
        kind = reader.opt(prop, "type", (str, list), f"{pw}.properties.{name}", "")
        if not isinstance(kind, str):
            reader.strings(prop, "type", f"{pw}.properties.{name}")
        reader.opt(prop, "enum", list, f"{pw}.properties.{name}", [])
    reader.strings(node, "required", pw)
    parameters: dict[str, Any] = reader.json(tool, "parameters", where)
    size = len(json.dumps(parameters, ensure_ascii=False).encode("utf-8"))
    if size > MAX_PARAMETERS_BYTES:
        raise reader.fail(
            tool,
            "parameters",
            f"{where}: parameters schema of {size} bytes passes the "
            f"{MAX_PARAMETERS_BYTES}-byte limit",
        )
    return parameters


def _declared_tool(reader: Reader, node: object, index: int, line: int) -> ToolSpec:
    where = f"tools[{index}]"
    tool = reader.mapping(node, where, TOOL_KEYS, line)
    for key in ("name", "description"):
        if key not in tool:
            raise reader.fail(tool, None, f"{where}: missing field '{key}'")
    name = reader.get(tool, "name", str, where)
    if not _TOOL_NAME.fullmatch(name):
        raise reader.fail(
            tool, "name", f"{where}: tool name {name[:80]!r} is not [A-Za-z0-9_.-]{{1,64}}"
        )
    parameters = _parameters(reader, tool, where)
    canned: list[tuple[dict[str, Any], Any, str | None]] = []
    for i, response, at in reader.items(tool, "responses", where):
        rw = f"{where}.responses[{i}]"
        entry = reader.mapping(response, rw, {"when", "result", "error"}, at)
        if ("result" in entry) == ("error" in entry):
            raise reader.fail(entry, None, f"{rw}: give one of 'result' or 'error'")
        when = reader.json(entry, "when", rw) if entry.get("when") is not None else {}
        if not isinstance(when, dict):
            raise reader.fail(entry, "when", f"{rw}: field 'when' must be a mapping of arguments")
        result = reader.json(entry, "result", rw) if "result" in entry else None
        canned.append((when, result, reader.opt(entry, "error", str, rw, None)))
    default = reader.json(tool, "default", where) if "default" in tool else None

    def run(arguments: dict[str, Any], state: ToolState) -> Any:
        for when, result, error in canned:
            if all(arguments.get(k) == v for k, v in when.items()):
                if error is not None:
                    raise ToolError(error)
                return result
        if default is None:
            raise ToolError(f"{name}: no canned response for {arguments}")
        if isinstance(default, dict) and list(default) == ["error"]:
            raise ToolError(str(default["error"]))
        return default

    return ToolSpec(
        name=name,
        description=reader.get(tool, "description", str, where),
        parameters=parameters,
        run=run,
    )


def _args(reader: Reader, node: Node, where: str) -> dict[str, Any]:
    """The optional ``args`` mapping of a call, as plain JSON."""
    if "args" not in node or node["args"] is None:
        return {}
    reader.get(node, "args", dict, where)
    args: dict[str, Any] = reader.json(node, "args", where)
    return args


def _required_call(reader: Reader, node: object, where: str, line: int) -> RequiredCall:
    call = reader.mapping(node, where, CALL_KEYS, line)
    if "name" not in call:
        raise reader.fail(call, None, f"{where}: missing field 'name'")
    return RequiredCall(
        name=reader.get(call, "name", str, where),
        args=_args(reader, call, where),
        substring=frozenset(reader.strings(call, "substring", where)),
        strict_types=reader.opt(call, "strict_types", bool, where, False),
        mentions=mentions(reader, call, where),
        excludes=excludes(reader, call, where),
    )


def _solution(reader: Reader, task: Node, where: str) -> tuple[SolutionStep, ...]:
    steps = []
    for i, node, line in reader.items(task, "solution", where):
        sw = f"{where}.solution[{i}]"
        step = reader.mapping(node, sw, {"calls", "answer"}, line)
        calls = []
        for j, c, at in reader.items(step, "calls", sw):
            call = reader.mapping(c, f"{sw}.calls[{j}]", {"name", "args"}, at)
            if "name" not in call:
                raise reader.fail(call, None, f"{sw}.calls[{j}]: missing field 'name'")
            name = reader.get(call, "name", str, f"{sw}.calls[{j}]")
            calls.append(PlannedCall(name=name, args=_args(reader, call, f"{sw}.calls[{j}]")))
        answer = reader.opt(step, "answer", str, sw, None)
        if ("calls" in step) == ("answer" in step) or not (calls or answer is not None):
            raise reader.fail(step, None, f"{sw}: give either 'calls' or 'answer'")
        steps.append(SolutionStep(calls=tuple(calls), answer=answer))
    return tuple(steps)


def _task(
    reader: Reader, node: object, index: int, line: int, declared: Mapping[str, ToolSpec]
) -> AgentTask:
    raw_id = node.get("id") if isinstance(node, Node) else None
    where = f"task '{raw_id}'" if isinstance(raw_id, str) else f"tasks[{index}]"
    task = reader.mapping(node, where, TASK_KEYS, line)
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
    ew = f"{where}.expect"
    expect = reader.mapping(
        task.get("expect", Node()), ew, EXPECT_KEYS, reader.line(task, "expect")
    )
    values, units = numbers(reader, expect, ew)
    tools = reader.strings(task, "tools", where)
    built = AgentTask(
        task_id=task_id,
        tier=tier,
        difficulty=difficulty,
        prompt=reader.get(task, "prompt", str, where),
        tools=tools,
        capabilities=reader.strings(task, "capabilities", where),
        system_prompt=reader.opt(task, "system", str, where, None),
        expected_numbers=values,
        number_units=units if any(units) else (),
        allowed_numbers=tuple(
            float(n) for n in reader.opt(expect, "allowed_numbers", list, ew, [])
        ),
        numeric_rel_tol=reader.number(expect, "numeric_rel_tol", ew),
        numeric_abs_tol=reader.number(expect, "numeric_abs_tol", ew),
        expected_words=word_groups(reader, expect, "words", ew),
        forbidden_words=reader.strings(expect, "forbidden_words", ew),
        closed_set=closed_set(reader, expect, ew),
        wrong_claims=patterns(reader, expect, ew),
        labels=labels(reader, expect, ew),
        refusal=reader.opt(expect, "refusal", bool, ew, False),
        clarify=word_groups(reader, expect, "clarify", ew),
        required_calls=tuple(
            _required_call(reader, c, f"{ew}.calls[{i}]", at)
            for i, c, at in reader.items(expect, "calls", ew)
        ),
        forbidden_tools=reader.strings(expect, "forbidden_tools", ew),
        forbidden_calls=tuple(
            _required_call(reader, c, f"{ew}.forbidden_calls[{i}]", at)
            for i, c, at in reader.items(expect, "forbidden_calls", ew)
        ),
        expect_zero_tools=reader.opt(expect, "zero_tools", bool, ew, False),
        tool_use_required=reader.opt(expect, "tool_use_required", bool, ew, True),
        min_tool_calls=reader.count(expect, "min_calls", ew, 0, MAX_CALLS),
        max_tool_calls=reader.count(expect, "max_calls", ew, 0, MAX_CALLS),
        max_iterations=reader.count(task, "max_iterations", where, 1, MAX_ITERATIONS) or 8,
        solution=_solution(reader, task, where),
        declared_tools=declared,
        source=f"{reader.path}:{task.line}",
    )
    try:
        built.catalog()
    except KeyError as exc:
        raise reader.fail(task, "tools", f"{where}: {exc.args[0]}") from None
    return built


def _tasks(reader: Reader, data: Any) -> list[AgentTask]:
    root = reader.mapping(data, "the file", {"tasks", "tools"}, 1)
    declared: dict[str, ToolSpec] = {}
    for i, node, line in reader.items(root, "tools", "the file"):
        spec = _declared_tool(reader, node, i, line)
        if spec.name in declared:
            raise reader.error(line, f"tools[{i}]: a second tool named '{spec.name}'")
        declared[spec.name] = spec
    if "tasks" not in root:
        raise reader.fail(root, None, "the file: missing field 'tasks'")
    reader.get(root, "tasks", list, "the file")
    tasks: list[AgentTask] = []
    lines: dict[str, int] = {}
    for i, node, line in reader.items(root, "tasks", "the file"):
        task = _task(reader, node, i, line, declared)
        if task.task_id in lines:
            first = lines[task.task_id]
            raise reader.error(line, f"duplicate task id '{task.task_id}' (first on line {first})")
        lines[task.task_id] = line
        tasks.append(task)
    return tasks


def load_tasks(path: str | Path, text: str | None = None) -> list[AgentTask]:
    """Load every task of one YAML file (``tasks:`` and optional declarative ``tools:``).
    Any problem, of the YAML, a bound or the schema, is one ``TaskSchemaError``."""
    reader = Reader(str(path))
    try:
        return _tasks(reader, load(path, text))
    except DocumentError as exc:
        raise TaskSchemaError(f"{reader.path}:{exc.line}: {exc.problem}") from None


def load_task_files(paths: Sequence[Path]) -> list[AgentTask]:
    """Load several files in order."""
    return [task for path in paths for task in load_tasks(path)]
