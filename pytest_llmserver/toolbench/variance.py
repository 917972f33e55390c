"""Variance of a tool bench run with K trials per task: pass@1 with an interval that respects
the clustering of trials within tasks, the unbiased pass^k, flip rates and the flaky tasks.

Every figure is computed from per-task ``(passes, trials)`` counts, so it works on outcomes
merged from several workers as well as on one run. Pure Python (no numpy): the plugin's
start-up path imports this module.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

CONFIDENCE = 0.95
RESAMPLES = 2000
BOOTSTRAP_SEED = 0
CI_METHOD = "percentile bootstrap over tasks (tasks resampled with their trials)"


def trial_seed(seed: int | None, trial: int) -> int | None:
    """The sampling seed of trial ``trial`` (0-based): ``seed + trial`` (None stays None), so
    trial 0 sends ``--llm-sampling-seed`` itself and a K=1 run is unchanged."""
    return None if seed is None else seed + trial


def pass_hat_k(counts: Iterable[tuple[int, int]], k: int) -> float | None:
    """The unbiased pass^k estimate: the mean over tasks of ``C(c, k) / C(n, k)`` for each
    task's ``(c passes, n trials)``; tasks with fewer than ``k`` trials are left out (None
    when none is left)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    values = [math.comb(c, k) / math.comb(n, k) for c, n in counts if n >= k]
    return sum(values) / len(values) if values else None


def pair_disagreement(passes: int, trials: int) -> float:
    """The share of the task's trial pairs whose outcomes differ: ``c (n - c) / C(n, 2)``
    (0 with fewer than two trials)."""
    if trials < 2:
        return 0.0
    return passes * (trials - passes) / math.comb(trials, 2)


def bootstrap_mean_ci(
    values: Sequence[float],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one value per task: its
    pass fraction, so a task's trials are resampled together). Seeded; equal inputs give
    equal intervals."""
    if not values:
        raise ValueError("an interval needs at least one task")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError("resamples must be >= 1 and confidence strictly between 0 and 1")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    tail = (1 - confidence) / 2
    return _quantile(means, tail), _quantile(means, 1 - tail)


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile ``q`` (0..1) of sorted values."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class VarianceSummary:
    """The variance figures of a group of tasks (one tier, or all)."""

    trials: int
    """Trials over all tasks of the group."""
    pass_at_1: float
    """Mean over tasks of the per-task pass fraction."""
    pass_at_1_low: float
    pass_at_1_high: float
    """The ``CONFIDENCE`` interval of ``pass_at_1`` (``CI_METHOD``)."""
    pass_hat: dict[str, float]
    """``{"k": pass^k}`` for k = 1 .. the most trials every task had."""
    mixed_share: float
    """The flip rate: share of tasks whose trials did not all agree."""
    pair_disagreement: float
    """Mean over tasks of the share of trial pairs that disagree."""
    flaky: tuple[str, ...]
    """Task ids with mixed outcomes, sorted."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "flaky": list(self.flaky)}


def variance_summary(outcomes: Mapping[str, Mapping[str, Any]]) -> VarianceSummary | None:
    """Variance figures of ``{task_id: {passes, trials, ...}}`` (None without tasks).

    A task without trials (a stopped run) counts as failed in pass@1 and its interval, as in
    the tier summary, and is left out of pass^k and the flip rates.
    """
    counts = {
        task_id: (int(o.get("passes") or 0), int(o.get("trials") or 0))
        for task_id, o in outcomes.items()
    }
    ran = [(c, n) for c, n in counts.values() if n > 0]
    if not counts:
        return None
    fractions = [c / n if n else 0.0 for c, n in counts.values()]
    low, high = bootstrap_mean_ci(fractions)
    k_max = min((n for _, n in ran), default=0)
    pass_hat = {str(k): pass_hat_k(ran, k) for k in range(1, k_max + 1)}
    flaky = tuple(sorted(t for t, (c, n) in counts.items() if 0 < c < n))
    return VarianceSummary(
        trials=sum(n for _, n in ran),
        pass_at_1=sum(fractions) / len(fractions),
        pass_at_1_low=low,
        pass_at_1_high=high,
        pass_hat={k: v for k, v in pass_hat.items() if v is not None},
        mixed_share=len(flaky) / len(ran) if ran else 0.0,
        pair_disagreement=sum(pair_disagreement(c, n) for c, n in ran) / len(ran) if ran else 0.0,
        flaky=flaky,
    )
