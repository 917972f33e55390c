"""How an open-loop run kept its schedule: the scheduler's figures, their exact merge over the
processes that shared one schedule, and the line that says who was the bottleneck."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pytest_llmserver.stress.engine import OpenLoopStats

SCHEDULE_LAG_LIMIT_S = 0.010
"""Schedule-lag p99 above this means the client could not keep the schedule on time."""

_UNITS = {"rps": "req/s", "sessions_per_s": "sessions/s"}
_SUMMED: tuple[str, ...] = (
    "scheduled",
    "due",
    "shed_behind",
    "shed_full",
    "blocked_by_max_in_flight",
)
_SUMMED += ("cancelled_at_end", "sessions", "turns_total", "turns_shed")


def lag_p99_s(samples: Sequence[float]) -> float:
    """p99 of the schedule-lag samples (0.0 without any)."""
    return float(np.percentile(np.asarray(samples, dtype=float), 99)) if len(samples) else 0.0


def schedule_figures(
    sched: OpenLoopStats, target_per_s: float, duration_s: float, unit: str
) -> dict[str, Any]:
    """The figures of one scheduler's part: ``target_<unit>`` and ``delivered_<unit>`` (what
    it started per second of the schedule), counts, shed counts and the schedule-lag p99."""
    return {
        f"target_{unit}": target_per_s,
        f"delivered_{unit}": sched.scheduled / duration_s,
        "scheduled": sched.scheduled,
        "due": sched.due,
        "shed_behind": sched.shed_behind,
        "shed_full": sched.shed_full,
        "blocked_by_max_in_flight": sched.blocked,
        "cancelled_at_end": sched.cancelled,
        "schedule_lag_p99_s": lag_p99_s(sched.schedule_lag_s),
    }


def merge_figures(
    parts: Sequence[Mapping[str, Any]], lag_samples: Sequence[float] | None = None
) -> dict[str, Any]:
    """The figures of processes that ran parts of one schedule: counts and rates added up,
    the schedule-lag p99 computed from every part's samples when given (else the largest of
    the parts' p99, an upper bound), the rest taken from the first part."""
    merged: dict[str, Any] = dict(parts[0]) if parts else {}
    for key in merged:
        values = [p.get(key) for p in parts]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) != len(values):
            continue
        if key in _SUMMED or key.startswith(("target_", "delivered_")):
            merged[key] = sum(numbers)
        elif key == "schedule_lag_p99_s":
            merged[key] = lag_p99_s(lag_samples) if lag_samples is not None else max(numbers)
    return merged


def bottleneck_line(figures: Mapping[str, Any], params: Mapping[str, Any]) -> str | None:
    """One line naming the bottleneck of an open-loop run from its figures, or None when it
    kept its schedule. The client is the bottleneck when it shed requests it reached too late
    (not for want of a slot), or, with nothing shed, started them more than
    ``SCHEDULE_LAG_LIMIT_S`` late at p99; the in-flight cap is (requests finish too slowly)
    when only busy slots made it shed."""
    unit = next((u for u in _UNITS if f"target_{u}" in figures), None)
    if unit is None:
        return None
    target, delivered = figures[f"target_{unit}"], figures.get(f"delivered_{unit}") or 0.0
    behind, full = int(figures.get("shed_behind") or 0), int(figures.get("shed_full") or 0)
    lag = float(figures.get("schedule_lag_p99_s") or 0.0)
    due = int(figures.get("due") or 0)
    what = "sessions" if unit == "sessions_per_s" else "requests"
    shown = _UNITS[unit]
    bound = params.get("max_lag_s")
    late = "late" if bound is None else f"more than {bound:g} s late"
    if behind or (lag > SCHEDULE_LAG_LIMIT_S and not full):
        line = (
            f"client-bound: the client could not keep the schedule of {target:.1f} {shown}: "
            f"it sent {delivered:.1f} {shown}, fell behind by {lag * 1e3:.1f} ms "
            f"(schedule-lag p99) and shed {behind} of {due} {what} it reached {late}"
        )
        if full:
            line += f", and {full} more while all {params.get('max_in_flight')} slots were busy"
        turns = int(figures.get("turns_shed") or 0)
        if turns:
            line += f"; {turns} sessions ended early at a turn {late}"
        return line
    if full:
        line = (
            f"in-flight cap reached: {full} of {due} {what} were shed because all "
            f"{params.get('max_in_flight')} slots stayed busy {late}; it sent "
            f"{delivered:.1f} of {target:.1f} {shown} (requests did not finish fast enough)"
        )
        if lag > SCHEDULE_LAG_LIMIT_S:
            line += f"; the client also ran {lag * 1e3:.1f} ms behind (schedule-lag p99)"
        return line
    return None
