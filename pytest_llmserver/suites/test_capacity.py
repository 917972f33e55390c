"""Sweeps and the capacity under SLO as tests (``-m sweep``, ``-m capacity``). They are not
marked ``stress``: each is several runs long, so a ``-m stress`` job does not grow by them
unless asked; the capacity search runs only with ``--llm-slo``."""

from __future__ import annotations

import pytest

from pytest_llmserver.plugin import StressSession
from pytest_llmserver.settings import Settings
from pytest_llmserver.suites.test_stress import ramp_label

pytestmark = [pytest.mark.llm]


@pytest.mark.sweep
def test_sweep(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    s = llm_settings.stress
    if s.sweep_points < 2:
        pytest.fail(f"--llm-sweep-points={s.sweep_points}: a sweep needs at least 2 points", False)
    n, m = s.sweep_points, s.sweep_min_requests
    llm_stress.run(
        lambda t: t.run_sweep_test(
            n, min_requests=m, ramp_s=s.ramp_s, max_error_rate=s.max_error_rate
        ),
        f"p{n}-n{m}{ramp_label(s.ramp_s)}",
        request,
    )


@pytest.mark.capacity
def test_capacity(
    llm_stress: StressSession, llm_settings: Settings, request: pytest.FixtureRequest
) -> None:
    s = llm_settings.stress
    if not s.slo:
        pytest.skip("the capacity search needs --llm-slo (e.g. --llm-slo=ttft_p95:1)")
    slos = "-".join(f"{name}-{limit:g}" for name, limit in s.slo.items())  # a file name
    stats = llm_stress.run(
        lambda t: t.run_capacity_test(
            s.duration_s,
            min_requests=s.sweep_min_requests,
            ramp_s=s.ramp_s,
            max_error_rate=s.max_error_rate,
        ),
        f"{slos}-d{s.duration_s:g}",
        request,
    )
    capacity = stats.figures["capacity"]
    if capacity["no_load"]:
        pytest.fail(capacity["no_load"], False)
    regression = llm_stress.target.recorder.gate.compare_capacity(
        llm_stress.target.fingerprint(), stats.params.get("id", ""), capacity
    )
    if regression is not None and regression.status == "regression":
        pytest.fail(f"capacity regression against the baseline: {regression.line()}", False)
