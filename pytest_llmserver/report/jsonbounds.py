"""JSON within bounds: files read up to a size, and nesting depth measured without recursion, of
text before it is parsed and of Python values before they are serialised, so that no depth
reaches the recursion limit."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from itertools import accumulate
from pathlib import Path
from typing import Any

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def text_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text (0 for a scalar), by one linear
    scan that skips strings. For text that is not JSON it bounds how deep a parser would go
    before it fails."""
    skeleton = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, skeleton)), default=0)


def deeper_than(value: Any, limit: int) -> bool:
    """Whether the mappings, lists and tuples of ``value`` nest more than ``limit`` levels (a
    cycle nests without end)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse(raw: bytes, max_depth: int) -> Any:
    """The JSON value of UTF-8 ``raw``; ``ValueError`` with a short reason if it is not UTF-8,
    not JSON, or nests deeper than ``max_depth`` (checked before parsing)."""
    depth = text_depth(raw)
    if depth > max_depth:
        raise ValueError(f"JSON nested {depth} levels deep, more than {max_depth}")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at line {exc.lineno})") from None


def read_file(path: Path, max_bytes: int, max_depth: int) -> Any:
    """The JSON value of the regular file ``path``, never following a symlink where the OS
    allows and never reading more than ``max_bytes``; ``ValueError`` with a short reason for a
    file that is not one, is larger, or is refused by ``parse``."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        raw = handle.read(max_bytes + 1) if info.st_size <= max_bytes else b""
        if info.st_size > max_bytes or len(raw) > max_bytes:
            raise ValueError(f"larger than {max_bytes} bytes")
    return parse(raw, max_depth)
