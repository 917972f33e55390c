"""The text of a stress run's live progress line, and the rolling median it shows."""

from __future__ import annotations

import math
import statistics
from collections import deque


def progress_text(
    done: int, in_flight: int | None, errors: int, p50_ttft_s: float | None, label: str = ""
) -> str:
    """The live line of a stress run, e.g. ``c4: done 12 | in flight 4 | errors 0 | ...``
    (in flight ``-`` when not known, e.g. of worker processes)."""
    ttft = "-" if p50_ttft_s is None else f"{p50_ttft_s * 1000:.0f} ms"
    prefix = f"{label}: " if label else ""
    flight = "-" if in_flight is None else in_flight
    return f"{prefix}done {done} | in flight {flight} | errors {errors} | p50 ttft {ttft}"


class RollingMedian:
    """Median of the last ``window`` values added (``None`` and NaN are skipped)."""

    def __init__(self, window: int = 200) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self._values: deque[float] = deque(maxlen=window)

    def add(self, value: float | None) -> None:
        """Add ``value`` unless it is ``None`` or NaN, dropping the oldest past ``window``."""
        if value is not None and not math.isnan(value):
            self._values.append(value)

    def value(self) -> float | None:
        """The median of the held values; ``None`` when there are none."""
        return statistics.median(self._values) if self._values else None

    def __len__(self) -> int:
        return len(self._values)
