"""JSON depth without recursion: the text scan agrees with the parsed value's depth for any JSON,
strings full of brackets, quotes and backslashes included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmserver.report.jsonbounds import deeper_than, parse, text_depth

TRICKY_TEXT = st.text(alphabet='[]{}"\\,:abc \n\u00e9\U0001f600', max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY_TEXT, inner, max_size=4),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.booleans())
def test_text_depth_is_the_depth_of_the_value(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only, indent=None if ascii_only else 1)
    assert text_depth(raw.encode()) == depth(value)
    assert deeper_than(value, depth(value)) is False
    assert deeper_than(value, depth(value) - 1) is (depth(value) > 0)
    assert parse(raw.encode(), depth(value)) == value


def test_parse_refuses_depth_before_parsing_and_names_each_reason() -> None:
    with pytest.raises(ValueError, match=r"^JSON nested 200000 levels deep, more than 10$"):
        parse(b"[" * 200_000 + b"]" * 200_000, 10)
    with pytest.raises(ValueError, match=r"^not UTF-8 \(invalid start byte\)$"):
        parse(b'["\xff"]', 10)
    with pytest.raises(ValueError, match=r"^not JSON \(Expecting value at line 1\)$"):
        parse(b"[1,]", 10)
    assert text_depth(b'"[[[\\"[[" ') == 0
    assert text_depth(b"[[[") == 3  # text that is no JSON: what a parser would descend at most
