"""The clocks of a run: arrival schedules, the run's origin, the event-loop lag monitor, and
the wall clock every process of a split run stamps its start with."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Literal

ArrivalProcess = Literal["constant", "poisson", "gamma"]

NS = 1_000_000_000


def wall_ns() -> int:
    """This process's wall clock (ns since the epoch). The one reading of it in a run, so
    tests can shift one process's clock to check that offsets are measured and applied."""
    return time.time_ns()


def arrival_offsets_s(
    rate_per_s: float,
    process: ArrivalProcess = "constant",
    *,
    seed: int = 0,
    burstiness: float = 1.0,
) -> Iterator[float]:
    """Endless send times (seconds from start) at ``rate_per_s`` on average.

    ``poisson``: exponential gaps (CV 1). ``gamma``: gaps with coefficient of variation
    ``burstiness`` (> 1 bursty, < 1 smoother). ``constant``: exactly ``1 / rate`` apart.
    """
    if not rate_per_s > 0 or math.isinf(rate_per_s):
        raise ValueError(f"rate must be a positive number of requests per second, got {rate_per_s}")
    if process == "gamma" and not burstiness > 0:
        raise ValueError(f"burstiness must be > 0, got {burstiness}")
    mean_gap_s = 1.0 / rate_per_s
    if process == "constant":
        index = 0
        while True:
            yield index * mean_gap_s
            index += 1
    if process not in ("poisson", "gamma"):
        raise ValueError(f"unknown arrival process {process!r} (constant, poisson, gamma)")
    import numpy as np  # numpy only where it is used: the options import this module

    rng = np.random.default_rng(seed)
    shape = 1.0 if process == "poisson" else 1.0 / burstiness**2
    offset = 0.0
    while True:
        for gap in rng.gamma(shape, mean_gap_s / shape, size=1024):
            offset += float(gap)
            yield offset


class LoopLagMonitor:
    """Measures how late a 10 ms timer fires on this event loop, in a fixed-size histogram.

    A high p99 means the client itself is the bottleneck and its timings are inflated.
    Histograms of several processes add up exactly (``counts`` / ``merged``).
    """

    BIN_S = 0.0001
    BINS = 20_000  # 0.1 ms bins up to 2 s; later lags land in the last bin (max kept apart)

    def __init__(self, interval_s: float = 0.01) -> None:
        import numpy as np

        self.interval_s = interval_s
        self._counts = np.zeros(self.BINS, dtype=np.int64)
        self.max_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLagMonitor:
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _watch(self) -> None:
        interval_ns = int(self.interval_s * NS)
        due_ns = time.perf_counter_ns() + interval_ns
        while True:
            await asyncio.sleep(max(0.0, (due_ns - time.perf_counter_ns()) / NS))
            lag_s = max(0.0, (time.perf_counter_ns() - due_ns) / NS)
            self._counts[min(int(lag_s / self.BIN_S), self.BINS - 1)] += 1
            self.max_s = max(self.max_s, lag_s)
            due_ns = max(due_ns + interval_ns, time.perf_counter_ns())

    @property
    def samples(self) -> int:
        """Timer firings observed."""
        return int(self._counts.sum())

    def percentile_s(self, percent: float) -> float | None:
        """Upper edge of the bin holding the given percentile (None before any sample)."""
        import numpy as np

        total = self.samples
        if not total:
            return None
        rank = math.ceil(total * percent / 100.0)
        index = int(np.searchsorted(np.cumsum(self._counts), rank))
        return min((index + 1) * self.BIN_S, self.max_s)

    def counts(self) -> dict[str, int]:
        """The histogram's non-empty bins (bin number as text: JSON-ready)."""
        import numpy as np

        return {str(int(i)): int(self._counts[i]) for i in np.flatnonzero(self._counts)}

    @classmethod
    def merged(cls, parts: Iterable[tuple[Mapping[str, int], float]]) -> LoopLagMonitor:
        """One histogram holding every firing of the given ``(counts, max_s)`` parts."""
        monitor = cls()
        for counts, max_s in parts:
            for index, count in counts.items():
                monitor._counts[int(index)] += int(count)
            monitor.max_s = max(monitor.max_s, float(max_s))
        return monitor


class RunClock:
    """The run's time origin; converts perf_counter_ns stamps to seconds from it."""

    def __init__(self) -> None:
        self.t0_ns = time.perf_counter_ns()

    def reset(self) -> None:
        """Move the origin to now (after warm-up)."""
        self.t0_ns = time.perf_counter_ns()

    def start_at(self, wall_s: float) -> None:
        """Move the origin to the moment this process's wall clock reads ``wall_s``."""
        self.t0_ns = time.perf_counter_ns() + int((wall_s * NS) - wall_ns())

    def seconds(self, t_ns: int) -> float:
        """Seconds from the origin."""
        return (t_ns - self.t0_ns) / NS
