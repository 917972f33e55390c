"""The event decoders read JSON the same with orjson as with the standard library.

``_checks.loads`` takes ``orjson.loads`` when it is installed and falls back to the standard
library for whatever orjson rejects or would read differently; every value, type and error
message must be the one the standard library gives.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmserver.client import _checks
from pytest_llmserver.client._api import event_object, server_message
from pytest_llmserver.client._checks import ShapeError, loads
from pytest_llmserver.client.limits import MAX_NESTING_DEPTH

pytest.importorskip("orjson")

CORPUS = [
    b'{"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": null}]}',
    b'{"a": 1, "a": 2.5, "b": [true, false, null], "c": "\\u00e9\\ud83d\\ude00"}',
    b'{"n": NaN, "p": Infinity, "m": -Infinity}',
    b'{"big": 123456789012345678901234567890, "neg": -9223372036854775809}',
    b'{"u64": 18446744073709551615, "i64": -9223372036854775808}',
    b'{"e": 1e400, "tiny": 1e-400, "z": -0, "zf": -0.0, "f": 0.1}',
    b'{"d": 1.00000000000000011102230246251565404236316680908203125}',
    b'{"s": "\\ud800"}',
    b'{"s": "tab\there"}',
    b"\xef\xbb\xbf{}",
    b'  {"x": 1}  \r\n',
    b'{"x": 1} {"y": 2}',
    b'{"x": 1,}',
    b"[1, 2",
    b"\xff\xfe",
    b"",
    b"null",
    b'"just a string"',
    b"[" * MAX_NESTING_DEPTH + b"]" * MAX_NESTING_DEPTH,
    b"[" * (MAX_NESTING_DEPTH + 1) + b"]" * (MAX_NESTING_DEPTH + 1),
    b"[" * 5000 + b"]" * 5000,
]


def outcome(data: bytes) -> tuple[str, str]:
    """What ``loads`` made of ``data``: the exact value (``repr`` keeps int/float/bool and
    NaN apart), or the error's type and message."""
    try:
        return "value", repr(loads(data))
    except ShapeError as exc:
        return "ShapeError", str(exc)


def both_ways(data: bytes) -> tuple[tuple[str, str], tuple[str, str]]:
    """``outcome`` with orjson, then with the standard library alone."""
    fast = outcome(data)
    original = _checks.fast_loads
    try:
        # ``given`` runs many cases in one test: patch by hand rather than per fixture
        _checks.fast_loads = None
        slow = outcome(data)
    finally:
        _checks.fast_loads = original
    return fast, slow


def test_orjson_is_taken_when_installed() -> None:
    assert _checks.fast_loads is not None


@pytest.mark.parametrize("data", CORPUS)
def test_loads_gives_the_standard_librarys_values_and_messages(
    data: bytes,
) -> None:
    fast, slow = both_ways(data)
    assert fast == slow


def test_edge_values_keep_their_standard_types(monkeypatch: pytest.MonkeyPatch) -> None:
    value = loads(b'{"big": 123456789012345678901234567890, "n": NaN, "u64": 18446744073709551615}')
    assert value["big"] == 123456789012345678901234567890
    assert type(value["big"]) is int
    assert math.isnan(value["n"])
    assert value["u64"] == 2**64 - 1
    with pytest.raises(ShapeError, match="nested deeper"):
        loads(b"[" * 5000 + b"]" * 5000)


@pytest.mark.parametrize("data", CORPUS)
def test_event_object_and_server_message_both_ways(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run() -> tuple[str, str]:
        try:
            event = repr(event_object(data))
        except ShapeError as exc:
            event = f"ShapeError: {exc}"
        return event, server_message(data)

    fast = run()
    with monkeypatch.context() as patch:
        patch.setattr(_checks, "fast_loads", None)
        assert run() == fast


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(value=json_values)
def test_any_json_value_reads_the_same_both_ways(value: Any) -> None:
    fast, slow = both_ways(json.dumps(value).encode())
    assert fast == slow


@settings(
    max_examples=200, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.binary(max_size=40))
def test_any_bytes_read_the_same_both_ways(data: bytes) -> None:
    fast, slow = both_ways(data)
    assert fast == slow
