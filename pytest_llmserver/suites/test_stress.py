"""The six stress modes as tests; parameters come from the ``--llm-*`` options.

With ``--llm-shards=N`` (under pytest-xdist) the load modes run as N shard tests each, every
shard with 1/N of the load; the controller merges them into one report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest

from pytest_llmserver.plugin import ModeCall, StressSession, settings, shard_label
from pytest_llmserver.settings import Settings
from pytest_llmserver.stress import ArrivalProcess, TestStats, share

pytestmark = [pytest.mark.llm, pytest.mark.stress]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    stress = settings(metafunc.config).stress
    if "concurrency" in metafunc.fixturenames:
        metafunc.parametrize(
            "concurrency", stress.sweep, ids=[f"c{c}-n{stress.total}" for c in stress.sweep]
        )
    if "llm_shard" in metafunc.fixturenames and stress.shards > 1:
        n = stress.shards
        ids = [shard_label(k, n) for k in range(n)]
        metafunc.parametrize("llm_shard", range(n), ids=ids, indirect=True)


@pytest.fixture
def llm_shard(request: pytest.FixtureRequest) -> int | None:
    """This test's shard (0-based) under ``--llm-shards``; None when the load is not split."""
    return getattr(request, "param", None)


@dataclass(frozen=True)
class Load:
    """One stress test's run: the session, the settings, and its shard of the load."""

    stress: StressSession
    settings: Settings
    shard: int | None
    request: pytest.FixtureRequest

    def part(self, value: int) -> int:
        """This shard's part of a count (at least 1)."""
        shards = self.settings.stress.shards
        return value if self.shard is None else max(1, share(value, self.shard, shards))

    def rate(self, value: float) -> float:
        """This shard's part of a rate."""
        return value if self.shard is None else value / self.settings.stress.shards

    def run(self, mode_call: ModeCall, run_id: str) -> TestStats:
        """Run the mode (this shard of it) and check it."""
        return self.stress.run(mode_call, run_id, self.request, self.shard)


@pytest.fixture
def load(
    llm_stress: StressSession,
    llm_settings: Settings,
    llm_shard: int | None,
    request: pytest.FixtureRequest,
) -> Load:
    return Load(llm_stress, llm_settings, llm_shard, request)


@pytest.mark.throughput
def test_throughput(concurrency: int, load: Load) -> None:
    total = load.settings.stress.total
    c, n = load.part(concurrency), load.part(total)
    load.run(lambda t: t.run_throughput_test(c, n), f"c{concurrency}-n{total}")


@pytest.mark.token_stress
def test_token_stress(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    sizes = llm_settings.stress.token_sizes
    llm_stress.run(
        lambda t: t.run_token_stress_test(sizes), "t" + "-".join(map(str, sizes)), request
    )


@pytest.mark.sustained
def test_sustained(load: Load) -> None:
    s = load.settings.stress
    arrival, rpm = cast(ArrivalProcess, s.arrival), load.rate(s.rpm)
    load.run(
        lambda t: t.run_sustained_load_test(
            rpm,
            s.duration_s,
            arrival=arrival,
            burstiness=s.burstiness,
            ramp_s=s.ramp_s,
            max_error_rate=s.max_error_rate,
        ),
        f"rpm{s.rpm:g}-d{s.duration_s:g}-{s.arrival}{ramp_label(s.ramp_s)}",
    )


@pytest.mark.consistency
def test_consistency(load: Load) -> None:
    total = load.settings.stress.total
    n = max(2, load.part(total))
    prompt = load.settings.stress.prompt
    load.run(lambda t: t.run_consistency_test(n, prompt), f"n{total}")


@pytest.mark.realistic_user
def test_realistic_user(load: Load) -> None:
    s = load.settings.stress
    rate = load.rate(s.arrival_rate)
    load.run(
        lambda t: t.run_realistic_user_test(
            rate, s.session_profile, s.duration_s, ramp_s=s.ramp_s, max_error_rate=s.max_error_rate
        ),
        f"{s.session_profile}-r{s.arrival_rate:g}-d{s.duration_s:g}{ramp_label(s.ramp_s)}",
    )


def test_tool_bench_under_load(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    tier = llm_settings.stress.stress_tier
    concurrency = llm_stress.target.settings.run.concurrency  # the server's slots, if fitted
    stats = llm_stress.run(
        lambda t: t.run_tool_bench_test(tier, concurrency), f"{tier}-c{concurrency}", request
    )
    assert stats.figures["pass_rate"] is not None


def ramp_label(ramp_s: float) -> str:
    """The run id's ramp part (none without a ramp, so baselines keep their ids)."""
    return f"-ramp{ramp_s:g}" if ramp_s else ""
