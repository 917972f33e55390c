"""The six stress modes as tests; parameters come from the ``--llm-*`` options.

With ``--llm-shards=N`` (under pytest-xdist) the load modes run as N shard tests each, every
shard with 1/N of the load; the controller merges them into one report.
"""

from __future__ import annotations

from typing import cast

import pytest

from pytest_llmserver.plugin import StressSession, settings, shard_label
from pytest_llmserver.settings import Settings
from pytest_llmserver.stress import ArrivalProcess, share

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


def _part(value: int, shard: int | None, shards: int) -> int:
    """A shard's part of a count (at least 1)."""
    return value if shard is None else max(1, share(value, shard, shards))


def _rate(value: float, shard: int | None, shards: int) -> float:
    """A shard's part of a rate."""
    return value if shard is None else value / shards


@pytest.mark.throughput
def test_throughput(
    concurrency: int,
    llm_stress: StressSession,
    llm_settings: Settings,
    llm_shard: int | None,
    request: pytest.FixtureRequest,
) -> None:
    s = llm_settings.stress
    c, total = _part(concurrency, llm_shard, s.shards), _part(s.total, llm_shard, s.shards)
    llm_stress.run(
        lambda t: t.run_throughput_test(c, total), f"c{concurrency}-n{s.total}", request, llm_shard
    )


@pytest.mark.token_stress
def test_token_stress(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    sizes = llm_settings.stress.token_sizes
    llm_stress.run(
        lambda t: t.run_token_stress_test(sizes), "t" + "-".join(map(str, sizes)), request
    )


@pytest.mark.sustained
def test_sustained(
    llm_stress: StressSession,
    llm_settings: Settings,
    llm_shard: int | None,
    request: pytest.FixtureRequest,
) -> None:
    s = llm_settings.stress
    arrival = cast(ArrivalProcess, s.arrival)
    rpm = _rate(s.rpm, llm_shard, s.shards)
    llm_stress.run(
        lambda t: t.run_sustained_load_test(
            rpm, s.duration_s, arrival=arrival, burstiness=s.burstiness
        ),
        f"rpm{s.rpm:g}-d{s.duration_s:g}-{s.arrival}",
        request,
        llm_shard,
    )


@pytest.mark.consistency
def test_consistency(
    llm_stress: StressSession,
    llm_settings: Settings,
    llm_shard: int | None,
    request: pytest.FixtureRequest,
) -> None:
    s = llm_settings.stress
    n = max(2, _part(s.total, llm_shard, s.shards))
    llm_stress.run(lambda t: t.run_consistency_test(n), f"n{s.total}", request, llm_shard)


@pytest.mark.realistic_user
def test_realistic_user(
    llm_stress: StressSession,
    llm_settings: Settings,
    llm_shard: int | None,
    request: pytest.FixtureRequest,
) -> None:
    s = llm_settings.stress
    rate = _rate(s.arrival_rate, llm_shard, s.shards)
    llm_stress.run(
        lambda t: t.run_realistic_user_test(rate, s.session_profile, s.duration_s),
        f"{s.session_profile}-r{s.arrival_rate:g}-d{s.duration_s:g}",
        request,
        llm_shard,
    )


def test_tool_bench_under_load(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    tier, concurrency = llm_settings.stress.stress_tier, llm_settings.run.concurrency
    stats = llm_stress.run(
        lambda t: t.run_tool_bench_test(tier, concurrency), f"{tier}-c{concurrency}", request
    )
    assert stats.figures["pass_rate"] is not None
