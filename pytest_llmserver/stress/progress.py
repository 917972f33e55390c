"""A throttled one-line terminal progress display and a rolling median for it."""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO


def should_show_progress(stream: TextIO, quiet: bool) -> bool:
    """True when ``stream`` is a terminal and the user did not ask for quiet output."""
    return stream.isatty() and not quiet


class ProgressLine:
    """One status line rewritten in place with ``\\r``, at most every ``min_interval_s``.

    When ``enabled`` is False nothing is ever written.
    """

    def __init__(
        self,
        stream: TextIO,
        enabled: bool,
        min_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._enabled = enabled
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._last_write_s: float | None = None
        self._width = 0

    def update(
        self,
        done: int,
        in_flight: int,
        errors: int,
        p50_ttft_s: float | None,
        label: str = "",
        force: bool = False,
    ) -> None:
        """Show the counts unless the last write was under ``min_interval_s`` ago (or ``force``)."""
        if not self._enabled:
            return
        now = self._clock()
        if (
            not force
            and self._last_write_s is not None
            and now - self._last_write_s < self._min_interval_s
        ):
            return
        ttft = "-" if p50_ttft_s is None else f"{p50_ttft_s * 1000:.0f} ms"
        prefix = f"{label}: " if label else ""
        line = f"{prefix}done {done} | in flight {in_flight} | errors {errors} | p50 ttft {ttft}"
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = max(self._width, len(line))
        self._last_write_s = now

    def close(self) -> None:
        """End the line with a newline if anything was written."""
        if self._enabled and self._last_write_s is not None:
            self._stream.write("\n")
            self._stream.flush()
        self._last_write_s = None
        self._width = 0


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
