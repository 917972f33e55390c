"""Utility tools: unit conversion, the clock, day counts and e-mail."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pytest_llmserver.toolbench.tools.base import Args, ToolError, ToolSpec, ToolState, fold
from pytest_llmserver.toolbench.tools.schema import object_params, str_param
from pytest_llmserver.toolbench.tools.world import NOW_ISO, TODAY
from pytest_llmserver.toolbench.tools.world_language import UNIT_ALIASES, UNITS


def _unit(raw: str) -> str:
    folded = fold(raw).removesuffix(".")
    if folded in UNITS:
        return folded
    if folded in UNIT_ALIASES:
        return UNIT_ALIASES[folded]
    if folded.endswith("s") and folded[:-1] in UNIT_ALIASES:
        return UNIT_ALIASES[folded[:-1]]
    raise ToolError(f"unknown unit {raw!r}; supported: {', '.join(UNITS)} (or their full names)")


def _to_celsius(value: float, unit: str) -> float:
    if unit == "f":
        return (value - 32) * 5 / 9
    return value - 273.15 if unit == "k" else value


def _from_celsius(value: float, unit: str) -> float:
    if unit == "f":
        return value * 9 / 5 + 32
    return value + 273.15 if unit == "k" else value


def _convert_units(args: Args, state: ToolState) -> Any:
    value = args["value"]
    src, dst = _unit(args["from_unit"]), _unit(args["to_unit"])
    src_dim, src_factor = UNITS[src]
    dst_dim, dst_factor = UNITS[dst]
    if src_dim != dst_dim:
        raise ToolError(f"cannot convert {src_dim} ({src}) to {dst_dim} ({dst})")
    if src_dim == "temperature":
        result = _from_celsius(_to_celsius(value, src), dst)
    else:
        result = value * src_factor / dst_factor
    tidy = float(f"{result:.10g}")
    return {
        "value": value,
        "from_unit": src,
        "to_unit": dst,
        "result": int(tidy) if tidy.is_integer() else tidy,
    }


def _get_current_datetime(args: Args, state: ToolState) -> Any:
    return {
        "datetime": NOW_ISO,
        "date": TODAY.isoformat(),
        "time": "09:30:00",
        "weekday": TODAY.strftime("%A"),
        "timezone": "UTC",
    }


def _iso_date(raw: str, arg: str) -> date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
            raise ValueError(raw)
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ToolError(f"{arg} must be an ISO date YYYY-MM-DD, got {raw!r}") from None


def _days_between(args: Args, state: ToolState) -> Any:
    start = _iso_date(args["start_date"], "start_date")
    end = _iso_date(args["end_date"], "end_date")
    return {
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "days": (end - start).days,
    }


_EMAIL_RE = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")


def _send_email(args: Args, state: ToolState) -> Any:
    to = args["to"].strip()
    if not _EMAIL_RE.fullmatch(to):
        raise ToolError(f"'to' must be one e-mail address, got {to!r}")
    message_id = f"msg-{len(state.sent_emails) + 1:04d}"
    state.sent_emails.append(
        {"id": message_id, "to": to, "subject": args["subject"], "body": args["body"]}
    )
    return {"status": "sent", "id": message_id, "to": to}


UTILITY_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "convert_units",
        "Convert a value between units of length (mm, cm, m, km, in, ft, yd, mi), "
        "mass (mg, g, kg, t, oz, lb) or temperature (C, F, K).",
        object_params(
            {
                "value": {"type": "number", "description": "The amount to convert"},
                "from_unit": str_param("Unit of the value, e.g. 'mi'"),
                "to_unit": str_param("Unit wanted, e.g. 'km'"),
            },
            ["value", "from_unit", "to_unit"],
        ),
        _convert_units,
    ),
    ToolSpec(
        "get_current_datetime",
        "The current date, time (UTC) and weekday.",
        object_params({}),
        _get_current_datetime,
    ),
    ToolSpec(
        "days_between",
        "Number of days from start_date to end_date (negative if end_date is earlier).",
        object_params(
            {"start_date": str_param("YYYY-MM-DD"), "end_date": str_param("YYYY-MM-DD")},
            ["start_date", "end_date"],
        ),
        _days_between,
    ),
    ToolSpec(
        "send_email",
        "Send an e-mail to one recipient.",
        object_params(
            {
                "to": str_param("Recipient address"),
                "subject": str_param("Subject"),
                "body": str_param("Body"),
            },
            ["to", "subject", "body"],
        ),
        _send_email,
    ),
)
