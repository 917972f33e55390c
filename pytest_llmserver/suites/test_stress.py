"""The six stress modes as tests; parameters come from the ``--llm-*`` options."""

from __future__ import annotations

from typing import cast

import pytest

from pytest_llmserver.settings import Settings
from pytest_llmserver.stress.engine import ArrivalProcess
from pytest_llmserver.stress_glue import StressSession

pytestmark = [pytest.mark.llm, pytest.mark.stress]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "concurrency" in metafunc.fixturenames:
        from pytest_llmserver.fixtures import SETTINGS_KEY

        settings = metafunc.config.stash[SETTINGS_KEY]
        metafunc.parametrize(
            "concurrency", settings.sweep, ids=[f"c{c}-n{settings.total}" for c in settings.sweep]
        )


@pytest.mark.throughput
def test_throughput(
    concurrency: int,
    llm_stress: StressSession,
    llm_settings: Settings,
    request: pytest.FixtureRequest,
) -> None:
    total = llm_settings.total
    llm_stress.run(
        lambda t: t.run_throughput_test(concurrency, total), f"c{concurrency}-n{total}", request
    )


@pytest.mark.token_stress
def test_token_stress(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    sizes = llm_settings.token_sizes
    llm_stress.run(
        lambda t: t.run_token_stress_test(sizes), "t" + "-".join(map(str, sizes)), request
    )


@pytest.mark.sustained
def test_sustained(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    s = llm_settings
    arrival = cast(ArrivalProcess, s.arrival)
    llm_stress.run(
        lambda t: t.run_sustained_load_test(
            s.rpm, s.duration_s, arrival=arrival, burstiness=s.burstiness
        ),
        f"rpm{s.rpm:g}-d{s.duration_s:g}-{s.arrival}",
        request,
    )


@pytest.mark.consistency
def test_consistency(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    n = llm_settings.total
    llm_stress.run(lambda t: t.run_consistency_test(n), f"n{n}", request)


@pytest.mark.realistic_user
def test_realistic_user(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    s = llm_settings
    llm_stress.run(
        lambda t: t.run_realistic_user_test(s.arrival_rate, s.session_profile, s.duration_s),
        f"{s.session_profile}-r{s.arrival_rate:g}-d{s.duration_s:g}",
        request,
    )


def test_tool_bench_under_load(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    s = llm_settings
    stats = llm_stress.run(
        lambda t: t.run_tool_bench_test(s.stress_tier, s.concurrency),
        f"{s.stress_tier}-c{s.concurrency}",
        request,
    )
    assert stats.figures["pass_rate"] is not None
