"""JSON-schema builders for tool parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def str_param(desc: str, **extra: Any) -> dict[str, Any]:
    """JSON schema of a string parameter."""
    return {"type": "string", "description": desc, **extra}


def object_params(props: dict[str, dict[str, Any]], required: Sequence[str] = ()) -> dict[str, Any]:
    """JSON schema of an object with these properties and no others."""
    return {
        "type": "object",
        "properties": props,
        "required": list(required),
        "additionalProperties": False,
    }
