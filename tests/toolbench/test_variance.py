"""Variance over K trials: pass^k, pair disagreement, the clustered pass@1 interval (its
coverage on synthetic data), per-trial seeds, and the flaky simulator model end to end."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator

import httpx
import pytest
import respx

from pytest_llmserver.client import ModelClient
from pytest_llmserver.servers import FLAKY
from pytest_llmserver.servers.bench_sim import bench_sim_config
from pytest_llmserver.servers.flaky import flaky_probability, request_seed, trial_passes
from pytest_llmserver.sim import SimConfig, SimThread, TimingModel
from pytest_llmserver.toolbench import builtin_tasks, run_toolbench
from pytest_llmserver.toolbench.report import render_markdown, to_json
from pytest_llmserver.toolbench.runner import RepeatedTierSummary
from pytest_llmserver.toolbench.variance import (
    bootstrap_mean_ci,
    pair_disagreement,
    pass_hat_k,
    trial_seed,
    variance_summary,
)
from tests.client.mocked import BASE, OPENAI_URL, sse_ok
from tests.clocked import FakeClock


def test_pass_hat_k_known_values() -> None:
    counts = [(3, 5), (5, 5), (0, 5)]
    assert pass_hat_k(counts, 1) == pytest.approx((0.6 + 1 + 0) / 3)
    assert pass_hat_k(counts, 2) == pytest.approx((3 / 10 + 1 + 0) / 3)
    assert pass_hat_k(counts, 5) == pytest.approx(1 / 3)  # the tasks that passed every trial
    assert pass_hat_k(counts, 6) is None
    assert pass_hat_k([(1, 1), (2, 3)], 2) == pytest.approx(1 / 3)  # a 1-trial task left out
    with pytest.raises(ValueError, match="k must be >= 1"):
        pass_hat_k(counts, 0)


@pytest.mark.parametrize(("p", "n", "k"), [(0.6, 5, 2), (0.6, 5, 5), (0.9, 7, 3), (0.3, 4, 1)])
def test_pass_hat_k_is_unbiased(p: float, n: int, k: int) -> None:
    """Its expectation over Binomial(n, p) passes is exactly p^k."""
    expected = 0.0
    for c in range(n + 1):
        estimate = pass_hat_k([(c, n)], k)
        assert estimate is not None
        expected += math.comb(n, c) * p**c * (1 - p) ** (n - c) * estimate
    assert expected == pytest.approx(p**k)


def test_pair_disagreement() -> None:
    assert pair_disagreement(2, 5) == pytest.approx(0.6)  # 2*3 of the 10 pairs
    assert pair_disagreement(1, 2) == 1.0
    assert pair_disagreement(5, 5) == pair_disagreement(0, 5) == pair_disagreement(1, 1) == 0.0


def test_trial_seeds() -> None:
    assert [trial_seed(42, i) for i in range(3)] == [42, 43, 44]
    assert trial_seed(None, 3) is None


def test_bootstrap_interval_is_seeded_and_checked() -> None:
    values = [1.0, 0.4, 0.6, 0.0, 1.0]
    assert bootstrap_mean_ci(values) == bootstrap_mean_ci(values)
    low, high = bootstrap_mean_ci(values)
    assert low < sum(values) / 5 < high
    assert bootstrap_mean_ci([1.0] * 5) == (1.0, 1.0)
    with pytest.raises(ValueError, match="at least one task"):
        bootstrap_mean_ci([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_mean_ci(values, confidence=1.0)


def _coverage(task_rate: random.Random, draw_p: float, clustered: bool, reps: int) -> float:
    """Share of ``reps`` synthetic runs (45 tasks, 5 trials) whose interval holds the true
    pass@1 ``draw_p``; clustered: each task passes always or never (p in {0, 1})."""
    covered = 0
    for _ in range(reps):
        fractions = []
        for _ in range(45):
            p = (
                float(task_rate.random() < draw_p)
                if clustered
                else task_rate.random() * 2 * (1 - draw_p) + (2 * draw_p - 1)
            )
            fractions.append(sum(task_rate.random() < p for _ in range(5)) / 5)
        low, high = bootstrap_mean_ci(fractions, resamples=400, seed=task_rate.randrange(1 << 30))
        covered += low <= draw_p <= high
    return covered / reps


@pytest.mark.parametrize("clustered", [False, True])
def test_interval_coverage_on_synthetic_runs(clustered: bool) -> None:
    """About 95% of the intervals hold the true pass@1, also when trials within a task are
    perfectly correlated (there an interval over 225 independent trials would cover far less:
    its half-width would be ~6.4 points against the real ~14)."""
    coverage = _coverage(random.Random(7), 0.6, clustered, reps=200)
    assert 0.88 <= coverage <= 0.99


def test_variance_summary_names_the_flaky_tasks() -> None:
    summary = variance_summary(
        {
            "a": {"passes": 5, "trials": 5},
            "b": {"passes": 2, "trials": 5},
            "c": {"passes": 0, "trials": 5},
            "d": {"passes": 0, "trials": 0},  # never ran: counts as failed in pass@1 only
        }
    )
    assert summary is not None
    assert summary.trials == 15
    assert summary.pass_at_1 == pytest.approx((1 + 0.4) / 4)
    assert summary.pass_at_1_low <= summary.pass_at_1 <= summary.pass_at_1_high
    assert summary.pass_hat["5"] == pytest.approx(1 / 3)
    assert summary.flaky == ("b",)
    assert summary.mixed_share == pytest.approx(1 / 3)
    assert summary.pair_disagreement == pytest.approx(0.6 / 3)
    assert summary.to_dict()["flaky"] == ["b"]
    assert variance_summary({}) is None


# --------------------------------------------------------------------------- the flaky model


def test_flaky_names_and_seeds() -> None:
    assert flaky_probability("flaky-60") == 0.6
    assert flaky_probability("flaky-100") == 1.0
    assert flaky_probability("flaky-101") is None
    assert flaky_probability("oracle") is None
    assert request_seed({"seed": 7}) == 7
    assert request_seed({"options": {"seed": 8}}) == 8
    assert request_seed({"seed": True}) is request_seed({}) is None
    assert trial_passes(1.0, 3, "T")
    assert not trial_passes(0.0, 3, "T")
    draws = [trial_passes(0.6, seed, "Q01") for seed in range(2000)]
    assert 0.56 < sum(draws) / len(draws) < 0.64


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    base = bench_sim_config()
    timing = TimingModel(ttft_s=0.002, per_token_s=0.0005)
    with SimThread(SimConfig(models=base.models, policy=base.policy, timing=timing)) as sim:
        yield sim.url


async def test_flaky_60_over_five_trials_reports_its_rate(sim_url: str) -> None:
    async with ModelClient({"url": sim_url, "type": "openai"}, FLAKY, concurrency=8, seed=42) as c:
        run = await run_toolbench(c, builtin_tasks(), repeat=5, concurrency=8)
    # each trial was sent its own seed (42 + trial), and the model's draw for it decided it
    for task_id, result in run.results.items():
        assert result.ordered_seeds() == [42, 43, 44, 45, 46]
        assert result.trial_passed() == [trial_passes(0.6, 42 + i, task_id) for i in range(5)]
    overall = run.summaries()[-1]
    assert isinstance(overall, RepeatedTierSummary)
    assert (overall.tier, overall.tasks, overall.trials) == ("all", 45, 225)
    assert abs(overall.pass_at_1 - 0.6) < 0.1
    assert overall.pass_at_1_low <= 0.6 <= overall.pass_at_1_high
    assert overall.pass_at_1_high - overall.pass_at_1_low < 0.25
    assert overall.pass_hat["5"] == overall.pass_all
    assert overall.flip_rate > 0.5
    assert overall.flaky
    assert run.notes == ["trial i (0..4) of each task was sent sampling seed 42+i"]
    text = render_markdown(run)
    assert "## Variance over 5 trials per task" in text
    assert f"- `{overall.flaky[0]}` (" in text
    trials = to_json(run)["tasks"][0]["trials"]
    assert sorted((t["trial"], t["seed"]) for t in trials) == [(i, 42 + i) for i in range(5)]


async def test_one_trial_sends_the_seed_itself_and_adds_nothing(sim_url: str) -> None:
    async with ModelClient({"url": sim_url, "type": "ollama"}, FLAKY, concurrency=8, seed=42) as c:
        run = await run_toolbench(c, builtin_tasks()[:5], repeat=1, concurrency=8)
    for task_id, result in run.results.items():
        assert result.trial_seeds == [42]
        assert result.passed_all == trial_passes(0.6, 42, task_id)
        assert "trial_passed" not in result.outcome()
    assert run.notes == []
    assert "## Variance" not in render_markdown(run)
    assert "seed" not in to_json(run)["tasks"][0]["trials"][0]


@respx.mock
async def test_a_refused_seed_is_dropped_for_every_later_trial() -> None:
    clock = FakeClock()
    refused = httpx.Response(400, json={"error": {"message": "unknown field: seed"}})

    def answer(request: httpx.Request) -> httpx.Response:
        return refused if "seed" in json.loads(request.content) else sse_ok(clock)

    route = respx.post(OPENAI_URL).mock(side_effect=answer)
    task = next(t for t in builtin_tasks() if t.task_id == "Q05_no_tool_capital")
    async with ModelClient({"url": BASE, "type": "openai"}, "m", seed=42, clock=clock) as c:
        run = await run_toolbench(c, [task], repeat=3, concurrency=1)
    assert run.notes == ["the server refused the sampling seed: sent without it"]
    assert run.results[task.task_id].ordered_seeds() == [None, None, None]
    assert route.call_count == 4  # one refusal, then three seedless trials
