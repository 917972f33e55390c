"""Your own stress tests, one decorator each: the ``llm_stress`` fixture runs the marker's
mode (arguments not given come from the ``--llm-*`` options), writes its report like the
built-in stress tests (``logs/latest/stress-<mode>-<test name>.md``), fails on no success, an
SLO miss or a regression against the baseline, and hands the test the run's ``TestStats``.

pytest example_suites/test_custom_stress.py --llm-server=sim     # the built-in simulator
pytest example_suites/test_custom_stress.py --llm-server=localhost:8080
"""

from __future__ import annotations

import pytest

from pytest_llmserver import TestStats


@pytest.mark.llm_stress(
    mode="throughput", concurrency=4, total=16, input_tokens=256, output_tokens=16
)
def test_burst_of_sixteen(llm_stress: TestStats) -> None:
    stats = llm_stress
    assert stats.params["concurrency"] == 4
    assert stats.params["total"] == 16
    prompts = stats.summary.lengths["input"]  # as the server counted them
    assert prompts.off == 0, f"prompts {prompts.actual_mean:.0f} tokens, asked for 256"
    assert stats.summary.ok == 16, f"{stats.summary.failed} failed: {stats.summary.errors}"
    ttft = stats.summary.metrics.metric("ttft_s")
    assert ttft is not None
    assert ttft.p95 < 2.0, f"TTFT p95 {ttft.p95:.3f} s is over the 2 s budget"


@pytest.mark.llm_stress(
    mode="sustained", rpm=240, duration_s=2, arrival="poisson", slos="ttft_p95:2,e2e_p99:10"
)
def test_steady_rate_meets_the_slos(llm_stress: TestStats) -> None:
    stats = llm_stress  # an SLO miss has failed the test already, naming the figure
    summary = stats.summary
    assert summary.ok >= 1
    assert summary.ok / (summary.ok + summary.failed) >= 0.99


@pytest.mark.llm_stress(mode="consistency", total=4, prompt="Name three primary colours.")
def test_same_prompt_same_answer(llm_stress: TestStats) -> None:
    figures = llm_stress.figures  # at temperature 0 (the default) the replies should agree
    assert figures["identical_output_share"] == 1.0, f"{figures['distinct_outputs']} replies"
    assert figures["blank_replies"] == 0
