"""The capacity under SLO against the baseline's: higher is better; each side is known to lie
within its search's final bracket (highest passing rate, lowest failing rate), so the change
is known to lie within the difference of the brackets.

A regression: the current capacity is lower than the baseline's by more than the relative
threshold, and the brackets do not overlap (the current failing rate is at or below the
baseline's passing rate), so no placement of the two true capacities within their brackets
explains it away. An improvement is the same the other way round.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CapacityComparison:
    """Baseline against current capacity (req/s), the change's bounds from the brackets, and
    the verdict (``regression``, ``improvement``, ``unchanged``)."""

    baseline_per_s: float
    current_per_s: float
    change_low_per_s: float
    change_high_per_s: float
    relative_change: float | None
    status: str
    threshold: float

    def line(self) -> str:
        """``capacity: 40.6 -> 30.2 req/s (-25.6%, change within -12.0..-8.1 req/s by the
        search brackets): regression (limit -20%)``."""
        relative = "n/a" if self.relative_change is None else f"{self.relative_change:+.1%}"
        return (
            f"capacity: {self.baseline_per_s:.3g} -> {self.current_per_s:.3g} req/s ({relative}, "
            f"change within {self.change_low_per_s:+.3g}..{self.change_high_per_s:+.3g} req/s "
            f"by the search brackets): {self.status} (limit -{self.threshold:.0%})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form, its line included."""
        return {**asdict(self), "line": self.line()}


def _bracket(capacity: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """``(rate, low, high)`` of a capacity figure (high infinite without an upper end)."""
    rate, low = capacity.get("rate_per_s"), capacity.get("low_per_s")
    if not isinstance(rate, (int, float)) or not isinstance(low, (int, float)):
        return None
    high = capacity.get("high_per_s")
    return float(rate), float(low), float(high) if isinstance(high, (int, float)) else math.inf


def compare_capacity(
    baseline: Mapping[str, Any], current: Mapping[str, Any], threshold: float
) -> CapacityComparison | None:
    """Compare two capacity figures (``Capacity.to_dict``); None when either has no rate
    (e.g. its SLOs failed at no load)."""
    base, cur = _bracket(baseline), _bracket(current)
    if base is None or cur is None:
        return None
    (b, b_low, b_high), (c, c_low, c_high) = base, cur
    relative = (c - b) / b if b else None
    tolerance = threshold * b
    if b - c > tolerance and c_high <= b_low:
        status = "regression"
    elif c - b > tolerance and c_low >= b_high:
        status = "improvement"
    else:
        status = "unchanged"
    return CapacityComparison(b, c, c_low - b_high, c_high - b_low, relative, status, threshold)
