"""Tool-bench pass rates compared task by task, and what the comparison can detect.

Both runs solved the same tasks, so the comparison pairs them: each task is compared with
itself. The rate of a run is pass@1, the mean over tasks of the task's pass fraction.

* Every task one trial on both sides: McNemar's exact test on the tasks whose outcome changed
  (``stats.mcnemar_p_worse``).
* Otherwise (``--llm-repeat`` K > 1 on either side): the exact paired sign-flip permutation
  test over tasks on the per-task pass fractions (``stats.sign_flip_p_worse``). With K = 1 it
  is the same test as McNemar's.

A regression (improvement) is a one-sided p-value below ``alpha`` in that direction.

The power statement says whether a drop of ``Thresholds.pass_drop`` from the baseline's rate
would be detected with probability ``Thresholds.power`` at ``alpha``, with this many tasks and
trials, assuming every trial passes independently at its run's rate (no task easier than
another: the least favourable case for a paired test). For K = 1 it is exact (McNemar's test
over every outcome of the tasks); for K > 1 it uses the normal approximation of the paired
test. It also names the smallest drop, in whole points, that would be detected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from statistics import NormalDist
from typing import Any

from pytest_llmserver.gate.stats import mcnemar_p_worse, sign_flip_p_worse

MCNEMAR = "McNemar exact"
SIGN_FLIP = "paired sign-flip test over tasks"


@dataclass(frozen=True)
class Power:
    """Whether a drop of ``drop`` is detectable with ``target`` power at ``alpha``."""

    tasks: int
    baseline_trials: int
    current_trials: int
    baseline_rate: float
    drop: float
    alpha: float
    target: float
    power: float | None
    """The probability of detecting the drop (None when the baseline rate is below it)."""
    smallest_drop: float | None
    """The smallest drop in whole points detected with ``target`` power (None: none)."""

    @property
    def detectable(self) -> bool:
        return self.power is not None and self.power >= self.target

    def line(self) -> str:
        """E.g. ``power: with 45 tasks and K=1, a drop of 10 points from 97.8% is detectable
        with 80% power at alpha 0.01: no (power 23%; smallest such drop 22 points)``."""
        k = (
            f"K={self.current_trials}"
            if self.baseline_trials == self.current_trials
            else f"K={self.baseline_trials} (baseline) and {self.current_trials} (now)"
        )
        head = (
            f"power: with {self.tasks} tasks and {k}, a drop of {self.drop * 100:g} points "
            f"from {self.baseline_rate:.1%} is detectable with {self.target:.0%} power at "
            f"alpha {self.alpha:g}: "
        )
        smallest = (
            "no drop is"
            if self.smallest_drop is None
            else f"smallest such drop {self.smallest_drop * 100:.0f} points"
        )
        if self.power is None:
            return head + f"n/a (the baseline rate is below the drop; {smallest})"
        verdict = "yes" if self.detectable else "no"
        return head + f"{verdict} (power {self.power:.0%}; {smallest})"


def mcnemar_thresholds(tasks: int, alpha: float) -> list[int | None]:
    """For ``m`` = 0..``tasks`` changed tasks, the fewest worse ones that McNemar's one-sided
    test at ``alpha`` calls a regression (None: none does)."""
    return [
        next((b for b in range(m + 1) if mcnemar_p_worse(b, m - b) < alpha), None)
        for m in range(tasks + 1)
    ]


def mcnemar_power(
    tasks: int,
    base_rate: float,
    cur_rate: float,
    alpha: float,
    thresholds: list[int | None] | None = None,
) -> float:
    """Exact power of McNemar's one-sided test at ``alpha`` with one trial per task on each
    side, when every baseline trial passes with ``base_rate`` and every current one with
    ``cur_rate``, independently (``thresholds``: ``mcnemar_thresholds(tasks, alpha)``)."""
    least_worse = mcnemar_thresholds(tasks, alpha) if thresholds is None else thresholds
    worse = base_rate * (1 - cur_rate)
    better = (1 - base_rate) * cur_rate
    changed = worse + better
    if tasks < 1 or changed <= 0:
        return 0.0
    share = worse / changed
    power = 0.0
    for m in range(1, tasks + 1):
        p_m = math.comb(tasks, m) * changed**m * (1 - changed) ** (tasks - m)
        least = least_worse[m]
        if least is None:
            continue
        power += p_m * sum(
            math.comb(m, b) * share**b * (1 - share) ** (m - b) for b in range(least, m + 1)
        )
    return min(1.0, power)


def paired_power(
    tasks: int, base_trials: int, cur_trials: int, base_rate: float, cur_rate: float, alpha: float
) -> float:
    """Normal-approximation power of the one-sided paired test over ``tasks`` tasks on per-task
    pass fractions (K trials each side), every trial passing independently at its rate.

    A task's difference has mean ``-D`` (``D = base_rate - cur_rate``) and variance
    ``s2 = pb(1-pb)/Kb + pc(1-pc)/Kc``; the test rejects when the sum of differences is below
    ``-z * sqrt(sum of squared differences)``, so the power is
    ``Phi((sqrt(N) D - z sqrt(s2 + D^2)) / sqrt(s2))``.
    """
    drop = base_rate - cur_rate
    spread2 = base_rate * (1 - base_rate) / base_trials + cur_rate * (1 - cur_rate) / cur_trials
    z = NormalDist().inv_cdf(1 - alpha)
    margin = math.sqrt(tasks) * drop - z * math.sqrt(spread2 + drop * drop)
    if spread2 <= 0:
        return 1.0 if margin > 0 else 0.0
    return NormalDist().cdf(margin / math.sqrt(spread2))


def power_statement(
    tasks: int,
    base_trials: int,
    cur_trials: int,
    base_rate: float,
    *,
    drop: float,
    alpha: float,
    target: float,
) -> Power:
    """The ``Power`` of the comparison that ``compare_paired`` makes for this many tasks and
    trials per task (McNemar's exact power when both sides have one trial)."""

    single = base_trials == 1 and cur_trials == 1
    thresholds = mcnemar_thresholds(tasks, alpha) if single else None

    def power_of(size: float) -> float:
        if single:
            return mcnemar_power(tasks, base_rate, base_rate - size, alpha, thresholds)
        return paired_power(tasks, base_trials, cur_trials, base_rate, base_rate - size, alpha)

    smallest = next(
        (
            points / 100
            for points in range(1, math.floor(base_rate * 100 + 1e-9) + 1)
            if power_of(points / 100) >= target
        ),
        None,
    )
    return Power(
        tasks=tasks,
        baseline_trials=base_trials,
        current_trials=cur_trials,
        baseline_rate=base_rate,
        drop=drop,
        alpha=alpha,
        target=target,
        power=power_of(drop) if tasks and drop <= base_rate + 1e-12 else None,
        smallest_drop=smallest,
    )


@dataclass(frozen=True)
class PairedPassRates:
    """Baseline against current pass@1 over the tasks both runs have, tested task by task."""

    test: str
    """``MCNEMAR`` or ``SIGN_FLIP``."""
    tasks: int
    baseline_rate: float
    """pass@1 (mean of per-task pass fractions); NaN without shared tasks."""
    current_rate: float
    baseline_trials: int
    """Trials per task in the baseline (the most any task had)."""
    current_trials: int
    worse: int
    """Tasks with a lower pass fraction now."""
    better: int
    p_value: float
    """One-sided p-value that the current rate is lower."""
    status: str
    alpha: float
    power: Power | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, its lines included."""
        out = {**asdict(self), "line": self.line()}
        out["power"] = (
            None if self.power is None else {**asdict(self.power), "line": self.power.line()}
        )
        return out

    def _side(self, rate: float, trials: int) -> str:
        if math.isnan(rate):
            return "n/a"
        if self.baseline_trials == 1 and self.current_trials == 1:
            return f"{rate:.1%} of {self.tasks}"
        return f"{rate:.1%} of {self.tasks} tasks x {trials} trials"

    def line(self) -> str:
        """E.g. ``pass rate: 100.0% of 45 -> 84.4% of 45 (McNemar exact: 7 tasks worse,
        0 better, p=0.0078): regression (alpha 0.01)``."""
        return (
            f"pass rate: {self._side(self.baseline_rate, self.baseline_trials)} -> "
            f"{self._side(self.current_rate, self.current_trials)} ({self.test}: "
            f"{self.worse} tasks worse, {self.better} better, p={self.p_value:.2g}): "
            f"{self.status} (alpha {self.alpha:g})"
        )


def compare_paired(
    base: Mapping[str, Mapping[str, Any]],
    cur: Mapping[str, Mapping[str, Any]],
    *,
    alpha: float,
    drop: float = 0.10,
    target: float = 0.80,
) -> PairedPassRates:
    """Compare per-task outcomes ``{task_id: {passes, trials}}`` over the tasks both runs ran
    (at least one trial each); see the module's decision rule."""
    shared = sorted(t for t in cur if t in base and _trials(base[t]) > 0 and _trials(cur[t]) > 0)
    base_f = [Fraction(_passes(base[t]), _trials(base[t])) for t in shared]
    cur_f = [Fraction(_passes(cur[t]), _trials(cur[t])) for t in shared]
    diffs = [c - b for b, c in zip(base_f, cur_f, strict=True)]
    worse = sum(d < 0 for d in diffs)
    better = sum(d > 0 for d in diffs)
    k_base = max((_trials(base[t]) for t in shared), default=0)
    k_cur = max((_trials(cur[t]) for t in shared), default=0)
    single = k_base <= 1 and k_cur <= 1  # (0: no shared task)
    if single:
        p_worse, p_better = mcnemar_p_worse(worse, better), mcnemar_p_worse(better, worse)
    else:
        scale = math.lcm(*(d.denominator for d in diffs)) if diffs else 1
        scaled = [int(d * scale) for d in diffs]
        p_worse = sign_flip_p_worse(scaled)
        p_better = sign_flip_p_worse([-d for d in scaled])
    status = "regression" if p_worse < alpha else "improvement" if p_better < alpha else "unchanged"
    base_rate = float(sum(base_f) / len(shared)) if shared else math.nan
    return PairedPassRates(
        test=MCNEMAR if single else SIGN_FLIP,
        tasks=len(shared),
        baseline_rate=base_rate,
        current_rate=float(sum(cur_f) / len(shared)) if shared else math.nan,
        baseline_trials=k_base,
        current_trials=k_cur,
        worse=worse,
        better=better,
        p_value=p_worse,
        status=status,
        alpha=alpha,
        power=power_statement(
            len(shared), k_base, k_cur, base_rate, drop=drop, alpha=alpha, target=target
        )
        if shared
        else None,
    )


def _passes(outcome: Mapping[str, Any]) -> int:
    return int(outcome.get("passes") or 0)


def _trials(outcome: Mapping[str, Any]) -> int:
    return int(outcome.get("trials") or 0)
