"""Scoring a trajectory against its task, with a one-line reason naming the first thing broken."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, overload

from pytest_llmserver.toolbench.agent import ToolCallRecord, Trajectory
from pytest_llmserver.toolbench.task import AgentTask, RequiredCall

_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d])")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SUFFIXES = ("ing", "ed", "es", "s", "e", "y", "ly", "ent", "ence")


LENGTH = "length"
"""The finish reason of a reply cut at its token cap."""


@dataclass
class TaskScore:
    """How one run of a task scored. ``reason`` is empty when it passed."""

    task_id: str
    tier: str
    passed: bool
    reason: str
    completed: bool
    tool_use_ok: bool
    no_forbidden: bool
    answer_ok: bool
    calls_ok: bool
    iterations: int
    tool_calls: int
    wall_s: float
    capped_steps: int = 0
    """Model turns that ended at the token cap (``finish_reason=length``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def extract_numbers(text: str) -> list[float]:
    """Every number written in ``text`` ("1,250.5" is 1250.5; "-3" is -3)."""
    return [float(m.group(0).replace(",", "")) for m in _NUMBER.finditer(text)]


def numeric_match(
    expected: float, found: Iterable[float], rel_tol: float = 0.0, abs_tol: float = 0.0
) -> bool:
    """True when some found number equals ``expected`` (exactly, unless a tolerance is given)."""
    return any(
        math.isclose(value, expected, rel_tol=rel_tol, abs_tol=abs_tol) or value == expected
        for value in found
    )


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def word_present(group: Sequence[str] | str, text: str) -> bool:
    """True when one word of ``group`` (or an inflection of it) appears in ``text``.

    "differ" accepts "differs" and "different"; stems shorter than four letters only take
    plain -s/-es/-ed/-d/-ing endings; phrases are matched as case-insensitive substrings.
    """
    lowered = text.lower()
    tokens = set(_WORD.findall(lowered))
    for word in [group] if isinstance(group, str) else group:
        word = word.lower().strip()
        if not word:
            continue
        if not word.isalnum():
            if word in lowered:
                return True
            continue
        stem = _stem(word)
        if len(stem) >= 4:
            if any(t.startswith(stem) and len(t) - len(stem) <= 5 for t in tokens):
                return True
        elif tokens & {word, word + "s", word + "es", word + "ed", word + "d", word + "ing"}:
            return True
    return False


def _value_matches(expected: Any, actual: Any, *, substring: bool, strict_types: bool) -> bool:
    if isinstance(expected, bool):
        return actual is expected
    if isinstance(expected, (int, float)):
        if isinstance(actual, bool):
            return False
        if strict_types:
            if isinstance(expected, int) and not isinstance(actual, int):
                return False
            if not isinstance(actual, (int, float)):
                return False
        try:
            return float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, str):
        if strict_types and not isinstance(actual, str):
            return False
        text = str(actual).strip().lower()
        return expected.lower() in text if substring else text == expected.strip().lower()
    return bool(expected == actual)


def _required_matches(required: RequiredCall, call: ToolCallRecord) -> bool:
    if call.name != required.name or call.arguments is None:
        return False
    for key, expected in required.args.items():
        if key not in call.arguments:
            return False
        substring = key in required.substring
        if not _value_matches(
            expected, call.arguments[key], substring=substring, strict_types=required.strict_types
        ):
            return False
    return True


def _subset_matches(expected: Any, actual: Any) -> bool:
    """Dicts as recursive subsets, strings as case-insensitive substrings, else equality."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return all(k in actual and _subset_matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.lower() in actual.lower()
    return bool(expected == actual)


def _name_and_arguments(call: ToolCallRecord | Mapping[str, Any]) -> tuple[Any, Any]:
    if isinstance(call, Mapping):
        return call.get("name"), call["arguments"] if "arguments" in call else call.get("args")
    return call.name, call.args


@overload
def call_matches(required: RequiredCall, call: ToolCallRecord) -> bool: ...


@overload
def call_matches(
    call: ToolCallRecord | Mapping[str, Any],
    tool_name: str,
    /,
    arg_constraints: Mapping[str, Any] | None = None,
) -> bool: ...


def call_matches(
    required: RequiredCall | ToolCallRecord | Mapping[str, Any],
    call: ToolCallRecord | str,
    arg_constraints: Mapping[str, Any] | None = None,
) -> bool:
    """True when a call matches: ``call_matches(required, call)`` or the seed form
    ``call_matches(call, tool_name, arg_constraints)``.

    ``call_matches(required, call)``: ``call`` is ``required``'s tool and every required
    argument matches under the task's rules (substring keys, strict types).

    ``call_matches(call, tool_name, arg_constraints)``: ``call`` is a ``ToolCallRecord`` or a
    mapping ``{"name": ..., "arguments" | "args": {...}}``; its name is ``tool_name`` and every
    constraint key is among its arguments, a dict constraint matching a dict argument as a
    recursive subset, a string a string as a case-insensitive substring, anything else by
    equality. A call whose arguments are not a mapping (malformed JSON) matches nothing.
    """
    if isinstance(required, RequiredCall):
        if isinstance(call, str) or arg_constraints is not None:
            raise TypeError("call_matches(required, call) takes a RequiredCall and a call record")
        return _required_matches(required, call)
    if not isinstance(call, str):
        raise TypeError("call_matches(call, tool_name, arg_constraints): tool_name must be a str")
    name, arguments = _name_and_arguments(required)
    if name != call or not isinstance(arguments, Mapping):
        return False
    return _subset_matches(arg_constraints or {}, arguments)


def _closest(required: RequiredCall, calls: Sequence[ToolCallRecord]) -> str:
    same = [c for c in calls if c.name == required.name]
    if not same:
        return "never called"
    return f"called with {same[-1].arguments_raw or same[-1].arguments}"


def score_task(task: AgentTask, trajectory: Trajectory) -> TaskScore:
    """Score ``trajectory``; the reason names the first check that failed."""
    calls = trajectory.calls
    answer = trajectory.final_answer
    reasons: list[str] = []

    completed = trajectory.error is None and trajectory.answered
    if trajectory.error is not None:
        reasons.append(f"{trajectory.error_class} error: {trajectory.error}")
    elif not trajectory.answered:
        reasons.append(f"no final answer within {task.max_iterations} iterations")

    forbidden = [c.name for c in calls if c.name in task.forbidden_tools]
    if forbidden:
        reasons.append(f"called forbidden tool {forbidden[0]}")
    banned = [b for b in task.forbidden_calls if any(call_matches(b, c) for c in calls)]
    if banned:
        reasons.append(f"made forbidden call {banned[0].describe()}")
    no_forbidden = not forbidden and not banned

    tool_use_ok = True
    if task.expect_zero_tools and calls:
        tool_use_ok = False
        reasons.append(f"should answer without tools but called {calls[0].name}")
    elif task.tool_use_required and not calls and not task.expect_zero_tools:
        tool_use_ok = False
        reasons.append("no tool was called")
    for required in task.required_calls:
        if not any(call_matches(required, c) for c in calls):
            tool_use_ok = False
            reasons.append(f"missing call {required.describe()}: {_closest(required, calls)}")

    calls_ok = True
    if task.min_tool_calls is not None and len(calls) < task.min_tool_calls:
        calls_ok = False
        reasons.append(f"{len(calls)} tool calls, fewer than the {task.min_tool_calls} needed")
    if task.max_tool_calls is not None and len(calls) > task.max_tool_calls:
        calls_ok = False
        reasons.append(f"{len(calls)} tool calls, more than the {task.max_tool_calls} allowed")

    answer_problems = []
    if trajectory.answered and not answer.strip():
        answer_problems.append("empty answer")
    numbers = extract_numbers(answer)
    for expected in task.expected_numbers:
        if not numeric_match(expected, numbers, task.numeric_rel_tol, task.numeric_abs_tol):
            answer_problems.append(f"answer lacks the number {expected:g}")
    for group in task.expected_words:
        if not word_present(group, answer):
            answer_problems.append(f"answer lacks any of {'/'.join(group)}")
    for word in task.forbidden_words:
        if word.lower() in answer.lower():
            answer_problems.append(f"answer contains forbidden text '{word}'")
    answer_ok = completed and not answer_problems
    reasons.extend(answer_problems)

    passed = completed and no_forbidden and tool_use_ok and calls_ok and answer_ok
    capped = sum(1 for step in trajectory.steps if step.finish_reason == LENGTH)
    reason = "" if passed else reasons[0]
    if reason and capped:
        reason += f" ({capped} model turn(s) cut at the token cap: finish_reason={LENGTH})"
    return TaskScore(
        task_id=task.task_id,
        tier=task.tier,
        passed=passed,
        reason=reason,
        completed=completed,
        tool_use_ok=tool_use_ok,
        no_forbidden=no_forbidden,
        answer_ok=answer_ok,
        calls_ok=calls_ok,
        iterations=trajectory.iterations,
        tool_calls=len(calls),
        wall_s=trajectory.wall_s,
        capped_steps=capped,
    )
