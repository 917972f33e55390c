"""The parts of a task's ``expect:`` block that judge an answer like a grader: numbers with
units, closed answer sets, wrong claims, refusals, clarifying questions, argument mentions."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pytest_llmserver.toolbench.tools.normalisers import UNIVERSES
from pytest_llmserver.toolbench.yamldoc import Node, Reader

NUMBER_KEYS = {"value", "unit"}
CLOSED_SET_KEYS = {"right", "universe", "wrong"}


@dataclass(frozen=True)
class ClosedSet:
    """A closed answer set: the right items, and the wrong candidates an answer must not name
    (a universe of the mock world minus the right items, plus any listed)."""

    right: tuple[str, ...]
    wrong: tuple[str, ...]


def _number(reader: Reader, node: Any, i: int, where: str, holder: Any) -> tuple[float, str | None]:
    if isinstance(node, Node):
        entry = reader.mapping(node, f"{where}.numbers[{i}]", NUMBER_KEYS, reader.line(holder, i))
        if "value" not in entry:
            raise reader.fail(entry, None, f"{where}.numbers[{i}]: missing field 'value'")
        value = reader.get(entry, "value", (int, float), f"{where}.numbers[{i}]")
        unit: str | None = reader.opt(entry, "unit", str, f"{where}.numbers[{i}]", None)
    else:
        value, unit = node, None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise reader.fail(holder, i, f"{where}: 'numbers' must be a list of finite numbers")
    return float(value), unit


def numbers(
    reader: Reader, expect: Node, where: str
) -> tuple[tuple[float, ...], tuple[str | None, ...]]:
    """``numbers:`` entries, each a number or ``{value, unit}``: values and units."""
    holder = reader.opt(expect, "numbers", list, where, [])
    parsed = [_number(reader, node, i, where, holder) for i, node in enumerate(holder)]
    return tuple(v for v, _ in parsed), tuple(u for _, u in parsed)


def closed_set(reader: Reader, expect: Node, where: str) -> ClosedSet | None:
    """``closed_set: {right: [...], universe: <name>, wrong: [...]}``."""
    if "closed_set" not in expect:
        return None
    cw = f"{where}.closed_set"
    node = reader.mapping(
        expect["closed_set"], cw, CLOSED_SET_KEYS, reader.line(expect, "closed_set")
    )
    right = tuple(str(x) for x in reader.opt(node, "right", list, cw, []))
    universe_name = reader.opt(node, "universe", str, cw, "")
    if universe_name and universe_name not in UNIVERSES:
        known = ", ".join(UNIVERSES)
        raise reader.fail(
            node, "universe", f"{cw}: unknown universe '{universe_name}' (known: {known})"
        )
    folded = {r.casefold() for r in right}
    candidates = [*UNIVERSES.get(universe_name, ()), *reader.strings(node, "wrong", cw)]
    wrong = tuple(dict.fromkeys(c for c in candidates if c.casefold() not in folded))
    return ClosedSet(right=right, wrong=wrong)


def patterns(reader: Reader, expect: Node, where: str) -> tuple[str, ...]:
    """``wrong_claims:`` regular expressions, each compiled once to check it."""
    found = reader.strings(expect, "wrong_claims", where)
    for i, pattern in enumerate(found):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise reader.fail(
                expect["wrong_claims"], i, f"{where}.wrong_claims[{i}]: {exc}"
            ) from None
    return found


def word_groups(reader: Reader, node: Node, key: str, where: str) -> tuple[tuple[str, ...], ...]:
    """A list of word groups (a string is a group of one)."""
    groups: list[tuple[str, ...]] = []
    for _, group, line in reader.items(node, key, where):
        group = [group] if isinstance(group, str) else group
        if not isinstance(group, list) or not all(isinstance(w, str) for w in group) or not group:
            raise reader.error(line, f"{where}: '{key}' must be a list of word groups")
        groups.append(tuple(group))
    return tuple(groups)


def mentions(reader: Reader, call: Node, where: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """``mentions: {argument: [number | word group, ...]}``: what an argument's text must state."""
    if "mentions" not in call:
        return ()
    node = reader.get(call, "mentions", dict, where)
    out = []
    for key, items in node.items():
        if not isinstance(items, list):
            raise reader.fail(node, key, f"{where}.mentions: '{key}' must be a list")
        parsed: list[Any] = []
        for item in items:
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                parsed.append(float(item))
            elif isinstance(item, str):
                parsed.append((item,))
            elif isinstance(item, list) and item and all(isinstance(w, str) for w in item):
                parsed.append(tuple(item))
            else:
                raise reader.fail(node, key, f"{where}.mentions: '{key}' holds numbers and words")
        out.append((str(key), tuple(parsed)))
    return tuple(out)


def labels(reader: Reader, expect: Node, where: str) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """``labels: {label: number | [numbers]}``: the figures each label may carry."""
    if "labels" not in expect:
        return ()
    node = reader.get(expect, "labels", dict, where)
    out = []
    for label, value in node.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            raise reader.fail(node, label, f"{where}.labels: '{label}' must be numbers")
        out.append((str(label), tuple(float(v) for v in values)))
    return tuple(out)


def excludes(reader: Reader, call: Node, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``excludes: {argument: [item, ...]}``: wrong items an argument's text must not name."""
    if "excludes" not in call:
        return ()
    node = reader.get(call, "excludes", dict, where)
    return tuple((str(key), reader.strings(node, key, f"{where}.excludes")) for key in node)
