"""Bounded-memory series for charts of long runs: every k-th point, and the in-flight curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

import numpy as np

from pytest_llmserver.report.charts.base import FloatArray, number

T = TypeVar("T")

MAX_POINTS = 20_000
"""At most this many points are kept per plotted series (every k-th, k doubling as needed)."""

OCCUPANCY_BINS = 4096
"""Time bins of the in-flight curve; their width doubles whenever the run outgrows them."""

OCCUPANCY_FIRST_WIDTH_S = 0.001
"""Starting width of an in-flight time bin, in seconds."""


class Sample(Generic[T]):
    """Every ``stride``-th item offered; the stride doubles whenever more than ``cap`` are kept."""

    def __init__(self, cap: int = MAX_POINTS) -> None:
        self._cap = cap
        self._stride = 1
        self._seen = 0
        self.items: list[T] = []

    def add(self, item: T) -> None:
        """Offer one item."""
        if self._seen % self._stride == 0:
            self._keep(item)
        self._seen += 1

    def _keep(self, item: T) -> None:
        self.items.append(item)
        if len(self.items) > self._cap:
            self.items = self.items[::2]
            self._stride *= 2


class NumberSample(Sample[float]):
    """A ``Sample`` of finite numbers that can take a whole list, checking only kept positions."""

    def add_numbers(self, values: Sequence[object]) -> None:
        """Offer every entry of ``values``; a kept position holding no finite number is dropped."""
        position = -self._seen % self._stride
        while position < len(values):
            value = number(values[position])
            if value is not None:
                self._keep(value)
            position += 1
            position += -(self._seen + position) % self._stride
        self._seen += len(values)


class Occupancy:
    """Time-weighted mean number of requests in flight per time bin, in bounded memory."""

    def __init__(self, bins: int = OCCUPANCY_BINS, width_s: float = OCCUPANCY_FIRST_WIDTH_S):
        self._bins = bins
        self._width = width_s
        self._base = np.zeros(bins)  # request-seconds per bin, folded in at the last coarsening
        self._diff = np.zeros(bins + 1)  # difference array: bins touched by each interval
        self._trim = np.zeros(bins)  # request-seconds to remove from partly covered bins
        self._last = -1

    def add(self, start: float, end: float) -> None:
        """Count a request in flight from ``start`` to ``end`` (seconds from the run start)."""
        start = max(start, 0.0)
        if end < start:
            return
        while end >= self._bins * self._width:
            self._coarsen()
        first, last = int(start // self._width), int(end // self._width)
        first, last = min(first, self._bins - 1), min(last, self._bins - 1)
        self._diff[first] += 1.0
        self._diff[last + 1] -= 1.0
        self._trim[first] += start - first * self._width
        self._trim[last] += (last + 1) * self._width - end
        self._last = max(self._last, last)

    def _area(self) -> FloatArray:
        touched = np.cumsum(self._diff)[: self._bins]
        return self._base + touched * self._width - self._trim

    def _coarsen(self) -> None:
        merged = self._area().reshape(-1, 2).sum(axis=1)
        self._base = np.concatenate([merged, np.zeros(self._bins - merged.size)])
        self._diff = np.zeros(self._bins + 1)
        self._trim = np.zeros(self._bins)
        self._width *= 2.0
        self._last = self._last // 2 if self._last >= 0 else -1

    def curve(self) -> tuple[FloatArray, FloatArray] | None:
        """Bin edges (s) and mean in-flight count per bin; ``None`` before any request."""
        if self._last < 0:
            return None
        used = self._last + 1
        values = np.clip(self._area()[:used] / self._width, 0.0, None)
        edges = np.arange(used + 1, dtype=np.float64) * self._width
        return edges, values
