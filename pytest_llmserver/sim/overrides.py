"""Per-request settings taken from ``x-sim-*`` request headers."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_llmserver.sim.config import Fault
from pytest_llmserver.sim.errors import ApiError


@dataclass(frozen=True)
class Overrides:
    """Per-request settings taken from ``x-sim-*`` request headers."""

    ttft_s: float | None = None
    per_token_s: float | None = None
    fault: Fault | None = None
    answer_tokens: int | None = None
    fault_after_tokens: int | None = None
    stall_s: float | None = None


def _header_ms(headers: dict[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0.0:
        raise ApiError(400, f"invalid {name} header: {raw!r} (want milliseconds >= 0)")
    return value / 1000.0


def _header_count(headers: dict[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise ApiError(400, f"invalid {name} header: {raw!r} (want an integer >= 0)")
    return int(raw)


def parse_overrides(headers: dict[str, str]) -> Overrides:
    """Read the ``x-sim-*`` headers; a bad value raises a 400 naming the header."""
    fault: Fault | None = None
    raw_fault = headers.get("x-sim-fault")
    if raw_fault is not None:
        try:
            fault = Fault(raw_fault.strip().lower())
        except ValueError:
            known = ", ".join(f.value for f in Fault)
            raise ApiError(
                400, f"invalid x-sim-fault header: {raw_fault!r} (known: {known})"
            ) from None
    return Overrides(
        ttft_s=_header_ms(headers, "x-sim-ttft-ms"),
        per_token_s=_header_ms(headers, "x-sim-token-ms"),
        fault=fault,
        answer_tokens=_header_count(headers, "x-sim-answer-tokens"),
        fault_after_tokens=_header_count(headers, "x-sim-fault-after-tokens"),
        stall_s=_header_ms(headers, "x-sim-stall-ms"),
    )
