"""Record builders shared by the stress statistics tests."""

from __future__ import annotations

from typing import Any


def rec(**fields: Any) -> dict[str, Any]:
    """A successful, non-warm-up record with ``fields`` on top."""
    base: dict[str, Any] = {"ok": True, "error_class": None, "warmup": False, "itl_s": []}
    base.update(fields)
    return base


def fail(error_class: str | None, **fields: Any) -> dict[str, Any]:
    return rec(ok=False, error_class=error_class, **fields)
