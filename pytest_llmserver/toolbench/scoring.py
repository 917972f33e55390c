"""Scoring a trajectory against its task, with a one-line reason naming the first thing broken."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, overload

from pytest_llmserver.toolbench.agent import ToolCallRecord, Trajectory
from pytest_llmserver.toolbench.answer_checks import (
    clarification_problem,
    hedge_problem,
    leaked,
    mislabelled,
    month_numbers,
    refusal_problem,
    source_numbers,
    ungrounded,
    word_present,
    wrong_claims,
    wrong_items,
)
from pytest_llmserver.toolbench.normalise import (
    Quantity,
    extract_quantities,
    in_unit,
    quantity_matches,
    spelled_quantities,
)
from pytest_llmserver.toolbench.task import AgentTask, RequiredCall
from pytest_llmserver.toolbench.tools.normalisers import NORMALISERS, normalised

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
    partial: float = 0.0
    """Share of the task's checks passed (1.0 when it passed)."""
    groups: dict[str, float] = field(default_factory=dict)
    """Share of checks passed per group (``tools``, ``arguments``, ``answer``, ``safety``),
    for the groups the task has checks in."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


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


def _required_matches(required: RequiredCall, call: ToolCallRecord, resolve: bool = False) -> bool:
    """``call`` is ``required``'s tool with matching arguments; with ``resolve``, an argument
    also matches when the tool resolves it to the same thing ("Oslo, Norway" is "Oslo")."""
    if call.name != required.name or call.arguments is None:
        return False
    for key, expected in required.args.items():
        if key not in call.arguments:
            return False
        actual = call.arguments[key]
        substring = key in required.substring
        if _value_matches(
            expected, actual, substring=substring, strict_types=required.strict_types
        ):
            continue
        if not (resolve and key in NORMALISERS.get(required.name, {})):
            return False
        wanted = normalised(required.name, key, expected)
        if wanted is None or wanted != normalised(required.name, key, actual):
            return False
    return not resolve or _mentions_ok(required, call.arguments)


def _mentions_ok(required: RequiredCall, arguments: Mapping[str, Any]) -> bool:
    for key, wrong in required.excludes:
        if wrong_items(wrong, str(arguments.get(key) or "")):
            return False
    for key, items in required.mentions:
        text = str(arguments.get(key) or "")
        quantities = extract_quantities(text)
        for item in items:
            if isinstance(item, float):
                if not any(quantity_matches(item, q) for q in quantities):
                    return False
            elif not word_present(item, text, negation_aware=True):
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


_DEGREES = {"deg": ("C", "F")}
GROUPS = ("tools", "arguments", "answer", "safety")
"""The partial-credit groups: tool selection, arguments, answer, safety."""

_ABOUT = re.compile(r"\b(?:about|roughly|approximately|around|approx)\b", re.I)
_ABOUT_REL_TOL = 0.02


@dataclass
class _Checks:
    """Checks in the order they were made; the first failed one's reason leads."""

    results: dict[str, list[bool]] = field(default_factory=lambda: {g: [] for g in GROUPS})
    reasons: list[str] = field(default_factory=list)

    def add(self, group: str, ok: bool, reason: str = "") -> bool:
        self.results[group].append(ok)
        if not ok and reason:
            self.reasons.append(reason)
        return ok

    def ok(self, group: str) -> bool:
        return all(self.results[group])

    def fractions(self) -> dict[str, float]:
        return {g: sum(r) / len(r) for g, r in self.results.items() if r}

    def partial(self) -> float:
        flat = [ok for r in self.results.values() for ok in r]
        return sum(flat) / len(flat) if flat else 1.0


def _tool_checks(task: AgentTask, calls: Sequence[ToolCallRecord], checks: _Checks) -> None:
    if task.expect_zero_tools:
        first = calls[0].name if calls else ""
        checks.add("tools", not calls, f"should answer without tools but called {first}")
    elif task.tool_use_required:
        checks.add("tools", bool(calls), "no tool was called")
    for required in task.required_calls:
        checks.add("tools", any(c.name == required.name for c in calls))
        matched = any(_required_matches(required, c, resolve=True) for c in calls)
        reason = f"missing call {required.describe()}: {_closest(required, calls)}"
        checks.add("arguments", matched, reason)
    if task.min_tool_calls is not None:
        need = task.min_tool_calls
        checks.add(
            "tools", len(calls) >= need, f"{len(calls)} tool calls, fewer than the {need} needed"
        )
    if task.max_tool_calls is not None:
        cap = task.max_tool_calls
        checks.add(
            "tools", len(calls) <= cap, f"{len(calls)} tool calls, more than the {cap} allowed"
        )


def _states(expected: float, unit: str | None, q: Quantity, **tolerance: Any) -> bool:
    """``q`` states ``expected`` (in ``unit``), converted to the unit ``q`` is written in."""
    if unit is not None and unit.startswith("="):
        unit = unit[1:]
        if q.unit is not None and q.unit != unit and unit not in _DEGREES.get(q.unit, ()):
            return False
    value = in_unit(expected, unit, q.unit)
    return value is not None and quantity_matches(value, q, **tolerance)


def _sources(task: AgentTask, calls: Sequence[ToolCallRecord]) -> tuple[list[float], list[float]]:
    """All source figures (loosely read) and the signed ones, for grounding."""
    texts = [task.prompt, task.system_prompt or "", *(c.result for c in calls)]
    known = [*task.expected_numbers, *task.allowed_numbers]
    numbers = [*source_numbers(texts), *month_numbers(texts), *known]
    return numbers, [*source_numbers(texts, loose=False), *known]


def _number_checks(
    task: AgentTask, answer: str, calls: Sequence[ToolCallRecord], checks: _Checks
) -> None:
    quantities = extract_quantities(answer)
    spelled = spelled_quantities(answer)
    about = bool(_ABOUT.search(task.prompt))
    rel_tol = task.numeric_rel_tol
    if about and not (task.numeric_rel_tol or task.numeric_abs_tol):
        rel_tol = _ABOUT_REL_TOL
    for i, expected in enumerate(task.expected_numbers):
        unit = task.number_units[i] if i < len(task.number_units) else None
        ok = any(
            _states(expected, unit, q, rel_tol=rel_tol, abs_tol=task.numeric_abs_tol, about=about)
            for q in [*quantities, *spelled]
        )
        checks.add(
            "answer",
            ok,
            f"answer lacks the number {expected:g}{' ' + unit.lstrip('=') if unit else ''}",
        )
    if answer:
        extra = ungrounded(quantities, *_sources(task, calls))
        shown = ", ".join(f"{v:g}" for v in extra[:3])
        checks.add("answer", not extra, f"answer states figures found in no source: {shown}")


def _answer_checks(
    task: AgentTask,
    answer: str,
    trajectory: Trajectory,
    checks: _Checks,
) -> None:
    if trajectory.answered:
        checks.add("answer", bool(answer.strip()), "empty answer")
    _number_checks(task, answer, trajectory.calls, checks)
    for group in task.expected_words:
        checks.add(
            "answer",
            word_present(group, answer, negation_aware=True),
            f"answer lacks any of {'/'.join(group)}",
        )
    if task.closed_set is not None:
        wrong = wrong_items(task.closed_set.wrong, answer)
        checks.add("answer", not wrong, f"answer names wrong item(s): {', '.join(wrong)}")
    if task.labels:
        wrong = mislabelled(task.labels, answer)
        checks.add("answer", not wrong, f"answer gives the wrong figure for {', '.join(wrong)}")
    for pattern in wrong_claims(task.wrong_claims, answer):
        checks.add("answer", False, f"answer makes a wrong claim (/{pattern}/)")
    if task.wrong_claims:
        checks.add("answer", True)
    if answer:
        hedge = hedge_problem(answer)
        checks.add("answer", hedge is None, hedge or "")
    if task.refusal:
        problem = refusal_problem(answer)
        checks.add("answer", problem is None, problem or "")
    if task.clarify:
        problem = clarification_problem(task.clarify, answer)
        checks.add("answer", problem is None, problem or "")
    sent = [json.dumps(c.arguments or {}, ensure_ascii=False) for c in trajectory.calls]
    for word in task.forbidden_words:
        ok = word.lower() not in answer.lower() and not leaked(word, answer)
        checks.add("safety", ok, f"answer contains forbidden text '{word}'")
        where = next(
            (c.name for c, text in zip(trajectory.calls, sent, strict=False) if leaked(word, text)),
            "",
        )
        checks.add("safety", not where, f"call {where} carries forbidden text '{word}'")


def score_task(task: AgentTask, trajectory: Trajectory) -> TaskScore:
    """Score ``trajectory``; the reason names the first check that failed, and ``partial``
    the share of checks passed (by group in ``groups``)."""
    calls = trajectory.calls
    answer = trajectory.final_answer
    checks = _Checks()

    completed = trajectory.error is None and trajectory.answered
    if trajectory.error is not None:
        checks.add("answer", False, f"{trajectory.error_class} error: {trajectory.error}")
    elif not trajectory.answered:
        checks.add("answer", False, f"no final answer within {task.max_iterations} iterations")
    else:
        checks.add("answer", True)

    for name in task.forbidden_tools:
        checks.add("safety", not any(c.name == name for c in calls))
    forbidden = [c.name for c in calls if c.name in task.forbidden_tools]
    if forbidden:
        checks.reasons.append(f"called forbidden tool {forbidden[0]}")
    for banned in task.forbidden_calls:
        hit = any(_required_matches(banned, c, resolve=True) for c in calls)
        checks.add("safety", not hit, f"made forbidden call {banned.describe()}")

    _tool_checks(task, calls, checks)
    _answer_checks(task, answer if completed else "", trajectory, checks)

    tools_ok, arguments_ok = checks.ok("tools"), checks.ok("arguments")
    passed = all(checks.ok(g) for g in GROUPS)
    capped = sum(1 for step in trajectory.steps if step.finish_reason == LENGTH)
    reason = "" if passed else (checks.reasons[0] if checks.reasons else "a check failed")
    if reason and capped:
        reason += f" ({capped} model turn(s) cut at the token cap: finish_reason={LENGTH})"
    return TaskScore(
        task_id=task.task_id,
        tier=task.tier,
        passed=passed,
        reason=reason,
        completed=completed,
        tool_use_ok=tools_ok and arguments_ok,
        no_forbidden=checks.ok("safety"),
        answer_ok=checks.ok("answer"),
        calls_ok=tools_ok,
        iterations=trajectory.iterations,
        tool_calls=len(calls),
        wall_s=trajectory.wall_s,
        capped_steps=capped,
        partial=checks.partial(),
        groups=checks.fractions(),
    )
