"""The tool-bench pass-rate test with K trials per task: McNemar's exact test (K=1), the exact
sign-flip test over tasks (K>1), their power statement, and the gate that uses them."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.gate import (
    Gate,
    ModelFingerprint,
    Thresholds,
    baseline_document,
    baseline_file,
    comparison_lines,
    load_baseline,
    save_baseline,
    stats,
)
from pytest_llmserver.gate.baseline import compare_toolbench
from pytest_llmserver.gate.paired import (
    MCNEMAR,
    SIGN_FLIP,
    PairedPassRates,
    compare_paired,
    mcnemar_power,
    paired_power,
    power_statement,
)
from pytest_llmserver.gate.stats import mcnemar_p_worse, sign_flip_p_worse

FINGERPRINT = ModelFingerprint(kind="ollama", model="m", digest="sha256:aaaaaaaaaaaa1111")


def outcomes(*counts: tuple[int, int]) -> dict[str, dict[str, Any]]:
    return {
        f"T{i:02d}": {"passed_all": c == n > 0, "passes": c, "trials": n}
        for i, (c, n) in enumerate(counts)
    }


# --------------------------------------------------------------------------- the tests


def test_mcnemar_exact_p_on_a_hand_computed_table() -> None:
    # 45 tasks: 30 pass in both, 8 passed before and fail now, 2 the reverse, 5 fail in both
    # p = P(X >= 8), X ~ Bin(10, 1/2) = (C(10,8) + C(10,9) + C(10,10)) / 2^10 = 56 / 1024
    assert mcnemar_p_worse(8, 2) == pytest.approx(56 / 1024)
    assert mcnemar_p_worse(2, 8) == pytest.approx(1 - 11 / 1024)  # P(X >= 2)
    assert mcnemar_p_worse(7, 0) == pytest.approx(1 / 128)
    assert mcnemar_p_worse(0, 0) == 1.0
    with pytest.raises(ValueError, match="counts >= 0"):
        mcnemar_p_worse(-1, 2)


def test_sign_flip_test_exact_values() -> None:
    # sizes 2, 1, 1: the 8 sign patterns sum to 4, 2, 2, 0, 0, -2, -2, -4; observed -2
    assert sign_flip_p_worse([-2, -1, 1]) == pytest.approx(3 / 8)
    assert sign_flip_p_worse([0, 0]) == 1.0
    # with differences of one trial it is McNemar's test
    diffs = [-1] * 8 + [1] * 2 + [0] * 35
    assert sign_flip_p_worse(diffs) == pytest.approx(mcnemar_p_worse(8, 2))


def test_sign_flip_normal_approximation_beyond_the_exact_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    diffs = random.Random(3).choices(range(-5, 4), k=60)
    exact = sign_flip_p_worse(diffs)
    monkeypatch.setattr(stats, "_SIGN_FLIP_MAX_RANGE", 10)
    assert sign_flip_p_worse(diffs) == pytest.approx(exact, abs=0.02)


# --------------------------------------------------------------------------- power


def test_power_against_hand_computed_values() -> None:
    # two tasks, always passing before, half the time now: both must fail (p = 1/4 < 0.3)
    assert mcnemar_power(2, 1.0, 0.5, 0.3) == pytest.approx(0.25)
    # 45 tasks, K=5, 80% -> 70% at alpha 0.05: s2 = (0.16 + 0.21) / 5 = 0.074,
    # Phi((sqrt(45) 0.1 - 1.6449 sqrt(0.084)) / sqrt(0.074)) = Phi(0.7135) = 0.7622
    assert paired_power(45, 5, 5, 0.8, 0.7, 0.05) == pytest.approx(0.7622, abs=5e-4)


def _simulated_power(tasks: int, k: int, p0: float, p1: float, alpha: float, reps: int) -> float:
    rng = random.Random(11)
    hits = 0
    for _ in range(reps):
        base = [sum(rng.random() < p0 for _ in range(k)) for _ in range(tasks)]
        cur = [sum(rng.random() < p1 for _ in range(k)) for _ in range(tasks)]
        diffs = [c - b for b, c in zip(base, cur, strict=True)]
        p = mcnemar_p_worse(diffs.count(-1), diffs.count(1)) if k == 1 else sign_flip_p_worse(diffs)
        hits += p < alpha
    return hits / reps


@pytest.mark.parametrize(("k", "p0", "p1", "tolerance"), [(1, 0.9, 0.7, 0.04), (5, 0.8, 0.7, 0.06)])
def test_power_matches_the_test_it_describes(
    k: int, p0: float, p1: float, tolerance: float
) -> None:
    """Simulated runs of the very test: McNemar's power is exact, the K>1 one approximate."""
    computed = mcnemar_power(45, p0, p1, 0.05) if k == 1 else paired_power(45, k, k, p0, p1, 0.05)
    assert computed == pytest.approx(_simulated_power(45, k, p0, p1, 0.05, 600), abs=tolerance)


def test_power_statement_for_45_tasks() -> None:
    one = power_statement(45, 1, 1, 0.8, drop=0.10, alpha=0.05, target=0.8)
    assert one.power == pytest.approx(mcnemar_power(45, 0.8, 0.7, 0.05))
    assert one.detectable is False
    assert one.smallest_drop is not None
    assert mcnemar_power(45, 0.8, 0.8 - one.smallest_drop, 0.05) >= 0.8
    assert mcnemar_power(45, 0.8, 0.8 - one.smallest_drop + 0.01, 0.05) < 0.8
    assert one.line() == (
        "power: with 45 tasks and K=1, a drop of 10 points from 80.0% is detectable with 80% "
        f"power at alpha 0.05: no (power {one.power:.0%}; smallest such drop "
        f"{one.smallest_drop * 100:.0f} points)"
    )
    many = power_statement(45, 10, 10, 0.8, drop=0.10, alpha=0.05, target=0.8)
    assert many.detectable is True
    assert "K=10" in many.line()
    assert ": yes (power" in many.line()
    low = power_statement(45, 1, 1, 0.05, drop=0.10, alpha=0.05, target=0.8)
    assert low.power is None
    assert "n/a (the baseline rate is below the drop" in low.line()
    mixed = power_statement(45, 1, 5, 0.8, drop=0.10, alpha=0.05, target=0.8)
    assert "K=1 (baseline) and 5 (now)" in mixed.line()


# --------------------------------------------------------------------------- comparisons


def test_one_trial_each_uses_mcnemar_and_keeps_the_old_line_start() -> None:
    result = compare_paired(outcomes(*[(1, 1)] * 7), outcomes(*[(0, 1)] * 7), alpha=0.01)
    assert (result.test, result.worse, result.better) == (MCNEMAR, 7, 0)
    assert result.status == "regression"
    assert result.line() == (
        "pass rate: 100.0% of 7 -> 0.0% of 7 (McNemar exact: 7 tasks worse, 0 better, "
        "p=0.0078): regression (alpha 0.01)"
    )
    assert result.to_dict()["power"]["line"].startswith("power: with 7 tasks and K=1")


def test_k_trials_use_the_sign_flip_test_on_pass_fractions() -> None:
    base = outcomes(*[(5, 5)] * 45)
    rng = random.Random(5)
    flaky = outcomes(*[(sum(rng.random() < 0.6 for _ in range(5)), 5) for _ in range(45)])
    drop = compare_paired(base, flaky, alpha=0.01)
    assert (drop.test, drop.status, drop.baseline_trials, drop.current_trials) == (
        SIGN_FLIP,
        "regression",
        5,
        5,
    )
    assert drop.line().startswith("pass rate: 100.0% of 45 tasks x 5 trials -> ")
    assert drop.power is not None
    assert drop.power.detectable
    assert compare_paired(flaky, base, alpha=0.01).status == "improvement"
    # two samples of the same flaky model: no verdict
    other = outcomes(*[(sum(rng.random() < 0.6 for _ in range(5)), 5) for _ in range(45)])
    assert compare_paired(flaky, other, alpha=0.01).status == "unchanged"


def test_only_tasks_both_runs_ran_are_paired() -> None:
    base = {**outcomes((1, 1), (1, 1)), "gone": {"passes": 1, "trials": 1}}
    cur = {**outcomes((0, 1), (1, 1)), "new": {"passes": 0, "trials": 1}}
    cur["T01"] = {"passes": 0, "trials": 0}
    result = compare_paired(base, cur, alpha=0.01)
    assert (result.tasks, result.worse, result.better) == (1, 1, 0)
    empty = compare_paired({}, cur, alpha=0.01)
    assert empty.tasks == 0
    assert empty.power is None
    assert math.isnan(empty.baseline_rate)
    assert empty.line().startswith("pass rate: n/a -> n/a (McNemar exact")


def test_baselines_keep_trial_outcomes_and_the_gate_states_its_power(tmp_path: Path) -> None:
    tasks = {
        f"T{i:02d}": {
            "passed_all": True,
            "passes": 5,
            "trials": 5,
            "trial_passed": [True] * 5,
        }
        for i in range(20)
    }
    document = baseline_document(FINGERPRINT, "r0", "0.1.0", {}, [], tasks)
    path = save_baseline(document, baseline_file(tmp_path / "b", FINGERPRINT))
    baseline = load_baseline(path)
    assert baseline.tasks["T03"]["trial_passed"] == [True] * 5
    now = {k: {"passed_all": False, "passes": 2, "trials": 5} for k in tasks}
    comparison = compare_toolbench(baseline, now, 0.01, Thresholds(pass_drop=0.2, power=0.9))
    assert comparison is not None
    assert isinstance(comparison.pass_rate, PairedPassRates)
    assert comparison.pass_rate.status == "regression"
    lines = comparison_lines(comparison)
    assert lines[0].startswith("pass rate: 100.0% of 20 tasks x 5 trials -> 40.0% of 20")
    assert lines[1].startswith("power: with 20 tasks and K=5, a drop of 20 points from 100.0%")
    assert "with 90% power at alpha 0.01" in lines[1]
    assert lines[2].startswith("new failures: T00, T01")
    gate = Gate(str(path), Thresholds(), tmp_path, lambda _: None)
    gate.note_toolbench("m", comparison)
    assert gate.regressions[0] == f"tool bench [m]: {lines[0]}"
    assert gate.comparison_lines[0] == f"tool bench [m]: {lines[1]}"  # power kept, rate not


def test_thresholds_check_the_power_settings() -> None:
    with pytest.raises(ValueError, match="pass_drop"):
        Thresholds(pass_drop=0.0)
    with pytest.raises(ValueError, match="power"):
        Thresholds(power=1.0)
