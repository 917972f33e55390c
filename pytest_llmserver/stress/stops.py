"""Safety stops of open-loop runs, as pure functions over records fed one at a time: a
linear ramp of the arrival rate, an error-rate stop and an over-saturation stop.

Over-saturation test: over a sliding window of the last ``window`` completions, taken in
order of their due time, a one-sided Mann-Kendall test for an increasing trend (normal
approximation with the tie correction) on TTFT and on the time from due to first token
(queue time plus TTFT; the server gives no queue time of its own), each at ``p < alpha``,
with the Theil-Sen slope of TTFT large enough to add at least ``min_growth`` of the window's
median TTFT (and 5 ms) over the window. The test runs every ``step`` completions, not on
every one, so a run at a steady rate is not tested into a false alarm.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pytest_llmserver.stress.records import is_ok, is_warmup, number, queue_seconds

RecordHook = Callable[[dict[str, Any], int], None]

SATURATION_TEST = (
    "one-sided Mann-Kendall trend test (p < {alpha:g}) on TTFT and on queue time + TTFT over "
    "the last {window} completions by due time, with a Theil-Sen TTFT slope adding at least "
    "{growth:.0%} of the median TTFT over the window"
)


def ramp_offsets_s(offsets_s: Iterable[float], ramp_s: float) -> Iterable[float]:
    """Arrival offsets at a rate that grows linearly from 0 over ``ramp_s`` seconds, then
    stays: each offset ``u`` of the steady schedule becomes ``sqrt(2 * ramp_s * u)`` while
    ``u < ramp_s / 2`` and ``u + ramp_s / 2`` after (the same count of arrivals, the
    cumulative rate's inverse), so any arrival process keeps its shape."""
    if not ramp_s >= 0:
        raise ValueError(f"ramp must be >= 0 seconds, got {ramp_s}")
    half = ramp_s / 2.0
    for u in offsets_s:
        yield u + half if u >= half else math.sqrt(2.0 * ramp_s * u)


@dataclass(frozen=True)
class Trend:
    """A Mann-Kendall test of ``y`` against ``x``: the statistic ``s``, its ``z`` and the
    one-sided ``p_value`` of an increase; ``slope`` is the Theil-Sen slope (y per x)."""

    n: int
    s: int
    z: float
    p_value: float
    slope: float


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def trend(xs: Sequence[float], ys: Sequence[float]) -> Trend:
    """Mann-Kendall (normal approximation, continuity and tie corrections) and Theil-Sen
    slope of ``ys`` against ``xs`` (pairs with equal ``x`` are skipped for the slope)."""
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"xs and ys differ in length: {n} and {len(ys)}")
    pairs = sorted(zip(xs, ys, strict=True))
    s = 0
    slopes: list[float] = []
    for i in range(n):
        xi, yi = pairs[i]
        for j in range(i + 1, n):
            xj, yj = pairs[j]
            s += _sign(xj - xi) * _sign(yj - yi)
            if xj > xi:
                slopes.append((yj - yi) / (xj - xi))
    counts: dict[float, int] = {}
    for _, y in pairs:
        counts[y] = counts.get(y, 0) + 1
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in counts.values())) / 18
    z = 0.0 if var <= 0 or s == 0 else (s - _sign(s)) / math.sqrt(var)
    p_value = 0.5 * math.erfc(z / math.sqrt(2.0))
    slopes.sort()
    m = len(slopes)
    slope = 0.0 if not m else (slopes[m // 2] + slopes[(m - 1) // 2]) / 2.0
    return Trend(n, s, z, p_value, slope)


@dataclass(frozen=True)
class Stop:
    """Why and when a run stopped early: ``kind`` (``error_rate`` or ``over_saturation``),
    ``at_s`` (end of the completion that triggered it, seconds from the run start),
    ``after`` completions, ``reason`` (one line) and the test's figures."""

    kind: str
    at_s: float
    after: int
    reason: str
    figures: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


@dataclass(frozen=True)
class StopRules:
    """When a run stops: ``max_error_rate`` (None: never) over the last ``error_window``
    completions; over-saturation (``saturation``) by the test in this module's docstring."""

    max_error_rate: float | None = None
    error_window: int = 20
    saturation: bool = True
    window: int = 40
    step: int = 10
    alpha: float = 0.01
    min_growth: float = 0.5

    def __post_init__(self) -> None:
        if self.max_error_rate is not None and not self.max_error_rate >= 0:
            raise ValueError(f"max error rate must be >= 0, got {self.max_error_rate}")
        if self.error_window < 1 or self.window < 10 or self.step < 1:
            raise ValueError("stop windows need error_window >= 1, window >= 10, step >= 1")

    def describe(self) -> str:
        """The saturation test in words."""
        return SATURATION_TEST.format(alpha=self.alpha, window=self.window, growth=self.min_growth)


_MIN_GROWTH_S = 0.005


class StopMonitor:
    """Feeds on a run's records (warm-up ones ignored); ``add`` returns the ``Stop`` once a
    rule fires, and ``stop`` keeps it. Cheap per record; the trend test runs every ``step``."""

    def __init__(self, rules: StopRules) -> None:
        self.rules = rules
        self.stop: Stop | None = None
        self.seen = 0
        self._errors: deque[bool] = deque(maxlen=rules.error_window)
        self._points: deque[tuple[float, float, float]] = deque(maxlen=rules.window)

    def __call__(self) -> bool:
        """Whether the run must stop (the scheduler asks before each item)."""
        return self.stop is not None

    def hook(self, then: RecordHook | None = None) -> RecordHook:
        """A sink's ``on_record`` that feeds this monitor, then calls ``then``."""

        def on_record(record: dict[str, Any], in_flight: int) -> None:
            self.add(record)
            if then is not None:
                then(record, in_flight)

        return on_record

    def add(self, record: Mapping[str, Any]) -> Stop | None:
        """Take one completion; the ``Stop`` when this one makes a rule fire."""
        if self.stop is not None or is_warmup(record):
            return self.stop
        self.seen += 1
        end_s = number(record, "end_s") or 0.0
        ok = is_ok(record)
        rules = self.rules
        if rules.max_error_rate is not None:
            self._errors.append(not ok)
            if len(self._errors) == rules.error_window:
                rate = sum(self._errors) / rules.error_window
                if rate > rules.max_error_rate:
                    reason = (
                        f"error rate {rate:.0%} over the last {rules.error_window} requests "
                        f"> --llm-max-error-rate {rules.max_error_rate:g}"
                    )
                    figures = {"error_rate": rate, "window": rules.error_window}
                    self.stop = Stop("error_rate", end_s, self.seen, reason, figures)
                    return self.stop
        ttft = number(record, "ttft_s")
        due = number(record, "scheduled_s")
        if due is None:
            due = number(record, "sent_s")
        if rules.saturation and ok and ttft is not None and due is not None:
            waited = (queue_seconds(record) or 0.0) + ttft
            self._points.append((due, ttft, waited))
            full = len(self._points) == rules.window
            if full and self.seen % rules.step == 0:
                self.stop = self._saturation(end_s)
        return self.stop

    def _saturation(self, end_s: float) -> Stop | None:
        rules = self.rules
        due = [p[0] for p in self._points]
        ttft_trend = trend(due, [p[1] for p in self._points])
        if ttft_trend.p_value >= rules.alpha:
            return None
        wait_trend = trend(due, [p[2] for p in self._points])
        if wait_trend.p_value >= rules.alpha:
            return None
        ttfts = sorted(p[1] for p in self._points)
        median = ttfts[len(ttfts) // 2]
        growth_s = ttft_trend.slope * (max(due) - min(due))
        if growth_s < max(rules.min_growth * median, _MIN_GROWTH_S):
            return None
        reason = (
            f"over-saturated: TTFT grows {ttft_trend.slope * 1e3:.1f} ms per s "
            f"(Mann-Kendall p={ttft_trend.p_value:.1e}) and queue + TTFT "
            f"{wait_trend.slope * 1e3:.1f} ms per s (p={wait_trend.p_value:.1e}) over the "
            f"last {rules.window} completions"
        )
        figures = {
            "test": rules.describe(),
            "window": rules.window,
            "ttft_slope_s_per_s": ttft_trend.slope,
            "ttft_p_value": ttft_trend.p_value,
            "wait_slope_s_per_s": wait_trend.slope,
            "wait_p_value": wait_trend.p_value,
            "ttft_growth_s": growth_s,
        }
        return Stop("over_saturation", end_s, self.seen, reason, figures)


def stop_note(stop: Stop) -> str:
    """The report's line: when and why the run stopped."""
    return f"stopped early at {stop.at_s:.1f} s after {stop.after} requests: {stop.reason}"
