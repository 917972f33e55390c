"""Small text helpers shared by every package."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str, sep: str = "_", *, max_len: int | None = None, default: str = "") -> str:
    """``text`` as a file-name-safe word: runs of other characters become ``sep``; dots,
    dashes and underscores are trimmed from both ends; ``default`` when nothing is left."""
    value = _UNSAFE.sub(sep, text)
    if max_len is not None:
        value = value[:max_len]
    return value.strip("._-") or default
