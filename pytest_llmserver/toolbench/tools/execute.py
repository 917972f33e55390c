"""Running one call: arguments checked against the tool's JSON schema, result as JSON text."""

from __future__ import annotations

import json
import math
from typing import Any

from pytest_llmserver.toolbench.tools.base import Args, ToolError, ToolSpec, ToolState


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _matches(value: Any, expected: str) -> bool:
    actual = _json_type(value)
    if expected == "number":
        return actual == "integer" or (actual == "number" and math.isfinite(value))
    if expected == "integer":
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    return actual == expected


def _validate(spec: ToolSpec, arguments: Any) -> Args:
    """Check arguments against the spec's JSON schema; return them cleaned (nulls dropped)."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ToolError(f"arguments must be a JSON object, got {_json_type(arguments)}")
    props: dict[str, Any] = spec.parameters.get("properties", {})
    required: list[str] = spec.parameters.get("required", [])
    cleaned: Args = {}
    for key, value in arguments.items():
        prop = props.get(key)
        if prop is None:
            if spec.parameters.get("additionalProperties") is False:
                accepted = ", ".join(props) or "none"
                raise ToolError(f"unexpected argument {key!r} (accepted: {accepted})")
            cleaned[key] = value
            continue
        if value is None and key not in required:
            continue
        types = prop.get("type")
        allowed = [types] if isinstance(types, str) else list(types or [])
        if allowed and not any(_matches(value, t) for t in allowed):
            raise ToolError(
                f"argument {key!r} must be {' or '.join(allowed)}, "
                f"got {_json_type(value)} {json.dumps(value, ensure_ascii=False)[:60]}"
            )
        if "enum" in prop and value not in prop["enum"]:
            options = ", ".join(json.dumps(v) for v in prop["enum"])
            raise ToolError(f"argument {key!r} must be one of {options}, got {value!r}")
        if allowed == ["integer"] and isinstance(value, float):
            value = int(value)
        cleaned[key] = value
    for key in required:
        if key not in cleaned:
            expected = props.get(key, {}).get("type", "a value")
            raise ToolError(f"missing required argument {key!r} ({expected})")
    return cleaned


def execute(spec: ToolSpec, arguments: dict[str, Any], state: ToolState) -> tuple[str, bool]:
    """Run one call; return (JSON result text, is_error). Never raises."""
    try:
        result = spec.run(_validate(spec, arguments), state)
        return json.dumps(result, ensure_ascii=False), False
    except ToolError as exc:
        return json.dumps({"error": str(exc)}, ensure_ascii=False), True
    except Exception as exc:  # a tool bug must reach the model as an error, not crash the run
        message = f"tool {spec.name} failed: {type(exc).__name__}: {exc}"
        return json.dumps({"error": message}, ensure_ascii=False), True
