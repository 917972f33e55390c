"""Baseline comparison: percentiles, bootstrap, rank test, gate verdicts, pass rates, tasks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_llmserver.gate import compare, stats
from pytest_llmserver.gate.compare import (
    MetricComparison,
    PassRateComparison,
    Thresholds,
    compare_pass_rates,
    compare_samples,
    task_transitions,
)
from pytest_llmserver.gate.stats import (
    bootstrap_diff_ci,
    percentile,
    rank_test_worse,
    two_proportion_p_worse,
)


def lognormal(seed: int, median: float, sigma: float, n: int) -> np.ndarray:
    """``n`` samples of a lognormal with the given median, from its own seeded generator."""
    return median * np.exp(np.random.default_rng(seed).normal(0.0, sigma, n))


# --------------------------------------------------------------------------- percentile


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    values = np.random.default_rng(3).exponential(0.1, 37)
    assert percentile(values, q) == pytest.approx(np.percentile(values, q, method="linear"))


def test_percentile_interpolates_and_drops_non_finite() -> None:
    assert percentile([1.0, 2.0, None, math.nan, math.inf, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0, 20.0], 25) == 12.5
    with pytest.raises(ValueError, match="no finite"):
        percentile([None, math.nan], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_contains_true_difference() -> None:
    rng = np.random.default_rng(11)
    base, cur = rng.normal(10.0, 1.0, 300), rng.normal(11.0, 1.0, 300)
    for q in (50.0, 90.0, None):
        observed, low, high = bootstrap_diff_ci(base, cur, q, resamples=2000, seed=4)
        assert low < 1.0 < high
        assert low <= observed <= high
        assert high - low < 0.8


def test_bootstrap_is_deterministic_per_seed() -> None:
    base, cur = lognormal(1, 0.05, 0.2, 40), lognormal(2, 0.05, 0.2, 40)
    first = bootstrap_diff_ci(base, cur, 95, resamples=500, confidence=0.9, seed=7)
    assert bootstrap_diff_ci(base, cur, 95, resamples=500, confidence=0.9, seed=7) == first
    other = bootstrap_diff_ci(base, cur, 95, resamples=500, confidence=0.9, seed=8)
    assert other[0] == first[0]
    assert other[1:] != first[1:]


def test_bootstrap_chunks_agree_with_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    base, cur = lognormal(5, 1.0, 0.3, 100), lognormal(6, 1.2, 0.3, 100)
    whole = bootstrap_diff_ci(base, cur, 50, resamples=2000, seed=1)
    monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 1000)  # 5 resamples per chunk
    chunked = bootstrap_diff_ci(base, cur, 50, resamples=2000, seed=1)
    assert chunked[0] == whole[0]
    assert chunked[1:] == pytest.approx(whole[1:], abs=0.03)


def test_bootstrap_rejects_empty_side() -> None:
    with pytest.raises(ValueError, match="each side"):
        bootstrap_diff_ci([1.0, 2.0], [math.nan], 50)


# --------------------------------------------------------------------------- rank test


def test_rank_test_matches_hand_computed_separation() -> None:
    # U = 0 for the greater alternative: z = (12.5 - 0.5) / sqrt(5 * 5 * 11 / 12).
    expected = 0.5 * math.erfc(12.0 / math.sqrt(25 * 11 / 12) / math.sqrt(2))
    p = rank_test_worse([6, 7, 8, 9, 10], [1, 2, 3, 4, 5], higher_is_better=True)
    assert p == pytest.approx(expected)
    assert p == pytest.approx(0.00609, abs=1e-5)
    assert rank_test_worse([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], higher_is_better=False) == p


def test_rank_test_counts_ties_as_half() -> None:
    base = np.array([1.0, 2.0, 2.0, 3.0, 5.0, 5.0])
    cur = np.array([2.0, 3.0, 5.0, 5.0, 6.0, 7.0, 7.0])
    u = sum((c > b) + 0.5 * (c == b) for c in cur for b in base)
    pooled = np.concatenate([base, cur])
    _, counts = np.unique(pooled, return_counts=True)
    n = pooled.size
    variance = base.size * cur.size / 12 * (n + 1 - (counts**3 - counts).sum() / (n * (n - 1)))
    z = (u - base.size * cur.size / 2 - 0.5) / math.sqrt(variance)
    assert rank_test_worse(base, cur, higher_is_better=False) == pytest.approx(
        0.5 * math.erfc(z / math.sqrt(2))
    )


def test_rank_test_shifted_equal_and_tied() -> None:
    base, shifted = lognormal(1, 0.05, 0.05, 30), lognormal(2, 0.06, 0.05, 30)
    assert rank_test_worse(base, shifted, higher_is_better=False) < 1e-6
    assert rank_test_worse(base, shifted, higher_is_better=True) > 0.99
    pairs = [(lognormal(s, 1, 0.3, 40), lognormal(s + 100, 1, 0.3, 40)) for s in range(10)]
    same = [rank_test_worse(a, b, higher_is_better=False) for a, b in pairs]
    assert min(same) > 0.01
    assert 0.2 < float(np.mean(same)) < 0.8
    assert rank_test_worse([4.0] * 8, [4.0] * 9, higher_is_better=False) == 1.0
    assert rank_test_worse([], [1.0, 2.0], higher_is_better=False) == 1.0


# --------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize("statistic", ["p50", "p95", "mean"])
def test_same_distribution_never_regresses(statistic: str) -> None:
    for seed in range(20):
        base = lognormal(seed, 0.050, 0.1, 50)
        cur = lognormal(seed + 1000, 0.050, 0.1, 50)
        result = compare_samples("ttft_s", statistic, base, cur)
        assert result.status != "regression", result.line()
        assert result.ci_low is not None
        assert result.ci_low < 0.005


def test_thirty_percent_latency_increase_is_a_regression() -> None:
    base, cur = lognormal(1, 0.050, 0.03, 16), lognormal(2, 0.065, 0.03, 16)
    result = compare_samples("ttft_s", "p50", base, cur)
    assert result.status == "regression"
    assert result.relative_change == pytest.approx(0.30, abs=0.05)
    assert result.ci_low is not None
    assert result.ci_low > 0.005
    assert result.p_value is not None
    assert result.p_value < 1e-5
    line = result.line()
    assert line.startswith("ttft_s p50: ")
    assert "%, 95% CI +" in line
    assert line.endswith(": regression (limit +10% and 5.0 ms)")
    percent = float(line.split("(")[1].split("%")[0])
    assert 25 < percent < 35


def test_thirty_percent_rate_drop_is_a_regression() -> None:
    base, cur = lognormal(3, 100.0, 0.03, 16), lognormal(4, 70.0, 0.03, 16)
    result = compare_samples("decode_tps", "p50", base, cur, unit="tok/s", higher_is_better=True)
    assert result.status == "regression"
    assert result.ci_high is not None
    assert result.ci_high < -10.0
    assert "tok/s" in result.line()
    assert result.line().endswith(": regression (limit -10%)")
    # The same samples read as latencies (lower is better) are an improvement.
    flipped = compare_samples("decode_tps", "p50", base, cur, unit="tok/s")
    assert flipped.status == "improvement"


def test_latency_drop_is_an_improvement() -> None:
    base, cur = lognormal(5, 0.080, 0.03, 20), lognormal(6, 0.056, 0.03, 20)
    result = compare_samples("e2e_s", "p95", base, cur)
    assert result.status == "improvement"
    assert result.p_value is not None
    assert result.p_value > 0.99


def test_floor_absorbs_small_absolute_change() -> None:
    base, cur = lognormal(7, 0.002, 0.02, 40), lognormal(8, 0.003, 0.02, 40)
    result = compare_samples("itl_s", "p50", base, cur)
    assert result.relative_change == pytest.approx(0.5, abs=0.05)
    assert result.p_value is not None
    assert result.p_value < 1e-10
    assert result.status == "unchanged"
    no_floor = compare_samples("itl_s", "p50", base, cur, thresholds=Thresholds(floor_s=0.0))
    assert no_floor.status == "regression"


def test_insufficient_samples() -> None:
    base = [0.05, 0.051, None, 0.049, math.nan, 0.052]
    result = compare_samples("ttft_s", "p50", base, lognormal(1, 0.1, 0.1, 50))
    assert result.status == "insufficient"
    assert result.baseline == pytest.approx(0.0505)
    assert result.current is not None
    assert result.change is not None
    assert (result.ci_low, result.ci_high, result.p_value) == (None, None, None)
    assert (result.baseline_n, result.current_n) == (4, 50)
    assert result.line().endswith(": insufficient (4 vs 50 samples, need 5 on each side)")
    empty = compare_samples("ttft_s", "mean", [], [0.1] * 3)
    assert (empty.status, empty.baseline) == ("insufficient", None)
    assert empty.current == pytest.approx(0.1)
    assert empty.line().startswith("ttft_s mean: n/a -> 100.0 ms: insufficient")


def test_statistic_names() -> None:
    base, cur = lognormal(1, 1.0, 0.1, 30), lognormal(2, 1.0, 0.1, 30)
    assert compare_samples("x", "p99", base, cur).baseline == pytest.approx(percentile(base, 99))
    assert compare_samples("x", "p99.9", base, cur).baseline == pytest.approx(
        percentile(base, 99.9)
    )
    for bad in ("median", "p101", "P50"):
        with pytest.raises(ValueError, match=r"statistic|0\.\.100"):
            compare_samples("x", bad, base, cur)


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match="confidence"):
        Thresholds(confidence=1.0)
    with pytest.raises(ValueError, match="resamples"):
        Thresholds(resamples=0)


# --------------------------------------------------------------------------- line format


def test_metric_line_exact() -> None:
    result = MetricComparison(
        metric="ttft_s",
        statistic="p50",
        unit="s",
        higher_is_better=False,
        baseline=0.0521,
        current=0.0684,
        change=0.0163,
        relative_change=0.0163 / 0.0521,
        ci_low=0.0149,
        ci_high=0.0168,
        p_value=2e-06,
        status="regression",
    )
    assert result.line() == (
        "ttft_s p50: 52.1 ms -> 68.4 ms (+31.3%, 95% CI +14.9..+16.8 ms, p=2e-06): "
        "regression (limit +10% and 5.0 ms)"
    )


def test_metric_line_rates_long_seconds_and_missing_values() -> None:
    rate = MetricComparison(
        "decode_tps",
        "p50",
        "tok/s",
        True,
        123.44,
        120.0,
        -3.44,
        None,
        -5.0,
        1.5,
        0.42,
        "unchanged",
        thresholds=Thresholds(confidence=0.9),
    )
    assert rate.line() == (
        "decode_tps p50: 123.4 tok/s -> 120.0 tok/s (n/a, 90% CI -5.0..+1.5 tok/s, p=0.42): "
        "unchanged (limit -10%)"
    )
    slow = MetricComparison(
        "e2e_s", "mean", "s", False, 12.0, 13.5, 1.5, 0.125, 0.5, 2.5, None, "unchanged"
    )
    assert slow.line() == (
        "e2e_s mean: 12.00 s -> 13.50 s (+12.5%, 95% CI +500.0..+2500.0 ms, p=n/a): "
        "unchanged (limit +10% and 5.0 ms)"
    )


# --------------------------------------------------------------------------- pass rates


def test_pass_rate_regression_and_noise() -> None:
    drop = compare_pass_rates(45, 45, 30, 45)
    assert drop.status == "regression"
    assert drop.p_value < 1e-4
    assert drop.line() == (
        f"pass rate: 100.0% of 45 -> 66.7% of 45 (p={drop.p_value:.2g}): regression (alpha 0.01)"
    )
    one_less = compare_pass_rates(45, 45, 44, 45)
    assert one_less.status == "unchanged"
    assert 0.1 < one_less.p_value < 0.2
    assert compare_pass_rates(30, 45, 45, 45).status == "improvement"


def test_pass_rate_edge_cases() -> None:
    assert two_proportion_p_worse(0, 0, 3, 5) == 1.0
    assert two_proportion_p_worse(3, 5, 0, 0) == 1.0
    assert two_proportion_p_worse(10, 10, 10, 10) == 1.0  # pooled 100%
    assert two_proportion_p_worse(0, 10, 0, 10) == 1.0  # pooled 0%
    assert two_proportion_p_worse(2, 10, 5, 10) == 1.0  # current higher
    assert two_proportion_p_worse(10, 10, 0, 10) < 1e-4
    empty = compare_pass_rates(0, 0, 0, 0)
    assert isinstance(empty, PassRateComparison)
    assert empty.status == "unchanged"
    assert math.isnan(empty.baseline_rate)
    assert math.isnan(empty.current_rate)
    assert empty.line() == "pass rate: n/a -> n/a (p=1): unchanged (alpha 0.01)"
    with pytest.raises(ValueError, match="passes <= trials"):
        two_proportion_p_worse(6, 5, 1, 1)


# --------------------------------------------------------------------------- task transitions


def test_task_transitions_groups_and_sorting() -> None:
    base = {"b": True, "a": True, "c": False, "d": False, "e": True, "gone": False, "x": True}
    cur = {"a": False, "b": False, "c": False, "d": True, "e": True, "new2": False, "new1": True}
    result = task_transitions(base, cur)
    assert result.new_failures == ("a", "b")
    assert result.known_failures == ("c",)
    assert result.newly_passing == ("d",)
    assert result.still_passing == ("e",)
    assert result.added == ("new1", "new2")
    assert result.removed == ("gone", "x")
    assert task_transitions({}, {}) == compare.TaskTransitions((), (), (), (), (), ())
