"""Baseline comparison for a CI regression gate: per-metric statistics, pass rates, task changes.

``compare_samples`` compares one statistic (``p50``, ``p95``, ``p99``, any ``pXX`` or ``mean``)
of per-request samples (latencies in seconds, or rates such as tok/s) from a saved baseline run
and the current run. NaN, ``None`` and infinite samples are dropped first. The decision rule:

* With fewer than ``Thresholds.min_samples`` samples on either side the status is
  ``"insufficient"``; the statistic is still reported for each side that has samples.
* ``change`` is ``current - baseline`` of the statistic. A percentile bootstrap (each side
  resampled independently with replacement, ``resamples`` times, seeded) gives a two-sided
  ``confidence`` interval ``[ci_low, ci_high]`` for ``change``.
* The tolerance is ``tol = max(relative * |baseline|, floor_s if unit == "s" else 0)``.
* "Worse" means higher for latencies (``higher_is_better=False``) and lower for rates.
  ``p_value`` is the one-sided Mann-Whitney rank test that the current samples are worse.
* ``"regression"``: the whole interval lies beyond the tolerance on the worse side
  (latency ``ci_low > tol``, rate ``ci_high < -tol``) and ``p_value < alpha``.
* ``"improvement"``: the whole interval lies beyond the tolerance on the better side and the
  rank test in the better direction is also below ``alpha``.
* Otherwise ``"unchanged"``.

Requiring both a tolerance-sized interval and a significant rank test keeps two runs of an
unchanged server on a noisy machine from failing, while a clear 30 % shift of a tight
distribution fails. Every random draw comes from ``numpy.random.default_rng(seed)``, so equal
inputs always give equal results.

Pass rates are compared with a one-sided pooled two-proportion z-test (``compare_pass_rates``)
and per-task outcomes are grouped by ``task_transitions``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_llmserver.gate.stats import (
    Samples,
    bootstrap_diff_ci,
    check_q,
    clean,
    rank_test_worse,
    statistic_of,
    two_proportion_p_worse,
)

_STATISTIC = re.compile(r"p(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Thresholds:
    """How large and how certain a change must be before the gate reports it."""

    relative: float = 0.10
    """A change must exceed this fraction of the baseline value..."""
    floor_s: float = 0.005
    """...and, for metrics in seconds, this absolute amount."""
    confidence: float = 0.95
    """Two-sided level of the bootstrap interval."""
    alpha: float = 0.01
    """Significance level of the rank test and the proportion tests."""
    resamples: int = 2000
    seed: int = 0
    min_samples: int = 5
    """Fewer samples on either side give ``"insufficient"``."""
    pass_drop: float = 0.10
    """The tool-bench pass-rate drop the gate's power statement is about..."""
    power: float = 0.80
    """...and the probability of detecting it that counts as detectable."""

    def __post_init__(self) -> None:
        if not (self.relative >= 0 and self.floor_s >= 0):
            raise ValueError("relative and floor_s must be >= 0")
        if not (0 < self.confidence < 1 and 0 < self.alpha < 1):
            raise ValueError("confidence and alpha must lie strictly between 0 and 1")
        if self.resamples < 1 or self.min_samples < 1:
            raise ValueError("resamples and min_samples must be >= 1")
        if not (0 < self.pass_drop <= 1 and 0 < self.power < 1):
            raise ValueError("pass_drop must lie in (0, 1] and power strictly between 0 and 1")


# --------------------------------------------------------------------------- formatting


def _fmt_value(value: float | None, unit: str) -> str:
    """``52.1 ms`` (seconds below 10 s), ``12.35 s``, ``123.4 tok/s``; ``n/a`` for ``None``."""
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if abs(value) < 10 else f"{value:.2f} s"
    return f"{value:.1f} {unit}"


def _fmt_interval(low: float | None, high: float | None, unit: str) -> str:
    """``+14.9..+16.8 ms``: both ends signed, one unit for both."""
    if low is None or high is None:
        return "n/a"
    if unit == "s" and max(abs(low), abs(high)) < 10:
        return f"{low * 1000:+.1f}..{high * 1000:+.1f} ms"
    if unit == "s":
        return f"{low:+.2f}..{high:+.2f} s"
    return f"{low:+.1f}..{high:+.1f} {unit}"


def _fmt_percent(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{fraction * 100:+.1f}%"


def _fmt_p(p_value: float | None) -> str:
    return "n/a" if p_value is None else f"{p_value:.2g}"


def _fmt_level(fraction: float) -> str:
    """``0.95`` -> ``95%``, ``0.999`` -> ``99.9%``."""
    return f"{fraction * 100:.10g}%"


# --------------------------------------------------------------------------- metric comparison


@dataclass(frozen=True)
class MetricComparison:
    """One statistic of one metric, baseline against current, and the gate's verdict."""

    metric: str
    statistic: str
    unit: str
    higher_is_better: bool
    baseline: float | None
    current: float | None
    change: float | None
    """``current - baseline``."""
    relative_change: float | None
    """``change / baseline``; ``None`` when the baseline is 0."""
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    """One-sided rank test p-value in the worse direction."""
    status: str
    baseline_n: int = 0
    current_n: int = 0
    thresholds: Thresholds = field(default_factory=Thresholds)

    def _limit(self) -> str:
        sign = "-" if self.higher_is_better else "+"
        text = f"limit {sign}{self.thresholds.relative * 100:g}%"
        if self.unit == "s" and self.thresholds.floor_s > 0:
            text += f" and {_fmt_value(self.thresholds.floor_s, 's')}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, its line included."""
        return {**asdict(self), "line": self.line()}

    def line(self) -> str:
        """One line for the terminal or markdown, e.g. ``ttft_s p50: 52.1 ms -> 68.4 ms (...)``."""
        head = (
            f"{self.metric} {self.statistic}: {_fmt_value(self.baseline, self.unit)} -> "
            f"{_fmt_value(self.current, self.unit)}"
        )
        if self.status == "insufficient":
            need = self.thresholds.min_samples
            return (
                f"{head}: insufficient ({self.baseline_n} vs {self.current_n} samples, "
                f"need {need} on each side)"
            )
        level = _fmt_level(self.thresholds.confidence)
        detail = (
            f"{_fmt_percent(self.relative_change)}, {level} CI "
            f"{_fmt_interval(self.ci_low, self.ci_high, self.unit)}, p={_fmt_p(self.p_value)}"
        )
        return f"{head} ({detail}): {self.status} ({self._limit()})"


def _quantile_of(statistic: str) -> float | None:
    """``"p95"`` -> 95.0, ``"mean"`` -> ``None``; anything else is an error."""
    if statistic == "mean":
        return None
    match = _STATISTIC.fullmatch(statistic)
    if match is None:
        raise ValueError(f"statistic must be 'mean' or 'pXX', got {statistic!r}")
    q = float(match.group(1))
    check_q(q)
    return q


def compare_samples(
    metric: str,
    statistic: str,
    base: Samples,
    cur: Samples,
    *,
    unit: str = "s",
    higher_is_better: bool = False,
    thresholds: Thresholds = Thresholds(),
) -> MetricComparison:
    """Compare ``statistic`` of ``cur`` against ``base`` under the module's decision rule."""
    q = _quantile_of(statistic)
    base_arr, cur_arr = clean(base), clean(cur)
    baseline = statistic_of(base_arr, q) if base_arr.size else None
    current = statistic_of(cur_arr, q) if cur_arr.size else None
    change: float | None = None
    relative: float | None = None
    if baseline is not None and current is not None:
        change = current - baseline
        relative = change / baseline if baseline != 0 else None
    common: dict[str, Any] = {
        "metric": metric,
        "statistic": statistic,
        "unit": unit,
        "higher_is_better": higher_is_better,
        "baseline": baseline,
        "current": current,
        "change": change,
        "relative_change": relative,
        "baseline_n": int(base_arr.size),
        "current_n": int(cur_arr.size),
        "thresholds": thresholds,
    }
    if min(base_arr.size, cur_arr.size) < thresholds.min_samples:
        return MetricComparison(
            **common, ci_low=None, ci_high=None, p_value=None, status="insufficient"
        )
    assert baseline is not None
    _, low, high = bootstrap_diff_ci(
        base_arr,
        cur_arr,
        q,
        resamples=thresholds.resamples,
        confidence=thresholds.confidence,
        seed=thresholds.seed,
    )
    p_worse = rank_test_worse(base_arr, cur_arr, higher_is_better=higher_is_better)
    tol = max(thresholds.relative * abs(baseline), thresholds.floor_s if unit == "s" else 0.0)
    # Interval ends and tolerance measured in the worse direction (positive = worse).
    worse_low, worse_high = (-high, -low) if higher_is_better else (low, high)
    if worse_low > tol and p_worse < thresholds.alpha:
        status = "regression"
    elif (
        worse_high < -tol
        and rank_test_worse(base_arr, cur_arr, higher_is_better=not higher_is_better)
        < thresholds.alpha
    ):
        status = "improvement"
    else:
        status = "unchanged"
    return MetricComparison(**common, ci_low=low, ci_high=high, p_value=p_worse, status=status)


# --------------------------------------------------------------------------- pass rates


@dataclass(frozen=True)
class PassRateComparison:
    """Baseline against current pass rate; a rate is NaN when its side has no trials."""

    baseline_rate: float
    current_rate: float
    baseline_trials: int
    current_trials: int
    p_value: float
    """One-sided p-value that the current rate is lower."""
    status: str
    alpha: float = 0.01

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, its line included."""
        return {**asdict(self), "line": self.line()}

    def line(self) -> str:
        """E.g. ``pass rate: 100.0% of 45 -> 66.7% of 45 (p=1.1e-05): regression (alpha 0.01)``."""

        def rate(value: float, trials: int) -> str:
            return "n/a" if math.isnan(value) else f"{value * 100:.1f}% of {trials}"

        return (
            f"pass rate: {rate(self.baseline_rate, self.baseline_trials)} -> "
            f"{rate(self.current_rate, self.current_trials)} (p={_fmt_p(self.p_value)}): "
            f"{self.status} (alpha {self.alpha:g})"
        )


def compare_pass_rates(
    base_passes: int, base_trials: int, cur_passes: int, cur_trials: int, *, alpha: float = 0.01
) -> PassRateComparison:
    """Regression or improvement when the one-sided test in that direction is below ``alpha``."""
    p_worse = two_proportion_p_worse(base_passes, base_trials, cur_passes, cur_trials)
    p_better = two_proportion_p_worse(cur_passes, cur_trials, base_passes, base_trials)
    if p_worse < alpha:
        status = "regression"
    elif p_better < alpha:
        status = "improvement"
    else:
        status = "unchanged"
    return PassRateComparison(
        baseline_rate=base_passes / base_trials if base_trials else math.nan,
        current_rate=cur_passes / cur_trials if cur_trials else math.nan,
        baseline_trials=base_trials,
        current_trials=cur_trials,
        p_value=p_worse,
        status=status,
        alpha=alpha,
    )


# --------------------------------------------------------------------------- task transitions


@dataclass(frozen=True)
class TaskTransitions:
    """Task ids grouped by their outcome in the baseline and now; each group sorted."""

    new_failures: tuple[str, ...]
    """Passed in the baseline, fails now."""
    known_failures: tuple[str, ...]
    """Failed in both."""
    newly_passing: tuple[str, ...]
    """Failed in the baseline, passes now."""
    still_passing: tuple[str, ...]
    added: tuple[str, ...]
    """Not in the baseline."""
    removed: tuple[str, ...]
    """Only in the baseline."""


def task_transitions(base: Mapping[str, bool], cur: Mapping[str, bool]) -> TaskTransitions:
    """Group task ids by pass (``True``) or fail in ``base`` and ``cur``."""
    common = base.keys() & cur.keys()
    return TaskTransitions(
        new_failures=tuple(sorted(t for t in common if base[t] and not cur[t])),
        known_failures=tuple(sorted(t for t in common if not base[t] and not cur[t])),
        newly_passing=tuple(sorted(t for t in common if not base[t] and cur[t])),
        still_passing=tuple(sorted(t for t in common if base[t] and cur[t])),
        added=tuple(sorted(cur.keys() - base.keys())),
        removed=tuple(sorted(base.keys() - cur.keys())),
    )
