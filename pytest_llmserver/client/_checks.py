"""The shapes the client reads, checked: bounded JSON, field types, physical ranges.

Decoders raise ``ShapeError`` naming the field; the decoder that read the bytes turns it into
an ``LLMProtocolError`` with the URL and an excerpt. Figures outside their physical range are
not errors: their names go into a ``suspect`` list and their values are dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from pytest_llmserver.client.limits import (
    MAX_DURATION_S,
    MAX_NESTING_DEPTH,
    MAX_RATE_TPS,
    MAX_TOKEN_COUNT,
)

_MAX_DURATION_MS = MAX_DURATION_S * 1e3
_MAX_DURATION_NS = int(MAX_DURATION_S * 1e9)
_CONTAINERS = (dict, list)


class ShapeError(ValueError):
    """Bytes from a server that are not the JSON shape we read; the text names the field."""


_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

fast_loads: Callable[[bytes], Any] | None
"""``orjson.loads`` when orjson is installed: it takes what it parses exactly like the
standard library and rejects the rest (NaN, Infinity, lone surrogates, deep nesting), which
then takes the standard path; only integers beyond 64 bits it would turn into floats, so
texts with a run of 19 digits skip it."""
try:
    from orjson import loads as fast_loads
except ImportError:  # pragma: no cover - orjson is an optional extra
    fast_loads = None

_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def loads(data: bytes) -> Any:
    """``data`` parsed as JSON nested at most ``MAX_NESTING_DEPTH`` deep; ``ShapeError`` for
    anything else (never a ``RecursionError``)."""
    try:
        try:
            if fast_loads is None or _LONG_DIGITS in data.translate(_ZERO_DIGITS):
                raise ValueError
            value = fast_loads(data)
        except ValueError:
            value = _std_loads(data)
    except RecursionError:
        raise ShapeError(f"JSON nested deeper than {MAX_NESTING_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ShapeError(str(exc)) from None
    # Depth needs as many brackets as levels: most events are cleared by two counts.
    if data.count(b"{") + data.count(b"[") > MAX_NESTING_DEPTH and too_deep(value):
        raise ShapeError(f"JSON nested deeper than {MAX_NESTING_DEPTH} levels")
    return value


def _std_loads(data: bytes) -> Any:
    """``data`` parsed by the standard library."""
    try:
        # json.loads minus its encoding detection and wrappers: UTF-8 text that starts
        # with its value, as every event does; anything else takes the full path.
        text = data.decode()
        value, end = _scan_once(text, 0)
        if end != len(text) and not text[end:].isspace():
            raise ValueError
    except (ValueError, StopIteration):
        return json.loads(data)
    return value


def too_deep(value: object, limit: int = MAX_NESTING_DEPTH) -> bool:
    """Whether ``value`` nests objects/arrays more than ``limit`` levels (no recursion)."""
    if type(value) not in _CONTAINERS:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        for child in node.values() if type(node) is dict else node:
            if type(child) in _CONTAINERS:
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def describe(value: object) -> str:
    """A JSON value in a few words: ``a number (5)``, ``a string ('ab…')``, ``an object``."""
    if value is None:
        return "null"
    if type(value) in (int, float):
        text = repr(value)
        if type(value) is float and not math.isfinite(value):
            return f"non-finite ({text})"
        return f"a number ({text[:24]})"
    kind = _KINDS.get(type(value), type(value).__name__)
    if type(value) is str:
        return f"{kind} ({value[:24]!r})"
    return kind


def bad(field: str, value: object, expected: str) -> ShapeError:
    """The error for ``field`` holding ``value`` where ``expected`` belongs."""
    return ShapeError(f"{field} is {describe(value)}, not {expected}")


def need_dict(value: object, field: str) -> dict[str, Any]:
    """``value`` if it is an object, else ``ShapeError``."""
    if type(value) is not dict:
        raise bad(field, value, "an object")
    return value


def need_list(value: object, field: str) -> list[Any]:
    """``value`` if it is an array, else ``ShapeError``."""
    if type(value) is not list:
        raise bad(field, value, "an array")
    return value


def opt_dict(obj: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    """``obj[key]`` as an object, ``None`` when absent or null."""
    value = obj.get(key)
    if value is None or type(value) is dict:
        return value
    raise bad(f"{where}{key}", value, "an object")


def opt_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    """``obj[key]`` as a string, ``None`` when absent or null."""
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise bad(f"{where}{key}", value, "a string")


# Server figures: JSON type first (a protocol error), then physical range (suspect) -----------


def token_count(obj: dict[str, Any], key: str, where: str, suspect: list[str]) -> int | None:
    """A token count: an integer in 0..``MAX_TOKEN_COUNT``; outside it, suspect and dropped."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise bad(f"{where}{key}", value, "an integer")
    if 0 <= value <= MAX_TOKEN_COUNT:
        return value
    suspect.append(f"{where}{key}")
    return None


def duration_ns(obj: dict[str, Any], key: str, where: str, suspect: list[str]) -> int | None:
    """Nanoseconds given as an integer (Ollama), in 0..``MAX_DURATION_S``."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise bad(f"{where}{key}", value, "an integer of nanoseconds")
    if 0 <= value <= _MAX_DURATION_NS:
        return value
    suspect.append(f"{where}{key}")
    return None


def duration_ms(obj: dict[str, Any], key: str, where: str, suspect: list[str]) -> int | None:
    """Milliseconds given as a finite number (llama.cpp ``timings``), returned in nanoseconds."""
    value = finite(obj, key, where)
    if value is None:
        return None
    if 0 <= value <= _MAX_DURATION_MS:
        return round(value * 1e6)
    suspect.append(f"{where}{key}")
    return None


def rate(obj: dict[str, Any], key: str, where: str, suspect: list[str]) -> float | None:
    """Tokens per second as a finite number in 0..``MAX_RATE_TPS``."""
    value = finite(obj, key, where)
    if value is None:
        return None
    if 0 <= value <= MAX_RATE_TPS:
        return float(value)
    suspect.append(f"{where}{key}")
    return None


def finite(obj: dict[str, Any], key: str, where: str) -> float | int | None:
    """``obj[key]`` as a finite number (NaN and infinities are protocol errors)."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return value
    raise bad(f"{where}{key}", value, "a finite number")


def derived_rate(
    count: int | None, span_ns: int | None, name: str, suspect: list[str]
) -> float | None:
    """``count`` tokens over ``span_ns``, when both are known and the rate is physical."""
    if count is None or not span_ns:
        return None
    value = count / (span_ns * 1e-9)
    if value <= MAX_RATE_TPS:
        return value
    suspect.append(name)
    return None
