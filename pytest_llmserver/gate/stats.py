"""The statistics of the gate: percentiles, a seeded percentile bootstrap of a difference, the
one-sided Mann-Whitney rank test, the pooled two-proportion z-test, and the paired tests of
per-task outcomes (McNemar's exact test, the exact sign-flip permutation test)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Samples = Sequence[float | None] | npt.NDArray[Any]
"""Per-request samples accepted at the public boundary."""

_CHUNK_ELEMENTS = 8_000_000
"""Resampled values (both sides together) held at once by the bootstrap, about 128 MB."""


def clean(values: Samples) -> FloatArray:
    """The finite samples of ``values`` as a flat float array (``None``, NaN, inf dropped)."""
    if isinstance(values, np.ndarray) and values.dtype != np.dtype(object):
        arr = np.asarray(values, dtype=np.float64).ravel()
    else:
        arr = np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    return arr[np.isfinite(arr)]


def check_q(q: float) -> None:
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must lie in 0..100, got {q}")


def percentile(values: Samples, q: float) -> float:
    """The ``q``-th percentile (0..100) of the finite ``values``, linearly interpolated."""
    check_q(q)
    arr = clean(values)
    if arr.size == 0:
        raise ValueError("percentile of no finite values")
    return float(np.percentile(arr, q, method="linear"))


def statistic_of(arr: FloatArray, q: float | None) -> float:
    """Percentile ``q`` of ``arr``, or its mean when ``q`` is ``None``."""
    if q is None:
        return float(arr.mean())
    return float(np.percentile(arr, q, method="linear"))


def _resampled_statistics(
    rng: np.random.Generator, arr: FloatArray, count: int, q: float | None
) -> FloatArray:
    """The statistic of ``count`` resamples of ``arr`` drawn with replacement."""
    index = rng.integers(0, arr.size, size=(count, arr.size))
    draws = arr[index]
    del index
    if q is None:
        return np.asarray(draws.mean(axis=1), dtype=np.float64)
    return np.asarray(
        np.percentile(draws, q, axis=1, method="linear", overwrite_input=True), dtype=np.float64
    )


def bootstrap_diff_ci(
    base: Samples,
    cur: Samples,
    q: float | None,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(observed, low, high)`` for percentile ``q`` of ``cur`` minus that of ``base``.

    ``q=None`` compares means. Each side is resampled independently with replacement; the
    interval holds the central ``confidence`` share of the resampled differences. Resamples are
    drawn in vectorised chunks of at most about ``_CHUNK_ELEMENTS`` values.
    """
    if q is not None:
        check_q(q)
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError("resamples must be >= 1 and confidence strictly between 0 and 1")
    base_arr, cur_arr = clean(base), clean(cur)
    if base_arr.size == 0 or cur_arr.size == 0:
        raise ValueError("bootstrap needs at least one finite value on each side")
    observed = statistic_of(cur_arr, q) - statistic_of(base_arr, q)
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // (base_arr.size + cur_arr.size))
    diffs = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        base_stats = _resampled_statistics(rng, base_arr, count, q)
        cur_stats = _resampled_statistics(rng, cur_arr, count, q)
        diffs[start : start + count] = cur_stats - base_stats
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail], method="linear")
    return observed, float(low), float(high)


def rank_test_worse(base: Samples, cur: Samples, *, higher_is_better: bool) -> float:
    """One-sided Mann-Whitney p-value that ``cur`` is stochastically worse than ``base``.

    Worse is greater when ``higher_is_better`` is false, smaller otherwise. Normal
    approximation with tie and continuity corrections; 1.0 when a side is empty or all
    values tie.
    """
    base_arr, cur_arr = clean(base), clean(cur)
    n_base, n_cur = base_arr.size, cur_arr.size
    if n_base == 0 or n_cur == 0:
        return 1.0
    pooled = np.concatenate([base_arr, cur_arr])
    _, inverse, counts = np.unique(pooled, return_inverse=True, return_counts=True)
    counts = counts.astype(np.float64)
    mid_ranks = np.cumsum(counts) - (counts - 1) / 2
    rank_sum_cur = float(mid_ranks[inverse.ravel()[n_base:]].sum())
    u_cur = rank_sum_cur - n_cur * (n_cur + 1) / 2
    n = n_base + n_cur
    tie_term = float(np.sum(counts**3 - counts)) / (n * (n - 1))
    variance = n_base * n_cur / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return 1.0
    excess = u_cur - n_base * n_cur / 2
    if higher_is_better:
        excess = -excess
    z = (excess - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def _check_counts(passes: int, trials: int) -> None:
    if not 0 <= passes <= trials:
        raise ValueError(f"need 0 <= passes <= trials, got {passes}/{trials}")


def two_proportion_p_worse(
    base_passes: int, base_trials: int, cur_passes: int, cur_trials: int
) -> float:
    """One-sided pooled z-test p-value that the current pass rate is lower than the baseline's.

    1.0 when either side has no trials or the current rate is not lower.
    """
    _check_counts(base_passes, base_trials)
    _check_counts(cur_passes, cur_trials)
    if base_trials == 0 or cur_trials == 0:
        return 1.0
    base_rate, cur_rate = base_passes / base_trials, cur_passes / cur_trials
    if cur_rate >= base_rate:
        return 1.0
    pooled = (base_passes + cur_passes) / (base_trials + cur_trials)
    variance = pooled * (1 - pooled) * (1 / base_trials + 1 / cur_trials)
    if variance <= 0:
        return 1.0
    z = (base_rate - cur_rate) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def mcnemar_p_worse(worse: int, better: int) -> float:
    """McNemar's exact one-sided p-value that the current run is worse, from paired per-task
    outcomes: ``worse`` tasks passed in the baseline and fail now, ``better`` the reverse.

    Under no change each discordant task is worse with probability 1/2, so the p-value is
    ``P(X >= worse)`` for ``X ~ Binomial(worse + better, 1/2)``; 1.0 without discordant tasks.
    """
    if worse < 0 or better < 0:
        raise ValueError(f"need counts >= 0, got {worse} worse and {better} better")
    n = worse + better
    if n == 0:
        return 1.0
    return sum(math.comb(n, i) for i in range(worse, n + 1)) / (1 << n)


_SIGN_FLIP_MAX_RANGE = 4_000_000
"""Largest sum of |scaled differences| the exact sign-flip distribution is computed over."""


def sign_flip_p_worse(diffs: Sequence[int]) -> float:
    """Exact one-sided p-value of the paired sign-flip (permutation) test that the current run
    is worse: ``diffs`` are per-task differences ``current - baseline`` scaled to integers.

    Under no change each difference is as likely negative as positive, so every one of the
    ``2^m`` sign patterns of the ``m`` non-zero differences is equally likely; the p-value is
    the share of patterns whose sum is at most the observed sum. 1.0 when every difference is
    0. Beyond ``_SIGN_FLIP_MAX_RANGE`` the normal approximation of that distribution is used.
    """
    sizes = [abs(d) for d in diffs if d]
    if not sizes:
        return 1.0
    observed = sum(diffs)
    total = sum(sizes)
    if total > _SIGN_FLIP_MAX_RANGE:
        spread = math.sqrt(sum(s * s for s in sizes))
        return 0.5 * math.erfc(-(observed + 0.5) / spread / math.sqrt(2))
    probs = np.zeros(2 * total + 1, dtype=np.float64)  # index = sum + total
    probs[total] = 1.0
    for size in sizes:
        shifted = np.zeros_like(probs)
        shifted[: probs.size - size] += probs[size:]  # this difference negative
        shifted[size:] += probs[: probs.size - size]  # positive
        probs = shifted * 0.5
    return float(min(1.0, probs[: observed + total + 1].sum()))
